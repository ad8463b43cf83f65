//! The grants of one driver: each capability's grant (defined in its own folder under `host/`),
//! as `drivers.lock` writes them under `[drivers.<kind>.grants]` and built-in drivers ship them
//! in `grant.toml`. The same shape records what a driver requests, so the two can be compared
//! line by line.

use serde::{Deserialize, Serialize};

use crate::contract::types;
use crate::host::docker::grant::DockerGrant;
use crate::host::files::grant::PathGrant;
use crate::host::kube::grant::KubeGrant;
use crate::host::ssh::grant::SshGrant;

/// Capabilities beyond the always-on `log` import and the driver's own folders.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Grants {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docker: Option<DockerGrant>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kube: Option<KubeGrant>,
    /// `scheme://host:port` origins, or `spec:<path>` / `env:<NAME>`: the origin of the URL the
    /// operator wrote there (`host::http::operator`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<Vec<String>>,
    /// CA files the operator names (`spec:<path>`, `env:<NAME>`), trusted for http requests
    /// besides the system roots.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub http_trust: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh: Option<SshGrant>,
    /// SAN patterns for leaf certificates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<Vec<String>>,
    /// Environment variable names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
    /// Project-relative paths beyond the driver's own folders.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<PathGrant>,
}

impl Grants {
    pub fn is_empty(&self) -> bool {
        self == &Grants::default()
    }

    /// Every import-backed capability, each with an empty grant: what inspecting a component
    /// (describe only, nothing reachable) links.
    pub fn inspection() -> Grants {
        Grants {
            docker: Some(Default::default()),
            kube: Some(Default::default()),
            http: Some(vec![]),
            ssh: Some(Default::default()),
            tls: Some(vec![]),
            ..Default::default()
        }
    }

    /// What a driver's `describe` requests, as grants.
    pub fn requested(info: &types::DriverInfo) -> Grants {
        let mut grants = Grants::default();
        for request in &info.capabilities {
            grants.merge(Grants::from_request(&request.capability));
        }
        grants
    }

    /// One requested capability as grants.
    pub fn from_request(capability: &types::Capability) -> Grants {
        let mut one = Grants::default();
        match capability {
            types::Capability::Docker(d) => one.docker = Some(DockerGrant::from_request(d)),
            types::Capability::Kube(k) => one.kube = Some(KubeGrant::from_request(k)),
            types::Capability::Http(origins) => one.http = Some(origins.clone()),
            types::Capability::Ssh(s) => one.ssh = Some(SshGrant::from_request(s)),
            types::Capability::Tls(sans) => one.tls = Some(sans.clone()),
            types::Capability::Env(names) => one.env = names.clone(),
            types::Capability::Files(paths) => {
                one.files = paths.iter().map(PathGrant::from_request).collect()
            }
        }
        one
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
            self.docker.get_or_insert_with(Default::default).merge(d);
        }
        if let Some(k) = other.kube {
            self.kube.get_or_insert_with(Default::default).merge(k);
        }
        if let Some(h) = other.http {
            extend_unique(self.http.get_or_insert_with(Vec::new), h);
        }
        extend_unique(&mut self.http_trust, other.http_trust);
        if let Some(s) = other.ssh {
            self.ssh.get_or_insert_with(Default::default).merge(s);
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

    /// The lines of `requested` these grants do not cover (empty: every request is granted).
    pub fn missing(&self, requested: &Grants) -> Vec<String> {
        let subset = |want: &[String], have: &[String]| want.iter().all(|w| have.contains(w));
        let mut out = Vec::new();
        if let Some(want) = &requested.docker {
            let have = self.docker.clone().unwrap_or_default();
            let ok = self.docker.is_some()
                && (!want.privileged || have.privileged)
                && subset(&want.shared_networks, &have.shared_networks)
                && subset(&want.host_paths, &have.host_paths);
            if !ok {
                out.push(want.line());
            }
        }
        if let Some(want) = &requested.kube {
            let have = self.kube.clone().unwrap_or_default();
            let ok = self.kube.is_some()
                && subset(&want.namespaces, &have.namespaces)
                && subset(&want.kinds, &have.kinds)
                && subset(&want.clusters, &have.clusters);
            if !ok {
                out.push(want.line());
            }
        }
        if let Some(want) = &requested.ssh {
            let have = self.ssh.clone().unwrap_or_default();
            if self.ssh.is_none()
                || !subset(&want.hosts, &have.hosts)
                || !subset(&want.keys, &have.keys)
            {
                out.push(want.line());
            }
        }
        let list =
            |name: &str, want: &Option<Vec<String>>, have: &Option<Vec<String>>| match (want, have)
            {
                (Some(w), Some(h)) if subset(w, h) => None,
                (Some(w), _) => Some(format!("{name}: {}", or_none(w))),
                (None, _) => None,
            };
        out.extend(list("http", &requested.http, &self.http));
        out.extend(list("tls", &requested.tls, &self.tls));
        if !subset(&requested.env, &self.env) {
            out.push(format!("env: {}", requested.env.join(", ")));
        }
        for f in &requested.files {
            if !self
                .files
                .iter()
                .any(|g| g.path == f.path && (g.writable || !f.writable))
            {
                out.push(f.line());
            }
        }
        out
    }

    /// One line per capability, for `lo drivers show` and `lo drivers add`.
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        out.extend(self.docker.as_ref().map(DockerGrant::line));
        out.extend(self.kube.as_ref().map(KubeGrant::line));
        out.extend(self.http.as_ref().map(|h| {
            let shown: Vec<String> = h
                .iter()
                .map(|e| crate::host::operator::shown(e, "the origin"))
                .collect();
            format!("http: {}", or_none(&shown))
        }));
        if !self.http_trust.is_empty() {
            let shown: Vec<String> = self
                .http_trust
                .iter()
                .map(|e| crate::host::operator::field_of(e))
                .collect();
            out.push(format!(
                "http: also trusts the CA file named in {}",
                shown.join(" or ")
            ));
        }
        out.extend(self.ssh.as_ref().map(SshGrant::line));
        out.extend(
            self.tls
                .as_ref()
                .map(|t| format!("tls: leaf certificates for {}", or_none(t))),
        );
        if !self.env.is_empty() {
            out.push(format!("env: {}", self.env.join(", ")));
        }
        out.extend(self.files.iter().map(PathGrant::line));
        out
    }
}

pub(crate) fn extend_unique(into: &mut Vec<String>, from: Vec<String>) {
    for item in from {
        if !into.contains(&item) {
            into.push(item);
        }
    }
}

pub(crate) fn or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

pub(crate) fn list_suffix(prefix: &str, items: &[String]) -> String {
    if items.is_empty() {
        String::new()
    } else {
        format!("{prefix}{}", items.join(", "))
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

    #[test]
    fn missing_names_what_a_grant_does_not_cover() {
        let requested = Grants {
            docker: Some(DockerGrant {
                privileged: true,
                host_paths: vec!["/lib/modules".into()],
                ..Default::default()
            }),
            tls: Some(vec!["*".into()]),
            env: vec!["TOKEN".into()],
            ..Default::default()
        };
        let mut granted = requested.clone();
        assert!(granted.missing(&requested).is_empty());
        granted.docker.as_mut().unwrap().privileged = false;
        granted.env.clear();
        let missing = granted.missing(&requested);
        assert_eq!(missing.len(), 2, "{missing:?}");
        assert!(missing[0].starts_with("docker:") && missing[1] == "env: TOKEN");
    }
}
