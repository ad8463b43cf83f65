//! What every Lo test stands on: a throwaway project with its cluster spec, network and
//! CA, a forwarder to reach unpublished ports, openssl checks and a kube-rs client.

use std::path::Path;

use lok8s_tests::Project;
use lok8s_tests::docker::{Cleanup, busybox, docker, inspect};
use lok8s_tests::images::{node_image, registry_image};

pub fn standin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_lok8s-node-standin"))
}

/// A Lo cluster `name` on network `net` (10.214.`n`.0/24), with project-local registries and
/// one mirror unless `extra` says otherwise. Mirrors pull through their upstream, which must
/// stay inside the test's networks: the project's own cache registry (TLS, dev CA).
pub struct Lo {
    pub p: Project,
    pub cleanup: Cleanup,
    pub name: String,
    pub net: String,
    pub caroot: tempfile::TempDir,
}

pub const DOMAIN: &str = "lo-e2e.test";

/// A stand-in for the Cilium chart's agent: what the bootstrap applies for the default spec.
pub const STANDIN_CILIUM: &str = "apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: cilium\n  \
    namespace: kube-system\nspec:\n  selector:\n    matchLabels: {k8s-app: cilium}\n  template:\n    \
    metadata:\n      labels: {k8s-app: cilium}\n    spec:\n      containers:\n        - name: agent\n          \
    image: quay.io/cilium/cilium:v1.19.2\n          env:\n            - {name: POD_SUBNET, value: \"${LOK8S_SPEC_KIND_PODSUBNET}\"}\n            \
    - {name: CLUSTER, value: \"${LOK8S_SPEC_CLUSTER_NAME}\"}\n";

impl Lo {
    pub fn new(n: u8, extra: &str) -> Lo {
        Lo::with_kubernetes(n, "", extra)
    }

    /// With more `spec.kubernetes` fields (`, key: value` pairs).
    pub fn with_kubernetes(n: u8, kubernetes: &str, extra: &str) -> Lo {
        let p = Project::new();
        let name = format!("loe2e{n}");
        let net = format!("loe2e{n}-net");
        let body = format!(
            "cluster: {{domain: {DOMAIN}}}\nnetwork: {{name: {net}, cidr: 10.214.{n}.0/24}}\n\
             kubernetes: {{version: v1.35.0, image: {}{kubernetes}}}\n{extra}",
            node_image(standin())
        );
        let body = if body.contains("registries:") {
            body
        } else {
            format!(
                "{body}registries:\n  image: {}\n  shared: {{enabled: false}}\n  mirrors:\n    - {{name: io-docker, url: \"https://10.214.{n}.102\"}}\n",
                registry_image()
            )
        };
        p.cluster(DOMAIN, "Lo", &name, &body);
        if !body.contains("bootstrap:") {
            // The default spec bootstraps `cilium`, a Helm chart (no helm or internet here);
            // the project's own addon of that name takes its place, as a user's may.
            p.write(
                ".lok8s/addons/cilium/kustomization.yaml",
                "resources: [cilium.yaml]\n",
            );
            p.write(".lok8s/addons/cilium/cilium.yaml", STANDIN_CILIUM);
        }
        let cleanup = Cleanup::new(p.root());
        let caroot = tempfile::tempdir().unwrap();
        Lo {
            p,
            cleanup,
            name,
            net,
            caroot,
        }
    }

    pub fn lo(&self, args: &[&str]) -> lok8s_tests::Run {
        self.lo_with(args, &[])
    }

    /// With more environment variables (a remote engine's DOCKER_HOST, say).
    pub fn lo_with(&self, args: &[&str], env: &[(&str, &str)]) -> lok8s_tests::Run {
        let caroot = self.caroot.path().display().to_string();
        let mut all = vec![
            ("LO_PRIVILEGED_MODE", "capabilities"),
            ("CAROOT", caroot.as_str()),
        ];
        all.extend_from_slice(env);
        self.p.lo_env(args, &all)
    }

    pub fn node(&self) -> String {
        format!("{}-control-plane", self.name)
    }

    pub fn exec(&self, container: &str, cmd: &str) -> String {
        let (code, out) = docker(&["exec", container, "sh", "-c", cmd]);
        assert_eq!(code, 0, "docker exec {container} {cmd}: {out}");
        out
    }

    pub fn id(&self, container: &str) -> String {
        inspect("container", container).expect(container)["Id"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

/// A TCP forwarder on the project network, published on 127.0.0.1: the way the test reaches
/// a registry that publishes no port. Returns the host port.
pub fn forward(cleanup: &mut Cleanup, net: &str, target: &str, port: u16) -> String {
    let name = format!("{net}-fwd-{}-{port}", target.replace('.', "-"));
    let (code, out) = docker(&[
        "run",
        "-d",
        "--name",
        &name,
        "--network",
        net,
        "-p",
        "127.0.0.1::8443",
        busybox(),
        "nc",
        "-ll",
        "-p",
        "8443",
        "-e",
        "nc",
        target,
        &port.to_string(),
    ]);
    assert_eq!(code, 0, "{out}");
    cleanup.containers.push(name.clone());
    let (_, mapped) = docker(&["port", &name, "8443/tcp"]);
    mapped
        .lines()
        .next()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .to_string()
}

/// `openssl s_client` against the forwarded port, verifying against the dev CA.
pub fn tls_verify(caroot: &Path, port: &str, server_name: &str) -> String {
    let out = std::process::Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &format!("127.0.0.1:{port}"),
            "-servername",
            server_name,
            "-CAfile",
            &caroot.join("rootCA.pem").display().to_string(),
            "-verify_return_error",
            "-verify_hostname",
            server_name,
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

/// A kube-rs client on the kubeconfig the driver wrote, with the runtime it lives on.
pub struct Api {
    pub rt: tokio::runtime::Runtime,
    pub client: kube::Client,
}

impl Api {
    pub fn new(kubeconfig: &Path) -> Api {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let rt = tokio::runtime::Runtime::new().unwrap();
        let client = rt.block_on(async {
            let kc = kube::config::Kubeconfig::read_from(kubeconfig).unwrap();
            let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
                .await
                .unwrap();
            kube::Client::try_from(config).unwrap()
        });
        Api { rt, client }
    }

    pub fn get(&self, path: &str) -> serde_json::Value {
        self.rt.block_on(async {
            let req = http::Request::get(path).body(Vec::new()).unwrap();
            self.client
                .request::<serde_json::Value>(req)
                .await
                .unwrap_or_else(|e| panic!("GET {path}: {e}"))
        })
    }
}
