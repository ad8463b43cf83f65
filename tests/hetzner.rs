//! The Hetzner provider library (`drivers/providers/hetzner`, guest code compiled natively
//! here) against the Hetzner Cloud API double over HTTPS (`support/hcloud_api.rs`): a
//! descriptor becomes resources in creation order with their cross-references, subnets, load
//! balancer wiring and floating IP; a re-run creates nothing; a bad entry creates nothing.

use std::time::Duration;

use lok8s_provider_hetzner::cloud_api::{Answer, Cloud, Transport};
use lok8s_provider_hetzner::descriptor::Descriptor;
use lok8s_provider_hetzner::provision::{ProvisionError, provision};
use lok8s_tests::hcloud_api::HcloudApi;
use serde_json::json;

const TOKEN: &str = "hcloud-provider-token-5e1d";

/// Blocking HTTPS trusting the double's CA only: what the http import does for a driver.
struct Https(reqwest::blocking::Client);

impl Https {
    fn new(ca_pem: &str) -> Https {
        let ca = reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap();
        let client = reqwest::blocking::Client::builder()
            .tls_built_in_root_certs(false)
            .add_root_certificate(ca)
            .build()
            .unwrap();
        Https(client)
    }
}

impl Transport for Https {
    fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(String, String)],
        body: Option<Vec<u8>>,
        timeout: Duration,
    ) -> Result<Answer, String> {
        let mut request = self
            .0
            .request(method.parse().unwrap(), url)
            .timeout(timeout);
        for (k, v) in headers {
            request = request.header(k, v);
        }
        if let Some(body) = body {
            request = request.body(body);
        }
        let response = request.send().map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        let body = response.bytes().map_err(|e| e.to_string())?.to_vec();
        Ok((status, headers, body))
    }
    fn sleep(&self, d: Duration) {
        std::thread::sleep(d);
    }
    fn now(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }
}

const DESCRIPTOR: &str = r##"{
  "cluster_name": "edge",
  "ssh-key": [{"name": "edge-key", "public-key": "ssh-ed25519 AAAAC3Nz edge", "label": "lok8s.dev/cluster=edge"}],
  "floating-ip": [{"name": "edge-ip", "type": "ipv4", "home-location": "fsn1", "label": "lok8s.dev/cluster=edge"}],
  "network": [{"name": "edge-net", "ip-range": "10.0.0.0/16", "label": "lok8s.dev/cluster=edge",
               "#subnets": [{"network-zone": "eu-central", "type": "cloud", "ip-range": "10.0.1.0/24"}]}],
  "load-balancer": [{"name": "edge-api", "type": "lb11", "location": "fsn1", "label": "lok8s.dev/cluster=edge",
                     "#targets": [{"type": "server", "value": 0}, {"type": "label-selector", "value": "lok8s.dev/role=control-plane"}],
                     "#services": [{"protocol": "tcp", "listen-port": 6443, "destination-port": 6443}]}],
  "server": [{"name": "edge-cp-0", "type": "cx22", "image": "ubuntu-24.04", "location": "fsn1",
              "ssh-key": [0], "network": 0, "label": "lok8s.dev/cluster=edge,lok8s.dev/role=control-plane",
              "#floating-ip": 0},
             {"name": "edge-worker-0", "type": "cx22", "image": "ubuntu-24.04", "location": "fsn1",
              "ssh-key": [0], "network": [0], "label": "lok8s.dev/cluster=edge,lok8s.dev/role=worker"},
             {"name": "edge-metal-0", "#cloud.root": "true", "#external-ip": "203.0.113.7"}],
  "volume": [{"name": "edge-data", "size": 20, "server": 0, "automount": false, "label": "lok8s.dev/cluster=edge"}]
}"##;

fn user_data(
    index: usize,
    _: &lok8s_provider_hetzner::descriptor::Entry,
) -> Result<String, String> {
    Ok(format!("#cloud-config\nhostname: server-{index}\n"))
}

#[test]
fn a_descriptor_becomes_its_resources_once() {
    let api = HcloudApi::start(TOKEN);
    api.script(|s| {
        s.action_polls = 1;
        s.rate_limited = 1;
    });
    let https = Https::new(&api.ca_pem);
    let mut cloud = Cloud::new(&api.url(), TOKEN, &https);
    cloud.tuning.action_interval = Duration::from_millis(20);
    let descriptor = Descriptor::parse(DESCRIPTOR).unwrap();
    let done = provision(&cloud, &descriptor, &user_data, &mut |_| {}).unwrap();
    let created: Vec<String> = done
        .created
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    assert_eq!(
        created,
        [
            "ssh-key edge-key",
            "floating-ip edge-ip",
            "network edge-net",
            "load-balancer edge-api",
            "server edge-cp-0",
            "server edge-worker-0",
            "volume edge-data"
        ],
        "in creation order; bare metal is not a cloud resource"
    );
    let id = |collection: &str, name: &str| api.object(collection, name).unwrap()["id"].clone();
    let cp = api.object("servers", "edge-cp-0").unwrap();
    assert_eq!(cp["server_type"], "cx22");
    assert_eq!(cp["ssh_keys"], json!([id("ssh_keys", "edge-key")]));
    assert_eq!(cp["networks"], json!([id("networks", "edge-net")]));
    assert_eq!(cp["user_data"], "#cloud-config\nhostname: server-0\n");
    assert_eq!(
        cp["labels"],
        json!({"lok8s.dev/cluster": "edge", "lok8s.dev/role": "control-plane"})
    );
    let network = api.object("networks", "edge-net").unwrap();
    assert_eq!(
        network["subnets"],
        json!([{"type": "cloud", "network_zone": "eu-central", "ip_range": "10.0.1.0/24"}])
    );
    let lb = api.object("load_balancers", "edge-api").unwrap();
    assert_eq!(
        lb["private_net"],
        json!([{"network": id("networks", "edge-net")}])
    );
    assert_eq!(
        lb["targets"],
        json!([
            {"type": "server", "server": {"id": id("servers", "edge-cp-0")}, "use_private_ip": true},
            {"type": "label_selector", "label_selector": {"selector": "lok8s.dev/role=control-plane"}, "use_private_ip": true}
        ])
    );
    assert_eq!(
        lb["services"],
        json!([{"protocol": "tcp", "listen_port": 6443, "destination_port": 6443}])
    );
    assert_eq!(
        api.object("floating_ips", "edge-ip").unwrap()["server"],
        id("servers", "edge-cp-0")
    );
    assert_eq!(
        api.object("volumes", "edge-data").unwrap()["server"],
        id("servers", "edge-cp-0")
    );
    let dump = done.dump(&descriptor);
    assert_eq!(dump["server"][1]["id"], id("servers", "edge-worker-0"));
    assert!(
        dump["server"][2].get("id").is_none(),
        "bare metal has no cloud id"
    );

    // Again: everything is found by name; nothing is created, the wiring is not repeated.
    let before = api.seen().len();
    let again = provision(&cloud, &descriptor, &user_data, &mut |_| {}).unwrap();
    assert!(again.created.is_empty(), "{:?}", again.created);
    assert_eq!(again.ids, done.ids);
    let posts: Vec<String> = api.seen()[before..]
        .iter()
        .filter(|l| l.starts_with("POST") && !l.contains("/actions/"))
        .cloned()
        .collect();
    assert!(posts.is_empty(), "{posts:?}");
    assert_eq!(
        api.object("load_balancers", "edge-api").unwrap()["targets"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn an_entry_lo_cannot_map_creates_nothing() {
    let api = HcloudApi::start(TOKEN);
    let https = Https::new(&api.ca_pem);
    let cloud = Cloud::new(&api.url(), TOKEN, &https);
    let bad = DESCRIPTOR.replace("\"image\": \"ubuntu-24.04\", \"location\": \"fsn1\",\n              \"ssh-key\": [0], \"network\": [0]", "\"colour\": \"red\", \"ssh-key\": [0], \"network\": [0]");
    assert_ne!(bad, DESCRIPTOR);
    let descriptor = Descriptor::parse(&bad).unwrap();
    let e = provision(&cloud, &descriptor, &user_data, &mut |_| {}).unwrap_err();
    let ProvisionError::Descriptor(message) = e else {
        panic!("{e}")
    };
    assert!(
        message.starts_with("server[1].colour: not a server setting"),
        "{message}"
    );
    assert!(api.seen().is_empty(), "{:?}", api.seen());
}

#[test]
fn dedicated_workers_are_named_after_their_hostnames_through_robot() {
    use lok8s_provider_hetzner::robot_api::{Named, Robot, name_workers};
    let api = lok8s_tests::robot_api::RobotApi::start("robot-user", "robot-pass-3d9");
    api.seed(321, "203.0.113.7", "EX44 #321");
    api.seed(322, "203.0.113.8", "metal-1");
    let https = Https::new(&api.ca_pem);
    let robot = Robot::new(&api.url(), "robot-user", "robot-pass-3d9", &https);
    let workers: Vec<(String, String)> = [
        ("metal-0", "203.0.113.7"),
        ("metal-1", "203.0.113.8"),
        ("cloud-0", "198.51.100.1"),
    ]
    .iter()
    .map(|(h, a)| (h.to_string(), a.to_string()))
    .collect();
    let named = name_workers(&robot, &workers).unwrap();
    assert_eq!(
        named,
        [
            ("metal-0".to_string(), Named::Renamed(321)),
            ("metal-1".to_string(), Named::Unchanged(322)),
            ("cloud-0".to_string(), Named::NotDedicated),
        ]
    );
    assert_eq!(api.names()[&321], "metal-0");
    assert_eq!(
        api.seen(),
        ["GET /server", "POST /server/321 server_name=metal%2D0"]
    );

    // Wrong credentials: said, without the password.
    let wrong = Robot::new(&api.url(), "robot-user", "not-the-pass-77", &https);
    let e = name_workers(&wrong, &workers).unwrap_err();
    assert!(
        e.contains("401 UNAUTHORIZED") && e.contains("HROBOT_USER"),
        "{e}"
    );
    assert!(!e.contains("not-the-pass-77"), "{e}");
    // A hostname that is not one: refused before any request.
    let before = api.seen().len();
    let bad = vec![("metal 0; reboot".to_string(), "203.0.113.7".to_string())];
    assert!(
        name_workers(&robot, &bad)
            .unwrap_err()
            .contains("invalid hostname")
    );
    assert_eq!(api.seen().len(), before);
}
