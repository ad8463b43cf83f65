//! Each host's kubeadm configuration, the way KubeOne writes it: the cluster behind the load
//! balancer (`controlPlaneEndpoint`), the API server's extra names, CIDRs, OIDC flags and the
//! encryption provider config, the external cloud provider, and the node's private address.
//! Kubelet reservations differ per role (spec 2.2's table): `kubeadm join` ignores a
//! KubeletConfiguration document, so they go in a kubeadm patch every init and join applies.

use lok8s_kubeadm::Version;
use lok8s_kubeadm::config::{args, quote};
use lok8s_provider_hetzner::inventory::Role;

use crate::settings::Settings;

/// Where the driver keeps a host's kubeadm files.
pub const DIR: &str = "/etc/kubeone";
pub const CONFIG: &str = "/etc/kubeone/kubeadm.yaml";
pub const PATCHES: &str = "/etc/kubeone/patches";
pub const KUBELET_PATCH: &str = "/etc/kubeone/patches/kubeletconfiguration0+strategic.yaml";
pub const ENCRYPTION_CONFIG: &str = "/etc/kubernetes/encryption-providers/config.yaml";
pub const OIDC_CA_FILE: &str = "/etc/kubernetes/oidc-ca.pem";

/// A role's kubelet reservations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kubelet {
    pub reserved_cpu: &'static str,
    pub reserved_memory: &'static str,
    pub eviction_memory: &'static str,
    pub max_pods: u32,
}

impl Kubelet {
    pub fn for_role(role: Role) -> Kubelet {
        match role {
            Role::ControlPlane => Kubelet {
                reserved_cpu: "200m",
                reserved_memory: "512Mi",
                eviction_memory: "500Mi",
                max_pods: 110,
            },
            Role::Worker => Kubelet {
                reserved_cpu: "500m",
                reserved_memory: "1Gi",
                eviction_memory: "1Gi",
                max_pods: 250,
            },
        }
    }

    /// The strategic-merge patch of the KubeletConfiguration.
    pub fn patch(&self) -> String {
        format!(
            "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n\
             systemReserved:\n  cpu: \"{cpu}\"\n  memory: \"{mem}\"\n\
             kubeReserved:\n  cpu: \"{cpu}\"\n  memory: \"{mem}\"\n\
             evictionHard:\n  memory.available: \"{evict}\"\n  nodefs.available: \"10%\"\n  imagefs.available: \"15%\"\n\
             maxPods: {pods}\n",
            cpu = self.reserved_cpu,
            mem = self.reserved_memory,
            evict = self.eviction_memory,
            pods = self.max_pods
        )
    }
}

/// What every host's configuration shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster<'a> {
    pub settings: &'a Settings,
    /// `host:port` of the load balancer.
    pub endpoint: String,
    pub cert_sans: Vec<String>,
}

/// One host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    pub name: String,
    pub role: Role,
    pub private_ip: String,
}

/// How a host joins: the bootstrap token and the CA's public key hash the leader printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Join {
    pub token: String,
    pub ca_cert_hash: String,
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The configuration file of `host`: Cluster and Init configuration for the leader (`join`
/// None), Join configuration for the others.
pub fn render(cluster: &Cluster, host: &Host, join: Option<&Join>) -> String {
    let version = cluster.settings.version;
    let v4 = version >= Version::new(1, 36, 0);
    let api = if v4 {
        "kubeadm.k8s.io/v1beta4"
    } else {
        "kubeadm.k8s.io/v1beta3"
    };
    let registration = {
        let kubelet_args = pairs(&[
            ("node-ip", &host.private_ip),
            ("cloud-provider", "external"),
        ]);
        format!(
            "nodeRegistration:\n  name: {}\n  criSocket: unix:///run/containerd/containerd.sock\n{}",
            quote(&host.name),
            args("  ", "kubeletExtraArgs", &kubelet_args, v4)
        )
    };
    let patches = format!("patches:\n  directory: {PATCHES}\n");
    let mut out = format!("# Written by lo (the KubeOne driver) for {}\n", host.name);
    match join {
        None => {
            out.push_str(&format!("apiVersion: {api}\nkind: InitConfiguration\n"));
            out.push_str(&format!(
                "localAPIEndpoint:\n  advertiseAddress: {}\n  bindPort: 6443\n",
                quote(&host.private_ip)
            ));
            out.push_str(&registration);
            out.push_str(&patches);
            out.push_str(&cluster_configuration(cluster, api, v4));
        }
        Some(join) => {
            out.push_str(&format!("apiVersion: {api}\nkind: JoinConfiguration\n"));
            if host.role == Role::ControlPlane {
                out.push_str(&format!(
                    "controlPlane:\n  localAPIEndpoint:\n    advertiseAddress: {}\n    bindPort: 6443\n",
                    quote(&host.private_ip)
                ));
            }
            out.push_str(&registration);
            out.push_str(&patches);
            out.push_str(&format!(
                "discovery:\n  bootstrapToken:\n    apiServerEndpoint: {}\n    token: {}\n    caCertHashes:\n      - {}\n",
                quote(&cluster.endpoint),
                quote(&join.token),
                quote(&join.ca_cert_hash)
            ));
        }
    }
    out
}

fn cluster_configuration(cluster: &Cluster, api: &str, v4: bool) -> String {
    let s = cluster.settings;
    let mut out = format!("---\napiVersion: {api}\nkind: ClusterConfiguration\n");
    out.push_str(&format!(
        "kubernetesVersion: {}\nclusterName: {}\ncontrolPlaneEndpoint: {}\n",
        s.version,
        quote(&s.name),
        quote(&cluster.endpoint)
    ));
    out.push_str("apiServer:\n  certSANs:\n");
    for san in &cluster.cert_sans {
        out.push_str(&format!("    - {}\n", quote(san)));
    }
    let mut api_args = vec![("encryption-provider-config", ENCRYPTION_CONFIG.to_string())];
    let mut volumes = vec![(
        "encryption-providers",
        "/etc/kubernetes/encryption-providers",
    )];
    if let Some(oidc) = &s.oidc {
        api_args.extend([
            ("oidc-issuer-url", oidc.issuer.clone()),
            ("oidc-client-id", oidc.client_id.clone()),
            ("oidc-username-claim", oidc.username_claim.clone()),
            ("oidc-username-prefix", oidc.username_prefix.clone()),
            ("oidc-groups-claim", oidc.groups_claim.clone()),
            ("oidc-groups-prefix", oidc.groups_prefix.clone()),
        ]);
        if oidc.ca_bundle.is_some() {
            api_args.push(("oidc-ca-file", OIDC_CA_FILE.to_string()));
            volumes.push(("oidc-ca", OIDC_CA_FILE));
        }
    }
    let api_args: Vec<(String, String)> = api_args
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    out.push_str(&args("  ", "extraArgs", &api_args, v4));
    out.push_str("  extraVolumes:\n");
    for (name, path) in volumes {
        out.push_str(&format!(
            "    - name: {}\n      hostPath: {}\n      mountPath: {}\n      readOnly: true\n",
            quote(name),
            quote(path),
            quote(path)
        ));
    }
    let cm_args = pairs(&[("cloud-provider", "external")]);
    out.push_str("controllerManager:\n");
    out.push_str(&args("  ", "extraArgs", &cm_args, v4));
    out.push_str(&format!(
        "networking:\n  podSubnet: {}\n  serviceSubnet: {}\n",
        quote(&s.pod_subnet),
        quote(&s.service_subnet)
    ));
    out.push_str(
        "---\napiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\ncgroupDriver: systemd\n",
    );
    out
}

/// The API server's encryption config: secrets encrypted with AES-CBC under `key` (32 bytes,
/// base64), reading unencrypted ones still.
pub fn encryption_config(key_base64: &str) -> String {
    format!(
        "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n  - resources: [secrets]\n    providers:\n      - aescbc:\n          keys:\n            - name: lok8s-1\n              secret: {key_base64}\n      - identity: {{}}\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(version: &str) -> Settings {
        crate::settings(&format!(
            "metadata: {{name: prod}}\nspec:\n  kubernetes: {{version: {version}}}\n  oidc: {{issuer: 'https://id.test', clientID: k8s, caBundle: PEM}}\n"
        ))
        .unwrap()
    }

    fn host(name: &str, role: Role) -> Host {
        Host {
            name: name.into(),
            role,
            private_ip: "10.0.0.3".into(),
        }
    }

    #[test]
    fn the_leader_gets_init_and_cluster_configuration() {
        let s = settings("v1.31.4");
        let cluster = Cluster {
            settings: &s,
            endpoint: "203.0.113.10:6443".into(),
            cert_sans: vec!["203.0.113.10".into(), "10.0.0.254".into()],
        };
        let text = render(&cluster, &host("prod-cp-0", Role::ControlPlane), None);
        for needle in [
            "apiVersion: kubeadm.k8s.io/v1beta3\nkind: InitConfiguration\n",
            "advertiseAddress: \"10.0.0.3\"",
            "controlPlaneEndpoint: \"203.0.113.10:6443\"",
            "    - \"10.0.0.254\"\n",
            "\"oidc-issuer-url\": \"https://id.test\"",
            "\"oidc-ca-file\": \"/etc/kubernetes/oidc-ca.pem\"",
            "\"encryption-provider-config\": \"/etc/kubernetes/encryption-providers/config.yaml\"",
            "patches:\n  directory: /etc/kubeone/patches\n",
            "podSubnet: \"10.244.0.0/16\"",
        ] {
            assert!(text.contains(needle), "{needle}\n{text}");
        }
        assert!(!text.contains("JoinConfiguration"));
    }

    #[test]
    fn others_join_with_the_hash_and_1_36_takes_list_arguments() {
        let s = settings("v1.36.0");
        let cluster = Cluster {
            settings: &s,
            endpoint: "203.0.113.10:6443".into(),
            cert_sans: vec![],
        };
        let join = Join {
            token: "abcdef.0123456789abcdef".into(),
            ca_cert_hash: format!("sha256:{}", "b".repeat(64)),
        };
        let worker = render(&cluster, &host("prod-w-0", Role::Worker), Some(&join));
        assert!(worker.contains("apiVersion: kubeadm.k8s.io/v1beta4\nkind: JoinConfiguration\n"));
        assert!(!worker.contains("controlPlane:"), "{worker}");
        assert!(
            worker.contains("    - name: \"node-ip\"\n      value: \"10.0.0.3\"\n"),
            "{worker}"
        );
        assert!(worker.contains(&format!("      - \"sha256:{}\"\n", "b".repeat(64))));
        let plane = render(
            &cluster,
            &host("prod-cp-1", Role::ControlPlane),
            Some(&join),
        );
        assert!(
            plane
                .contains("controlPlane:\n  localAPIEndpoint:\n    advertiseAddress: \"10.0.0.3\"")
        );
        assert!(
            Kubelet::for_role(Role::Worker)
                .patch()
                .contains("maxPods: 250")
        );
    }
}
