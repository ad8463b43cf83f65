//! What a driver may ask of a Docker network. Guards against names Docker reads as something
//! else (`container:<id>` joins another container's network namespace; `host`, `none`,
//! `bridge`, `default` are modes, not networks), subnets that would shadow the host's own
//! routes or reach link-local and metadata addresses, and bridge options that reuse a host
//! interface, turn off masquerading or publish on every interface. Pure checks over the spec
//! and facts about the host ([`HostFacts`]), so every rule has a unit test.

use std::net::IpAddr;

use ipnet::IpNet;

use super::policy::may_publish_on;
use crate::contract::docker as wit;
use crate::host::docker::grant::DockerGrant;

/// Names Docker gives a meaning of its own.
const RESERVED: &[&str] = &[
    "host",
    "none",
    "bridge",
    "default",
    "ingress",
    "docker_gwbridge",
];
const MTU_OPTION: &str = "com.docker.network.driver.mtu";
const BRIDGE_NAME: &str = "com.docker.network.bridge.name";
const MASQUERADE: &str = "com.docker.network.bridge.enable_ip_masquerade";
const ICC: &str = "com.docker.network.bridge.enable_icc";
const HOST_BINDING: &str = "com.docker.network.bridge.host_binding_ipv4";
/// Linux interface names are at most 15 bytes.
const IFNAME_MAX: usize = 15;

/// What lo knows about the machine the engine runs on (nothing for a remote engine).
#[derive(Debug, Clone, Default)]
pub struct HostFacts {
    /// Destinations of the host's routes, default routes excluded.
    pub routes: Vec<(IpNet, String)>,
    /// Network interfaces.
    pub interfaces: Vec<String>,
    /// False for a remote engine: routes and interfaces are unknown, so options that depend
    /// on them are refused.
    pub local: bool,
}

/// Checks a name a driver gives a network (to create, join, inspect or remove it).
pub fn check_name(name: &str) -> Result<(), String> {
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    let first_ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    if !ok_chars || !first_ok || name.len() > 128 {
        return Err(format!(
            "network name {name:?}: use letters, digits, '_', '.' and '-', starting with a letter or digit \
             (Docker reads forms such as container:<id> as a mode, not a network)"
        ));
    }
    if RESERVED.contains(&name.to_ascii_lowercase().as_str()) {
        return Err(format!(
            "network name {name:?} is Docker's own; create a network of the cluster's own and use that"
        ));
    }
    Ok(())
}

/// Checks a network spec before anything reaches the engine.
pub fn check_spec(
    spec: &wit::NetworkSpec,
    grant: &DockerGrant,
    host: &HostFacts,
) -> Result<(), String> {
    check_name(&spec.name)?;
    // No subnet: Docker picks one of its private pools that no host route covers.
    for subnet in &spec.subnets {
        check_subnet(&spec.name, subnet, host)?;
    }
    if let Some(mtu) = spec.mtu {
        check_mtu(&spec.name, &mtu.to_string())?;
    }
    for (key, value) in &spec.options {
        check_option(&spec.name, key, value, grant, host)?;
    }
    Ok(())
}

fn check_mtu(network: &str, value: &str) -> Result<(), String> {
    match value.parse::<u32>() {
        Ok(mtu) if (68..=65535).contains(&mtu) => Ok(()),
        _ => Err(format!(
            "network {network:?}: MTU {value:?} is not a number from 68 to 65535"
        )),
    }
}

fn check_option(
    network: &str,
    key: &str,
    value: &str,
    grant: &DockerGrant,
    host: &HostFacts,
) -> Result<(), String> {
    let refuse = |why: &str| {
        Err(format!(
            "network {network:?}: option {key}={value:?}: {why}"
        ))
    };
    match key {
        MTU_OPTION => check_mtu(network, value),
        MASQUERADE if value == "true" => Ok(()),
        MASQUERADE => refuse("masquerading stays on (containers reach out as the host does)"),
        ICC if value == "true" || value == "false" => Ok(()),
        ICC => refuse("true or false"),
        BRIDGE_NAME => {
            if value != network || value.len() > IFNAME_MAX {
                return refuse(
                    "the bridge may only be named after the network itself (at most 15 characters)",
                );
            }
            if !host.local {
                return refuse("the engine is remote, where lo cannot see which interfaces exist");
            }
            if host.interfaces.iter().any(|i| i == value) {
                return refuse(
                    "an interface of that name exists on the host; a new bridge never reuses one",
                );
            }
            Ok(())
        }
        HOST_BINDING => match value.parse::<IpAddr>() {
            Ok(ip) if ip.is_loopback() || may_publish_on(grant, &ip.to_string()) => Ok(()),
            _ => refuse(
                "ports are published on loopback unless the grant's publish list names the address",
            ),
        },
        _ => refuse(
            "not an option lo passes to Docker (allowed: the MTU, the bridge name, masquerading on, inter-container traffic)",
        ),
    }
}

/// Address ranges no network of a driver may cover.
fn forbidden(net: &IpNet) -> Option<&'static str> {
    let always: &[(&str, &str)] = &[
        ("0.0.0.0/8", "the unspecified range"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local (cloud metadata lives there)"),
        ("100.100.100.200/32", "a cloud metadata address"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved"),
        ("::/128", "the unspecified address"),
        ("::1/128", "loopback"),
        ("fe80::/10", "link-local"),
        ("fd00:ec2::254/128", "a cloud metadata address"),
        ("ff00::/8", "multicast"),
    ];
    always.iter().find_map(|(range, why)| {
        let range: IpNet = range.parse().ok()?;
        overlaps(net, &range).then_some(*why)
    })
}

/// Ranges a driver's network may take: private ones. Docker routes a network's subnet to its
/// bridge on the engine's machine, so a public range (say 198.51.100.0/24, or a DNS server's)
/// would send that machine's own traffic for it into the driver's network.
const PRIVATE: &[&str] = &[
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
    "fc00::/7",
];

fn private(net: &IpNet) -> bool {
    PRIVATE
        .iter()
        .filter_map(|r| r.parse::<IpNet>().ok())
        .any(|range| range.contains(net))
}

fn overlaps(a: &IpNet, b: &IpNet) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

fn check_subnet(network: &str, subnet: &wit::Subnet, host: &HostFacts) -> Result<(), String> {
    let net: IpNet = subnet.cidr.parse().map_err(|_| {
        format!(
            "network {network:?}: subnet {:?} is not a CIDR such as 10.125.50.0/24",
            subnet.cidr
        )
    })?;
    if net.trunc() != net {
        return Err(format!(
            "network {network:?}: subnet {} has host bits set; write {}",
            subnet.cidr,
            net.trunc()
        ));
    }
    if let Some(why) = forbidden(&net) {
        return Err(format!(
            "network {network:?}: subnet {} covers {why}; choose a private range such as 10.125.50.0/24",
            subnet.cidr
        ));
    }
    if !private(&net) {
        return Err(format!(
            "network {network:?}: subnet {} is not a private range ({}): Docker would route this \
             machine's traffic for it into the network; choose one such as 10.125.50.0/24",
            subnet.cidr,
            PRIVATE.join(", ")
        ));
    }
    if let Some((route, device)) = host.routes.iter().find(|(r, _)| overlaps(&net, r)) {
        return Err(format!(
            "network {network:?}: subnet {} overlaps the host's route to {route} (dev {device}); \
             choose a range the host does not route",
            subnet.cidr
        ));
    }
    if let Some(gateway) = &subnet.gateway {
        let ok = gateway
            .parse::<IpAddr>()
            .is_ok_and(|g| net.contains(&g) && g != net.network() && g != net.broadcast());
        if !ok {
            return Err(format!(
                "network {network:?}: gateway {gateway:?} is not a host address inside {}",
                subnet.cidr
            ));
        }
    }
    Ok(())
}

/// The host's routes and interfaces, read from /proc and /sys (Linux; empty elsewhere).
pub fn read_host_facts() -> HostFacts {
    let mut routes = Vec::new();
    if let Ok(text) = std::fs::read_to_string("/proc/net/route") {
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (Some(dev), Some(dest), Some(mask)) = (f.first(), f.get(1), f.get(7)) else {
                continue;
            };
            // The kernel prints each address as the hex of its in-memory (network order)
            // bytes read as a host-order number: the bytes come back out little-endian.
            let parse = |h: &str| {
                u32::from_str_radix(h, 16)
                    .ok()
                    .map(|v| std::net::Ipv4Addr::from(v.to_le_bytes()))
            };
            if let (Some(dest), Some(mask)) = (parse(dest), parse(mask))
                && !mask.is_unspecified()
                && let Ok(net) = ipnet::Ipv4Net::with_netmask(dest, mask)
            {
                routes.push((IpNet::V4(net), dev.to_string()));
            }
        }
    }
    if let Ok(text) = std::fs::read_to_string("/proc/net/ipv6_route") {
        for line in text.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (Some(dest), Some(len), Some(dev)) = (f.first(), f.get(1), f.last()) else {
                continue;
            };
            let Ok(len) = u8::from_str_radix(len, 16) else {
                continue;
            };
            let Ok(bits) = u128::from_str_radix(dest, 16) else {
                continue;
            };
            // Default routes, and the host routes of this machine's own addresses, which
            // the kernel lists as /128 on `lo`.
            if len == 0 || *dev == "lo" {
                continue;
            }
            if let Ok(net) = ipnet::Ipv6Net::new(bits.into(), len) {
                routes.push((IpNet::V6(net), dev.to_string()));
            }
        }
    }
    let interfaces = std::fs::read_dir("/sys/class/net")
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    HostFacts {
        routes,
        interfaces,
        local: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> HostFacts {
        HostFacts {
            routes: vec![
                ("192.0.2.0/24".parse().unwrap(), "eth0".into()),
                ("172.17.0.0/16".parse().unwrap(), "docker0".into()),
            ],
            interfaces: vec!["eth0".into(), "docker0".into(), "lo".into()],
            local: true,
        }
    }

    fn spec(name: &str, cidr: &str, options: &[(&str, &str)]) -> wit::NetworkSpec {
        wit::NetworkSpec {
            name: name.into(),
            subnets: vec![wit::Subnet {
                cidr: cidr.into(),
                gateway: None,
            }],
            labels: vec![],
            options: options
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            mtu: None,
            internal: false,
        }
    }

    fn check(s: &wit::NetworkSpec) -> Result<(), String> {
        check_spec(s, &DockerGrant::default(), &facts())
    }

    #[test]
    fn names_docker_reads_as_modes_are_refused() {
        for bad in [
            "container:abc",
            "host",
            "None",
            "bridge",
            "default",
            "",
            "-x",
            "a/b",
            "a b",
        ] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_name("lok8s-dev_1.x").is_ok());
    }

    #[test]
    fn subnets_stay_clear_of_host_routes_and_special_ranges() {
        for good in [
            "10.125.50.0/24",
            "192.168.77.0/24",
            "100.64.9.0/24",
            "fd12:3456::/64",
        ] {
            assert!(check(&spec("n", good, &[])).is_ok(), "{good}");
        }
        for bad in [
            "192.0.2.0/25",
            "192.0.0.0/16",
            "172.17.5.0/24",
            "169.254.0.0/24",
            "127.0.0.0/24",
            "100.100.100.0/24",
            "224.1.0.0/16",
            "0.0.0.0/0",
            "198.51.100.0/24",
            "8.8.8.0/24",
            "10.0.0.0/7",
            "2001:db8::/64",
            "fe80::/64",
            "10.125.50.1/24",
            "not-a-cidr",
        ] {
            assert!(check(&spec("n", bad, &[])).is_err(), "{bad}");
        }
        let mut no_subnet = spec("n", "10.1.0.0/24", &[]);
        no_subnet.subnets.clear();
        assert!(
            check(&no_subnet).is_ok(),
            "Docker's own pools skip host routes"
        );
        let mut bad_gateway = spec("n", "10.1.0.0/24", &[]);
        bad_gateway.subnets[0].gateway = Some("10.2.0.1".into());
        assert!(check(&bad_gateway).is_err());
    }

    #[test]
    fn only_known_options_with_safe_values() {
        assert!(
            check(&spec(
                "kind",
                "10.1.0.0/24",
                &[
                    (MASQUERADE, "true"),
                    (ICC, "true"),
                    (MTU_OPTION, "1500"),
                    (BRIDGE_NAME, "kind")
                ]
            ))
            .is_ok()
        );
        for (k, v) in [
            (MASQUERADE, "false"),
            (BRIDGE_NAME, "docker0"),
            (BRIDGE_NAME, "other"),
            (HOST_BINDING, "0.0.0.0"),
            (MTU_OPTION, "1"),
            ("com.docker.network.bridge.enable_ip_forwarding", "false"),
        ] {
            assert!(
                check(&spec("kind", "10.1.0.0/24", &[(k, v)])).is_err(),
                "{k}={v}"
            );
        }
        // A bridge named after the network, when an interface of that name exists.
        assert!(check(&spec("eth0", "10.1.0.0/24", &[(BRIDGE_NAME, "eth0")])).is_err());
        let remote = HostFacts::default();
        assert!(
            check_spec(
                &spec("kind", "10.1.0.0/24", &[(BRIDGE_NAME, "kind")]),
                &DockerGrant::default(),
                &remote
            )
            .is_err()
        );
        let publish = DockerGrant {
            publish: vec!["0.0.0.0".into()],
            ..Default::default()
        };
        assert!(
            check_spec(
                &spec("kind", "10.1.0.0/24", &[(HOST_BINDING, "0.0.0.0")]),
                &publish,
                &facts()
            )
            .is_ok()
        );
    }

    #[test]
    fn this_machines_routes_are_read() {
        let facts = read_host_facts();
        assert!(facts.interfaces.iter().any(|i| i == "lo"), "{facts:?}");
        // Every IPv4 route the kernel lists (default routes aside) is read, in network order.
        let listed = std::fs::read_to_string("/proc/net/route").unwrap();
        let expected = listed
            .lines()
            .skip(1)
            .filter(|l| l.split_whitespace().nth(7) != Some("00000000"))
            .count();
        let v4 = facts
            .routes
            .iter()
            .filter(|(r, _)| matches!(r, IpNet::V4(_)))
            .count();
        assert_eq!(v4, expected, "{facts:?}");
    }
}
