//! Machines a provider's API reported. An ssh grant entry `hcloud-servers:<origin>`
//! (`https://api.hetzner.cloud`, or `env:<NAME>` / `spec:<path>` for the endpoint the operator
//! names) lets a driver reach the servers the Hetzner Cloud API at that origin listed in its
//! answers to the driver's own http requests during this run; a `kube.servers` entry
//! `hcloud-load-balancers:<origin>` lets the kubeconfig it writes name the load balancers that
//! API listed. lo reads them from the answers as it received them, so nothing the driver writes
//! (a dump, an inventory, a spec) adds an address. Only `public_net` addresses count: a private
//! network address is one the driver can choose through the API, and it would mean this
//! machine's own LAN. A loopback API (a local stand-in) may report loopback and private
//! addresses; the cloud's may not. An ssh entry `hrobot-servers:<origin>` does the same for
//! dedicated servers the Hetzner Robot webservice at that origin listed (`GET /server`,
//! `/server/<number>`: `server_ip`, `server_ipv6_net`), answers to the driver's own calls
//! made with the account's credentials.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex};

use crate::host::http::allowlist::address_allowed;
use crate::host::operator::OperatorValues;

/// The ssh grant's entry prefix.
pub const HCLOUD_SERVERS: &str = "hcloud-servers:";
/// The kube grant's `servers` entry prefix.
pub const HCLOUD_LOAD_BALANCERS: &str = "hcloud-load-balancers:";
/// The ssh grant's entry prefix for dedicated (Robot) servers.
pub const HROBOT_SERVERS: &str = "hrobot-servers:";

/// A grant entry as `lo drivers show` says it: reported machines in words, others as written.
pub fn shown(entry: &str) -> String {
    let origin = |rest: &str| crate::host::operator::shown(rest, "the origin");
    if let Some(rest) = entry.strip_prefix(HCLOUD_SERVERS) {
        format!("servers the Hetzner Cloud API at {} reports", origin(rest))
    } else if let Some(rest) = entry.strip_prefix(HCLOUD_LOAD_BALANCERS) {
        format!(
            "load balancers the Hetzner Cloud API at {} reports",
            origin(rest)
        )
    } else if let Some(rest) = entry.strip_prefix(HROBOT_SERVERS) {
        format!(
            "dedicated servers the Hetzner Robot webservice at {} lists",
            origin(rest)
        )
    } else {
        entry.to_string()
    }
}

/// Whether a grant entry names reported machines rather than a host.
pub fn is_reported_entry(entry: &str) -> bool {
    [HCLOUD_SERVERS, HCLOUD_LOAD_BALANCERS, HROBOT_SERVERS]
        .iter()
        .any(|prefix| entry.starts_with(prefix))
}

/// Shared by the http capability (which records) and those that ask (ssh; lo publishing the
/// driver's kubeconfig).
#[derive(Clone, Default)]
pub struct ReportedHosts {
    servers: Watch,
    balancers: Watch,
    dedicated: Watch,
}

/// One kind of object, from the answers of some origins.
#[derive(Clone, Default)]
struct Watch {
    /// `scheme://host:port` origins whose answers count.
    origins: Arc<Vec<String>>,
    seen: Arc<Mutex<BTreeSet<Reported>>>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Reported {
    Address(IpAddr),
    /// A server's IPv6 /64 (Hetzner gives each server a network, not one address).
    Network64(Ipv6Addr),
}

impl ReportedHosts {
    /// The watched origins of the ssh grant's `hcloud-servers:` entries and the kube grant's
    /// `hcloud-load-balancers:` ones, operator-named ones resolved now (an unset one watches
    /// nothing).
    pub fn from_grants(
        grants: &crate::host::grants::Grants,
        values: &OperatorValues,
    ) -> Result<Self, String> {
        let ssh = grants
            .ssh
            .as_ref()
            .map(|s| s.hosts.as_slice())
            .unwrap_or_default();
        let kube = grants
            .kube
            .as_ref()
            .map(|k| k.servers.as_slice())
            .unwrap_or_default();
        Ok(ReportedHosts {
            servers: Watch::parse(ssh, HCLOUD_SERVERS, "ssh.hosts", values)?,
            balancers: Watch::parse(kube, HCLOUD_LOAD_BALANCERS, "kube.servers", values)?,
            dedicated: Watch::parse(ssh, HROBOT_SERVERS, "ssh.hosts", values)?,
        })
    }

    pub fn watches_anything(&self) -> bool {
        [&self.servers, &self.balancers, &self.dedicated]
            .iter()
            .any(|w| !w.origins.is_empty())
    }

    /// Records what a successful answer to `url` reports, when its origin is watched and the
    /// path is the servers or load balancers collection or one of them (`…/servers`,
    /// `…/servers/<id>`). `from_loopback`: the answer came from a loopback address.
    pub fn observe(&self, url: &reqwest::Url, status: u16, from_loopback: bool, body: &[u8]) {
        if !(200..300).contains(&status) {
            return;
        }
        let mut segments: Vec<&str> = url.path().trim_end_matches('/').rsplit('/').collect();
        if segments
            .first()
            .is_some_and(|s| s.bytes().all(|b| b.is_ascii_digit()))
        {
            segments.remove(0);
        }
        match segments.first() {
            Some(&"servers") if self.servers.is_watched(url) => {
                self.servers.record(body, "server", from_loopback)
            }
            Some(&"load_balancers") if self.balancers.is_watched(url) => {
                self.balancers.record(body, "load_balancer", from_loopback)
            }
            Some(&"server") if self.dedicated.is_watched(url) => {
                self.dedicated.record_dedicated(body, from_loopback)
            }
            _ => {}
        }
    }

    /// Whether `ip` is a server (cloud or dedicated) a watched API reported.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.servers.contains(ip) || self.dedicated.contains(ip)
    }

    /// `https://<address>:*` for every load balancer a watched API reported: API servers the
    /// driver's kubeconfig may name.
    pub fn balancer_origins(&self) -> Vec<String> {
        let Ok(seen) = self.balancers.seen.lock() else {
            return Vec::new();
        };
        seen.iter()
            .filter_map(|r| match r {
                Reported::Address(IpAddr::V4(ip)) => Some(format!("https://{ip}:*")),
                Reported::Address(IpAddr::V6(ip)) => Some(format!("https://[{ip}]:*")),
                Reported::Network64(_) => None,
            })
            .collect()
    }
}

impl Watch {
    fn parse(
        entries: &[String],
        prefix: &str,
        field: &str,
        values: &OperatorValues,
    ) -> Result<Watch, String> {
        let entries: Vec<String> = entries
            .iter()
            .filter_map(|h| h.strip_prefix(prefix))
            .map(str::to_string)
            .collect();
        let origins = crate::host::http::operator::resolve_origins(&entries, values)
            .map_err(|e| format!("{field} {prefix}: {e}"))?;
        let watched = origins
            .iter()
            .map(|o| {
                reqwest::Url::parse(o)
                    .ok()
                    .filter(|u| u.path() == "/" && u.query().is_none())
                    .and_then(|u| origin_of(&u))
                    .ok_or_else(|| {
                        format!(
                            "{field} {prefix}{o}: not an origin; write it as https://host[:port]"
                        )
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Watch {
            origins: Arc::new(watched),
            seen: Arc::default(),
        })
    }

    /// The public addresses of the objects in an answer (`<singular>s` or `<singular>`).
    fn record(&self, body: &[u8], singular: &str, from_loopback: bool) {
        let Ok(answer) = serde_json::from_slice::<serde_json::Value>(body) else {
            return;
        };
        let servers = answer[format!("{singular}s").as_str()]
            .as_array()
            .into_iter()
            .flatten()
            .chain(answer.get(singular));
        let mut found = Vec::new();
        for server in servers {
            let public = &server["public_net"];
            if let Some(ip) = public["ipv4"]["ip"].as_str().and_then(|s| s.parse().ok()) {
                found.push(Reported::Address(ip));
            }
            // `ipv6.ip` is the server's network, such as "2001:db8:1:2::/64".
            if let Some(net) = public["ipv6"]["ip"]
                .as_str()
                .and_then(|s| s.split('/').next())
                .and_then(|s| s.parse::<Ipv6Addr>().ok())
            {
                found.push(Reported::Network64(network64(net)));
            }
        }
        self.keep(found, from_loopback);
    }

    /// Robot's answers: a list of `{"server": {…}}`, or one; `server_ip` and the /64 in
    /// `server_ipv6_net`.
    fn record_dedicated(&self, body: &[u8], from_loopback: bool) {
        let Ok(answer) = serde_json::from_slice::<serde_json::Value>(body) else {
            return;
        };
        let servers = answer
            .as_array()
            .into_iter()
            .flatten()
            .chain(std::iter::once(&answer))
            .map(|item| &item["server"]);
        let mut found = Vec::new();
        for server in servers {
            if let Some(ip) = server["server_ip"].as_str().and_then(|s| s.parse().ok()) {
                found.push(Reported::Address(ip));
            }
            if let Some(net) = server["server_ipv6_net"]
                .as_str()
                .and_then(|s| s.split('/').next())
                .and_then(|s| s.parse::<Ipv6Addr>().ok())
            {
                found.push(Reported::Network64(network64(net)));
            }
        }
        self.keep(found, from_loopback);
    }

    fn keep(&self, found: Vec<Reported>, from_loopback: bool) {
        let usable = |r: &Reported| {
            let ip = match r {
                Reported::Address(ip) => *ip,
                Reported::Network64(net) => IpAddr::V6(*net),
            };
            reachable(ip, from_loopback)
        };
        if let Ok(mut seen) = self.seen.lock() {
            seen.extend(found.into_iter().filter(usable));
        }
    }

    fn contains(&self, ip: IpAddr) -> bool {
        let Ok(seen) = self.seen.lock() else {
            return false;
        };
        match ip {
            IpAddr::V6(v6) if v6.to_ipv4_mapped().is_none() => {
                seen.contains(&Reported::Address(ip))
                    || seen.contains(&Reported::Network64(network64(v6)))
            }
            IpAddr::V6(v6) => seen.contains(&Reported::Address(IpAddr::V4(
                v6.to_ipv4_mapped()
                    .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED),
            ))),
            ip => seen.contains(&Reported::Address(ip)),
        }
    }

    fn is_watched(&self, url: &reqwest::Url) -> bool {
        origin_of(url).is_some_and(|origin| self.origins.contains(&origin))
    }
}

/// `scheme://host:port`, the host as the URL parser spells it (lower case).
fn origin_of(url: &reqwest::Url) -> Option<String> {
    let host = url.host_str()?;
    let port = url.port_or_known_default()?;
    Some(format!("{}://{host}:{port}", url.scheme()))
}

fn network64(ip: Ipv6Addr) -> Ipv6Addr {
    let bits = u128::from(ip) & !((1u128 << 64) - 1);
    Ipv6Addr::from(bits)
}

/// A reported address lo will connect to: never link-local or metadata; from the cloud's API
/// only a global one (no loopback, private, shared or unique-local address).
fn reachable(ip: IpAddr, from_loopback: bool) -> bool {
    if address_allowed(ip, from_loopback).is_err() {
        return false;
    }
    if from_loopback {
        return true;
    }
    match ip {
        IpAddr::V4(v4) => {
            let shared = v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64;
            !(v4.is_private() || v4.is_loopback() || shared)
        }
        IpAddr::V6(v6) => {
            let unique_local = (v6.segments()[0] & 0xfe00) == 0xfc00;
            !(v6.is_loopback() || unique_local)
        }
    }
}

#[cfg(test)]
mod tests;
