//! The spec's fields (spec 2.1): defaults, and every invalid value reported at once with the
//! original's message, before anything is created. Fixes: a missing Kubernetes version is an
//! error (the original rendered `null` and left it to kubeone), a pool without a server type
//! is one too (the original let `null` through), and the CNI is `external` (bug 17: the
//! original defaulted to canal while its addons installed cilium, two CNIs): the CNI comes
//! from `spec.bootstrap` (KubeOne's default there is cilium).

use lok8s_kubeadm::Version;
use serde_yaml::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `metadata.name`: the manifest's name and the kubeconfig's.
    pub name: String,
    pub version: Version,
    pub pod_subnet: String,
    pub service_subnet: String,
    pub cni: String,
    pub datacenter: String,
    pub pools: Vec<Pool>,
    pub oidc: Option<Oidc>,
    /// `spec.cluster.domain`, `spec.dns.domainFilter`, `spec.controlPlane.replicas`: only
    /// exported (spec 2.5).
    pub cluster_domain: String,
    pub dns_domain_filter: String,
    pub control_plane_replicas: String,
    /// `spec.registries.<host>.auth.secretRef`: registries containerd logs in to.
    pub registries: Vec<RegistryAuth>,
}

/// A registry and the Secret (in the secret cache) holding its login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryAuth {
    pub host: String,
    pub secret: String,
    /// `provisioning` when unset.
    pub namespace: String,
}

/// A `spec.workers` pool: machine-controller workers (dynamicWorkers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pool {
    pub name: String,
    pub replicas: u32,
    pub server_type: String,
    pub image: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Oidc {
    pub issuer: String,
    pub client_id: String,
    pub username_claim: String,
    pub username_prefix: String,
    pub groups_claim: String,
    pub groups_prefix: String,
    pub ca_bundle: Option<String>,
}

fn at<'a>(doc: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(doc, |v, key| v.get(key))
}

/// A scalar as text (numbers too, as YAML writes `1.31` unquoted).
fn text(doc: &Value, path: &str) -> Option<String> {
    match at(doc, path)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn charset_ok(value: &str) -> bool {
    !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// Reads the cluster file's text.
pub fn settings(spec_text: &str) -> Result<Settings, Vec<FieldError>> {
    let doc: Value = serde_yaml::from_str(spec_text).map_err(|e| {
        vec![FieldError {
            field: "spec".into(),
            message: format!("the cluster file is not YAML: {e}"),
        }]
    })?;
    let mut errors = Vec::new();
    let mut fail = |field: &str, message: String| {
        errors.push(FieldError {
            field: field.into(),
            message,
        })
    };
    let name = text(&doc, "metadata.name").unwrap_or_default();
    if name.is_empty() {
        fail("metadata.name", "is required: the cluster's name".into());
    }
    let version = match text(&doc, "spec.kubernetes.version") {
        None => {
            fail(
                "spec.kubernetes.version",
                "is required (such as v1.31.4): it pins kubeadm, kubelet and kubectl on every host"
                    .into(),
            );
            None
        }
        Some(v) => match Version::parse(&v) {
            Some(parsed) if parsed >= Version::new(1, 29, 0) => Some(parsed),
            Some(_) => {
                fail(
                    "spec.kubernetes.version",
                    format!("{v:?} is older than this driver installs; use v1.29.0 or later"),
                );
                None
            }
            None => {
                fail(
                    "spec.kubernetes.version",
                    format!("{v:?} is not a version; write it as v1.31.4"),
                );
                None
            }
        },
    };
    let or = |path: &str, default: &str| text(&doc, path).unwrap_or_else(|| default.to_string());
    let cni = or("spec.network.cni", "external");
    if cni != "external" {
        fail(
            "spec.network.cni",
            format!(
                "{cni:?}: lo installs the CNI through spec.bootstrap (KubeOne's default: cilium), \
                 not through kubeadm; remove spec.network.cni or set it to external, and name the \
                 CNI in spec.bootstrap"
            ),
        );
    }
    let datacenter = or("spec.datacenter", "fsn1");
    if !charset_ok(&datacenter) {
        fail(
            "spec.datacenter",
            format!("Invalid datacenter: {datacenter}"),
        );
    }
    let mut pools = Vec::new();
    if let Some(Value::Mapping(workers)) = at(&doc, "spec.workers") {
        for (key, pool) in workers {
            let pool_name = key.as_str().unwrap_or_default().to_string();
            let field = format!("spec.workers.{pool_name}");
            let valid_name = pool_name.starts_with(|c: char| c.is_ascii_alphanumeric())
                && pool_name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-');
            if !valid_name {
                fail(
                    &field,
                    format!(
                        "Invalid worker pool name: {pool_name} (must be alphanumeric with hyphens)"
                    ),
                );
                continue;
            }
            let replicas_text = text(pool, "replicas").unwrap_or_else(|| "1".into());
            let replicas = replicas_text.parse::<u32>().unwrap_or_else(|_| {
                fail(
                    &format!("{field}.replicas"),
                    format!(
                        "Invalid replicas for pool {pool_name}: {replicas_text} (must be numeric)"
                    ),
                );
                0
            });
            let server_type = text(pool, "type").unwrap_or_default();
            if !charset_ok(&server_type) {
                fail(
                    &format!("{field}.type"),
                    format!("Invalid server/instance type for pool {pool_name}: {server_type}"),
                );
            }
            let image = text(pool, "image").unwrap_or_else(|| "ubuntu-22.04".into());
            if !charset_ok(&image) {
                fail(
                    &format!("{field}.image"),
                    format!("Invalid image for pool {pool_name}: {image}"),
                );
            }
            pools.push(Pool {
                name: pool_name,
                replicas,
                server_type,
                image,
            });
        }
    }
    let mut registries = Vec::new();
    if let Some(Value::Mapping(entries)) = at(&doc, "spec.registries") {
        for (key, entry) in entries {
            let host = key.as_str().unwrap_or_default().to_string();
            let field = format!("spec.registries.{host}");
            let Some(secret) = text(entry, "auth.secretRef.name").filter(|n| !n.is_empty()) else {
                continue;
            };
            let namespace = text(entry, "auth.secretRef.namespace")
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| "provisioning".into());
            let host_ok = !host.is_empty()
                && host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-'));
            if !host_ok {
                fail(
                    &field,
                    format!(
                        "{host:?} is not a registry host; write it as registry.example.com[:port]"
                    ),
                );
            } else if !charset_ok(&secret) {
                fail(
                    &format!("{field}.auth.secretRef.name"),
                    format!("invalid secret name {secret:?}: letters, digits, '.', '_' or '-'"),
                );
            } else if !charset_ok(&namespace) {
                fail(
                    &format!("{field}.auth.secretRef.namespace"),
                    format!("invalid namespace {namespace:?}: letters, digits, '.', '_' or '-'"),
                );
            } else {
                registries.push(RegistryAuth {
                    host,
                    secret,
                    namespace,
                });
            }
        }
    }
    let issuer = or("spec.oidc.issuer", "");
    let client_id = or("spec.oidc.clientID", "");
    let oidc = (!issuer.is_empty() && !client_id.is_empty()).then(|| Oidc {
        issuer,
        client_id,
        username_claim: or("spec.oidc.usernameClaim", "sub"),
        username_prefix: or("spec.oidc.usernamePrefix", "oidc:"),
        groups_claim: or("spec.oidc.groupsClaim", "groups"),
        groups_prefix: or("spec.oidc.groupsPrefix", "oidc:"),
        ca_bundle: text(&doc, "spec.oidc.caBundle").filter(|s| !s.is_empty()),
    });
    match version {
        Some(version) if errors.is_empty() => Ok(Settings {
            name,
            version,
            pod_subnet: or("spec.network.podSubnet", "10.244.0.0/16"),
            service_subnet: or("spec.network.serviceSubnet", "10.96.0.0/12"),
            cni,
            datacenter,
            pools,
            oidc,
            cluster_domain: or("spec.cluster.domain", ""),
            dns_domain_filter: or("spec.dns.domainFilter", ""),
            control_plane_replicas: or("spec.controlPlane.replicas", "1"),
            registries,
        }),
        _ => Err(errors),
    }
}

/// The driver's `export` (spec 2.5): the values bootstrap addons substitute, with the login
/// the provider config gives (`user`, `port`). lo passes on only `LOK8S_*` names, so the
/// original's plain ones are prefixed: `CLUSTER_NAME` is `LOK8S_SPEC_CLUSTER_NAME`,
/// `K8S_VERSION` `LOK8S_SPEC_KUBERNETES_VERSION`, `CP_REPLICAS` `LOK8S_CP_COUNT` (as the Lo
/// driver names it), `SSH_USER` `LOK8S_SSH_USER`, and so on.
pub fn export(s: &Settings, ssh_user: &str, ssh_port: u16) -> Vec<(String, String)> {
    let oidc = s.oidc.clone().unwrap_or(Oidc {
        issuer: String::new(),
        client_id: String::new(),
        username_claim: "sub".into(),
        username_prefix: "oidc:".into(),
        groups_claim: "groups".into(),
        groups_prefix: "oidc:".into(),
        ca_bundle: None,
    });
    [
        ("LOK8S_SPEC_CLUSTER_NAME", s.name.clone()),
        ("LOK8S_SPEC_KUBERNETES_VERSION", s.version.to_string()),
        ("LOK8S_SPEC_POD_SUBNET", s.pod_subnet.clone()),
        ("LOK8S_SPEC_SERVICE_SUBNET", s.service_subnet.clone()),
        ("LOK8S_CP_COUNT", s.control_plane_replicas.clone()),
        ("LOK8S_SPEC_CNI", s.cni.clone()),
        ("LOK8S_SPEC_PROVIDER", "hetzner".into()),
        ("LOK8S_SSH_USER", ssh_user.into()),
        ("LOK8S_SSH_PORT", ssh_port.to_string()),
        ("LOK8S_SPEC_CLUSTER_DOMAIN", s.cluster_domain.clone()),
        ("LOK8S_SPEC_DNS_DOMAINFILTER", s.dns_domain_filter.clone()),
        ("LOK8S_SPEC_OIDC_ISSUER", oidc.issuer),
        ("LOK8S_SPEC_OIDC_CLIENTID", oidc.client_id),
        ("LOK8S_SPEC_OIDC_USERNAMECLAIM", oidc.username_claim),
        ("LOK8S_SPEC_OIDC_USERNAMEPREFIX", oidc.username_prefix),
        ("LOK8S_SPEC_OIDC_GROUPSCLAIM", oidc.groups_claim),
        ("LOK8S_SPEC_OIDC_GROUPSPREFIX", oidc.groups_prefix),
        (
            "LOK8S_SPEC_OIDC_CABUNDLE",
            oidc.ca_bundle.unwrap_or_default(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(body: &str) -> String {
        format!("apiVersion: lok8s.dev/v1\nkind: KubeOne\nmetadata: {{name: prod}}\nspec:\n{body}")
    }

    #[test]
    fn defaults() {
        let s = settings(&spec("  kubernetes: {version: v1.31.4}\n")).unwrap();
        assert_eq!(s.version, Version::new(1, 31, 4));
        assert_eq!(
            (
                s.pod_subnet.as_str(),
                s.service_subnet.as_str(),
                s.cni.as_str()
            ),
            ("10.244.0.0/16", "10.96.0.0/12", "external")
        );
        assert_eq!(s.datacenter, "fsn1");
        assert!(s.pools.is_empty() && s.oidc.is_none() && s.registries.is_empty());
        let vars = export(&s, "admin", 2222);
        let get = |k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("LOK8S_SPEC_KUBERNETES_VERSION"), Some("v1.31.4"));
        assert_eq!(get("LOK8S_SSH_PORT"), Some("2222"));
        assert_eq!(get("LOK8S_CP_COUNT"), Some("1"));
        assert_eq!(get("LOK8S_SPEC_OIDC_USERNAMECLAIM"), Some("sub"));
        assert_eq!(vars.len(), 18);
    }

    #[test]
    fn every_invalid_field_is_named_with_the_original_message() {
        let errors = settings(&spec(
            "  datacenter: 'fsn 1'\n  workers:\n    -bad: {}\n    ok:\n      replicas: two\n      image: 'x;y'\n",
        ))
        .unwrap_err();
        let shown: Vec<String> = errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect();
        assert_eq!(
            shown,
            [
                "spec.kubernetes.version: is required (such as v1.31.4): it pins kubeadm, kubelet and kubectl on every host",
                "spec.datacenter: Invalid datacenter: fsn 1",
                "spec.workers.-bad: Invalid worker pool name: -bad (must be alphanumeric with hyphens)",
                "spec.workers.ok.replicas: Invalid replicas for pool ok: two (must be numeric)",
                "spec.workers.ok.type: Invalid server/instance type for pool ok: ",
                "spec.workers.ok.image: Invalid image for pool ok: x;y",
            ]
        );
    }

    #[test]
    fn oidc_needs_issuer_and_client() {
        let half = settings(&spec(
            "  kubernetes: {version: v1.31.4}\n  oidc: {issuer: 'https://id.test'}\n",
        ))
        .unwrap();
        assert!(half.oidc.is_none());
        let full = settings(&spec(
            "  kubernetes: {version: v1.31.4}\n  oidc: {issuer: 'https://id.test', clientID: k8s}\n",
        ))
        .unwrap();
        let oidc = full.oidc.unwrap();
        assert_eq!(
            (oidc.username_claim.as_str(), oidc.groups_prefix.as_str()),
            ("sub", "oidc:")
        );
    }
}

#[cfg(test)]
mod registry_tests {
    use super::*;

    #[test]
    fn registry_logins_name_their_secret_and_bad_names_are_errors() {
        let text = "metadata: {name: prod}\nspec:\n  kubernetes: {version: v1.31.4}\n  registries:\n    \
                    registry.test:5000: {auth: {secretRef: {name: regcred}}}\n    \
                    mirror.test: {}\n";
        let s = settings(text).unwrap();
        assert_eq!(
            s.registries,
            [RegistryAuth {
                host: "registry.test:5000".into(),
                secret: "regcred".into(),
                namespace: "provisioning".into()
            }]
        );
        let bad = text.replace("name: regcred", "name: 'reg cred'");
        let errors = settings(&bad).unwrap_err();
        assert_eq!(
            errors[0].field,
            "spec.registries.registry.test:5000.auth.secretRef.name"
        );
    }
}
