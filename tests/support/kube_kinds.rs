//! The kinds the Kubernetes API double serves and its discovery documents: a fixed table of
//! built-in resources plus the custom resources of CustomResourceDefinitions applied to it,
//! served once they are `Established` (as kube-apiserver does).

use serde_json::{Value, json};

/// A resource the double serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kind {
    pub group: String,
    pub version: String,
    pub plural: String,
    pub kind: String,
    pub namespaced: bool,
}

impl Kind {
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

/// (group, version, plural, kind, namespaced).
const BUILT_IN: &[(&str, &str, &str, &str, bool)] = &[
    ("", "v1", "configmaps", "ConfigMap", true),
    ("", "v1", "secrets", "Secret", true),
    ("", "v1", "services", "Service", true),
    ("", "v1", "serviceaccounts", "ServiceAccount", true),
    ("", "v1", "namespaces", "Namespace", false),
    ("", "v1", "nodes", "Node", false),
    ("apps", "v1", "deployments", "Deployment", true),
    ("apps", "v1", "daemonsets", "DaemonSet", true),
    ("apps", "v1", "statefulsets", "StatefulSet", true),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "clusterroles",
        "ClusterRole",
        false,
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "clusterrolebindings",
        "ClusterRoleBinding",
        false,
    ),
    ("rbac.authorization.k8s.io", "v1", "roles", "Role", true),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "rolebindings",
        "RoleBinding",
        true,
    ),
    (
        "storage.k8s.io",
        "v1",
        "storageclasses",
        "StorageClass",
        false,
    ),
    (
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        false,
    ),
    (
        "admissionregistration.k8s.io",
        "v1",
        "validatingwebhookconfigurations",
        "ValidatingWebhookConfiguration",
        false,
    ),
    (
        "admissionregistration.k8s.io",
        "v1",
        "mutatingwebhookconfigurations",
        "MutatingWebhookConfiguration",
        false,
    ),
];

pub fn built_in() -> Vec<Kind> {
    BUILT_IN
        .iter()
        .map(|(g, v, p, k, n)| Kind {
            group: g.to_string(),
            version: v.to_string(),
            plural: p.to_string(),
            kind: k.to_string(),
            namespaced: *n,
        })
        .collect()
}

/// The kind a CustomResourceDefinition defines (its first served version).
pub fn defined_by(crd: &Value) -> Option<Kind> {
    let spec = crd.get("spec")?;
    let version = spec
        .get("versions")?
        .as_array()?
        .iter()
        .find(|v| v["served"] != json!(false))?
        .get("name")?
        .as_str()?;
    Some(Kind {
        group: spec.get("group")?.as_str()?.to_string(),
        version: version.to_string(),
        plural: spec.get("names")?.get("plural")?.as_str()?.to_string(),
        kind: spec.get("names")?.get("kind")?.as_str()?.to_string(),
        namespaced: spec.get("scope").and_then(Value::as_str) != Some("Cluster"),
    })
}

/// `/api/v1` or `/apis/<group>/<version>`: None when nothing is served there (a 404).
pub fn resource_list(kinds: &[Kind], group: &str, version: &str) -> Option<Value> {
    let resources: Vec<Value> = kinds
        .iter()
        .filter(|k| k.group == group && k.version == version)
        .map(|k| {
            json!({"name": k.plural, "singularName": k.kind.to_lowercase(), "namespaced": k.namespaced,
                "kind": k.kind, "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]})
        })
        .collect();
    if resources.is_empty() {
        return None;
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}),
    )
}

/// `/apis`: every group with a served kind.
pub fn group_list(kinds: &[Kind]) -> Value {
    let mut groups: Vec<(String, String)> = kinds
        .iter()
        .filter(|k| !k.group.is_empty())
        .map(|k| (k.group.clone(), k.version.clone()))
        .collect();
    groups.sort();
    groups.dedup_by(|a, b| a.0 == b.0);
    let groups: Vec<Value> = groups
        .iter()
        .map(|(g, v)| {
            let gv = json!({"groupVersion": format!("{g}/{v}"), "version": v});
            json!({"name": g, "versions": [gv.clone()], "preferredVersion": gv})
        })
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}
