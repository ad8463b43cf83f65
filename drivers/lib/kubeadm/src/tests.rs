//! The orchestration against an in-memory node shell that records every command, the way a
//! node would answer `test -f`, `cat`, `cp /dev/stdin` and `mkdir -p`.

use std::collections::HashMap;

use super::*;

#[derive(Default)]
struct Recorder {
    files: HashMap<(String, String), Vec<u8>>,
    calls: Vec<String>,
}

impl NodeShell for Recorder {
    fn run(&mut self, node: &str, argv: &[&str], stdin: Option<&[u8]>) -> Result<Output, String> {
        self.calls.push(format!("{node}: {}", argv.join(" ")));
        let key = |p: &str| (node.to_string(), p.to_string());
        let ok = |stdout: Vec<u8>| {
            Ok(Output {
                code: 0,
                stdout,
                stderr: vec![],
            })
        };
        match argv {
            ["test", "-f", p] => Ok(Output {
                code: if self.files.contains_key(&key(p)) {
                    0
                } else {
                    1
                },
                ..Default::default()
            }),
            ["cat", p] => match self.files.get(&key(p)) {
                Some(b) => ok(b.clone()),
                None => Ok(Output {
                    code: 1,
                    stderr: b"No such file".to_vec(),
                    ..Default::default()
                }),
            },
            ["cp", "/dev/stdin", p] => {
                self.files
                    .insert(key(p), stdin.unwrap_or_default().to_vec());
                ok(vec![])
            }
            ["kubeadm", "init", ..] => {
                self.files
                    .insert(key(ADMIN_CONF), ADMIN.as_bytes().to_vec());
                ok(vec![])
            }
            ["kubeadm", "join", ..] => {
                self.files.insert(key(KUBELET_CONF), vec![]);
                ok(vec![])
            }
            _ => ok(vec![]),
        }
    }
}

const ADMIN: &str = "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    certificate-authority-data: Q0E=\n    server: https://dev-control-plane:6443\n  name: dev\ncontexts:\n- context:\n    cluster: dev\n    user: kubernetes-admin\n  name: kubernetes-admin@dev\ncurrent-context: kubernetes-admin@dev\nusers:\n- name: kubernetes-admin\n  user:\n    client-certificate-data: Q0VSVA==\n";

fn cluster() -> ClusterConfig {
    ClusterConfig {
        name: "dev".into(),
        control_plane_endpoint: "dev-control-plane:6443".into(),
        pod_subnet: "10.244.0.0/16".into(),
        service_subnet: "10.96.0.0/12".into(),
        cert_sans: vec!["localhost".into(), "127.0.0.1".into()],
        api_server_args: vec![(
            "authentication-config".into(),
            "/etc/kubernetes/oidc/auth-config.yaml".into(),
        )],
        api_server_volumes: vec![HostPathVolume {
            name: "oidc-auth-config".into(),
            path: "/etc/kubernetes/oidc/auth-config.yaml".into(),
        }],
        token: "abcdef.0123456789abcdef".into(),
    }
}

fn node(name: &str, control_plane: bool) -> NodeConfig {
    NodeConfig {
        name: name.into(),
        control_plane,
        address: "10.125.42.151".into(),
        labels: vec![("ingress-ready".into(), "true".into())],
        provider_id: format!("kind://docker/dev/{name}"),
    }
}

fn documents(text: &str) -> Vec<serde_yaml::Value> {
    text.split("\n---\n")
        .map(|d| serde_yaml::from_str(d).unwrap())
        .collect()
}

#[test]
fn config_follows_the_kubeadm_api_of_the_version() {
    let v3 = render(
        &cluster(),
        &node("dev-control-plane", true),
        Version::new(1, 35, 0),
    );
    let docs = documents(&v3);
    let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "ClusterConfiguration",
            "InitConfiguration",
            "JoinConfiguration",
            "KubeletConfiguration",
            "KubeProxyConfiguration"
        ]
    );
    assert_eq!(docs[0]["apiVersion"], "kubeadm.k8s.io/v1beta3");
    assert_eq!(
        docs[0]["apiServer"]["extraArgs"]["authentication-config"],
        "/etc/kubernetes/oidc/auth-config.yaml"
    );
    assert_eq!(
        docs[1]["nodeRegistration"]["kubeletExtraArgs"]["node-labels"],
        "ingress-ready=true"
    );
    assert_eq!(
        docs[2]["controlPlane"]["localAPIEndpoint"]["advertiseAddress"],
        "10.125.42.151"
    );
    assert!(
        docs[0].get("metadata").is_none(),
        "kind strips the patch-matching metadata"
    );
    let v4 = documents(&render(
        &cluster(),
        &node("dev-worker", false),
        Version::new(1, 36, 1),
    ));
    assert_eq!(v4[0]["apiVersion"], "kubeadm.k8s.io/v1beta4");
    let args = v4[0]["apiServer"]["extraArgs"].as_sequence().unwrap();
    assert!(args.iter().any(|a| a["name"] == "authentication-config"));
    assert!(
        v4[2].get("controlPlane").is_none(),
        "workers join without a control-plane block"
    );
    assert_eq!(v4[3]["cgroupDriver"], "systemd");
}

#[test]
fn init_join_and_kubeconfig_are_repeatable() {
    let mut sh = Recorder::default();
    sh.files.insert(
        (
            "dev-control-plane".into(),
            "/kind/manifests/default-storage.yaml".into(),
        ),
        b"kind: StorageClass\n".to_vec(),
    );
    let v = Version::new(1, 35, 0);
    configure(&mut sh, &cluster(), &node("dev-control-plane", true), v).unwrap();
    assert!(init(&mut sh, "dev-control-plane", v, true).unwrap());
    assert!(install_storage(&mut sh, "dev-control-plane").unwrap());
    assert!(
        !install_cni(&mut sh, "dev-control-plane", "10.244.0.0/16", "x:6443").unwrap(),
        "no CNI manifest"
    );
    assert!(join(&mut sh, "dev-worker", v).unwrap());
    let first = sh.calls.clone();
    assert!(first.iter().any(|c| c == "dev-control-plane: kubeadm init --config=/kind/kubeadm.conf --skip-token-print --v=6"), "{first:#?}");
    assert!(
        first
            .iter()
            .any(|c| c.ends_with("taint nodes --all node-role.kubernetes.io/control-plane-")),
        "{first:#?}"
    );
    assert!(
        first.iter().any(|c| c.ends_with("apply -f -")),
        "{first:#?}"
    );
    assert!(
        first
            .iter()
            .any(|c| c == "dev-worker: kubeadm join --config /kind/kubeadm.conf --v=6"),
        "{first:#?}"
    );
    // Second run: nothing is initialised or joined again.
    assert!(!init(&mut sh, "dev-control-plane", v, true).unwrap());
    assert!(!join(&mut sh, "dev-worker", v).unwrap());
    assert!(
        !sh.calls[first.len()..]
            .iter()
            .any(|c| c.contains("kubeadm"))
    );

    let kc = admin_kubeconfig(
        &mut sh,
        "dev-control-plane",
        "dev",
        "https://127.0.0.1:40001",
    )
    .unwrap();
    let doc: serde_yaml::Value = serde_yaml::from_str(&kc).unwrap();
    assert_eq!(doc["clusters"][0]["name"], "kind-dev");
    assert_eq!(
        doc["clusters"][0]["cluster"]["server"],
        "https://127.0.0.1:40001"
    );
    assert_eq!(
        doc["clusters"][0]["cluster"]["certificate-authority-data"],
        "Q0E="
    );
    assert_eq!(doc["users"][0]["name"], "kind-dev");
    assert_eq!(doc["contexts"][0]["context"]["user"], "kind-dev");
    assert_eq!(doc["current-context"], "kind-dev");
    assert!(admin_kubeconfig(&mut sh, "dev-worker", "dev", "x").is_err());
}

#[test]
fn versions() {
    assert_eq!(Version::parse("v1.36.0-rc.1"), Some(Version::new(1, 36, 0)));
    assert_eq!(Version::parse("1.31.2"), Some(Version::new(1, 31, 2)));
    assert_eq!(Version::parse("v1.31"), None);
    assert!(Version::new(1, 9, 0) < Version::new(1, 23, 0));
}

#[test]
fn default_cni_is_templated_and_patched_like_kind_does() {
    let manifest = "# would you kindly template this file\n# would you kindly patch this file\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: kindnet}\n---\napiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: kindnet}\nspec:\n  template:\n    spec:\n      containers:\n        - name: kindnet-cni\n          env:\n            - {name: POD_SUBNET, value: \"{{ .PodSubnet }}\"}\n";
    let out = default_cni_manifest(manifest, "10.244.0.0/16", "dev-control-plane:6443").unwrap();
    let docs = documents(&out);
    assert_eq!(docs.len(), 2);
    let env = &docs[1]["spec"]["template"]["spec"]["containers"][0]["env"];
    assert_eq!(env[0]["value"], "10.244.0.0/16");
    assert_eq!(env[1]["name"], "CONTROL_PLANE_ENDPOINT");
    assert_eq!(env[1]["value"], "dev-control-plane:6443");
    assert_eq!(
        default_cni_manifest("kind: X\n", "a", "b").unwrap(),
        "kind: X\n"
    );
}

#[test]
fn control_planes_share_the_bootstrap_pki_before_they_join_and_never_again() {
    let mut sh = Recorder::default();
    let v = Version::new(1, 35, 0);
    // Before init the files are missing: the copy says so instead of writing half of them.
    let err =
        share_control_plane_files(&mut sh, "ha-control-plane", "ha-control-plane2").unwrap_err();
    assert!(err.contains("/etc/kubernetes/admin.conf"), "{err}");
    assert!(init(&mut sh, "ha-control-plane", v, false).unwrap());
    for path in SHARED_CONTROL_PLANE_FILES.iter().skip(1) {
        sh.files.insert(
            ("ha-control-plane".into(), path.to_string()),
            format!("bytes of {path}").into_bytes(),
        );
    }
    assert!(share_control_plane_files(&mut sh, "ha-control-plane", "ha-control-plane2").unwrap());
    for path in SHARED_CONTROL_PLANE_FILES {
        assert_eq!(
            sh.files
                .get(&("ha-control-plane2".into(), path.to_string())),
            sh.files.get(&("ha-control-plane".into(), path.to_string())),
            "{path}"
        );
    }
    assert!(
        sh.calls
            .iter()
            .any(|c| c == "ha-control-plane2: mkdir -p /etc/kubernetes/pki/etcd")
    );
    assert!(join(&mut sh, "ha-control-plane2", v).unwrap());
    let before = sh.calls.len();
    assert!(!share_control_plane_files(&mut sh, "ha-control-plane", "ha-control-plane2").unwrap());
    assert!(
        !sh.calls[before..]
            .iter()
            .any(|c| c.contains("cp /dev/stdin")),
        "a joined control plane keeps its files"
    );
}

#[test]
fn a_step_on_each_node_runs_everywhere_and_names_every_failure() {
    let mut sh = Recorder::default();
    sh.files
        .insert(("b".into(), "/kind/x".into()), b"B".to_vec());
    let commands = Command::on_each(["a", "b", "c"], &["cat", "/kind/x"], None);
    let err = run_ok_each(&mut sh, &commands).unwrap_err();
    // a and c fail, b still ran between them; the error names both, in order.
    assert_eq!(
        sh.calls,
        ["a: cat /kind/x", "b: cat /kind/x", "c: cat /kind/x"]
    );
    let (first, second) = err.split_once('\n').unwrap();
    assert!(first.contains("on a exited with 1"), "{err}");
    assert!(second.contains("on c exited with 1"), "{err}");
    sh.files
        .insert(("a".into(), "/kind/x".into()), b"A".to_vec());
    sh.files
        .insert(("c".into(), "/kind/x".into()), b"C".to_vec());
    let outputs = run_ok_each(&mut sh, &commands).unwrap();
    let read: Vec<&[u8]> = outputs.iter().map(|o| o.stdout.as_slice()).collect();
    assert_eq!(read, [b"A", b"B", b"C"]);
}
