//! Writes to the Kubernetes API double, with the behaviour of the API server and controllers
//! that lok8s meets: server-side apply with field ownership and conflicts; a workload's
//! `.spec.selector` is immutable; a Deployment, DaemonSet or StatefulSet reports itself rolled
//! out (one node) unless annotated `double.lok8s.dev/never-ready: "true"`; a CRD registers its
//! kind, `Established` at once or after `double.lok8s.dev/established-after-requests` more
//! requests; an object annotated `double.lok8s.dev/webhook-failures: "N"` fails its first N
//! applies as a webhook that does not answer; deleting an object with finalizers only marks
//! it, and applying to it (or creating in a Terminating namespace) is refused; a merge patch
//! that empties the finalizers of a marked object, or `finalize` on a marked namespace,
//! completes the deletion.

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::kube_core::{Store, key, leaf_paths, merge, not_found, path_get, show, status};
use crate::kube_kinds::{Kind, defined_by};

const NEVER_READY: &str = "double.lok8s.dev/never-ready";
const ESTABLISHED_AFTER: &str = "double.lok8s.dev/established-after-requests";
const WEBHOOK_FAILURES: &str = "double.lok8s.dev/webhook-failures";

fn annotation<'a>(object: &'a Value, name: &str) -> Option<&'a str> {
    object["metadata"]["annotations"][name].as_str()
}

fn terminating(object: &Value) -> bool {
    object["metadata"]["deletionTimestamp"].is_string()
}

/// What the workload controllers would report for a workload on a one-node cluster.
fn roll_out(kind: &str, object: &mut Value) {
    if !matches!(kind, "Deployment" | "DaemonSet" | "StatefulSet") {
        return;
    }
    let ready = annotation(object, NEVER_READY) != Some("true");
    let generation = object["metadata"]["generation"].clone();
    let replicas = object["spec"]["replicas"].as_i64().unwrap_or(1);
    let done = if ready { replicas } else { 0 };
    object["status"] = match kind {
        "DaemonSet" => json!({"observedGeneration": generation, "desiredNumberScheduled": 1,
            "currentNumberScheduled": 1, "updatedNumberScheduled": if ready { 1 } else { 0 },
            "numberReady": if ready { 1 } else { 0 }, "numberAvailable": if ready { 1 } else { 0 }}),
        "StatefulSet" => json!({"observedGeneration": generation, "replicas": replicas,
            "updatedReplicas": done, "readyReplicas": done, "availableReplicas": done}),
        _ => json!({"observedGeneration": generation, "replicas": replicas,
            "updatedReplicas": done, "readyReplicas": done, "availableReplicas": done}),
    };
}

impl Store {
    fn bump(&mut self) -> String {
        self.version += 1;
        self.version.to_string()
    }

    fn namespace_terminating(&self, namespace: &str) -> bool {
        !namespace.is_empty()
            && self
                .objects
                .get(&key("", "namespaces", "", namespace))
                .is_some_and(terminating)
    }

    pub(crate) fn apply(
        &mut self,
        kind: &Kind,
        namespace: &str,
        name: &str,
        query: &std::collections::HashMap<String, String>,
        body: &Bytes,
    ) -> Response {
        let Some(manager) = query.get("fieldManager").filter(|m| !m.is_empty()).cloned() else {
            return status(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Invalid",
                "fieldManager is required for apply patch".into(),
            );
        };
        let force = query.get("force").is_some_and(|f| f == "true");
        let Ok(applied) = serde_json::from_slice::<Value>(body) else {
            return status(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "the body is not JSON".into(),
            );
        };
        let object_key = key(&kind.group, &kind.plural, namespace, name);
        if let Some(n) = annotation(&applied, WEBHOOK_FAILURES).and_then(|n| n.parse::<u32>().ok())
        {
            self.webhook_failures.entry(object_key.clone()).or_insert(n);
        }
        if let Some(left) = self.webhook_failures.get_mut(&object_key)
            && *left > 0
        {
            *left -= 1;
            return status(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                format!(
                    "Internal error occurred: failed calling webhook \"validate.double.lok8s.dev\": failed to call webhook: Post \"https://webhook.{namespace}.svc:443/validate\": dial tcp 10.96.0.99:443: connect: connection refused"
                ),
            );
        }
        let existing = self.objects.get(&object_key).cloned();
        if existing.as_ref().is_some_and(terminating) {
            return status(
                StatusCode::CONFLICT,
                "Conflict",
                format!(
                    "Operation cannot be fulfilled on {} {name:?}: object is being deleted",
                    kind.plural
                ),
            );
        }
        if existing.is_none() && self.namespace_terminating(namespace) {
            return status(
                StatusCode::FORBIDDEN,
                "Forbidden",
                format!(
                    "{} {name:?} is forbidden: unable to create new content in namespace {namespace} because it is being terminated",
                    kind.plural
                ),
            );
        }
        if let Some(old) = &existing
            && matches!(
                kind.kind.as_str(),
                "Deployment" | "DaemonSet" | "StatefulSet"
            )
            && !applied["spec"]["selector"].is_null()
            && old["spec"]["selector"] != applied["spec"]["selector"]
        {
            return status(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Invalid",
                format!(
                    "{}.{} {name:?} is invalid: spec.selector: Invalid value: {}: field is immutable",
                    kind.kind, kind.group, applied["spec"]["selector"]
                ),
            );
        }
        let owners = self.owners.get(&object_key).cloned().unwrap_or_default();
        let applied_paths = leaf_paths(&applied);
        let conflicts: Vec<String> = applied_paths
            .iter()
            .filter_map(|(path, value)| {
                let owner = owners.get(path)?;
                let current = existing.as_ref().and_then(|e| path_get(e, path))?;
                (owner != &manager && current != value)
                    .then(|| format!("conflict with {owner:?}: {}", show(path)))
            })
            .collect();
        if !conflicts.is_empty() && !force {
            return status(
                StatusCode::CONFLICT,
                "Conflict",
                format!(
                    "Apply failed with {} conflict(s): {}",
                    conflicts.len(),
                    conflicts.join("; ")
                ),
            );
        }
        let created = existing.is_none();
        let before = existing.clone();
        let mut object = existing.unwrap_or_else(|| json!({}));
        let spec_before = object["spec"].clone();
        merge(&mut object, &applied);
        object["apiVersion"] = json!(kind.api_version());
        object["kind"] = json!(kind.kind);
        object["metadata"]["name"] = json!(name);
        if !namespace.is_empty() {
            object["metadata"]["namespace"] = json!(namespace);
        }
        // As kube-apiserver: an apply that changes nothing keeps the resourceVersion.
        if before.as_ref() == Some(&object) {
            return (StatusCode::OK, axum::Json(object)).into_response();
        }
        let rv = self.bump();
        object["metadata"]["resourceVersion"] = json!(rv);
        let generation = object["metadata"]["generation"].as_i64().unwrap_or(0);
        if created || object["spec"] != spec_before {
            object["metadata"]["generation"] = json!(generation + 1);
        }
        if created {
            object["metadata"]["uid"] = json!(format!("uid-{rv}"));
            object["metadata"]["creationTimestamp"] = json!("2026-01-01T00:00:00Z");
        }
        roll_out(&kind.kind, &mut object);
        if kind.kind == "CustomResourceDefinition"
            && let Some(defined) = defined_by(&object)
        {
            let after: usize = annotation(&object, ESTABLISHED_AFTER)
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            let from = self.request_count() + after;
            self.custom.retain(|(_, _, crd)| crd != &object_key);
            self.custom.push((defined, from, object_key.clone()));
        }
        let entry = self.owners.entry(object_key.clone()).or_default();
        for (path, _) in applied_paths {
            entry.insert(path, manager.clone());
        }
        self.objects.insert(object_key, object.clone());
        let code = if created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        (code, axum::Json(object)).into_response()
    }

    /// RFC 7386 JSON merge patch; emptying a marked object's finalizers completes its deletion.
    pub(crate) fn merge_patch(
        &mut self,
        kind: &Kind,
        namespace: &str,
        name: &str,
        body: &Bytes,
    ) -> Response {
        let object_key = key(&kind.group, &kind.plural, namespace, name);
        let Some(mut object) = self.objects.get(&object_key).cloned() else {
            return not_found(format!("{} {name:?} not found", kind.plural));
        };
        let Ok(patch) = serde_json::from_slice::<Value>(body) else {
            return status(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "the body is not JSON".into(),
            );
        };
        merge_patch(&mut object, &patch);
        let finalizers_left = object["metadata"]["finalizers"]
            .as_array()
            .is_some_and(|f| !f.is_empty());
        if terminating(&object) && !finalizers_left {
            self.remove(&object_key);
            return axum::Json(object).into_response();
        }
        object["metadata"]["resourceVersion"] = json!(self.bump());
        self.objects.insert(object_key, object.clone());
        axum::Json(object).into_response()
    }

    pub(crate) fn delete(&mut self, kind: &Kind, namespace: &str, name: &str) -> Response {
        let object_key = key(&kind.group, &kind.plural, namespace, name);
        let Some(mut object) = self.objects.get(&object_key).cloned() else {
            return not_found(format!("{} {name:?} not found", kind.plural));
        };
        let finalizers = object["metadata"]["finalizers"]
            .as_array()
            .is_some_and(|f| !f.is_empty())
            || object["spec"]["finalizers"]
                .as_array()
                .is_some_and(|f| !f.is_empty());
        if finalizers {
            object["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
            object["metadata"]["resourceVersion"] = json!(self.bump());
            self.objects.insert(object_key, object.clone());
            return axum::Json(object).into_response();
        }
        self.remove(&object_key);
        axum::Json(object).into_response()
    }

    /// `PUT /api/v1/namespaces/<ns>/finalize` on a Terminating namespace: it goes, and
    /// everything in it.
    pub(crate) fn finalize_namespace(&mut self, namespace: &str, body: &Bytes) -> Response {
        let ns_key = key("", "namespaces", "", namespace);
        let Some(object) = self.objects.get(&ns_key).cloned() else {
            return not_found(format!("namespaces {namespace:?} not found"));
        };
        let emptied = serde_json::from_slice::<Value>(body).ok().is_some_and(|b| {
            b["spec"]["finalizers"]
                .as_array()
                .is_none_or(|f| f.is_empty())
        });
        if terminating(&object) && emptied {
            self.remove(&ns_key);
            let inside: Vec<_> = self
                .objects
                .keys()
                .filter(|(_, _, ns, _)| ns == namespace)
                .cloned()
                .collect();
            for k in inside {
                self.remove(&k);
            }
        }
        axum::Json(object).into_response()
    }

    fn remove(&mut self, object_key: &crate::kube_core::ObjectKey) {
        self.owners.remove(object_key);
        self.objects.remove(object_key);
        self.custom.retain(|(_, _, crd)| crd != object_key);
        self.bump();
    }
}

fn merge_patch(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(fields) => {
            if !target.is_object() {
                *target = json!({});
            }
            let map = target.as_object_mut().expect("an object");
            for (k, v) in fields {
                if v.is_null() {
                    map.remove(k);
                } else {
                    merge_patch(map.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        other => *target = other.clone(),
    }
}
