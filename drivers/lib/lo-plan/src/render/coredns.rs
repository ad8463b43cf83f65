//! CoreDNS: the Corefile, the `coredns-external` Service pinned to the last
//! pool address of the effective pool, `coredns-custom` from the spec and the
//! import folder, and the Deployment changes as a server-side apply that is the same on every
//! run. The pods restart only when the configuration changed, through a hash
//! annotation on the pod template; `coredns-custom` is deleted when nothing feeds it.

use serde_json::{Map, Value, json};

use crate::Plan;

pub const COREFILE: &str = ".:53 {
    errors
    health {
        lameduck 5s
    }
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 30
    }
    prometheus :9153
    forward . /etc/resolv.conf {
        max_concurrent 1000
    }
    cache 30
    loop
    reload
    loadbalance
    import custom/*.override
}
import custom/*.server
";

/// One key of `coredns-custom`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreDnsFile {
    pub name: String,
    pub contents: String,
}

pub fn corefile_configmap() -> String {
    json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "coredns", "namespace": "kube-system"},
        "data": {"Corefile": COREFILE}
    })
    .to_string()
}

/// `kube-system/coredns-external`, pinned to the last pool address when there is a pool.
pub fn coredns_external(plan: &Plan) -> String {
    let mut metadata = json!({"name": "coredns-external", "namespace": "kube-system",
        "labels": {"k8s-app": "kube-dns"}});
    if let Some((_, end)) = plan.lb_pool {
        metadata["annotations"] = json!({"metallb.universe.tf/loadBalancerIPs": end.to_string()});
    }
    json!({
        "apiVersion": "v1", "kind": "Service", "metadata": metadata,
        "spec": {"type": "LoadBalancer", "selector": {"k8s-app": "kube-dns"},
            "ports": [
                {"name": "dns-tcp", "port": 53, "targetPort": 53, "protocol": "TCP"},
                {"name": "dns-udp", "port": 53, "targetPort": 53, "protocol": "UDP"}
            ]}
    })
    .to_string()
}

/// The files of `coredns-custom`: generated host blocks, inline servers/overrides, then the
/// import folder's `*.server` / `*.override` files (which win on equal names).
pub fn custom_files(plan: &Plan, imported: &[CoreDnsFile]) -> Vec<CoreDnsFile> {
    let mut files: Vec<CoreDnsFile> = Vec::new();
    for (i, host) in plan.coredns.hosts.iter().enumerate() {
        files.push(CoreDnsFile {
            name: format!("host-{i}.server"),
            contents: format!(
                "{}:53 {{\n    errors\n    template IN A {{\n        match \".*\"\n        answer \"{{{{ .Name }}}} 30 IN A {}\"\n    }}\n    template IN AAAA {{\n        match \".*\"\n        rcode NOERROR\n    }}\n    forward . /etc/resolv.conf\n    cache 30\n}}\n",
                host.name, host.target
            ),
        });
    }
    if let Some(s) = &plan.coredns.servers {
        files.push(CoreDnsFile {
            name: "inline.server".into(),
            contents: with_final_newline(s),
        });
    }
    if let Some(o) = &plan.coredns.overrides {
        files.push(CoreDnsFile {
            name: "inline.override".into(),
            contents: with_final_newline(o),
        });
    }
    for f in imported
        .iter()
        .filter(|f| f.name.ends_with(".server") || f.name.ends_with(".override"))
    {
        files.retain(|g| g.name != f.name);
        files.push(f.clone());
    }
    files
}

/// YAML block scalars (`servers: |`) already end in a newline; add one only when missing.
fn with_final_newline(text: &str) -> String {
    format!("{}\n", text.trim_end_matches('\n'))
}

/// `kube-system/coredns-custom` with one key per file.
pub fn coredns_custom(files: &[CoreDnsFile]) -> String {
    let data: Map<String, Value> = files
        .iter()
        .map(|f| (f.name.clone(), json!(f.contents)))
        .collect();
    json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "coredns-custom", "namespace": "kube-system"},
        "data": Value::Object(data)
    })
    .to_string()
}

/// The lok8s-owned part of the `coredns` Deployment. `tolerations` is an atomic list in
/// Kubernetes, so the applied list is the live one plus ours; volumes and mounts merge by key.
/// `config_hash` changes (and rolls the pods) only when the CoreDNS configuration changed.
pub fn coredns_deployment_patch(live_tolerations: &[Value], config_hash: &str) -> String {
    let ours = json!({"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"});
    let mut tolerations: Vec<Value> = live_tolerations.to_vec();
    // kubeadm's own `{key: …control-plane, effect: NoSchedule}` already tolerates it.
    let covered = tolerations
        .iter()
        .any(|t| t["key"] == ours["key"] && t["effect"] == ours["effect"]);
    if !covered {
        tolerations.push(ours);
    }
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "coredns", "namespace": "kube-system"},
        "spec": {
            "replicas": 1,
            "template": {
                "metadata": {"annotations": {"lok8s.dev/coredns-config": config_hash}},
                "spec": {
                    "tolerations": tolerations,
                    "volumes": [{"name": "custom-config-volume",
                        "configMap": {"name": "coredns-custom", "optional": true}}],
                    "containers": [{"name": "coredns", "volumeMounts": [
                        {"name": "custom-config-volume", "mountPath": "/etc/coredns/custom", "readOnly": true}
                    ]}]
                }
            }
        }
    })
    .to_string()
}
