//! Waiting on objects: a get, then a watch from that version until the condition holds or the
//! deadline passes (a watch that ends or fails is followed by a fresh get). Readiness of the
//! workloads an entry rendered is rollout-aware: the controller has seen the current spec and
//! every replica is updated and available.

use std::time::Duration;

use futures_util::StreamExt as _;
use kube::api::{Api, DynamicObject, WatchEvent, WatchParams};
use serde_json::Value;
use tokio::time::Instant;

/// Waits until `done` holds for the object named `name` (None: it does not exist).
/// Ok(false) when the deadline passed first.
pub async fn until(
    api: &Api<DynamicObject>,
    name: &str,
    deadline: Instant,
    done: impl Fn(Option<&DynamicObject>) -> bool,
) -> Result<bool, kube::Error> {
    loop {
        let current = api.get_opt(name).await?;
        if done(current.as_ref()) {
            return Ok(true);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(false);
        }
        let version = current
            .as_ref()
            .and_then(|o| o.metadata.resource_version.clone())
            .unwrap_or_else(|| "0".into());
        let params = WatchParams::default()
            .fields(&format!("metadata.name={name}"))
            .timeout(left.as_secs().clamp(1, 290) as u32);
        let stream = match api.watch(&params, &version).await {
            Ok(s) => s,
            Err(_) => {
                // A server that cannot watch is asked again shortly.
                tokio::time::sleep(left.min(Duration::from_secs(1))).await;
                continue;
            }
        };
        let mut stream = std::pin::pin!(stream);
        loop {
            let next = match tokio::time::timeout_at(deadline, stream.next()).await {
                Err(_) => return Ok(false),
                Ok(None) | Ok(Some(Err(_))) => break,
                Ok(Some(Ok(event))) => event,
            };
            match next {
                WatchEvent::Added(o) | WatchEvent::Modified(o) if done(Some(&o)) => {
                    return Ok(true);
                }
                WatchEvent::Deleted(_) if done(None) => return Ok(true),
                WatchEvent::Error(_) => break,
                _ => {}
            }
        }
    }
}

/// An object as JSON, metadata included (`DynamicObject::data` holds only the rest).
pub fn full(object: &DynamicObject) -> Value {
    serde_json::to_value(object).unwrap_or_default()
}

fn int(v: &Value, path: &[&str]) -> Option<i64> {
    path.iter().try_fold(v, |node, key| node.get(key))?.as_i64()
}

/// Whether a Deployment, DaemonSet or StatefulSet has rolled out (None for other kinds).
pub fn rolled_out(kind: &str, object: &Value) -> Option<bool> {
    let generation = int(object, &["metadata", "generation"]).unwrap_or(0);
    let observed = int(object, &["status", "observedGeneration"]).unwrap_or(0);
    let seen = observed >= generation;
    let status = |k: &str| int(object, &["status", k]).unwrap_or(0);
    let replicas = int(object, &["spec", "replicas"]).unwrap_or(1);
    Some(match kind {
        "Deployment" => {
            seen && status("updatedReplicas") >= replicas && status("availableReplicas") >= replicas
        }
        "StatefulSet" => {
            seen && status("updatedReplicas") >= replicas && status("readyReplicas") >= replicas
        }
        "DaemonSet" => {
            // A DaemonSet with no node to run on has nothing to wait for.
            let desired = status("desiredNumberScheduled");
            seen && status("updatedNumberScheduled") >= desired && status("numberReady") >= desired
        }
        _ => return None,
    })
}

/// `ready/wanted` for messages.
pub fn progress(kind: &str, object: Option<&Value>) -> String {
    let Some(o) = object else {
        return "not found".into();
    };
    let status = |k: &str| int(o, &["status", k]).unwrap_or(0);
    match kind {
        "DaemonSet" => format!(
            "{}/{} ready",
            status("numberReady"),
            status("desiredNumberScheduled")
        ),
        "StatefulSet" => format!(
            "{}/{} ready",
            status("readyReplicas"),
            int(o, &["spec", "replicas"]).unwrap_or(1)
        ),
        _ => format!(
            "{}/{} available",
            status("availableReplicas"),
            int(o, &["spec", "replicas"]).unwrap_or(1)
        ),
    }
}

/// Whether a CustomResourceDefinition is served (`Established` is `True`).
pub fn established(object: &Value) -> bool {
    object
        .get("status")
        .and_then(|s| s.get("conditions"))
        .and_then(Value::as_array)
        .is_some_and(|conds| {
            conds
                .iter()
                .any(|c| c["type"] == "Established" && c["status"] == "True")
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rollouts() {
        let d = json!({"metadata": {"generation": 2}, "spec": {"replicas": 2},
            "status": {"observedGeneration": 1, "updatedReplicas": 2, "availableReplicas": 2}});
        assert_eq!(rolled_out("Deployment", &d), Some(false), "old generation");
        let d = json!({"metadata": {"generation": 2}, "spec": {"replicas": 2},
            "status": {"observedGeneration": 2, "updatedReplicas": 2, "availableReplicas": 2}});
        assert_eq!(rolled_out("Deployment", &d), Some(true));
        let ds = json!({"metadata": {"generation": 1}, "status": {"observedGeneration": 1, "desiredNumberScheduled": 0}});
        assert_eq!(
            rolled_out("DaemonSet", &ds),
            Some(true),
            "nothing to schedule"
        );
        let sts = json!({"metadata": {"generation": 1}, "status": {"observedGeneration": 1, "readyReplicas": 0}});
        assert_eq!(rolled_out("StatefulSet", &sts), Some(false));
        assert_eq!(rolled_out("ConfigMap", &sts), None);
        assert!(established(
            &json!({"status": {"conditions": [{"type": "Established", "status": "True"}]}})
        ));
        assert!(!established(&json!({"status": {}})));
    }
}
