use super::*;
use serde_yaml::Value;
use std::path::Path;

fn watching(entries: &[&str], env: &dyn Fn(&str) -> Option<String>) -> ReportedHosts {
    let spec = Value::Null;
    let values = OperatorValues {
        spec: &spec,
        spec_dir: Path::new("/nowhere"),
        env,
    };
    let hosts: Vec<String> = entries.iter().map(|s| s.to_string()).collect();
    let grants = crate::host::grants::Grants {
        ssh: Some(crate::host::ssh::grant::SshGrant {
            hosts: hosts.clone(),
            keys: vec![],
        }),
        kube: Some(crate::host::kube::grant::KubeGrant {
            servers: hosts,
            ..Default::default()
        }),
        ..Default::default()
    };
    ReportedHosts::from_grants(&grants, &values).unwrap()
}

fn url(s: &str) -> reqwest::Url {
    reqwest::Url::parse(s).unwrap()
}

const SERVERS: &str = r#"{"servers": [
  {"id": 1, "public_net": {"ipv4": {"ip": "203.0.113.70"}, "ipv6": {"ip": "2a01:4f8:1:2::/64"}},
   "private_net": [{"ip": "192.168.1.1"}]},
  {"id": 2, "public_net": {"ipv4": {"ip": "10.0.0.9"}, "ipv6": null}}
]}"#;

#[test]
fn public_addresses_of_servers_a_watched_api_answered_count() {
    let r = watching(
        &["hcloud-servers:https://api.hetzner.cloud", "10.0.0.1"],
        &|_| None,
    );
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    assert!(!r.contains(ip("203.0.113.70")), "nothing answered yet");
    r.observe(
        &url("https://api.hetzner.cloud/v1/servers?page=1"),
        200,
        false,
        SERVERS.as_bytes(),
    );
    assert!(r.contains(ip("203.0.113.70")));
    assert!(
        r.contains(ip("2a01:4f8:1:2::1")),
        "an address in the server's /64"
    );
    assert!(!r.contains(ip("2a01:4f8:1:3::1")));
    assert!(
        !r.contains(ip("192.168.1.1")),
        "a private network address the driver could choose"
    );
    assert!(
        !r.contains(ip("10.0.0.9")),
        "a private address from the cloud's API"
    );
}

#[test]
fn answers_of_other_origins_paths_and_failures_add_nothing() {
    let r = watching(&["hcloud-servers:https://api.hetzner.cloud"], &|_| None);
    let one = r#"{"server": {"public_net": {"ipv4": {"ip": "198.51.100.7"}}}}"#;
    let ip: IpAddr = "198.51.100.7".parse().unwrap();
    for (at, status) in [
        ("https://api.hetzner.cloud.evil.test/v1/servers/1", 200),
        ("http://api.hetzner.cloud/v1/servers/1", 200),
        ("https://api.hetzner.cloud:8443/v1/servers/1", 200),
        ("https://api.hetzner.cloud/v1/load_balancers/1", 200),
        ("https://api.hetzner.cloud/v1/servers/1/actions", 200),
        ("https://api.hetzner.cloud/v1/servers/1", 404),
    ] {
        r.observe(&url(at), status, false, one.as_bytes());
        assert!(!r.contains(ip), "{at} {status} reported a host");
    }
    r.observe(
        &url("https://API.hetzner.cloud/v1/servers/1"),
        201,
        false,
        one.as_bytes(),
    );
    assert!(r.contains(ip));
}

#[test]
fn a_loopback_api_may_report_loopback_machines_but_never_metadata() {
    let endpoint = |n: &str| (n == "HCLOUD_ENDPOINT").then(|| "https://127.0.0.1:4443/v1".into());
    let r = watching(&["hcloud-servers:env:HCLOUD_ENDPOINT"], &endpoint);
    let body = r#"{"servers": [{"public_net": {"ipv4": {"ip": "127.0.0.12"}}},
        {"public_net": {"ipv4": {"ip": "169.254.169.254"}}}]}"#;
    r.observe(
        &url("https://127.0.0.1:4443/v1/servers"),
        200,
        true,
        body.as_bytes(),
    );
    assert!(r.contains("127.0.0.12".parse().unwrap()));
    assert!(r.contains("::ffff:127.0.0.12".parse().unwrap()));
    assert!(!r.contains("169.254.169.254".parse().unwrap()));
    let unset = watching(&["hcloud-servers:env:HCLOUD_ENDPOINT"], &|_| None);
    assert!(!unset.watches_anything());
}

#[test]
fn a_watched_entry_must_be_an_origin() {
    let spec = Value::Null;
    let env = |_: &str| None;
    let values = OperatorValues {
        spec: &spec,
        spec_dir: Path::new("/nowhere"),
        env: &env,
    };
    let grants = crate::host::grants::Grants {
        ssh: Some(crate::host::ssh::grant::SshGrant {
            hosts: vec!["hcloud-servers:https://api.test/v1".into()],
            keys: vec![],
        }),
        ..Default::default()
    };
    let err = ReportedHosts::from_grants(&grants, &values).err().unwrap();
    assert!(err.contains("not an origin"), "{err}");
}

#[test]
fn load_balancers_become_api_server_origins() {
    let r = watching(
        &["hcloud-load-balancers:https://api.hetzner.cloud"],
        &|_| None,
    );
    let body = r#"{"load_balancer": {"public_net": {"ipv4": {"ip": "198.51.100.9"}},
        "private_net": [{"ip": "10.0.0.254"}]}}"#;
    r.observe(
        &url("https://api.hetzner.cloud/v1/servers/7"),
        200,
        false,
        body.as_bytes(),
    );
    assert!(r.balancer_origins().is_empty(), "a server answer");
    r.observe(
        &url("https://api.hetzner.cloud/v1/load_balancers/7"),
        200,
        false,
        body.as_bytes(),
    );
    assert_eq!(r.balancer_origins(), ["https://198.51.100.9:*"]);
    assert!(
        !r.contains("198.51.100.9".parse().unwrap()),
        "not an ssh host"
    );
}

#[test]
fn dedicated_servers_robot_listed_count_for_ssh_only() {
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    let r = watching(&["hrobot-servers:https://robot-ws.your-server.de"], &|_| {
        None
    });
    let robot = "https://robot-ws.your-server.de/server";
    let list = br#"[{"server": {"server_number": 321, "server_ip": "203.0.113.80",
        "server_ipv6_net": "2a01:4f8:111:4221::"}}]"#;
    assert!(!r.contains(ip("203.0.113.80")));
    // Another origin, an error, or the Cloud API's path shape add nothing.
    r.observe(&url("https://robot.example/server"), 200, false, list);
    r.observe(&url(robot), 401, false, list);
    r.observe(
        &url("https://robot-ws.your-server.de/servers"),
        200,
        false,
        list,
    );
    assert!(!r.contains(ip("203.0.113.80")));
    r.observe(&url(robot), 200, false, list);
    assert!(r.contains(ip("203.0.113.80")));
    assert!(r.contains(ip("2a01:4f8:111:4221::2")));
    assert!(r.balancer_origins().is_empty());
    // One server's answer, and a private address from the real service: not kept.
    let one = br#"{"server": {"server_number": 7, "server_ip": "10.1.2.3"}}"#;
    r.observe(
        &url("https://robot-ws.your-server.de/server/7"),
        200,
        false,
        one,
    );
    assert!(!r.contains(ip("10.1.2.3")));
    let one = br#"{"server": {"server_number": 8, "server_ip": "203.0.113.81"}}"#;
    r.observe(
        &url("https://robot-ws.your-server.de/server/8"),
        200,
        false,
        one,
    );
    assert!(r.contains(ip("203.0.113.81")));
    // Robot's answers never stand for cloud servers' rule and vice versa.
    let cloud = watching(&["hcloud-servers:https://robot-ws.your-server.de"], &|_| {
        None
    });
    cloud.observe(&url(robot), 200, false, list);
    assert!(!cloud.contains(ip("203.0.113.80")));
}

#[test]
fn entries_are_shown_in_words() {
    assert_eq!(
        shown("hcloud-servers:env:HCLOUD_ENDPOINT"),
        "servers the Hetzner Cloud API at the origin in $HCLOUD_ENDPOINT reports"
    );
    assert_eq!(
        shown("hrobot-servers:https://robot-ws.your-server.de"),
        "dedicated servers the Hetzner Robot webservice at https://robot-ws.your-server.de lists"
    );
    assert_eq!(
        shown("hcloud-load-balancers:https://api.hetzner.cloud"),
        "load balancers the Hetzner Cloud API at https://api.hetzner.cloud reports"
    );
    assert_eq!(shown("10.0.0.1:22"), "10.0.0.1:22");
}
