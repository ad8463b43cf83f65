//! What a kube grant says (`[drivers.<kind>.grants.kube]`), what a request becomes, and its
//! line in `lo drivers show`. The contract calls the import `kubectl-apply` (frozen in 1.0);
//! it runs no kubectl, so the grant has the shorter name.

use serde::{Deserialize, Serialize};

use crate::contract::types;
use crate::host::grants::{extend_unique, list_suffix, or_none};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct KubeGrant {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kinds: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clusters: Vec<String>,
    /// Origins (`https://host:port`, `*` wildcards) the driver's own kubeconfig may name as its
    /// API server; none means this machine (loopback, any port).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub servers: Vec<String>,
    /// An operator-named flag (`spec:<path>`): when the spec sets it true, a domain in
    /// `clusters` that has no spec yet is created on this machine as a Lo cluster before the
    /// driver runs (`framework::dependencies`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_local_when: Option<String>,
}

impl KubeGrant {
    pub fn from_request(r: &types::KubeAccess) -> Self {
        KubeGrant {
            namespaces: r.namespaces.clone(),
            kinds: r.kinds.clone(),
            clusters: r.clusters.clone(),
            ..Default::default()
        }
    }

    pub fn merge(&mut self, other: KubeGrant) {
        extend_unique(&mut self.namespaces, other.namespaces);
        extend_unique(&mut self.kinds, other.kinds);
        extend_unique(&mut self.clusters, other.clusters);
        extend_unique(&mut self.servers, other.servers);
        if self.create_local_when.is_none() {
            self.create_local_when = other.create_local_when;
        }
    }

    pub fn line(&self) -> String {
        let shown = |items: &[String], what: &str| -> Vec<String> {
            items
                .iter()
                .map(|e| crate::host::operator::shown(e, what))
                .collect()
        };
        let local = match &self.create_local_when {
            Some(flag) => format!(
                "; creates a missing one on this machine (kind Lo) when {} is true",
                crate::host::operator::field_of(flag)
            ),
            None => String::new(),
        };
        format!(
            "kubectl-apply: namespaces {}; kinds {}{}{local}; API servers {}",
            or_none(&shown(&self.namespaces, "the namespace")),
            or_none(&self.kinds),
            list_suffix("; other clusters ", &shown(&self.clusters, "the domain")),
            if self.servers.is_empty() {
                "on this machine".to_string()
            } else {
                self.servers
                    .iter()
                    .map(|s| crate::host::reported::shown(s))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        )
    }
}
