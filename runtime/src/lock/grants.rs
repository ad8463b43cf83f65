//! What a driver may touch, as written in `drivers.lock` (and shipped with built-in drivers).
//! The same shape records what a driver requests, so the two can be compared line by line.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct DockerGrant {
    #[serde(default)]
    pub privileged: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shared_networks: Vec<String>,
    /// Host paths containers may bind read-only (mounted ro, nosuid, nodev).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub host_paths: Vec<String>,
    /// Host paths containers may bind read-write; each must lie on a nosuid,nodev mount.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub writable_host_paths: Vec<String>,
    /// Image repositories it may pull and tag: `docker.io/kindest/node`, `ghcr.io/acme/*`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<String>,
    /// Host addresses beyond loopback it may publish ports on (`0.0.0.0`: every interface).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub publish: Vec<String>,
    /// Host ports below 1024.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub low_ports: bool,
}

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
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct SshGrant {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct PathGrant {
    pub path: String,
    #[serde(default)]
    pub writable: bool,
}

/// Capabilities beyond the always-on `log` import and the default preopens.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Grants {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docker: Option<DockerGrant>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kube: Option<KubeGrant>,
    /// `scheme://host:port` origins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh: Option<SshGrant>,
    /// SAN patterns for leaf certificates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<Vec<String>>,
    /// Environment variable names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
    /// Project-relative paths beyond `clusters/<domain>/` and `.kubeconfig/`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<PathGrant>,
}

impl Grants {
    pub fn is_empty(&self) -> bool {
        self == &Grants::default()
    }

    /// Whether the import interface `name` (`docker`, `http`, …) is granted at all.
    pub fn allows_interface(&self, name: &str) -> bool {
        match name {
            "docker" => self.docker.is_some(),
            "kubectl-apply" => self.kube.is_some(),
            "http" => self.http.is_some(),
            "ssh" => self.ssh.is_some(),
            "tls" => self.tls.is_some(),
            _ => false,
        }
    }

    /// Merges another set into this one (used to build grants from a list of requests).
    pub fn merge(&mut self, other: Grants) {
        if let Some(d) = other.docker {
            let mine = self.docker.get_or_insert_with(Default::default);
            mine.privileged |= d.privileged;
            mine.low_ports |= d.low_ports;
            extend_unique(&mut mine.shared_networks, d.shared_networks);
            extend_unique(&mut mine.host_paths, d.host_paths);
            extend_unique(&mut mine.writable_host_paths, d.writable_host_paths);
            extend_unique(&mut mine.images, d.images);
            extend_unique(&mut mine.publish, d.publish);
        }
        if let Some(k) = other.kube {
            let mine = self.kube.get_or_insert_with(Default::default);
            extend_unique(&mut mine.namespaces, k.namespaces);
            extend_unique(&mut mine.kinds, k.kinds);
            extend_unique(&mut mine.clusters, k.clusters);
            extend_unique(&mut mine.servers, k.servers);
        }
        if let Some(h) = other.http {
            extend_unique(self.http.get_or_insert_with(Vec::new), h);
        }
        if let Some(s) = other.ssh {
            let mine = self.ssh.get_or_insert_with(Default::default);
            extend_unique(&mut mine.hosts, s.hosts);
            extend_unique(&mut mine.keys, s.keys);
        }
        if let Some(t) = other.tls {
            extend_unique(self.tls.get_or_insert_with(Vec::new), t);
        }
        extend_unique(&mut self.env, other.env);
        for f in other.files {
            if !self.files.contains(&f) {
                self.files.push(f);
            }
        }
    }

    /// One line per capability, for `lo drivers show` and `lo drivers add`.
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(d) = &self.docker {
            out.push(format!(
                "docker: objects labelled for its cluster{}{}{}{}{}{}{}",
                if d.privileged {
                    "; privileged containers"
                } else {
                    ""
                },
                list_suffix("; shared networks ", &d.shared_networks),
                list_suffix("; host paths (read-only) ", &d.host_paths),
                list_suffix("; host paths (read-write) ", &d.writable_host_paths),
                list_suffix("; pulls and tags of ", &d.images),
                list_suffix("; ports published on ", &d.publish),
                if d.low_ports {
                    "; host ports below 1024"
                } else {
                    ""
                },
            ));
        }
        if let Some(k) = &self.kube {
            out.push(format!(
                "kubectl-apply: namespaces {}; kinds {}{}; API servers {}",
                or_none(&k.namespaces),
                or_none(&k.kinds),
                list_suffix("; other clusters ", &k.clusters),
                if k.servers.is_empty() {
                    "on this machine".to_string()
                } else {
                    k.servers.join(", ")
                }
            ));
        }
        if let Some(h) = &self.http {
            out.push(format!("http: {}", or_none(h)));
        }
        if let Some(s) = &self.ssh {
            out.push(format!(
                "ssh: hosts {}; keys {}",
                or_none(&s.hosts),
                or_none(&s.keys)
            ));
        }
        if let Some(t) = &self.tls {
            out.push(format!("tls: leaf certificates for {}", or_none(t)));
        }
        if !self.env.is_empty() {
            out.push(format!("env: {}", self.env.join(", ")));
        }
        for f in &self.files {
            out.push(format!(
                "files: {} ({})",
                f.path,
                if f.writable {
                    "read-write"
                } else {
                    "read-only"
                }
            ));
        }
        out
    }
}

fn extend_unique(into: &mut Vec<String>, from: Vec<String>) {
    for item in from {
        if !into.contains(&item) {
            into.push(item);
        }
    }
}

fn or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

fn list_suffix(prefix: &str, items: &[String]) -> String {
    if items.is_empty() {
        String::new()
    } else {
        format!("{prefix}{}", items.join(", "))
    }
}

/// Resource limits for one driver; unset fields take `lo`'s defaults.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Limits {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mib: Option<u64>,
    /// Guest compute time per call, host calls and waits excluded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_seconds: Option<u64>,
    /// Wall-clock time per call, host calls and waits included; per operation below.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u64>,
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub timeouts: std::collections::BTreeMap<String, u64>,
}

impl Limits {
    pub fn is_default(&self) -> bool {
        self == &Limits::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_unions_without_duplicates() {
        let mut a = Grants {
            env: vec!["A".into()],
            http: Some(vec!["https://x:443".into()]),
            ..Default::default()
        };
        a.merge(Grants {
            env: vec!["A".into(), "B".into()],
            http: Some(vec!["https://y:443".into()]),
            ..Default::default()
        });
        assert_eq!(a.env, ["A", "B"]);
        assert_eq!(
            a.http.as_deref().unwrap(),
            ["https://x:443", "https://y:443"]
        );
        assert!(a.allows_interface("http") && !a.allows_interface("docker"));
    }
}
