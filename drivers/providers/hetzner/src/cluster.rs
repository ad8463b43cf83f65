//! A cluster's resources in a Hetzner Cloud project: everything labelled
//! `lok8s.dev/cluster=<name>` (spec 7.2). `status` counts its servers; `destroy` deletes what
//! carries the label, type by type in an order that frees dependencies first, and nothing else
//! (bare metal and unlabelled resources are never touched).

use serde_json::Value;

use crate::cloud_api::{Cloud, CloudError, Transport};
use crate::descriptor::Descriptor;

pub const CLUSTER_LABEL: &str = "lok8s.dev/cluster";

/// Load balancers before the servers they target, servers before their volumes, floating IPs
/// and networks; keys and networks last.
pub const DESTROY_ORDER: [&str; 8] = [
    "load-balancer",
    "server",
    "placement-group",
    "firewall",
    "volume",
    "floating-ip",
    "ssh-key",
    "network",
];

/// The cluster name resources are labelled with: the descriptor's `cluster_name`, else the
/// first server's name without its last two `-` parts (`e2e-remote-cp-0` → `e2e-remote`).
/// It must be a label value, so that the selector built from it selects this cluster only.
pub fn cluster_name(descriptor: &Descriptor) -> Result<String, String> {
    let name = match &descriptor.cluster_name {
        Some(name) => name.clone(),
        None => {
            let first = descriptor
                .document
                .get("server")
                .and_then(|s| s.get(0))
                .and_then(|s| s.get("name"))
                .and_then(Value::as_str)
                .unwrap_or("");
            let parts: Vec<&str> = first.split('-').collect();
            if parts.len() < 3 {
                return Err(
                    "the provider config names no cluster: set cluster_name (the value of the lok8s.dev/cluster label)"
                        .into(),
                );
            }
            parts[..parts.len() - 2].join("-")
        }
    };
    check_label_value(&name).map_err(|why| format!("cluster_name {name:?}: {why}"))?;
    Ok(name)
}

/// A Kubernetes-style label value: at most 63 characters, alphanumerics with `-`, `_`, `.`
/// inside.
fn check_label_value(value: &str) -> Result<(), String> {
    let inner_ok = value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    let ends_ok = value.starts_with(|c: char| c.is_ascii_alphanumeric())
        && value.ends_with(|c: char| c.is_ascii_alphanumeric());
    if value.is_empty() || value.len() > 63 || !inner_ok || !ends_ok {
        return Err("must be 1 to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit".into());
    }
    Ok(())
}

fn selector(name: &str) -> String {
    format!("{CLUSTER_LABEL}={name}")
}

/// What the cluster's servers say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Servers {
    NotFound,
    Running(usize),
    Partial { running: usize, total: usize },
}

pub fn servers<T: Transport>(cloud: &Cloud<T>, name: &str) -> Result<Servers, CloudError> {
    let servers = cloud.list("server", &[("label_selector", &selector(name))])?;
    let running = servers
        .iter()
        .filter(|s| s["status"].as_str() == Some("running"))
        .count();
    Ok(match servers.len() {
        0 => Servers::NotFound,
        total if running == total => Servers::Running(total),
        total => Servers::Partial { running, total },
    })
}

/// What a destroy did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Destroyed {
    /// `(type, name)` of every resource deleted.
    pub deleted: Vec<(String, String)>,
    /// Every delete that failed, with the API's reason; the rest went on.
    pub failed: Vec<String>,
}

/// Deletes every resource labelled for the cluster, in [`DESTROY_ORDER`], waiting for each
/// type's deletions before the next. A listing that fails stops (nothing is guessed); a delete
/// that fails is recorded and the others go on, so a re-run finishes the job.
pub fn destroy<T: Transport>(
    cloud: &Cloud<T>,
    name: &str,
    mut on_delete: impl FnMut(&str, &str),
) -> Result<Destroyed, CloudError> {
    let mut done = Destroyed::default();
    for kind in DESTROY_ORDER {
        let mut actions = Vec::new();
        for object in cloud.list(kind, &[("label_selector", &selector(name))])? {
            // The API filtered by label; checked again so only this cluster's resources go.
            if object["labels"][CLUSTER_LABEL].as_str() != Some(name) {
                continue;
            }
            let Some(id) = object["id"].as_u64() else {
                continue;
            };
            let shown = object["name"].as_str().unwrap_or("").to_string();
            match cloud.delete(kind, id) {
                Ok(Some(started)) => {
                    actions.extend(started);
                    on_delete(kind, &shown);
                    done.deleted.push((kind.to_string(), shown));
                }
                Ok(None) => {}
                Err(e) => done.failed.push(e.to_string()),
            }
        }
        if let Err(e) = cloud.wait(&actions) {
            done.failed.push(e.to_string());
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn descriptor(text: &str) -> Descriptor {
        Descriptor::parse(text).unwrap()
    }

    #[test]
    fn the_cluster_name_comes_from_the_config_or_the_first_server() {
        assert_eq!(
            cluster_name(&descriptor("cluster_name: prod")).unwrap(),
            "prod"
        );
        assert_eq!(
            cluster_name(&descriptor("server: [{name: e2e-remote-cp-0}]")).unwrap(),
            "e2e-remote"
        );
        assert!(cluster_name(&descriptor("server: [{name: cp-0}]")).is_err());
        assert!(cluster_name(&descriptor("{}")).is_err());
    }

    #[test]
    fn a_name_that_would_widen_the_selector_is_refused() {
        for bad in ["a,lok8s.dev/role", "a!=b", "-a", "", &"x".repeat(64)] {
            let e = cluster_name(&descriptor(&format!("cluster_name: {bad:?}"))).unwrap_err();
            assert!(e.contains("must be 1 to 63"), "{bad}: {e}");
        }
    }
}
