use super::*;
use lok8s_provider_hetzner::inventory::{Access, Api, Network};
use serde_yaml::Value as Yaml;

fn node(name: &str, role: Role, public: &str, private: &str) -> Node {
    Node {
        name: name.into(),
        role,
        group: "default".into(),
        public_ip: public.into(),
        private_ip: private.into(),
        bare_metal: false,
    }
}

fn inventory() -> Inventory {
    Inventory {
        api: Api {
            endpoint: "203.0.113.10".into(),
            private_endpoint: "10.0.0.254".into(),
            port: 6443,
        },
        access: Access {
            user: "root".into(),
            port: 22,
            private_key: ".secrets/ssh/id_ed25519".into(),
        },
        nodes: vec![
            node("prod-cp-0", Role::ControlPlane, "203.0.113.20", "10.0.0.2"),
            node("prod-cp-1", Role::ControlPlane, "203.0.113.21", "10.0.0.3"),
            node("prod-w-0", Role::Worker, "203.0.113.30", "10.0.0.4"),
        ],
        network: Some(Network {
            id: "4711".into(),
            name: "prod".into(),
            cidr: "10.0.0.0/16".into(),
        }),
    }
}

fn settings(extra: &str) -> Settings {
    crate::settings(&format!(
        "metadata: {{name: prod}}\nspec:\n  kubernetes: {{version: v1.31.4}}\n{extra}"
    ))
    .unwrap()
}

#[test]
fn the_manifest_follows_spec_2_2() {
    let text = manifest(
        &settings(
            "  workers: {pool-a: {replicas: 2, type: cx32}}\n  oidc: {issuer: 'https://id.test', clientID: k8s, caBundle: PEM}\n",
        ),
        &inventory(),
        &["api.prod.test".into(), "10.0.0.254".into()],
    );
    assert!(text.starts_with("# Written by lo"), "{text}");
    let m: Yaml = serde_yaml::from_str(&text).unwrap();
    assert_eq!(m["apiVersion"], "kubeone.k8c.io/v1beta2");
    assert_eq!(m["kind"], "KubeOneCluster");
    assert_eq!(m["name"], "prod");
    assert_eq!(m["versions"]["kubernetes"], "v1.31.4");
    assert_eq!(m["cloudProvider"]["external"], true);
    assert_eq!(m["cloudProvider"]["hetzner"]["networkID"], "4711");
    assert_eq!(m["clusterNetwork"]["podSubnet"], "10.244.0.0/16");
    assert!(m["clusterNetwork"]["cni"]["external"].is_mapping());
    assert_eq!(m["features"]["encryptionProviders"]["enable"], true);
    let oidc = &m["features"]["openidConnect"];
    assert_eq!(oidc["enable"], true);
    assert_eq!(oidc["config"]["issuerUrl"], "https://id.test");
    assert_eq!(oidc["config"]["caFile"], "/etc/kubernetes/oidc-ca.pem");
    assert_eq!(m["machineController"]["deploy"], true);
    let pool = &m["dynamicWorkers"][0];
    assert_eq!(pool["replicas"], 2);
    let cloud = &pool["providerSpec"]["cloudProviderSpec"];
    assert_eq!(
        (
            &cloud["serverType"],
            &cloud["location"],
            &cloud["image"],
            &cloud["networks"][0]
        ),
        (
            &Yaml::from("cx32"),
            &Yaml::from("fsn1"),
            &Yaml::from("ubuntu-22.04"),
            &Yaml::from("prod")
        )
    );
    assert_eq!(m["apiEndpoint"]["host"], "203.0.113.10");
    assert_eq!(m["apiEndpoint"]["port"], 6443);
    let names: Vec<&str> = m["apiEndpoint"]["alternativeNames"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["10.0.0.254", "api.prod.test", "10.0.0.2", "10.0.0.3"]
    );
    let cp = &m["controlPlane"]["hosts"];
    assert_eq!(cp.as_sequence().unwrap().len(), 2);
    assert_eq!(cp[0]["hostname"], "prod-cp-0");
    assert_eq!(cp[0]["publicAddress"], "203.0.113.20");
    assert_eq!(cp[0]["privateAddress"], "10.0.0.2");
    assert_eq!(cp[0]["sshUsername"], "root");
    assert_eq!(cp[0]["sshPort"], 22);
    assert_eq!(cp[0]["sshPrivateKeyFile"], ".secrets/ssh/id_ed25519");
    assert_eq!(cp[0]["kubelet"]["systemReserved"]["memory"], "512Mi");
    assert_eq!(
        cp[0]["kubelet"]["evictionHard"]["memory.available"],
        "500Mi"
    );
    assert_eq!(cp[0]["kubelet"]["maxPods"], 110);
    let w = &m["staticWorkers"]["hosts"][0];
    assert_eq!(w["hostname"], "prod-w-0");
    assert_eq!(w["kubelet"]["kubeReserved"]["cpu"], "500m");
    assert_eq!(w["kubelet"]["evictionHard"]["memory.available"], "1Gi");
    assert_eq!(w["kubelet"]["maxPods"], 250);
    assert_eq!(m["addons"]["path"], "./addons");
}

#[test]
fn no_workers_no_static_workers_section() {
    let mut inv = inventory();
    inv.nodes.retain(|n| n.role == Role::ControlPlane);
    inv.network = None;
    let m: Yaml = serde_yaml::from_str(&manifest(&settings(""), &inv, &[])).unwrap();
    assert!(m.get("staticWorkers").is_none());
    assert!(m.get("dynamicWorkers").is_none());
    assert!(m["features"].get("openidConnect").is_none());
    assert!(m["cloudProvider"]["hetzner"].get("networkID").is_none());
}
