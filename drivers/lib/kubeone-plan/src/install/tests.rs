use super::*;
use lok8s_kubeadm::Output;
use std::collections::{BTreeMap, BTreeSet};

/// Hosts as files and probe answers; every command is recorded as `node: argv`.
#[derive(Default)]
struct Hosts {
    files: BTreeMap<(String, String), Vec<u8>>,
    calls: Vec<String>,
}

impl Hosts {
    fn has(&self, node: &str, path: &str) -> bool {
        self.files
            .contains_key(&(node.to_string(), path.to_string()))
    }
}

impl NodeShell for Hosts {
    fn run(&mut self, node: &str, argv: &[&str], stdin: Option<&[u8]>) -> Result<Output, String> {
        self.calls.push(format!("{node}: {}", argv.join(" ")));
        let ok = |stdout: Vec<u8>| Output {
            code: 0,
            stdout,
            stderr: vec![],
        };
        Ok(match argv {
            ["sh", "-c", script] if *script == PROBE => {
                let yes = |f: &str| if self.has(node, f) { "yes" } else { "no" };
                let kubeadm = if self.has(node, "/etc/kubernetes/kubelet.conf") { "v1.31.4" } else { "" };
                ok(format!(
                    "os=debian\nos_version=12\nkubeadm={kubeadm}\nadmin={}\nkubelet={}\n",
                    yes("/etc/kubernetes/admin.conf"),
                    yes("/etc/kubernetes/kubelet.conf")
                )
                .into_bytes())
            }
            ["test", "-f", path] => Output { code: if self.has(node, path) { 0 } else { 1 }, ..ok(vec![]) },
            ["cat", path] => ok(self.files[&(node.to_string(), path.to_string())].clone()),
            ["cp", "/dev/stdin", path] | ["sh", "-c", _, "sh", path] => {
                self.files.insert((node.into(), path.to_string()), stdin.unwrap_or_default().to_vec());
                ok(vec![])
            }
            ["sh", "-c", _] => ok(b"S2V5S2V5S2V5S2V5S2V5S2V5S2V5S2V5S2V5S2V5S2U=\n".to_vec()),
            ["kubeadm", "token", ..] => ok(format!(
                "kubeadm join lb:6443 --token abcdef.0123456789abcdef --discovery-token-ca-cert-hash sha256:{}\n",
                "c".repeat(64)
            ).into_bytes()),
            ["kubeadm", "join", ..] | ["kubeadm", "init", ..] => {
                for f in ["/etc/kubernetes/kubelet.conf", "/etc/kubernetes/admin.conf"] {
                    self.files.insert((node.into(), f.into()), b"apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: 'https://x:6443'}\nusers:\n- name: u\n  user: {}\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\n".to_vec());
                }
                ok(vec![])
            }
            _ => ok(vec![]),
        })
    }
}

#[test]
fn a_reinstalled_first_control_plane_joins_the_running_cluster() {
    let s = crate::settings("metadata: {name: prod}\nspec: {kubernetes: {version: v1.31.4}}\n")
        .unwrap();
    let cluster = Cluster {
        settings: &s,
        endpoint: "lb:6443".into(),
        cert_sans: vec![],
    };
    let host = |name: &str, role| Host {
        name: name.into(),
        role,
        private_ip: "10.0.0.2".into(),
    };
    let hosts = [
        host("cp-0", Role::ControlPlane),
        host("cp-1", Role::ControlPlane),
        host("w-0", Role::Worker),
    ];
    let mut sh = Hosts::default();
    // cp-1 and w-0 run the cluster; cp-0 was reinstalled (nothing on it).
    for (node, file) in [
        ("cp-1", "/etc/kubernetes/admin.conf"),
        ("cp-1", "/etc/kubernetes/kubelet.conf"),
        ("w-0", "/etc/kubernetes/kubelet.conf"),
    ] {
        sh.files.insert((node.into(), file.into()), b"apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: 'https://x:6443'}\nusers:\n- name: u\n  user: {}\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\n".to_vec());
    }
    for file in lok8s_kubeadm::SHARED_CONTROL_PLANE_FILES
        .iter()
        .filter(|f| !f.ends_with("admin.conf"))
    {
        sh.files
            .insert(("cp-1".into(), file.to_string()), b"shared".to_vec());
    }
    let done = install(&mut sh, &cluster, &hosts, None, None, &mut |_| {}).unwrap();
    assert!(!done.initialized, "{:#?}", sh.calls);
    assert_eq!(done.joined, ["cp-0"]);
    let ran: BTreeSet<&str> = sh.calls.iter().map(String::as_str).collect();
    assert!(
        !ran.iter().any(|c| c.contains("kubeadm init")),
        "{:#?}",
        sh.calls
    );
    assert!(ran.contains("cp-1: kubeadm token create --ttl 1h --print-join-command"));
    assert!(ran.contains("cp-0: kubeadm join --config /etc/kubeone/kubeadm.yaml"));
    assert!(
        !ran.iter().any(|c| c.starts_with("w-0: kubeadm")),
        "a joined worker was touched"
    );
    assert_eq!(
        sh.files[&("cp-0".to_string(), "/etc/kubernetes/pki/ca.key".to_string())],
        b"shared"
    );
}

#[test]
fn the_join_command_gives_token_and_hash() {
    let hash = "a".repeat(64);
    let text = format!(
        "kubeadm join 10.0.0.2:6443 --token abcdef.0123456789abcdef --discovery-token-ca-cert-hash sha256:{hash} \n"
    );
    let join = parse_join_command(&text).unwrap();
    assert_eq!(join.token, "abcdef.0123456789abcdef");
    assert_eq!(join.ca_cert_hash, format!("sha256:{hash}"));
    assert!(
        parse_join_command("kubeadm join x --token bad --discovery-token-ca-cert-hash sha256:00")
            .is_none()
    );
    assert!(parse_join_command("").is_none());
}
