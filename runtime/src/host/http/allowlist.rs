//! The http grant's grammar and the address rules. An entry is `scheme://host[:port]`: `host`
//! is a name, an IP address, `*.example.com` (subdomains) or `*` (any name); the port
//! defaults to the scheme's, and `*` allows any port. Empty means deny. The kube grant's
//! `servers` use the same grammar for the API servers a driver's own kubeconfig may name. Addresses are checked after resolution:
//! link-local and cloud metadata addresses never, loopback only when an entry names a
//! loopback host literally.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    Exact(String),
    Subdomains(String),
    Any,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    scheme: String,
    host: HostPattern,
    /// None: any port.
    port: Option<u16>,
}

/// A port number, or `*` for any (None inside Some).
fn port(text: &str) -> Option<Option<u16>> {
    if text == "*" {
        return Some(None);
    }
    text.parse::<u16>().ok().map(Some)
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

impl Origin {
    pub fn parse(entry: &str) -> Result<Origin, String> {
        let bad = |why: &str| {
            format!(
                "http grant {entry:?}: {why}; write scheme://host[:port], such as https://api.example.com:443"
            )
        };
        let (scheme, rest) = entry.split_once("://").ok_or_else(|| bad("no scheme"))?;
        let scheme = scheme.to_ascii_lowercase();
        let default =
            default_port(&scheme).ok_or_else(|| bad("the scheme must be http or https"))?;
        if rest.contains('/') || rest.contains('?') || rest.contains('@') {
            return Err(bad("an origin has no path, query or user"));
        }
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or_else(|| bad("unclosed '['"))?;
            match after.strip_prefix(':') {
                Some(p) => (
                    h.to_string(),
                    port(p).ok_or_else(|| bad("the port is not a number or *"))?,
                ),
                None if after.is_empty() => (h.to_string(), Some(default)),
                None => return Err(bad("junk after ']'")),
            }
        } else {
            match rest.split_once(':') {
                Some((h, p)) => (
                    h.to_string(),
                    port(p).ok_or_else(|| bad("the port is not a number or *"))?,
                ),
                None => (rest.to_string(), Some(default)),
            }
        };
        let host = host.to_ascii_lowercase();
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let host = if host == "*" {
            HostPattern::Any
        } else if let Some(suffix) = host.strip_prefix("*.") {
            HostPattern::Subdomains(suffix.to_string())
        } else if host.contains('*') {
            return Err(bad(
                "'*' may only stand alone or as the first label (*.example.com)",
            ));
        } else {
            HostPattern::Exact(host)
        };
        Ok(Origin { scheme, host, port })
    }

    fn matches(&self, scheme: &str, host: &str, port: u16) -> bool {
        if self.scheme != scheme || self.port.is_some_and(|p| p != port) {
            return false;
        }
        match &self.host {
            HostPattern::Any => true,
            HostPattern::Exact(h) => h == host,
            HostPattern::Subdomains(s) => host.ends_with(&format!(".{s}")),
        }
    }

    /// Whether the entry names a loopback host literally (`127.0.0.1`, `::1`, `localhost`).
    fn names_loopback(&self) -> bool {
        match &self.host {
            HostPattern::Exact(h) => {
                h == "localhost" || h.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
            }
            _ => false,
        }
    }
}

/// A parsed http grant.
#[derive(Debug, Clone, Default)]
pub struct Allowlist(Vec<Origin>);

/// What the allowlist says about one URL.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Denied,
    /// Allowed; loopback addresses only if `loopback` is true.
    Allowed {
        loopback: bool,
    },
}

impl Allowlist {
    pub fn parse(entries: &[String]) -> Result<Allowlist, String> {
        entries
            .iter()
            .map(|e| Origin::parse(e))
            .collect::<Result<Vec<_>, _>>()
            .map(Allowlist)
    }

    pub fn check(&self, scheme: &str, host: &str, port: u16) -> Verdict {
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        let matching: Vec<&Origin> = self
            .0
            .iter()
            .filter(|o| o.matches(scheme, &host, port))
            .collect();
        if matching.is_empty() {
            return Verdict::Denied;
        }
        Verdict::Allowed {
            loopback: matching.iter().any(|o| o.names_loopback()),
        }
    }
}

/// Whether a resolved address may be contacted.
pub fn address_allowed(ip: IpAddr, loopback_ok: bool) -> Result<(), &'static str> {
    let ip = match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    };
    const METADATA_V4: [Ipv4Addr; 2] = [
        Ipv4Addr::new(169, 254, 169, 254),
        Ipv4Addr::new(100, 100, 100, 200),
    ];
    const METADATA_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254);
    match ip {
        IpAddr::V4(v4) if METADATA_V4.contains(&v4) => Err("a cloud metadata address"),
        IpAddr::V6(v6) if v6 == METADATA_V6 => Err("a cloud metadata address"),
        IpAddr::V4(v4) if v4.is_link_local() => Err("a link-local address"),
        IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80 => Err("a link-local address"),
        ip if ip.is_unspecified() || ip.is_multicast() => Err("not a unicast address"),
        IpAddr::V4(v4) if v4.is_broadcast() => Err("not a unicast address"),
        ip if ip.is_loopback() && !loopback_ok => Err(
            "a loopback address, which needs a grant naming the loopback host itself (such as http://127.0.0.1:8080)",
        ),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(entries: &[&str]) -> Allowlist {
        Allowlist::parse(&entries.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn grammar() {
        assert!(Origin::parse("https://api.example.com").is_ok());
        assert!(Origin::parse("http://[::1]:8080").is_ok());
        for bad in [
            "api.example.com",
            "ftp://x",
            "https://x/path",
            "https://x:port",
            "https://a*.b",
            "https://",
        ] {
            let err = Origin::parse(bad).unwrap_err();
            assert!(err.contains("scheme://host[:port]"), "{bad}: {err}");
        }
    }

    #[test]
    fn matching() {
        let l = list(&[
            "https://api.example.com",
            "https://*.hetzner.cloud:443",
            "http://127.0.0.1:8080",
        ]);
        assert_eq!(
            l.check("https", "api.example.com", 443),
            Verdict::Allowed { loopback: false }
        );
        assert_eq!(l.check("http", "api.example.com", 443), Verdict::Denied);
        assert_eq!(l.check("https", "api.example.com", 8443), Verdict::Denied);
        assert_eq!(
            l.check("https", "x.hetzner.cloud", 443),
            Verdict::Allowed { loopback: false }
        );
        assert_eq!(l.check("https", "hetzner.cloud", 443), Verdict::Denied);
        assert_eq!(
            l.check("http", "127.0.0.1", 8080),
            Verdict::Allowed { loopback: true }
        );
        assert_eq!(
            Allowlist::default().check("https", "api.example.com", 443),
            Verdict::Denied
        );
        let any_port = list(&["https://127.0.0.1:*"]);
        assert_eq!(
            any_port.check("https", "127.0.0.1", 36811),
            Verdict::Allowed { loopback: true }
        );
        assert_eq!(any_port.check("http", "127.0.0.1", 36811), Verdict::Denied);
        let any = list(&["http://*:8080"]);
        assert_eq!(
            any.check("http", "localhost", 8080),
            Verdict::Allowed { loopback: false }
        );
    }

    #[test]
    fn addresses() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(address_allowed(ip("169.254.169.254"), true).is_err());
        assert!(address_allowed(ip("::ffff:169.254.169.254"), true).is_err());
        assert!(address_allowed(ip("fd00:ec2::254"), true).is_err());
        assert!(address_allowed(ip("169.254.1.1"), true).is_err());
        assert!(address_allowed(ip("fe80::1"), true).is_err());
        assert!(address_allowed(ip("0.0.0.0"), true).is_err());
        assert!(address_allowed(ip("127.0.0.1"), false).is_err());
        assert!(address_allowed(ip("127.0.0.1"), true).is_ok());
        assert!(address_allowed(ip("::ffff:127.0.0.1"), false).is_err());
        assert!(address_allowed(ip("93.184.216.34"), false).is_ok());
    }
}
