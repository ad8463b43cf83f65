//! `kubeone.yaml` (spec 2.2 steps 4–5): a `KubeOneCluster` v1beta2 with the spec's versions,
//! network, OIDC and dynamic workers, and the provider's inventory as the API endpoint and the
//! static hosts. The driver installs from the same values; the file is the cluster's readable
//! record (and what the real `kubeone` would accept).

use lok8s_provider_hetzner::inventory::{Inventory, Node, Role};
use serde_json::{Map, Value, json};

use crate::kubeadm_config::Kubelet;
use crate::settings::Settings;

/// The API server names: the load balancer's private address, each extra name (skipping one
/// equal to it), then every control plane's private address.
pub fn alternative_names(inventory: &Inventory, extra_sans: &[String]) -> Vec<String> {
    let private = &inventory.api.private_endpoint;
    let mut names: Vec<String> = Vec::new();
    let mut add = |n: &str| {
        if !n.is_empty() && !names.iter().any(|x| x == n) {
            names.push(n.to_string());
        }
    };
    add(private);
    for san in extra_sans.iter().filter(|s| *s != private) {
        add(san);
    }
    for node in inventory
        .nodes
        .iter()
        .filter(|n| n.role == Role::ControlPlane)
    {
        add(&node.private_ip);
    }
    names
}

fn host(node: &Node, inventory: &Inventory) -> Value {
    let kubelet = Kubelet::for_role(node.role);
    json!({
        "publicAddress": node.public_ip,
        "privateAddress": node.private_ip,
        "sshUsername": inventory.access.user,
        "sshPort": inventory.access.port,
        "sshPrivateKeyFile": inventory.access.private_key,
        "hostname": node.name,
        "kubelet": {
            "systemReserved": {"cpu": kubelet.reserved_cpu, "memory": kubelet.reserved_memory},
            "kubeReserved": {"cpu": kubelet.reserved_cpu, "memory": kubelet.reserved_memory},
            "evictionHard": {
                "memory.available": kubelet.eviction_memory,
                "nodefs.available": "10%",
                "imagefs.available": "15%",
            },
            "maxPods": kubelet.max_pods,
        },
    })
}

/// The manifest's text.
pub fn manifest(settings: &Settings, inventory: &Inventory, extra_sans: &[String]) -> String {
    let mut doc = Map::new();
    doc.insert("apiVersion".into(), json!("kubeone.k8c.io/v1beta2"));
    doc.insert("kind".into(), json!("KubeOneCluster"));
    doc.insert("name".into(), json!(settings.name));
    doc.insert(
        "versions".into(),
        json!({"kubernetes": settings.version.to_string()}),
    );
    let mut hetzner = Map::new();
    if let Some(network) = &inventory.network {
        hetzner.insert("networkID".into(), json!(network.id));
    }
    doc.insert(
        "cloudProvider".into(),
        json!({"hetzner": hetzner, "external": true}),
    );
    let mut cni = Map::new();
    cni.insert(settings.cni.clone(), json!({}));
    doc.insert(
        "clusterNetwork".into(),
        json!({
            "podSubnet": settings.pod_subnet,
            "serviceSubnet": settings.service_subnet,
            "cni": cni,
        }),
    );
    let mut features = json!({"encryptionProviders": {"enable": true}});
    if let Some(oidc) = &settings.oidc {
        let mut config = json!({
            "issuerUrl": oidc.issuer,
            "clientId": oidc.client_id,
            "usernameClaim": oidc.username_claim,
            "usernamePrefix": oidc.username_prefix,
            "groupsClaim": oidc.groups_claim,
            "groupsPrefix": oidc.groups_prefix,
        });
        if oidc.ca_bundle.is_some() {
            config["caFile"] = json!(crate::kubeadm_config::OIDC_CA_FILE);
        }
        features["openidConnect"] = json!({"enable": true, "config": config});
    }
    doc.insert("features".into(), features);
    doc.insert("machineController".into(), json!({"deploy": true}));
    if !settings.pools.is_empty() {
        let network = inventory
            .network
            .as_ref()
            .map_or(settings.name.clone(), |n| n.name.clone());
        let workers: Vec<Value> = settings
            .pools
            .iter()
            .map(|pool| {
                json!({
                    "name": pool.name,
                    "replicas": pool.replicas,
                    "providerSpec": {"cloudProviderSpec": {
                        "serverType": pool.server_type,
                        "location": settings.datacenter,
                        "image": pool.image,
                        "networks": [network],
                    }},
                })
            })
            .collect();
        doc.insert("dynamicWorkers".into(), Value::Array(workers));
    }
    doc.insert(
        "apiEndpoint".into(),
        json!({
            "host": inventory.api.endpoint,
            "port": inventory.api.port,
            "alternativeNames": alternative_names(inventory, extra_sans),
        }),
    );
    let of_role = |role: Role| -> Vec<Value> {
        inventory
            .nodes
            .iter()
            .filter(|n| n.role == role)
            .map(|n| host(n, inventory))
            .collect()
    };
    doc.insert(
        "controlPlane".into(),
        json!({"hosts": of_role(Role::ControlPlane)}),
    );
    let workers = of_role(Role::Worker);
    if !workers.is_empty() {
        doc.insert("staticWorkers".into(), json!({"hosts": workers}));
    }
    doc.insert("addons".into(), json!({"enable": true, "path": "./addons"}));
    let header = "# Written by lo (the KubeOne driver) from the spec and the provider's inventory;\n\
                  # lo installs from the same values. Edits here are overwritten on the next provision.\n";
    format!(
        "{header}{}",
        serde_yaml::to_string(&Value::Object(doc)).unwrap_or_default()
    )
}

#[cfg(test)]
mod tests;
