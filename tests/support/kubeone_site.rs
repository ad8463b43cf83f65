//! A Hetzner project in a box, for the KubeOne suite and its benchmark: the Cloud API double
//! (`hcloud_api.rs`) with the env that points the driver at it, and five machines
//! (`machine_image.rs`: OpenSSH sshd, stand-in kubeadm/kubectl that record their calls) on a
//! Docker network the caller's run made, reached only on 127.0.0.0/8 addresses the double
//! reports as the servers' public IPv4.

use std::net::TcpListener;

use serde_json::json;

use crate::Project;
use crate::docker::{Cleanup, docker};
use crate::hcloud_api::HcloudApi;
use crate::machine_image::machine_image;

pub const TOKEN: &str = "hcloud-test-token-91c2";
pub const DOMAIN: &str = "k1.test";

pub struct Setup {
    pub p: Project,
    pub api: HcloudApi,
    _ca: tempfile::NamedTempFile,
    pub env: Vec<(&'static str, String)>,
}

impl Setup {
    pub fn new(spec: &str) -> Setup {
        let api = HcloudApi::start(TOKEN);
        let p = Project::new();
        p.cluster(DOMAIN, "KubeOne", "prod", spec);
        let ca = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(ca.path(), &api.ca_pem).unwrap();
        let env = vec![
            ("HCLOUD_TOKEN", TOKEN.to_string()),
            ("HCLOUD_ENDPOINT", api.url()),
            ("HCLOUD_CA_CERT", ca.path().display().to_string()),
            ("HCLOUD_POLL_INTERVAL", "50ms".to_string()),
        ];
        Setup {
            p,
            api,
            _ca: ca,
            env,
        }
    }

    pub fn lo(&self, args: &[&str]) -> crate::Run {
        let env: Vec<(&str, &str)> = self.env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.p.lo_env(args, &env)
    }
}

pub const NAMES: [&str; 5] = [
    "prod-cp-0",
    "prod-cp-1",
    "prod-cp-2",
    "prod-w-0",
    "prod-w-1",
];

/// Addresses for this run: 127.<a>.<b>.x (loopback, unique per process) and a private subnet.
pub struct Addresses {
    pub loopback: String,
    pub private: String,
}

impl Addresses {
    /// Test `n` of this process.
    pub fn new(n: u32) -> Addresses {
        let pid = std::process::id();
        Addresses {
            loopback: format!("127.{}.{}", 100 + pid % 100, (pid / 100 + n) % 250),
            private: format!("10.{}.{}", 180 + pid % 50, (pid / 50 + n) % 250),
        }
    }
    pub fn public(&self, i: usize) -> String {
        format!("{}.{}", self.loopback, 10 + i)
    }
    pub fn lb(&self) -> String {
        format!("{}.9", self.loopback)
    }
    pub fn internal(&self, i: usize) -> String {
        format!("{}.{}", self.private, 2 + i)
    }
}

/// A port free on every address of this run.
pub fn free_port(a: &Addresses) -> u16 {
    for _ in 0..50 {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let free = (0..NAMES.len())
            .map(|i| a.public(i))
            .chain([a.lb()])
            .all(|ip| TcpListener::bind((ip.as_str(), port)).is_ok());
        if free {
            return port;
        }
    }
    panic!("no port free on every test address");
}

pub fn descriptor(a: &Addresses, ssh_port: u16) -> String {
    let servers: Vec<String> = NAMES
        .iter()
        .map(|name| {
            let role = if name.contains("-cp-") { "control-plane" } else { "worker" };
            format!(
                "      - {{name: {name}, type: cx22, image: debian-12, location: fsn1, ssh-key: [0], network: [0], label: 'lok8s.dev/cluster=prod,lok8s.dev/role={role}'}}\n"
            )
        })
        .collect();
    format!(
        "kubernetes: {{version: v1.35.0}}\nbootstrap: [hcloud-ccm]\nregistries:\n  registry.test:5000: {{auth: {{secretRef: {{name: regcred}}}}}}\nprovider:\n  name: hetzner\n  config:\n    cluster_name: prod\n    sshPort: {ssh_port}\n\
         \x20   ssh-key:\n      - {{name: prod-key, public-key: 'ssh-ed25519 AAAAC3Nz prod', label: 'lok8s.dev/cluster=prod'}}\n\
         \x20   network:\n      - {{name: prod-net, ip-range: '{p}.0/24', label: 'lok8s.dev/cluster=prod'}}\n\
         \x20   load-balancer:\n      - {{name: prod-api, type: lb11, location: fsn1, network: 0, label: 'lok8s.dev/cluster=prod'}}\n\
         \x20   server:\n{}",
        servers.concat(),
        p = a.private
    )
}

pub fn exec(container: &str, command: &str) -> String {
    let (code, out) = docker(&["exec", container, "sh", "-c", command]);
    assert_eq!(code, 0, "{container}: {command}: {out}");
    out
}

/// `sha256:<hex>` of a CA certificate's public key info, as kubeadm pins it.
pub fn ca_hash(pem: &str) -> String {
    use sha2::{Digest, Sha256};
    let (_, parsed) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).unwrap();
    let cert = parsed.parse_x509().unwrap();
    let digest = Sha256::digest(cert.public_key().raw);
    format!(
        "sha256:{}",
        digest
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    )
}

/// The five machines: containers on a network the test made, each server's addresses assigned
/// in the API double for when the provider creates it.
pub struct Machines {
    pub a: Addresses,
    pub containers: Vec<String>,
    _cleanup: Cleanup,
}

impl Machines {
    /// `standin` is the `lok8s-node-standin` binary.
    pub fn start(s: &Setup, a: Addresses, ssh_port: u16, standin: &std::path::Path) -> Machines {
        let mut cleanup = Cleanup::new(s.p.root());
        let image = machine_image(standin);
        // The registry login of spec.registries, in the cluster's secret cache.
        for (field, value) in [("username", "robot"), ("password", "s3cret\"pw")] {
            s.p.write(
                &format!("clusters/{DOMAIN}/secrets/Secret.regcred.provisioning.{field}"),
                format!("{value}\n"),
            );
        }
        std::fs::create_dir_all(s.p.path(".secrets/ssh")).unwrap();
        crate::sshd::keygen(&s.p.path(".secrets/ssh/id_ed25519"));
        let public_key = s.p.read(".secrets/ssh/id_ed25519.pub");
        let tag = format!("ko{}-{}", std::process::id(), a.loopback.replace('.', "-"));
        let network = format!("lok8s-test-{tag}");
        let subnet = format!("{}.0/24", a.private);
        let (code, out) = docker(&["network", "create", "--subnet", &subnet, &network]);
        assert_eq!(code, 0, "{out}");
        cleanup.networks.push(network.clone());
        let mut containers = Vec::new();
        for (i, name) in NAMES.iter().enumerate() {
            let container = format!("lok8s-test-{tag}-{name}");
            let ssh = format!("{}:{ssh_port}:22", a.public(i));
            let api = format!("{}:6443:6443", a.lb());
            let key = format!("AUTHORIZED_KEY={}", public_key.trim());
            let ip = a.internal(i);
            let mut args = vec![
                "run",
                "-d",
                "--name",
                &container,
                "--hostname",
                name,
                "--network",
                &network,
                "--network-alias",
                name,
                "--ip",
                &ip,
                "-p",
                &ssh,
                "-e",
                &key,
            ];
            if i == 0 {
                args.extend(["-p", api.as_str()]);
            }
            args.push(image);
            let (code, out) = docker(&args);
            assert_eq!(code, 0, "{out}");
            cleanup.containers.push(container.clone());
            containers.push(container);
            s.api.assign(
                "servers",
                name,
                json!({"status": "running",
                       "public_net": {"ipv4": {"ip": a.public(i)}, "ipv6": null},
                       "private_net": [{"ip": a.internal(i)}]}),
            );
        }
        s.api.assign(
            "load_balancers",
            "prod-api",
            json!({"public_net": {"ipv4": {"ip": a.lb()}},
                   "private_net": [{"ip": format!("{}.254", a.private)}]}),
        );
        Machines {
            a,
            containers,
            _cleanup: cleanup,
        }
    }
}

/// What the stand-in tools recorded on a machine (empty before anything ran).
pub fn calls(container: &str) -> String {
    exec(container, "cat /kind/calls.log 2>/dev/null || true")
}
