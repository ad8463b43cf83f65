//! The registry ConfigMaps applied into the cluster: KEP-1755's `local-registry-hosting`
//! and `lok8s-registries` with the port registries really listen on
//! and `shared` only for mirrors that are shared.

use serde_json::{Map, Value, json};

use crate::{Plan, RegistryKind};

/// `kube-public/local-registry-hosting`, as JSON (YAML's superset).
pub fn local_registry_hosting(plan: &Plan) -> String {
    let build = plan
        .registries
        .iter()
        .find(|r| r.name == "build")
        .expect("the plan always has a build registry");
    let hosting = format!(
        "host: \"{}\"\nhostFromClusterNetwork: \"{}\"\nhelp: \"https://kernpilot.github.io/lok8s/guide/services#how-the-image-swap-actually-works\"\n",
        build.ip, build.host
    );
    json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "local-registry-hosting", "namespace": "kube-public",
            "labels": {"lok8s.dev/type": "system"}},
        "data": {"localRegistryHosting.v1": hosting}
    })
    .to_string()
}

/// `kube-system/lok8s-registries`.
pub fn lok8s_registries(plan: &Plan) -> String {
    let mut data = Map::new();
    for r in &plan.registries {
        data.insert(format!("{}.ip", r.name), json!(r.ip.to_string()));
        data.insert(format!("{}.port", r.name), json!(plan.port.to_string()));
        if !r.url.is_empty() {
            data.insert(format!("{}.url", r.name), json!(r.url));
        }
        if r.kind == RegistryKind::Mirror && plan.shared {
            data.insert(format!("{}.shared", r.name), json!("true"));
        }
    }
    json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "lok8s-registries", "namespace": "kube-system",
            "labels": {"app.kubernetes.io/managed-by": "lok8s"}},
        "data": Value::Object(data)
    })
    .to_string()
}
