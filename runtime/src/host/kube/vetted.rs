//! A kubeconfig that `lo` will use or publish. A driver wrote it, so it is input to check, not a
//! configuration to load: client-go-style loading would run an `exec:` plugin or auth provider,
//! read `tokenFile` and certificate paths from this machine and follow `proxy-url`, all with
//! the host's authority. Only inline credentials and CAs pass, servers are https and checked
//! like http origins (then pinned to the address that was checked), and `lo` re-serialises
//! what passed, so nothing it did not understand reaches a later reader such as kubectl.

use std::net::IpAddr;
use std::time::Duration;

use kube::config::{AuthInfo, Cluster, Kubeconfig};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use crate::host::http::allowlist::{Allowlist, Verdict, address_allowed};

/// Largest kubeconfig `lo` reads.
pub const MAX_BYTES: u64 = 1 << 20;

/// API servers a driver's own kubeconfig may name when its grant names none: this machine.
pub const DEFAULT_SERVERS: &[&str] = &[
    "https://127.0.0.1:*",
    "https://[::1]:*",
    "https://localhost:*",
];

#[derive(Debug, thiserror::Error)]
pub enum VetError {
    #[error("not a kubeconfig: {0}")]
    Yaml(String),
    #[error("{field}: {why}")]
    Refused { field: String, why: String },
}

fn refused(field: impl Into<String>, why: impl Into<String>) -> VetError {
    VetError::Refused {
        field: field.into(),
        why: why.into(),
    }
}

/// A kubeconfig with only what `lo` vouches for.
#[derive(Debug, Clone)]
pub struct Vetted(Kubeconfig);

const INLINE_ONLY: &str = "lo uses only inline credentials (token, client-certificate-data and \
                           client-key-data, or username and password)";

impl Vetted {
    pub fn parse(bytes: &[u8]) -> Result<Vetted, VetError> {
        let text = std::str::from_utf8(bytes).map_err(|_| VetError::Yaml("not UTF-8".into()))?;
        let config: Kubeconfig =
            serde_yaml::from_str(text).map_err(|e| VetError::Yaml(e.to_string()))?;
        if let Some(key) = config.other.keys().next() {
            return Err(refused(key.as_str(), "is not a kubeconfig field lo knows"));
        }
        for named in &config.clusters {
            let at = format!("clusters[{}].cluster", named.name);
            let cluster = named
                .cluster
                .as_ref()
                .ok_or_else(|| refused(&at, "is missing"))?;
            check_cluster(&at, cluster)?;
        }
        for named in &config.auth_infos {
            let at = format!("users[{}].user", named.name);
            if let Some(user) = &named.auth_info {
                check_user(&at, user)?;
            }
        }
        for named in &config.contexts {
            let at = format!("contexts[{}].context", named.name);
            let context = named
                .context
                .as_ref()
                .ok_or_else(|| refused(&at, "is missing"))?;
            if let Some(key) = context.other.keys().next() {
                return Err(refused(
                    format!("{at}.{key}"),
                    "is not a kubeconfig field lo knows",
                ));
            }
            if !config.clusters.iter().any(|c| c.name == context.cluster) {
                return Err(refused(
                    format!("{at}.cluster"),
                    format!("names {:?}, which is not in clusters", context.cluster),
                ));
            }
            if let Some(user) = &context.user
                && !config.auth_infos.iter().any(|u| &u.name == user)
            {
                return Err(refused(
                    format!("{at}.user"),
                    format!("names {user:?}, which is not in users"),
                ));
            }
        }
        if let Some(current) = &config.current_context
            && !config.contexts.iter().any(|c| &c.name == current)
        {
            return Err(refused(
                "current-context",
                format!("names {current:?}, which is not in contexts"),
            ));
        }
        Ok(Vetted(config))
    }

    /// The vetted kubeconfig as YAML, fields `lo` understood only.
    pub fn to_yaml(&self) -> String {
        serde_yaml::to_string(&self.0).unwrap_or_default()
    }

    /// The current context's API server URL.
    pub fn server(&self) -> Option<String> {
        self.current().ok()?.0.server.clone()
    }

    /// Refuses a kubeconfig naming an API server outside `servers`, in any of its clusters: a
    /// published kubeconfig is used for other drivers (by domain) and the user, so it may name
    /// only servers its publisher could reach itself.
    pub fn check_servers(&self, servers: &Allowlist) -> Result<(), VetError> {
        for named in &self.0.clusters {
            let server = named
                .cluster
                .as_ref()
                .and_then(|c| c.server.as_deref())
                .unwrap_or_default();
            let at = format!("clusters[{}].cluster.server", named.name);
            let (_, host, port) = origin(server).map_err(|e| refused(&at, e))?;
            if let Verdict::Denied = servers.check("https", &host, port) {
                return Err(refused(
                    at,
                    format!(
                        "{server} is not an API server this driver may reach; add its origin to kube.servers in the driver's grant"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The same kubeconfig with the current context's server on `port` (scheme and host kept,
    /// so the server certificate's names still match).
    pub fn with_port(&self, port: u16) -> Result<Vetted, VetError> {
        let (context, _) = self.current_context()?;
        let cluster_name = context.cluster.clone();
        let mut config = self.0.clone();
        let cluster = config
            .clusters
            .iter_mut()
            .find(|c| c.name == cluster_name)
            .and_then(|c| c.cluster.as_mut())
            .ok_or_else(|| refused("contexts", "the current context has no cluster"))?;
        let server = cluster.server.clone().unwrap_or_default();
        let uri: http::Uri = server
            .parse()
            .map_err(|e| refused("server", format!("{server:?}: {e}")))?;
        let (Some(scheme), Some(host)) = (uri.scheme_str(), uri.host()) else {
            return Err(refused("server", format!("{server:?} names no host")));
        };
        let path = uri.path_and_query().map_or("", |p| p.as_str());
        let path = if path == "/" { "" } else { path };
        cluster.server = Some(format!("{scheme}://{host}:{port}{path}"));
        Ok(Vetted(config))
    }

    fn current_context(&self) -> Result<(&kube::config::Context, String), VetError> {
        let name = match (&self.0.current_context, self.0.contexts.as_slice()) {
            (Some(name), _) => name.clone(),
            (None, [only]) => only.name.clone(),
            (None, _) => return Err(refused("current-context", "is not set")),
        };
        let context = self
            .0
            .contexts
            .iter()
            .find(|c| c.name == name)
            .and_then(|c| c.context.as_ref())
            .ok_or_else(|| refused("current-context", format!("{name:?} is not in contexts")))?;
        Ok((context, name))
    }

    fn current(&self) -> Result<(&Cluster, AuthInfo, String), VetError> {
        let (context, _) = self.current_context()?;
        let cluster = self
            .0
            .clusters
            .iter()
            .find(|c| c.name == context.cluster)
            .and_then(|c| c.cluster.as_ref())
            .ok_or_else(|| refused("contexts", "the current context has no cluster"))?;
        let user = context
            .user
            .as_ref()
            .and_then(|u| self.0.auth_infos.iter().find(|a| &a.name == u))
            .and_then(|a| a.auth_info.clone())
            .unwrap_or_default();
        let namespace = context
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into());
        Ok((cluster, user, namespace))
    }

    /// A client for the current context. The server must match `servers`; its name is resolved
    /// here, every address checked, and the client pinned to the one checked.
    pub async fn client(&self, servers: &Allowlist) -> Result<kube::Client, String> {
        let (cluster, user, namespace) = self.current().map_err(|e| e.to_string())?;
        let server = cluster.server.as_deref().unwrap_or_default();
        let (uri, host, port) = origin(server).map_err(|e| format!("server {e}"))?;
        let loopback_ok = match servers.check("https", &host, port) {
            Verdict::Denied => {
                return Err(format!(
                    "server {server} is not an API server this driver may reach; add its origin to kube.servers"
                ));
            }
            Verdict::Allowed { loopback } => loopback,
        };
        let address = resolve_checked(&host, port, loopback_ok)
            .await
            .map_err(|e| format!("server {server}: {e}"))?;
        let pinned_host = match address {
            IpAddr::V6(v6) => format!("[{v6}]"),
            v4 => v4.to_string(),
        };
        let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("");
        let pinned: http::Uri = format!("https://{pinned_host}:{port}{path}")
            .parse()
            .map_err(|e| format!("server {server}: {e}"))?;
        let mut config = kube::Config::new(pinned);
        config.default_namespace = namespace;
        config.connect_timeout = Some(Duration::from_secs(15));
        config.read_timeout = Some(Duration::from_secs(120));
        if host.parse::<IpAddr>().is_err() {
            config.tls_server_name = Some(cluster.tls_server_name.clone().unwrap_or(host));
        } else {
            config.tls_server_name = cluster.tls_server_name.clone();
        }
        if let Some(data) = &cluster.certificate_authority_data {
            use base64::Engine as _;
            let pem = base64::engine::general_purpose::STANDARD
                .decode(data.trim())
                .map_err(|e| format!("certificate-authority-data: not base64 ({e})"))?;
            let ders: Vec<Vec<u8>> = CertificateDer::pem_slice_iter(&pem)
                .map(|c| c.map(|c| c.as_ref().to_vec()))
                .collect::<Result<_, _>>()
                .map_err(|e| format!("certificate-authority-data: {e}"))?;
            if ders.is_empty() {
                return Err("certificate-authority-data: no certificate in it".into());
            }
            config.root_cert = Some(ders);
        }
        config.auth_info = user;
        kube::Client::try_from(config).map_err(|e| e.to_string())
    }
}

fn check_cluster(at: &str, c: &Cluster) -> Result<(), VetError> {
    if let Some(key) = c.other.keys().next() {
        return Err(refused(
            format!("{at}.{key}"),
            "is not a kubeconfig field lo knows",
        ));
    }
    if c.certificate_authority.is_some() {
        return Err(refused(
            format!("{at}.certificate-authority"),
            "a file path on this machine; give the CA inline as certificate-authority-data",
        ));
    }
    if c.proxy_url.is_some() {
        return Err(refused(
            format!("{at}.proxy-url"),
            "lo does not send API requests through a proxy a kubeconfig names",
        ));
    }
    if c.insecure_skip_tls_verify == Some(true) {
        return Err(refused(
            format!("{at}.insecure-skip-tls-verify"),
            "lo verifies API servers; give their CA as certificate-authority-data",
        ));
    }
    let server = c
        .server
        .as_deref()
        .ok_or_else(|| refused(format!("{at}.server"), "is missing"))?;
    let uri: http::Uri = server
        .parse()
        .map_err(|_| refused(format!("{at}.server"), format!("{server:?} is not a URL")))?;
    if uri.scheme_str() != Some("https") || uri.host().is_none_or(str::is_empty) {
        return Err(refused(
            format!("{at}.server"),
            format!("{server:?}: lo talks to API servers over https://host[:port] only"),
        ));
    }
    if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
        return Err(refused(
            format!("{at}.server"),
            "credentials belong in users, not in the server URL",
        ));
    }
    Ok(())
}

fn check_user(at: &str, u: &AuthInfo) -> Result<(), VetError> {
    let refuse = |key: &str, what: &str| {
        Err(refused(
            format!("{at}.{key}"),
            format!("{what}; {INLINE_ONLY}"),
        ))
    };
    if u.exec.is_some() {
        return refuse("exec", "a credential plugin runs a program on this machine");
    }
    if u.auth_provider.is_some() {
        return refuse(
            "auth-provider",
            "an auth provider runs code and reads files on this machine",
        );
    }
    if u.token_file.is_some() {
        return refuse("tokenFile", "a file path on this machine");
    }
    if u.client_certificate.is_some() {
        return refuse("client-certificate", "a file path on this machine");
    }
    if u.client_key.is_some() {
        return refuse("client-key", "a file path on this machine");
    }
    Ok(())
}

/// The server's address: the literal, or the first a lookup gives, every one checked.
async fn resolve_checked(host: &str, port: u16, loopback_ok: bool) -> Result<IpAddr, String> {
    let addresses: Vec<IpAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| format!("cannot resolve {host}: {e}"))?
            .map(|a| a.ip())
            .collect(),
    };
    for ip in &addresses {
        address_allowed(*ip, loopback_ok).map_err(|why| format!("{host} is {ip}, {why}"))?;
    }
    addresses
        .first()
        .copied()
        .ok_or_else(|| format!("{host} has no address"))
}

/// A server URL's parts as an allowlist checks them: the URI, its host (lower-case, no IPv6
/// brackets) and its port (443 when none is given).
fn origin(server: &str) -> Result<(http::Uri, String, u16), String> {
    let uri: http::Uri = server.parse().map_err(|e| format!("{server:?}: {e}"))?;
    let host = uri
        .host()
        .unwrap_or_default()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    let port = uri.port_u16().unwrap_or(443);
    Ok((uri, host, port))
}

/// The rule for another cluster's published kubeconfig: any server, this machine included.
pub fn published_servers_rule() -> Allowlist {
    let mut entries: Vec<String> = DEFAULT_SERVERS.iter().map(|s| s.to_string()).collect();
    entries.push("https://*:*".into());
    Allowlist::parse(&entries).unwrap_or_default()
}

/// The servers rule for a grant: its `servers`, or this machine when it names none, plus the
/// `reported` origins (load balancers a provider's API reported in this run, for the grant's
/// `hcloud-load-balancers:` entries, which are not origins themselves).
pub fn servers_rule(granted: &[String], reported: &[String]) -> Result<Allowlist, String> {
    let mut entries: Vec<String> = granted
        .iter()
        .filter(|e| !e.starts_with(crate::host::reported::HCLOUD_LOAD_BALANCERS))
        .cloned()
        .collect();
    if entries.is_empty() {
        entries = DEFAULT_SERVERS.iter().map(|s| s.to_string()).collect();
    }
    entries.extend(reported.iter().cloned());
    Allowlist::parse(&entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:6443\n    certificate-authority-data: Zm9v\ncontexts:\n- name: x\n  context:\n    cluster: c\n    user: u\ncurrent-context: x\nusers:\n- name: u\n  user:\n    token: abc\n";

    fn with_user(extra: &str) -> String {
        format!("{GOOD}    {extra}\n")
    }

    #[test]
    fn inline_credentials_pass_and_round_trip() {
        let vetted = Vetted::parse(GOOD.as_bytes()).unwrap();
        let again = Vetted::parse(vetted.to_yaml().as_bytes()).unwrap();
        assert!(again.to_yaml().contains("token: abc"));
    }

    #[test]
    fn host_authority_routes_are_refused_by_name() {
        for (extra, field) in [
            (
                "exec:\n      command: /bin/sh\n      apiVersion: client.authentication.k8s.io/v1",
                "users[u].user.exec",
            ),
            ("tokenFile: /etc/shadow", "users[u].user.tokenFile"),
            (
                "client-certificate: /root/.ssh/id_rsa",
                "users[u].user.client-certificate",
            ),
            ("client-key: /root/key", "users[u].user.client-key"),
            (
                "auth-provider:\n      name: gcp",
                "users[u].user.auth-provider",
            ),
        ] {
            let err = Vetted::parse(with_user(extra).as_bytes())
                .unwrap_err()
                .to_string();
            assert!(err.starts_with(field), "{extra}: {err}");
        }
        for (from, to, field) in [
            (
                "    certificate-authority-data: Zm9v",
                "    certificate-authority: /etc/ssl/x.pem",
                "certificate-authority",
            ),
            (
                "    certificate-authority-data: Zm9v",
                "    proxy-url: http://evil.example:3128",
                "proxy-url",
            ),
            (
                "    certificate-authority-data: Zm9v",
                "    insecure-skip-tls-verify: true",
                "insecure-skip-tls-verify",
            ),
            ("https://127.0.0.1:6443", "http://127.0.0.1:6443", "server"),
            (
                "https://127.0.0.1:6443",
                "https://user:pw@127.0.0.1:6443",
                "server",
            ),
        ] {
            let err = Vetted::parse(GOOD.replace(from, to).as_bytes())
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with(&format!("clusters[c].cluster.{field}")),
                "{to}: {err}"
            );
        }
        let unknown = GOOD.replace("kind: Config", "kind: Config\nsurprise: 1");
        assert!(Vetted::parse(unknown.as_bytes()).is_err());
        assert!(Vetted::parse(b"\xff\xfe").is_err());
        let dangling = GOOD.replace("current-context: x", "current-context: y");
        assert!(Vetted::parse(dangling.as_bytes()).is_err());
    }

    #[tokio::test]
    async fn servers_are_checked_before_any_connection() {
        let rule = servers_rule(&[], &[]).unwrap();
        let elsewhere = GOOD.replace("https://127.0.0.1:6443", "https://192.0.2.1:6443");
        let err = Vetted::parse(elsewhere.as_bytes())
            .unwrap()
            .client(&rule)
            .await
            .err()
            .unwrap();
        assert!(err.contains("kube.servers"), "{err}");
        let metadata = GOOD.replace("https://127.0.0.1:6443", "https://169.254.169.254");
        let open = servers_rule(&["https://*:*".into()], &[]).unwrap();
        let err = Vetted::parse(metadata.as_bytes())
            .unwrap()
            .client(&open)
            .await
            .err()
            .unwrap();
        assert!(err.contains("metadata"), "{err}");
    }
}
