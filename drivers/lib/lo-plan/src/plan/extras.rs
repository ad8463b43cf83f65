//! The spec sections beyond networks and registries: extra mounts, CoreDNS, OIDC and the plain
//! values only exported to addons. Unlike the original driver, `target: gateway` uses the
//! effective pool (slot default included) and is an error without one; OIDC is checked and
//! wired from the spec itself, not from variables set after provision.

use serde_yaml::Value;

use super::Reader;
use crate::ip::Ipv4;

/// `spec.nodes.extraMounts[]`: a bind mount on the first control plane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraMount {
    pub host_path: String,
    pub container_path: String,
    pub read_only: bool,
}

/// `spec.coredns.hosts[]` with `target` resolved to an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsHost {
    pub name: String,
    pub target: Ipv4,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CoreDns {
    pub hosts: Vec<DnsHost>,
    pub servers: Option<String>,
    pub overrides: Option<String>,
    /// Folder of `*.server` / `*.override` files, relative to `clusters/<domain>/`.
    pub import: String,
}

/// `spec.oidc` when enabled (issuer and client ID both set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Oidc {
    pub issuer: String,
    pub client_id: String,
    pub username_claim: String,
    pub username_prefix: String,
    pub groups_claim: String,
    pub groups_prefix: String,
    pub ca_bundle: String,
}

pub(super) struct Extras {
    pub default_cni: bool,
    pub mounts: Vec<ExtraMount>,
    pub coredns: CoreDns,
    pub oidc: Option<Oidc>,
    pub namespace: String,
    pub prefix: String,
    pub domain_filter: String,
}

fn text(item: &Value, key: &str) -> String {
    match item.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

fn mounts(r: &mut Reader) -> Vec<ExtraMount> {
    let mut out = Vec::new();
    match r.get("spec.nodes.extraMounts") {
        None => {}
        Some(Value::Sequence(items)) => {
            for (i, item) in items.iter().enumerate() {
                let field = format!("spec.nodes.extraMounts[{i}]");
                let mount = ExtraMount {
                    host_path: text(item, "hostPath"),
                    container_path: text(item, "containerPath"),
                    read_only: item
                        .get("readOnly")
                        .and_then(Value::as_bool)
                        .unwrap_or(false),
                };
                if mount.host_path.is_empty() {
                    r.fail(
                        &format!("{field}.hostPath"),
                        "is required: the absolute path of a folder on this machine".into(),
                    );
                } else if !item.get("hostPath").is_some_and(Value::is_string)
                    || !mount.host_path.starts_with('/')
                    || mount.host_path.split('/').any(|p| p == "..")
                    || mount.host_path.contains(['*', '?', '['])
                {
                    r.fail(
                        &format!("{field}.hostPath"),
                        format!(
                            "{:?} must be the absolute path of a folder on this machine, without `..` or wildcards (project folders are never bound into nodes)",
                            mount.host_path
                        ),
                    );
                }
                if !mount.container_path.starts_with('/') {
                    r.fail(
                        &format!("{field}.containerPath"),
                        format!(
                            "{:?} must be an absolute path inside the node",
                            mount.container_path
                        ),
                    );
                }
                if item.get("readOnly").is_some_and(|v| !v.is_bool()) {
                    r.fail(&format!("{field}.readOnly"), "must be true or false".into());
                }
                out.push(mount);
            }
        }
        Some(other) => r.fail(
            "spec.nodes.extraMounts",
            format!("expected a list of {{hostPath, containerPath, readOnly}}, found {other:?}"),
        ),
    }
    out
}

/// A DNS name of labels (1 to 63 letters, digits, '-'); a leading `*` label makes a wildcard
/// of a name with at least two more labels below it (`*.apps.test`, never `*` alone).
fn dns_name_ok(name: &str) -> bool {
    let labels: Vec<&str> = name.split('.').collect();
    let (first, rest) = match labels.split_first() {
        Some((&"*", rest)) if rest.len() >= 2 => (None, rest),
        Some((first, rest)) => (Some(*first), rest),
        None => return false,
    };
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    name.len() <= 253 && first.is_none_or(label_ok) && rest.iter().all(|l| label_ok(l))
}

fn coredns(r: &mut Reader, pool: Option<(Ipv4, Ipv4)>) -> CoreDns {
    let mut hosts = Vec::new();
    match r.get("spec.coredns.hosts") {
        None => {}
        Some(Value::Sequence(items)) => {
            for (i, item) in items.iter().enumerate() {
                let field = format!("spec.coredns.hosts[{i}]");
                let name = text(item, "name");
                let target = text(item, "target");
                if !dns_name_ok(&name) {
                    r.fail(
                        &format!("{field}.name"),
                        format!("{name:?} is not a DNS zone name such as example.test"),
                    );
                }
                let resolved = if target == "gateway" {
                    match pool {
                        Some((start, _)) => Some(start),
                        None => {
                            r.fail(&format!("{field}.target"), "\"gateway\" means the first load-balancer address, but there is no spec.loadBalancer.pool (only *.lok8s.dev slot domains have a default)".into());
                            None
                        }
                    }
                } else {
                    let ip = Ipv4::parse(&target);
                    if ip.is_none() {
                        r.fail(
                            &format!("{field}.target"),
                            format!("{target:?} must be an IPv4 address or \"gateway\""),
                        );
                    }
                    ip
                };
                if let Some(target) = resolved {
                    hosts.push(DnsHost { name, target });
                }
            }
        }
        Some(other) => r.fail(
            "spec.coredns.hosts",
            format!("expected a list of {{name, target}}, found {other:?}"),
        ),
    }
    let import = r
        .string("spec.coredns.import")
        .unwrap_or_else(|| "./coredns".into());
    let import = import.trim_start_matches("./").to_string();
    if import.starts_with('/') || import.split('/').any(|p| p == "..") {
        r.fail("spec.coredns.import", format!("{import:?} must be a folder inside clusters/<domain>/ (the driver reads nothing else)"));
    }
    CoreDns {
        hosts,
        servers: r.string("spec.coredns.servers"),
        overrides: r.string("spec.coredns.overrides"),
        import,
    }
}

fn oidc(r: &mut Reader) -> Option<Oidc> {
    let issuer = r.string("spec.oidc.issuer").unwrap_or_default();
    if r.get("spec.oidc.clientID").is_some_and(|v| !v.is_string()) {
        r.fail(
            "spec.oidc.clientID",
            "must be text, such as kubectl (quote it if it looks like a number)".into(),
        );
    }
    let client_id = r.string("spec.oidc.clientID").unwrap_or_default();
    if issuer.is_empty() && client_id.is_empty() {
        return None;
    }
    if client_id.is_empty() {
        r.fail(
            "spec.oidc.clientID",
            "is required when spec.oidc.issuer is set (the token audience)".into(),
        );
    }
    if issuer.is_empty() {
        r.fail(
            "spec.oidc.issuer",
            "is required when spec.oidc.clientID is set".into(),
        );
    } else if !issuer.starts_with("https://") {
        r.fail(
            "spec.oidc.issuer",
            format!("{issuer:?} must be an https:// URL"),
        );
    }
    let mut claim = |field: &str, default: &str| {
        r.string(&format!("spec.oidc.{field}"))
            .unwrap_or_else(|| default.into())
    };
    Some(Oidc {
        username_claim: claim("usernameClaim", "sub"),
        username_prefix: claim("usernamePrefix", "oidc:"),
        groups_claim: claim("groupsClaim", "groups"),
        groups_prefix: claim("groupsPrefix", "oidc:"),
        ca_bundle: r
            .string("spec.oidc.caBundle")
            .unwrap_or_default()
            .trim_end_matches('\n')
            .to_string(),
        issuer,
        client_id,
    })
}

/// The entries `spec.bootstrap` selects, as (reference, explicit name), by the rule lo
/// applies them with (`lok8s-bootstrap-refs`); None when the value is not a list (lo refuses
/// such a spec before the driver runs).
pub fn bootstrap_references(spec: &Value) -> Option<Vec<(String, Option<String>)>> {
    let kind = spec.get("kind").and_then(Value::as_str).unwrap_or_default();
    lok8s_bootstrap_refs::references(spec, kind)
}

/// Whether the bootstrap installs a CNI (by the rule lo shares, `lok8s_bootstrap_refs::is_cni`).
/// If not, the node image's default CNI (kindnet) is installed as kind does.
fn bootstraps_a_cni(r: &mut Reader) -> bool {
    bootstrap_references(r.doc).is_some_and(|references| {
        references
            .iter()
            .any(|(reference, name)| lok8s_bootstrap_refs::is_cni(reference, name.as_deref()))
    })
}

pub(super) fn read(r: &mut Reader, pool: Option<(Ipv4, Ipv4)>) -> Extras {
    // The original's nginx proxy needs a remote VM provider; refuse rather than
    // silently ignore it.
    if r.boolean("spec.remote.expose", false) {
        r.fail(
            "spec.remote.expose",
            "the nginx expose proxy is not available in this build; remove it (or set it to false)"
                .into(),
        );
    }
    if let Some(mode) = r.string("spec.remote.mode").filter(|m| m != "docker") {
        r.fail("spec.remote.mode", format!("{mode:?} is not available in this build: only \"docker\" (lo provision --remote with DOCKER_HOST pointing at the remote engine)"));
    }
    Extras {
        default_cni: !bootstraps_a_cni(r),
        mounts: mounts(r),
        coredns: coredns(r, pool),
        oidc: oidc(r),
        namespace: r
            .string("spec.cluster.namespace")
            .unwrap_or_else(|| "default".into()),
        prefix: r
            .string("spec.registries.prefix")
            .unwrap_or_else(|| "lok8s.local".into()),
        domain_filter: r.string("spec.dns.domainFilter").unwrap_or_default(),
    }
}
