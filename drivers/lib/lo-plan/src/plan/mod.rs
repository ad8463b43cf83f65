//! Spec fields to the plan. Differences from the original,
//! each deliberate: errors are collected and stop provision; node counts, the pool, booleans
//! and mirror entries are validated; an empty mirror list means no mirrors; slot digits are
//! decimal; the cluster domain falls back to the domain folder.

use serde_yaml::Value;

use crate::ip::{Cidr, Ipv4};

mod extras;
pub use extras::{CoreDns, DnsHost, ExtraMount, Oidc, bootstrap_references};

const DEFAULT_MIRRORS: [(&str, &str); 4] = [
    ("io-docker", "https://registry-1.docker.io"),
    ("io-quay", "https://quay.io"),
    ("io-k8s", "https://registry.k8s.io"),
    ("io-ghcr", "https://ghcr.io"),
];

/// A spec error: the field path and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistryKind {
    Framework,
    Mirror,
}

/// One registry container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registry {
    pub name: String,
    pub kind: RegistryKind,
    pub ip: Ipv4,
    pub container: String,
    pub network: String,
    /// Upstream URL (mirrors).
    pub url: String,
    /// The registry host containerd maps to it: `lok8s.local`, `lok8s.cache`, or the mirrored domain.
    pub host: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nodes {
    pub control_plane: u32,
    pub workers: u32,
    pub host_ports: bool,
    pub max_concurrent_downloads: u32,
}

/// Everything the Lo driver derives from a spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub cluster_name: String,
    pub domain: String,
    pub slot: Option<u32>,
    pub network: String,
    pub cidr: Cidr,
    pub shared: bool,
    pub shared_network: String,
    pub shared_cidr: Cidr,
    pub tls: bool,
    pub port: u16,
    pub registries: Vec<Registry>,
    pub nodes: Nodes,
    pub lb_pool: Option<(Ipv4, Ipv4)>,
    pub kubernetes_version: Option<String>,
    /// Node containers in creation order: control planes, then workers, with fixed addresses.
    pub node_list: Vec<Node>,
    /// kind's external load balancer in front of the API servers, with more than one control
    /// plane: `<c>-external-load-balancer` at base + 100.
    pub load_balancer: Option<LoadBalancer>,
    pub load_balancer_image: String,
    pub node_image: String,
    pub registry_image: String,
    /// Install the node image's default CNI (no CNI addon is bootstrapped).
    pub default_cni: bool,
    pub extra_mounts: Vec<ExtraMount>,
    pub coredns: CoreDns,
    pub oidc: Option<Oidc>,
    pub namespace: String,
    pub registry_prefix: String,
    pub dns_domain_filter: String,
}

/// One kind-compatible node container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub name: String,
    pub control_plane: bool,
    pub ip: Ipv4,
}

/// The API load balancer container of an HA cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadBalancer {
    pub name: String,
    pub ip: Ipv4,
}

/// kind's HA load balancer image (the last kind release with haproxy, v0.31: its master reloads on SIGHUP).
pub const DEFAULT_LOAD_BALANCER_IMAGE: &str =
    "docker.io/kindest/haproxy:v20251211-v0.29.0-alpha-100-g82a92c5d";
/// The load balancer's address: below the registries (.101–) and nodes (.151–).
const LOAD_BALANCER_OFFSET: u32 = 100;

/// kind's node image for the default Kubernetes version (kind v0.32's default).
pub const DEFAULT_KUBERNETES_VERSION: &str = "v1.36.1";
/// The registry image of the original.
pub const DEFAULT_REGISTRY_IMAGE: &str = "registry:2.8.3";
/// Nodes get fixed addresses from base + 151 (the range the original's docs promised), so a
/// recreated registry can never find its address taken by a node.
const NODE_OFFSET: u32 = 151;

/// kind's name for an HA cluster's load balancer.
pub fn load_balancer_name(cluster: &str) -> String {
    format!("{cluster}-external-load-balancer")
}

/// kind's name for the first control plane (the one `kubeadm init` runs on).
pub fn bootstrap_node_name(cluster: &str) -> String {
    format!("{cluster}-control-plane")
}

/// kind's names: `<c>-control-plane`, `<c>-control-plane2`, …, `<c>-worker`, `<c>-worker2`, ….
fn node_names(cluster: &str, role: &str, count: u32) -> Vec<String> {
    (1..=count)
        .map(|i| {
            if i == 1 {
                format!("{cluster}-{role}")
            } else {
                format!("{cluster}-{role}{i}")
            }
        })
        .collect()
}

pub(crate) struct Reader<'a> {
    doc: &'a Value,
    errors: Vec<FieldError>,
}

impl<'a> Reader<'a> {
    pub(crate) fn get(&self, path: &str) -> Option<&'a Value> {
        let found = path
            .split('.')
            .try_fold(self.doc, |node, key| node.get(key))?;
        (!found.is_null()).then_some(found)
    }

    pub(crate) fn fail(&mut self, field: &str, message: String) {
        self.errors.push(FieldError {
            field: field.to_string(),
            message,
        });
    }

    /// Sections that hold fields: present with any other shape is an error, not "absent".
    fn check_sections(&mut self, paths: &[&str]) {
        for path in paths {
            let mut node = self.doc;
            let mut broken = false;
            for key in path.split('.') {
                match node {
                    Value::Mapping(_) => match node.get(key) {
                        Some(next) => node = next,
                        None => {
                            broken = true;
                            break;
                        }
                    },
                    // A parent that is not a map was reported itself.
                    _ => {
                        broken = true;
                        break;
                    }
                }
            }
            if broken || node.is_null() || node.is_mapping() {
                continue;
            }
            self.fail(
                path,
                format!("must be a map of fields, got {}", shape(node)),
            );
        }
    }

    pub(crate) fn string(&mut self, path: &str) -> Option<String> {
        match self.get(path)? {
            Value::String(s) if s.trim().is_empty() => {
                self.fail(
                    path,
                    "is blank: give it a value, or leave the field out for its default".into(),
                );
                None
            }
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            other => {
                self.fail(path, format!("expected a string, found {other:?}"));
                None
            }
        }
    }

    pub(crate) fn boolean(&mut self, path: &str, default: bool) -> bool {
        match self.get(path) {
            None => default,
            Some(Value::Bool(b)) => *b,
            // The original read booleans as text, so a quoted "true"/"false" was valid.
            Some(Value::String(s)) if s == "true" => true,
            Some(Value::String(s)) if s == "false" => false,
            Some(other) => {
                self.fail(path, format!("must be true or false, got {other:?}"));
                default
            }
        }
    }

    pub(crate) fn count(
        &mut self,
        path: &str,
        default: u32,
        range: std::ops::RangeInclusive<u32>,
    ) -> u32 {
        match self.get(path) {
            None => default,
            Some(Value::Number(n))
                if n.as_u64()
                    .is_some_and(|v| range.contains(&(v as u32)) && v <= u32::MAX as u64) =>
            {
                n.as_u64().unwrap_or_default() as u32
            }
            Some(other) => {
                self.fail(
                    path,
                    format!(
                        "must be a whole number from {} to {}, got {other:?}",
                        range.start(),
                        range.end()
                    ),
                );
                default
            }
        }
    }
}

/// A value's shape in an error message.
fn shape(value: &Value) -> String {
    match value {
        Value::Sequence(_) => "a list".into(),
        Value::Mapping(_) => "a map".into(),
        Value::String(s) => format!("the text {s:?}"),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        other => format!("{other:?}"),
    }
}

/// The spec's sections that hold fields.
const SECTIONS: &[&str] = &[
    "metadata",
    "spec",
    "spec.cluster",
    "spec.network",
    "spec.kubernetes",
    "spec.registries",
    "spec.registries.shared",
    "spec.registries.shared.network",
    "spec.nodes",
    "spec.loadBalancer",
    "spec.coredns",
    "spec.oidc",
    "spec.dns",
    "spec.remote",
];

/// `lok8s.dev` → 125; `<n>.lok8s.dev` with 2 ≤ n ≤ 199 written in decimal without leading zeros → n.
pub fn slot(domain: &str) -> Option<u32> {
    if domain == "lok8s.dev" {
        return Some(125);
    }
    let digits = domain.strip_suffix(".lok8s.dev")?;
    if digits.is_empty() || digits.starts_with('0') || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u32>().ok().filter(|n| (2..=199).contains(n))
}

fn mirrored_domain(name: &str, url: &str) -> String {
    match name {
        "io-docker" => "docker.io".into(),
        "io-quay" => "quay.io".into(),
        "io-k8s" => "registry.k8s.io".into(),
        "io-ghcr" => "ghcr.io".into(),
        _ => {
            let rest = url
                .trim_start_matches("https://")
                .trim_start_matches("http://");
            rest.split('/').next().unwrap_or_default().to_string()
        }
    }
}

/// A mirror name becomes part of container, volume and host names: a DNS label.
fn mirror_name_ok(name: &str) -> bool {
    name.len() <= 63
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Reads and checks a Lo spec; `folder_domain` is the domain folder, used when
/// `spec.cluster.domain` is absent.
pub fn plan(spec_yaml: &str, folder_domain: &str) -> Result<Plan, Vec<FieldError>> {
    let doc: Value = serde_yaml::from_str(spec_yaml).map_err(|e| {
        vec![FieldError {
            field: "(document)".into(),
            message: e.to_string(),
        }]
    })?;
    let mut r = Reader {
        doc: &doc,
        errors: Vec::new(),
    };
    r.check_sections(SECTIONS);

    if let Some(runtime) = r.string("spec.runtime").filter(|v| v != "kind") {
        r.fail("spec.runtime", format!("{runtime:?} is not supported; the Lo driver runs kind-compatible nodes (runtime: kind)"));
    }
    let cluster_name = r.string("metadata.name").unwrap_or_default();
    let domain = r
        .string("spec.cluster.domain")
        .unwrap_or_else(|| folder_domain.to_string());
    let slot = slot(&domain);

    let network = r
        .string("spec.network.name")
        .or_else(|| slot.map(|_| cluster_name.clone()))
        .unwrap_or_default();
    if network.is_empty() {
        r.fail(
            "spec.network.name",
            "is required: only *.lok8s.dev slot domains have a default (metadata.name)".into(),
        );
    }
    let cidr_text = r
        .string("spec.network.cidr")
        .or_else(|| slot.map(|s| format!("10.125.{s}.0/24")));
    let cidr = match cidr_text.as_deref().map(Cidr::parse) {
        Some(Ok(c)) => Some(c),
        Some(Err(e)) => {
            r.fail("spec.network.cidr", e);
            None
        }
        None => {
            r.fail("spec.network.cidr", "is required, such as \"10.125.50.0/24\" (defaults only apply to *.lok8s.dev slot domains)".into());
            None
        }
    };

    let tls = r.boolean("spec.registries.tls", true);
    let shared = r.boolean("spec.registries.shared.enabled", true);
    let shared_network = r
        .string("spec.registries.shared.network.name")
        .unwrap_or_else(|| "lok8s-registries".into());
    let shared_cidr = match Cidr::parse(
        &r.string("spec.registries.shared.network.cidr")
            .unwrap_or_else(|| "10.125.200.0/24".into()),
    ) {
        Ok(c) => Some(c),
        Err(e) => {
            r.fail("spec.registries.shared.network.cidr", e);
            None
        }
    };

    let mut mirrors: Vec<(String, String)> = Vec::new();
    match r.get("spec.registries.mirrors") {
        None => {
            mirrors = DEFAULT_MIRRORS
                .iter()
                .map(|(n, u)| (n.to_string(), u.to_string()))
                .collect()
        }
        Some(Value::Sequence(items)) => {
            for (i, item) in items.iter().enumerate() {
                let field = format!("spec.registries.mirrors[{i}]");
                let name = item
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                let url = item
                    .get("url")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                if !mirror_name_ok(&name) {
                    r.fail(&format!("{field}.name"), format!("{name:?} is not allowed (up to 63 lowercase letters, digits and '-', starting with a letter or digit)"));
                } else if name == "build" || name == "cache" {
                    r.fail(
                        &format!("{field}.name"),
                        format!("{name:?} is reserved for the framework's own registries"),
                    );
                } else if mirrors.iter().any(|(n, _)| *n == name) {
                    r.fail(&format!("{field}.name"), format!("{name:?} appears twice"));
                }
                if !(url.starts_with("https://") || url.starts_with("http://")) {
                    r.fail(
                        &format!("{field}.url"),
                        format!(
                            "{url:?} must be an http:// or https:// URL of the upstream registry"
                        ),
                    );
                }
                let host = mirrored_domain(&name, &url);
                let host_ok = !host.is_empty()
                    && host
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || ".-_:".contains(c));
                if url.contains("://") && !host_ok {
                    r.fail(
                        &format!("{field}.url"),
                        format!("{url:?} has no usable host name (containerd needs one for its certs.d entry)"),
                    );
                }
                mirrors.push((name, url));
            }
        }
        Some(other) => r.fail(
            "spec.registries.mirrors",
            format!("expected a list of {{name, url}}, found {other:?}"),
        ),
    }

    let nodes = Nodes {
        control_plane: r.count("spec.nodes.controlPlane", 1, 1..=9),
        workers: r.count("spec.nodes.workers", 0, 0..=99),
        host_ports: r.boolean("spec.nodes.hostPorts", slot == Some(125)),
        max_concurrent_downloads: r.count("spec.nodes.maxConcurrentDownloads", 3, 1..=64),
    };
    let kubernetes_version = r.string("spec.kubernetes.version");
    if let Some(v) = &kubernetes_version {
        let ok = v.strip_prefix('v').is_some_and(|rest| {
            rest.split('.').count() == 3
                && rest
                    .split('.')
                    .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
        });
        if !ok {
            r.fail(
                "spec.kubernetes.version",
                format!("{v:?} is not a Kubernetes version such as v1.31.12"),
            );
        }
    }

    let pool_text = r
        .string("spec.loadBalancer.pool")
        .or_else(|| slot.map(|s| format!("10.125.{s}.125-10.125.{s}.150")));

    let (Some(cidr), Some(shared_cidr)) = (cidr, shared_cidr) else {
        return Err(r.errors);
    };
    let mut lb_pool = None;
    if let Some(text) = pool_text {
        // A single address is a pool of one (the original accepted it; it becomes the gateway).
        let (first, last) = text.split_once('-').unwrap_or((&text, &text));
        match Some((Ipv4::parse(first.trim()), Ipv4::parse(last.trim()))) {
            Some((Some(start), Some(end))) => {
                if !cidr.contains(start) || !cidr.contains(end) {
                    r.fail(
                        "spec.loadBalancer.pool",
                        format!("{text:?} must lie inside the project network {cidr}"),
                    );
                } else if start > end {
                    r.fail(
                        "spec.loadBalancer.pool",
                        format!("{text:?}: the start is after the end"),
                    );
                } else {
                    lb_pool = Some((start, end));
                }
            }
            _ => r.fail(
                "spec.loadBalancer.pool",
                format!(
                    "{text:?} is not an address or a range such as 10.125.50.125-10.125.50.150"
                ),
            ),
        }
    }

    let prefix = network.clone();
    // Project mirrors on a network named `lok8s` would take the shared mirrors' container
    // names (lok8s-registry-<mirror>) and one would silently reuse the other.
    if !shared && network == "lok8s" && !mirrors.is_empty() {
        r.fail("spec.network.name", "\"lok8s\" with unshared mirrors collides with the shared mirrors' container names (lok8s-registry-<mirror>); pick another network name".into());
    }
    let mut registries = vec![
        Registry {
            name: "build".into(),
            kind: RegistryKind::Framework,
            ip: cidr.base.offset(101),
            container: format!("{prefix}-registry-build"),
            network: network.clone(),
            url: String::new(),
            host: "lok8s.local".into(),
        },
        Registry {
            name: "cache".into(),
            kind: RegistryKind::Framework,
            ip: cidr.base.offset(102),
            container: format!("{prefix}-registry-cache"),
            network: network.clone(),
            url: String::new(),
            host: "lok8s.cache".into(),
        },
    ];
    for (k, (name, url)) in mirrors.iter().enumerate() {
        let k = k as u32;
        let (ip, container, net) = if shared {
            (
                shared_cidr.base.offset(2 + k),
                format!("lok8s-registry-{name}"),
                shared_network.clone(),
            )
        } else {
            (
                cidr.base.offset(103 + k),
                format!("{prefix}-registry-{name}"),
                network.clone(),
            )
        };
        registries.push(Registry {
            name: name.clone(),
            kind: RegistryKind::Mirror,
            ip,
            container,
            network: net,
            url: url.clone(),
            host: mirrored_domain(name, url),
        });
    }
    for reg in &registries {
        let (subnet, field) = if reg.kind == RegistryKind::Mirror && shared {
            (shared_cidr, "spec.registries.shared.network.cidr")
        } else {
            (cidr, "spec.network.cidr")
        };
        if !subnet.contains(reg.ip) {
            r.fail(
                field,
                format!(
                    "registry {:?} would get {}, outside {subnet}; use a larger network",
                    reg.name, reg.ip
                ),
            );
        }
    }
    let names: Vec<(String, bool)> =
        node_names(&cluster_name, "control-plane", nodes.control_plane)
            .into_iter()
            .map(|n| (n, true))
            .chain(
                node_names(&cluster_name, "worker", nodes.workers)
                    .into_iter()
                    .map(|n| (n, false)),
            )
            .collect();
    let node_list: Vec<Node> = names
        .into_iter()
        .enumerate()
        .map(|(k, (name, control_plane))| Node {
            name,
            control_plane,
            ip: cidr.base.offset(NODE_OFFSET + k as u32),
        })
        .collect();
    if let Some(last) = node_list.last().filter(|n| !cidr.contains(n.ip)) {
        r.fail(
            "spec.nodes",
            format!(
                "{} nodes need addresses up to {}, outside {cidr} (nodes use .{NODE_OFFSET} upward); use fewer nodes or a larger network",
                node_list.len(),
                last.ip
            ),
        );
    }
    let load_balancer = (nodes.control_plane > 1).then(|| LoadBalancer {
        name: load_balancer_name(&cluster_name),
        ip: cidr.base.offset(LOAD_BALANCER_OFFSET),
    });
    if let Some((start, end)) = lb_pool {
        let inside = |ip: Ipv4| start <= ip && ip <= end;
        for (what, ip) in registries
            .iter()
            .filter(|reg| !(shared && reg.kind == RegistryKind::Mirror))
            .map(|reg| (format!("registry {:?}", reg.name), reg.ip))
            .chain(
                node_list
                    .iter()
                    .map(|n| (format!("node {:?}", n.name), n.ip)),
            )
            .chain(
                load_balancer
                    .iter()
                    .map(|lb| (format!("the API load balancer {:?}", lb.name), lb.ip)),
            )
        {
            if inside(ip) {
                r.fail(
                    "spec.loadBalancer.pool",
                    format!("{start}-{end} contains {ip}, the address of {what}; keep the pool clear of .{LOAD_BALANCER_OFFSET} (API load balancer), .101–.150 registries and .{NODE_OFFSET}+ nodes"),
                );
                break;
            }
        }
    }
    if cluster_name.is_empty() {
        r.fail(
            "metadata.name",
            "is required: it names the cluster, its nodes and its kubeconfig".into(),
        );
    } else if cluster_name.len() > 50
        || !cluster_name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
    {
        r.fail(
            "metadata.name",
            format!("{cluster_name:?} must be at most 50 lowercase letters, digits, '-' or '.' (node host names are <name>-control-plane)"),
        );
    }
    let extras = extras::read(&mut r, lb_pool);
    let node_image = r.string("spec.kubernetes.image").unwrap_or_else(|| {
        format!(
            "kindest/node:{}",
            kubernetes_version
                .as_deref()
                .unwrap_or(DEFAULT_KUBERNETES_VERSION)
        )
    });
    // A lok8s addition beside the node image's override, for mirrored or air-gapped engines.
    let load_balancer_image = r
        .string("spec.kubernetes.loadBalancerImage")
        .unwrap_or_else(|| DEFAULT_LOAD_BALANCER_IMAGE.into());
    let registry_image = r
        .string("spec.registries.image")
        .unwrap_or_else(|| DEFAULT_REGISTRY_IMAGE.into());
    if !r.errors.is_empty() {
        return Err(r.errors);
    }
    Ok(Plan {
        node_list,
        load_balancer,
        load_balancer_image,
        node_image,
        registry_image,
        default_cni: extras.default_cni,
        extra_mounts: extras.mounts,
        coredns: extras.coredns,
        oidc: extras.oidc,
        namespace: extras.namespace,
        registry_prefix: extras.prefix,
        dns_domain_filter: extras.domain_filter,
        cluster_name,
        domain,
        slot,
        network,
        cidr,
        shared,
        shared_network,
        shared_cidr,
        tls,
        port: if tls { 443 } else { 80 },
        registries,
        nodes,
        lb_pool,
        kubernetes_version,
    })
}

#[cfg(test)]
mod tests;
