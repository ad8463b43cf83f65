//! The built-in Lo driver end to end on the real dockerd: networks, registries served over TLS
//! (checked with openssl against the dev CA through a port published on 127.0.0.1), the
//! `certs.d` tree on disk and in the nodes, kind-compatible node containers driven through
//! `docker exec` (the stand-in node image records kubeadm and kubectl calls and serves the
//! Kubernetes API double on 6443), the cluster objects read back through the published port,
//! convergence, status, destroy, and the original's bugs each failing on the
//! original behaviour. Needs a running dockerd (`.ci/run` starts one).

use std::path::{Path, PathBuf};

use lok8s_tests::Project;
use lok8s_tests::docker::{Cleanup, busybox, docker, inspect};
use lok8s_tests::images::{haproxy_image, node_image, registry_image};

fn standin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_lok8s-node-standin"))
}

/// A Lo cluster `name` on network `net` (10.214.`n`.0/24), with project-local registries and
/// one mirror unless `extra` says otherwise. Mirrors pull through their upstream, which must
/// stay inside the test's networks: the project's own cache registry (TLS, dev CA).
struct Lo {
    p: Project,
    cleanup: Cleanup,
    name: String,
    net: String,
    caroot: tempfile::TempDir,
}

const DOMAIN: &str = "lo-e2e.test";

/// A stand-in for the Cilium chart's agent: what the bootstrap applies for the default spec.
const STANDIN_CILIUM: &str = "apiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n  name: cilium\n  \
    namespace: kube-system\nspec:\n  selector:\n    matchLabels: {k8s-app: cilium}\n  template:\n    \
    metadata:\n      labels: {k8s-app: cilium}\n    spec:\n      containers:\n        - name: agent\n          \
    image: quay.io/cilium/cilium:v1.19.2\n          env:\n            - {name: POD_SUBNET, value: \"${LOK8S_SPEC_KIND_PODSUBNET}\"}\n            \
    - {name: CLUSTER, value: \"${LOK8S_SPEC_CLUSTER_NAME}\"}\n";

impl Lo {
    fn new(n: u8, extra: &str) -> Lo {
        Lo::with_kubernetes(n, "", extra)
    }

    /// With more `spec.kubernetes` fields (`, key: value` pairs).
    fn with_kubernetes(n: u8, kubernetes: &str, extra: &str) -> Lo {
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

    fn lo(&self, args: &[&str]) -> lok8s_tests::Run {
        self.lo_with(args, &[])
    }

    /// With more environment variables (a remote engine's DOCKER_HOST, say).
    fn lo_with(&self, args: &[&str], env: &[(&str, &str)]) -> lok8s_tests::Run {
        let caroot = self.caroot.path().display().to_string();
        let mut all = vec![
            ("LO_PRIVILEGED_MODE", "capabilities"),
            ("CAROOT", caroot.as_str()),
        ];
        all.extend_from_slice(env);
        self.p.lo_env(args, &all)
    }

    fn node(&self) -> String {
        format!("{}-control-plane", self.name)
    }

    fn exec(&self, container: &str, cmd: &str) -> String {
        let (code, out) = docker(&["exec", container, "sh", "-c", cmd]);
        assert_eq!(code, 0, "docker exec {container} {cmd}: {out}");
        out
    }

    fn id(&self, container: &str) -> String {
        inspect("container", container).expect(container)["Id"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

/// A TCP forwarder on the project network, published on 127.0.0.1: the way the test reaches
/// a registry that publishes no port. Returns the host port.
fn forward(cleanup: &mut Cleanup, net: &str, target: &str, port: u16) -> String {
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
fn tls_verify(caroot: &Path, port: &str, server_name: &str) -> String {
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
struct Api {
    rt: tokio::runtime::Runtime,
    client: kube::Client,
}

impl Api {
    fn new(kubeconfig: &Path) -> Api {
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

    fn get(&self, path: &str) -> serde_json::Value {
        self.rt.block_on(async {
            let req = http::Request::get(path).body(Vec::new()).unwrap();
            self.client
                .request::<serde_json::Value>(req)
                .await
                .unwrap_or_else(|e| panic!("GET {path}: {e}"))
        })
    }
}

#[test]
fn provision_converges_reports_and_destroys() {
    let mut lo = Lo::new(
        1,
        "coredns:\n  hosts:\n    - {name: apps.test, target: 10.214.1.200}\noidc: {issuer: \"https://id.example.test\", clientID: kubectl}\nnodes: {maxConcurrentDownloads: 5}\nbootstrap: []\n",
    );
    let run = lo.lo(&["provision", DOMAIN]);
    run.success();

    // Network.
    let net = inspect("network", &lo.net).expect("project network");
    assert_eq!(net["IPAM"]["Config"][0]["Subnet"], "10.214.1.0/24");
    assert_eq!(
        net["Options"]["com.docker.network.bridge.name"],
        lo.net.as_str()
    );

    // Registries: fixed IPs, restart always, a volume, no bind mounts.
    for (reg, ip) in [
        ("build", "10.214.1.101"),
        ("cache", "10.214.1.102"),
        ("io-docker", "10.214.1.103"),
    ] {
        let name = format!("{}-registry-{reg}", lo.net);
        let c = inspect("container", &name).unwrap_or_else(|| panic!("{name} exists"));
        assert_eq!(c["State"]["Running"], true, "{name}");
        assert_eq!(
            c["NetworkSettings"]["Networks"][&lo.net]["IPAMConfig"]["IPv4Address"],
            ip
        );
        assert_eq!(c["HostConfig"]["RestartPolicy"]["Name"], "always");
        let mounts = c["Mounts"].as_array().unwrap();
        assert_eq!(mounts.len(), 1, "{mounts:?}");
        assert_eq!(mounts[0]["Type"], "volume");
        assert_eq!(mounts[0]["Name"], name.as_str());
        assert_eq!(mounts[0]["Destination"], "/var/lib/registry");
    }
    // TLS on 443 with a certificate openssl accepts against the dev CA, for its host name.
    let port = forward(&mut lo.cleanup, &lo.net, "10.214.1.101", 443);
    let out = tls_verify(lo.caroot.path(), &port, "lok8s.local");
    assert!(out.contains("Verify return code: 0 (ok)"), "{out}");
    let out = tls_verify(lo.caroot.path(), &port, "docker.io");
    assert!(
        !out.contains("Verify return code: 0 (ok)"),
        "build's certificate must not claim docker.io: {out}"
    );
    // The mirror serves docker.io with its own certificate, signed by the project's CA (which
    // only the nodes trust): the user's CA never signs a public name. It pulls through its
    // upstream (the cache registry, trusted through the dev CA).
    let mirror_port = forward(&mut lo.cleanup, &lo.net, "10.214.1.103", 443);
    let out = tls_verify(&lo.p.path(".lok8s/project-ca"), &mirror_port, "docker.io");
    assert!(out.contains("Verify return code: 0 (ok)"), "{out}");
    let out = tls_verify(lo.caroot.path(), &mirror_port, "docker.io");
    assert!(
        !out.contains("Verify return code: 0 (ok)"),
        "the user's CA signed docker.io: {out}"
    );
    let curl = std::process::Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert"])
        .arg(lo.caroot.path().join("rootCA.pem"))
        .args([
            "--resolve",
            &format!("lok8s.local:{port}:127.0.0.1"),
            &format!("https://lok8s.local:{port}/v2/"),
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&curl.stdout), "200");

    // certs.d, byte for byte, on disk and in the node.
    let certs = "clusters/lo-e2e.test/.state/.containerd/certs.d";
    let build = lo.p.read(&format!("{certs}/lok8s.local/hosts.toml"));
    assert_eq!(
        build,
        "# Auto-generated by lok8s — registry mirror for build\nserver = \"https://10.214.1.101\"\n\n[host.\"https://10.214.1.101\"]\n  capabilities = [\"pull\", \"resolve\", \"push\"]\n  ca = \"/etc/containerd/certs.d/.ca/rootCA.pem\"\n"
    );
    // Nodes trust both CAs: the user's (the build registry) and the project's (mirrors).
    let user_ca = std::fs::read_to_string(lo.caroot.path().join("rootCA.pem")).unwrap();
    let project_ca = lo.p.read(".lok8s/project-ca/rootCA.pem");
    assert_eq!(
        lo.p.read(&format!("{certs}/.ca/rootCA.pem")),
        format!("{}\n{project_ca}", user_ca.trim_end())
    );
    assert!(
        lo.p.read("clusters/lo-e2e.test/.state/.containerd/.gitignore")
            .contains("!.gitignore")
    );
    let node = lo.node();
    assert_eq!(
        lo.exec(&node, "cat /etc/containerd/certs.d/lok8s.local/hosts.toml") + "\n",
        build
    );
    let docker_io = lo.exec(&node, "cat /etc/containerd/certs.d/docker.io/hosts.toml");
    assert!(
        docker_io.contains("server = \"https://10.214.1.103\""),
        "{docker_io}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&lo.p.read("clusters/lo-e2e.test/.state/.registries.json")).unwrap();
    assert_eq!(json["port"], 443);
    assert_eq!(json["project_network"], lo.net.as_str());

    // The node, as kind makes it.
    let c = inspect("container", &node).expect("node");
    let labels = &c["Config"]["Labels"];
    assert_eq!(labels["io.x-k8s.kind.cluster"], lo.name.as_str());
    assert_eq!(labels["io.x-k8s.kind.role"], "control-plane");
    assert_eq!(c["Config"]["Hostname"], node.as_str());
    assert_eq!(c["HostConfig"]["RestartPolicy"]["Name"], "on-failure");
    assert_eq!(c["HostConfig"]["CgroupnsMode"], "private");
    assert_eq!(c["HostConfig"]["Init"], false);
    assert_eq!(c["HostConfig"]["CapAdd"][0], "ALL");
    assert_eq!(c["HostConfig"]["Tmpfs"]["/tmp"], "");
    assert_eq!(c["HostConfig"]["Tmpfs"]["/run"], "");
    assert!(
        c["Mounts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["Destination"] == "/var" && m["Type"] == "volume")
    );
    assert!(
        c["Config"]["Env"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e == "KUBECONFIG=/etc/kubernetes/admin.conf")
    );
    // The original: nothing from this machine is bind-mounted (files are copied in), so a
    // remote engine works; only the host's kernel modules, where the host has them.
    let mounts = c["Mounts"].as_array().unwrap();
    let binds: Vec<&serde_json::Value> = mounts.iter().filter(|m| m["Type"] == "bind").collect();
    assert!(
        binds.iter().all(|m| m["Source"] == "/lib/modules"),
        "{binds:?}"
    );
    assert_eq!(
        c["NetworkSettings"]["Networks"][&lo.net]["IPAMConfig"]["IPv4Address"],
        "10.214.1.151"
    );
    let api = &c["NetworkSettings"]["Ports"]["6443/tcp"][0];
    assert_eq!(api["HostIp"], "127.0.0.1");
    let api_port = api["HostPort"].as_str().unwrap().to_string();

    // What ran in the node.
    let calls = lo.exec(&node, "cat /kind/calls.log");
    assert_eq!(
        calls
            .matches("kubeadm init --config=/kind/kubeadm.conf --skip-token-print --v=6")
            .count(),
        1,
        "{calls}"
    );
    assert!(calls.contains("kubectl --kubeconfig=/etc/kubernetes/admin.conf taint nodes --all node-role.kubernetes.io/control-plane-"), "{calls}");
    assert!(
        calls.contains("kubectl --kubeconfig=/etc/kubernetes/admin.conf apply -f -"),
        "{calls}"
    );
    // No CNI addon is bootstrapped, so kind's default CNI from the image, templated and
    // patched as kind does, then the default storage.
    assert!(
        calls.contains("kubectl create --kubeconfig=/etc/kubernetes/admin.conf -f -"),
        "{calls}"
    );
    let cni = lo.exec(&node, "cat /kind/kubectl-stdin-1.yaml");
    assert!(
        cni.contains("CONTROL_PLANE_ENDPOINT") && cni.contains("loe2e1-control-plane:6443"),
        "{cni}"
    );
    assert!(
        cni.contains("10.244.0.0/16") && !cni.contains(".PodSubnet"),
        "{cni}"
    );
    let storage = lo.exec(&node, "cat /kind/kubectl-stdin-2.yaml");
    assert_eq!(
        storage,
        lo.exec(&node, "cat /kind/manifests/default-storage.yaml")
    );
    let kubeadm = lo.exec(&node, "cat /kind/kubeadm.conf");
    assert!(
        kubeadm.contains("kind: ClusterConfiguration")
            && kubeadm.contains("kubeadm.k8s.io/v1beta3"),
        "{kubeadm}"
    );
    assert!(
        kubeadm.contains("advertiseAddress: \"10.214.1.151\""),
        "{kubeadm}"
    );
    assert!(
        kubeadm.contains("controlPlaneEndpoint: \"loe2e1-control-plane:6443\""),
        "{kubeadm}"
    );
    // The original: OIDC is wired on a fresh provision.
    assert!(kubeadm.contains("authentication-config"), "{kubeadm}");
    let oidc = lo.exec(&node, "cat /etc/kubernetes/oidc/auth-config.yaml");
    assert!(oidc.contains("url: \"https://id.example.test\""), "{oidc}");
    assert_eq!(
        oidc + "\n",
        lo.p.read("clusters/lo-e2e.test/.state/.oidc/auth-config.yaml")
    );
    // The original: max_concurrent_downloads where containerd reads it.
    let toml = lo.exec(&node, "cat /etc/containerd/config.toml");
    assert!(toml.contains("max_concurrent_downloads = 5"), "{toml}");
    assert!(
        toml.contains("config_path = \"/etc/containerd/certs.d\""),
        "{toml}"
    );

    // The kubeconfig points at the published port, owner-only, and works.
    let kc_path = lo.p.path(&format!(".kubeconfig/{}.yaml", lo.name));
    let kc = lo.p.read(&format!(".kubeconfig/{}.yaml", lo.name));
    assert!(
        kc.contains(&format!("server: https://127.0.0.1:{api_port}")),
        "{kc}"
    );
    assert!(
        kc.contains(&format!("current-context: kind-{}", lo.name)),
        "{kc}"
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&kc_path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let client = Api::new(&kc_path);
    let hosting = client.get("/api/v1/namespaces/kube-public/configmaps/local-registry-hosting");
    assert!(
        hosting["data"]["localRegistryHosting.v1"]
            .as_str()
            .unwrap()
            .contains("host: \"10.214.1.101\"")
    );
    let regs = client.get("/api/v1/namespaces/kube-system/configmaps/lok8s-registries");
    assert_eq!(regs["data"]["build.port"], "443");
    assert!(
        regs["data"].get("io-docker.shared").is_none(),
        "not shared here"
    );
    let custom = client.get("/api/v1/namespaces/kube-system/configmaps/coredns-custom");
    assert!(
        custom["data"]["host-0.server"]
            .as_str()
            .unwrap()
            .contains("30 IN A 10.214.1.200")
    );
    let corefile = client.get("/api/v1/namespaces/kube-system/configmaps/coredns");
    assert!(
        corefile["data"]["Corefile"]
            .as_str()
            .unwrap()
            .contains("import custom/*.server")
    );
    let svc = client.get("/api/v1/namespaces/kube-system/services/coredns-external");
    assert_eq!(svc["spec"]["type"], "LoadBalancer");
    let dep = client.get("/apis/apps/v1/namespaces/kube-system/deployments/coredns");
    let tpl = &dep["spec"]["template"];
    let hash = tpl["metadata"]["annotations"]["lok8s.dev/coredns-config"].clone();
    assert!(hash.is_string(), "{dep}");
    assert_eq!(
        tpl["spec"]["tolerations"].as_array().unwrap().len(),
        2,
        "kubeadm's CriticalAddonsOnly kept, control-plane once: {dep}"
    );
    assert_eq!(
        tpl["spec"]["containers"][0]["image"], "registry.k8s.io/coredns/coredns:v1.11.3",
        "the container merged, not replaced"
    );
    assert_eq!(dep["spec"]["replicas"], 1);

    // Status and the export hook's set.
    let status = lo.lo(&["status", DOMAIN, "-o", "json"]);
    status.success();
    assert_eq!(status.json()["phase"], "Running", "{}", status.stdout);

    // Re-provision: nothing recreated, no second init, CoreDNS not restarted.
    let ids: Vec<String> = [node.clone(), format!("{}-registry-build", lo.net)]
        .iter()
        .map(|c| lo.id(c))
        .collect();
    lo.lo(&["provision", DOMAIN]).success();
    let again: Vec<String> = [node.clone(), format!("{}-registry-build", lo.net)]
        .iter()
        .map(|c| lo.id(c))
        .collect();
    assert_eq!(ids, again);
    assert_eq!(
        lo.exec(&node, "cat /kind/calls.log"),
        calls,
        "no kubeadm or kubectl call on a converged cluster"
    );
    let dep = client.get("/apis/apps/v1/namespaces/kube-system/deployments/coredns");
    assert_eq!(
        dep["spec"]["template"]["metadata"]["annotations"]["lok8s.dev/coredns-config"], hash,
        "coredns-custom is removed when nothing feeds it"
    );
    assert_eq!(
        dep["spec"]["template"]["spec"]["tolerations"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // A stopped node is Degraded; provision starts it again.
    docker(&["stop", "-t", "1", &node]);
    let status = lo.lo(&["status", DOMAIN, "-o", "json"]);
    assert_eq!(status.json()["phase"], "Degraded", "{}", status.stdout);
    lo.lo(&["provision", DOMAIN]).success();
    assert_eq!(
        lo.lo(&["status", DOMAIN, "-o", "json"]).json()["phase"],
        "Running"
    );

    // Destroy: nodes and project registries (with volumes) go; networks and files stay.
    lo.lo(&["destroy", DOMAIN]).success();
    assert!(inspect("container", &node).is_none());
    assert!(inspect("container", &format!("{}-registry-build", lo.net)).is_none());
    assert!(inspect("volume", &format!("{}-registry-build", lo.net)).is_none());
    assert!(inspect("network", &lo.net).is_some());
    assert!(
        lo.p.path("clusters/lo-e2e.test/.state/.registries.json")
            .is_file()
    );
    assert_eq!(
        lo.lo(&["status", DOMAIN, "-o", "json"]).json()["phase"],
        "NotFound"
    );
}

#[test]
fn invalid_spec_stops_before_anything_is_created() {
    // The original: the original reported success after a failed validation and carried on.
    let lo = Lo::new(
        2,
        "nodes: {workers: -1}\nloadBalancer: {pool: 10.214.2.100-10.214.2.90}\n",
    );
    let before = lo.p.files();
    // The shape first, by the driver's schema (`lo schema lo`), before the driver runs.
    lo.lo(&["provision", DOMAIN])
        .code(1)
        .stderr_has("spec.nodes.workers: must be a whole number from 0 to 99 (got -1)")
        .stderr_has("lo schema lo");
    assert_eq!(lo.p.files(), before, "no file written");
    // Then what needs more than a field's shape, by the driver itself.
    let file = "clusters/lo-e2e.test/cluster.lok8s.yaml";
    lo.p.write(file, lo.p.read(file).replace("workers: -1", "workers: 1"));
    let before = lo.p.files();
    lo.lo(&["provision", DOMAIN])
        .code(1)
        .stderr_has("spec.loadBalancer.pool");
    assert_eq!(lo.p.files(), before, "no file written");
    assert!(inspect("network", &lo.net).is_none());
    assert!(lo.cleanup.labelled("container").is_empty());
    assert!(lo.cleanup.labelled("volume").is_empty());
}

#[test]
fn registries_follow_the_spec_survive_restarts_and_failures_are_repaired() {
    let mut lo = Lo::new(3, "");
    lo.lo(&["provision", DOMAIN]).success();
    // The default spec ends with a CNI: `cilium` from the bootstrap (the project's stand-in),
    // with the driver's exported values, and not kind's default one.
    let api = Api::new(&lo.p.path(&format!(".kubeconfig/{}.yaml", lo.name)));
    let cilium = api.get("/apis/apps/v1/namespaces/kube-system/daemonsets/cilium");
    let env = cilium["spec"]["template"]["spec"]["containers"][0]["env"].to_string();
    assert!(
        env.contains("10.244.0.0/16") && env.contains(&lo.name),
        "{env}"
    );
    let calls = lo.exec(&lo.node(), "cat /kind/calls.log");
    assert!(
        !calls.contains("kubectl create --kubeconfig=/etc/kubernetes/admin.conf -f -"),
        "{calls}"
    );
    let build = format!("{}-registry-build", lo.net);
    let mirror = format!("{}-registry-io-docker", lo.net);

    // The original: the configuration lives in the container, so a restart keeps it.
    docker(&["restart", "-t", "1", &build]);
    let port = forward(&mut lo.cleanup, &lo.net, "10.214.3.101", 443);
    let out = tls_verify(lo.caroot.path(), &port, "lok8s.local");
    assert!(out.contains("Verify return code: 0 (ok)"), "{out}");

    // The original: a changed spec reconfigures running registries (TLS off → plain :80),
    // keeping their volumes; a mirror dropped from the spec is removed.
    lo.exec(&build, "echo kept > /var/lib/registry/marker");
    let spec = lo.p.read(&format!("clusters/{DOMAIN}/cluster.lok8s.yaml"));
    let plain = spec
        .replace(
            "    shared: {enabled: false}\n",
            "    shared: {enabled: false}\n    tls: false\n",
        )
        .replace(
            "    mirrors:\n      - {name: io-docker, url: \"https://10.214.3.102\"}\n",
            "    mirrors: []\n",
        );
    assert_ne!(plain, spec);
    lo.p.write(&format!("clusters/{DOMAIN}/cluster.lok8s.yaml"), &plain);
    lo.lo(&["provision", DOMAIN]).success();
    let config = lo.exec(&build, "cat /etc/docker/registry/config.yml");
    assert!(
        config.contains("addr: :80") && !config.contains("tls:"),
        "{config}"
    );
    assert_eq!(
        lo.exec(&build, "cat /var/lib/registry/marker"),
        "kept",
        "the volume (pushed images) survives"
    );
    assert!(
        inspect("container", &mirror).is_none(),
        "dropped mirror removed"
    );
    assert!(inspect("volume", &mirror).is_none());
    let hosts = lo.p.read(&format!(
        "clusters/{DOMAIN}/.state/.containerd/certs.d/lok8s.local/hosts.toml"
    ));
    assert!(
        hosts.contains("server = \"http://10.214.3.101\"") && hosts.contains("skip_verify = true"),
        "{hosts}"
    );
    assert!(
        !lo.p
            .path(&format!("clusters/{DOMAIN}/.state/.containerd/certs.d/.ca"))
            .exists()
    );
    let in_node = lo.exec(
        &lo.node(),
        "cat /etc/containerd/certs.d/lok8s.local/hosts.toml",
    );
    assert_eq!(in_node + "\n", hosts, "nodes get the new tree");
    let port80 = forward(&mut lo.cleanup, &lo.net, "10.214.3.101", 80);
    let curl = std::process::Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            &format!("http://127.0.0.1:{port80}/v2/"),
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&curl.stdout), "200");

    // A failure midway (a mirror's address is taken) stops with the reason, creates no
    // half-configured registry, and the next run after the fix converges.
    let squatter = format!("{}-squatter", lo.net);
    let (code, out) = docker(&[
        "run",
        "-d",
        "--name",
        &squatter,
        "--network",
        &lo.net,
        "--ip",
        "10.214.3.103",
        busybox(),
        "sleep",
        "600",
    ]);
    assert_eq!(code, 0, "{out}");
    lo.cleanup.containers.push(squatter.clone());
    lo.p.write(&format!("clusters/{DOMAIN}/cluster.lok8s.yaml"), &spec);
    lo.lo(&["provision", DOMAIN])
        .code(1)
        .stderr_has(&mirror)
        .stderr_has("10.214.3.103");
    assert!(
        inspect("container", &mirror).is_none(),
        "nothing half-created"
    );
    docker(&["rm", "-f", &squatter]);
    lo.lo(&["provision", DOMAIN]).success();
    assert_eq!(
        inspect("container", &mirror).unwrap()["State"]["Running"],
        true
    );

    // The original: a new subnet while nodes are attached is refused with the fix, not ignored.
    lo.p.write(
        &format!("clusters/{DOMAIN}/cluster.lok8s.yaml"),
        spec.replace("10.214.3.0/24", "10.214.4.0/24"),
    );
    lo.lo(&["provision", DOMAIN])
        .code(1)
        .stderr_has("spec.network.cidr is 10.214.4.0/24")
        .stderr_has("lo destroy");
    assert_eq!(
        inspect("network", &lo.net).unwrap()["IPAM"]["Config"][0]["Subnet"],
        "10.214.3.0/24"
    );

    // A spec edited into something the driver refuses: status, kubeconfig and destroy still
    // find the cluster by its labels; only provision needs a valid spec.
    lo.p.write(
        &format!("clusters/{DOMAIN}/cluster.lok8s.yaml"),
        format!("{spec}  nodes: 3\n"),
    );
    lo.lo(&["provision", DOMAIN])
        .code(1)
        .stderr_has("spec.nodes");
    let status = lo.lo(&["status", DOMAIN, "-o", "json"]);
    assert_eq!(status.json()["phase"], "Running", "{}", status.stderr);
    lo.lo(&["kubeconfig", DOMAIN]).success();
    lo.lo(&["destroy", DOMAIN])
        .success()
        .stderr_has("the spec does not read");
    assert!(inspect("container", &lo.node()).is_none());
    assert!(inspect("container", &build).is_none());
    assert!(inspect("volume", &build).is_none());
}

#[test]
fn shared_mirrors_outlive_a_project_and_serve_the_next() {
    const SHARED: &str = "lok8s-registries";
    let registries = format!(
        "registries:\n  image: {}\n  shared: {{enabled: true}}\n  mirrors:\n    - {{name: io-quay, url: \"https://10.125.200.250\"}}\n",
        registry_image()
    );
    let a = Lo::new(5, &registries);
    let b = Lo::new(6, &format!("{registries}nodes: {{workers: 1}}\n"));
    let mirror = "lok8s-registry-io-quay";
    let mut guard = Cleanup::new(a.p.root());
    guard.containers.push(mirror.into());
    guard.volumes.push(mirror.into());
    guard.networks.push(SHARED.into());

    a.lo(&["provision", DOMAIN]).success();
    let m = inspect("container", mirror).expect("shared mirror");
    assert_eq!(
        m["NetworkSettings"]["Networks"][SHARED]["IPAMConfig"]["IPv4Address"],
        "10.125.200.2"
    );
    let labels = &m["Config"]["Labels"];
    assert_eq!(labels["dev.lok8s.shared"], SHARED);
    assert!(
        labels.get("dev.lok8s.project").is_none(),
        "owned by the shared network, not project a: {labels}"
    );
    // The node joined the shared network to reach it.
    let node = inspect("container", &a.node()).unwrap();
    assert!(node["NetworkSettings"]["Networks"].get(SHARED).is_some());

    // Project b reuses the mirror as it is.
    let id = m["Id"].clone();
    b.lo(&["provision", DOMAIN]).success();
    assert_eq!(inspect("container", mirror).unwrap()["Id"], id);
    // b has a worker: it joins (kind's argv), the control plane is not untainted.
    let worker = format!("{}-worker", b.name);
    let w = inspect("container", &worker).expect("worker node");
    assert_eq!(w["Config"]["Labels"]["io.x-k8s.kind.role"], "worker");
    assert_eq!(
        w["NetworkSettings"]["Networks"][&b.net]["IPAMConfig"]["IPv4Address"],
        "10.214.6.152"
    );
    assert!(
        w["NetworkSettings"]["Ports"].get("6443/tcp").is_none(),
        "only control planes publish the API"
    );
    assert_eq!(
        b.exec(&worker, "cat /kind/calls.log"),
        "kubeadm join --config /kind/kubeadm.conf --v=6"
    );
    let worker_conf = b.exec(&worker, "cat /kind/kubeadm.conf");
    assert!(
        worker_conf.contains("apiServerEndpoint: \"loe2e6-control-plane:6443\""),
        "{worker_conf}"
    );
    assert!(!b.exec(&b.node(), "cat /kind/calls.log").contains("taint"));

    // Destroying a keeps the shared mirror (b still uses it) and a's own registries go.
    a.lo(&["destroy", DOMAIN]).success();
    assert_eq!(inspect("container", mirror).unwrap()["Id"], id);
    assert!(inspect("container", &format!("{}-registry-build", a.net)).is_none());
    assert!(inspect("network", SHARED).is_some());
    b.lo(&["destroy", DOMAIN]).success();
}

#[test]
fn extra_mounts_work_once_the_operator_extends_the_grant() {
    let data = tempfile::tempdir().unwrap();
    std::fs::write(data.path().join("hello"), "from the host").unwrap();
    let host = data.path().to_str().unwrap().to_string();
    let lo = Lo::new(
        8,
        &format!(
            "nodes:\n  extraMounts:\n    - {{hostPath: {host}, containerPath: /data, readOnly: true}}\nbootstrap: []\n"
        ),
    );
    // The shipped grant binds /lib/modules only: refused before the driver creates anything,
    // naming the field and where the grant goes.
    lo.lo(&["provision", DOMAIN])
        .code(1)
        .stderr_has("spec.nodes.extraMounts[0].hostPath")
        .stderr_has(&host)
        .stderr_has("[drivers.lo.grants]");
    for kind in ["container", "network", "volume"] {
        assert_eq!(
            lo.cleanup.labelled(kind),
            Vec::<String>::new(),
            "{kind}s after the refusal"
        );
    }
    assert!(inspect("network", &lo.net).is_none());
    // Pinned, with the path added to its grant in drivers.lock: the node gets the bind.
    lo.lo(&["drivers", "lock"]).success();
    let lock = lo.p.read("drivers.lock");
    lo.p.write(
        "drivers.lock",
        format!("{lock}\n[drivers.lo.grants.docker]\nhost-paths = [\"{host}\"]\n"),
    );
    lo.lo(&["drivers", "show", "lo"])
        .success()
        .stdout_has(&host);
    lo.lo(&["provision", DOMAIN]).success();
    assert_eq!(lo.exec(&lo.node(), "cat /data/hello"), "from the host");
    lo.lo(&["destroy", DOMAIN]).success();
}

#[test]
fn a_shared_network_the_spec_names_is_shared_and_never_adopted() {
    let shared = "lok8s-e2e-team-mirrors";
    let registries = format!(
        "registries:\n  image: {}\n  shared:\n    enabled: true\n    network: {{name: {shared}, cidr: 10.125.209.0/24}}\n  mirrors:\n    - {{name: e2e-team, url: \"https://10.125.209.250\"}}\nbootstrap: []\n",
        registry_image()
    );
    let lo = Lo::new(9, &registries);
    let mirror = "lok8s-registry-e2e-team";
    let mut guard = Cleanup::new(lo.p.root());
    guard.containers.push(mirror.into());
    guard.volumes.push(mirror.into());
    guard.networks.push(shared.into());

    // A network of that name that lo did not create as shared (another cluster's, say) is
    // never joined: refused with the fix, and no node is created.
    let (code, out) = docker(&["network", "create", shared]);
    assert_eq!(code, 0, "{out}");
    lo.lo(&["provision", DOMAIN])
        .code(1)
        .stderr_has(shared)
        .stderr_has("docker network rm");
    assert!(inspect("container", &lo.node()).is_none());
    assert!(inspect("container", mirror).is_none());
    let (code, out) = docker(&["network", "rm", shared]);
    assert_eq!(code, 0, "{out}");

    // Named by the spec, it is granted as a shared network: lo creates it shared (not this
    // project's), the mirror belongs to it, and destroy leaves both for the next project.
    lo.lo(&["provision", DOMAIN]).success();
    let net = inspect("network", shared).expect("the spec's shared network");
    assert_eq!(net["Labels"]["dev.lok8s.shared"], "true");
    assert!(net["Labels"].get("dev.lok8s.project").is_none(), "{net}");
    let m = inspect("container", mirror).expect("shared mirror");
    assert_eq!(m["Config"]["Labels"]["dev.lok8s.shared"], shared);
    assert_eq!(
        m["NetworkSettings"]["Networks"][shared]["IPAMConfig"]["IPv4Address"],
        "10.125.209.2"
    );
    let node = inspect("container", &lo.node()).unwrap();
    assert!(node["NetworkSettings"]["Networks"].get(shared).is_some());
    lo.lo(&["drivers", "show", "lo"])
        .success()
        .stdout_has("spec.registries.shared.network.name");
    lo.lo(&["destroy", DOMAIN]).success();
    assert!(inspect("container", mirror).is_some());
    assert!(inspect("network", shared).is_some());
    assert!(inspect("container", &lo.node()).is_none());
}

#[test]
fn three_control_planes_sit_behind_kinds_load_balancer() {
    let lo = Lo::with_kubernetes(
        10,
        &format!(", loadBalancerImage: {}", haproxy_image()),
        "nodes: {controlPlane: 3, workers: 2}\nbootstrap: []\n",
    );
    let lb = format!("{}-external-load-balancer", lo.name);
    let control_planes: Vec<String> = ["", "2", "3"]
        .iter()
        .map(|n| format!("{}-control-plane{n}", lo.name))
        .collect();
    let workers: Vec<String> = ["", "2"]
        .iter()
        .map(|n| format!("{}-worker{n}", lo.name))
        .collect();
    lo.lo(&["provision", DOMAIN])
        .success()
        .stderr_has("==> load balancer");

    // The load balancer, as kind labels it: unprivileged, on the project network at .100,
    // the API port published on 127.0.0.1.
    let c = inspect("container", &lb).expect("the load balancer");
    assert_eq!(
        c["Config"]["Labels"]["io.x-k8s.kind.cluster"],
        lo.name.as_str()
    );
    assert_eq!(
        c["Config"]["Labels"]["io.x-k8s.kind.role"],
        "external-load-balancer"
    );
    assert_eq!(c["HostConfig"]["Privileged"], false);
    assert!(c["HostConfig"]["CapAdd"].is_null(), "{}", c["HostConfig"]);
    assert_eq!(
        c["NetworkSettings"]["Networks"][&lo.net]["IPAMConfig"]["IPv4Address"],
        "10.214.10.100"
    );
    let api = &c["NetworkSettings"]["Ports"]["6443/tcp"][0];
    assert_eq!(api["HostIp"], "127.0.0.1");
    let lb_port = api["HostPort"].as_str().unwrap().to_string();
    // haproxy was given every control plane by address, and re-read it (a config that does
    // not parse would have stopped the master, PID 1).
    let cfg = lo.exec(&lb, "cat /usr/local/etc/haproxy/haproxy.cfg");
    let servers: Vec<&str> = cfg
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("server "))
        .collect();
    assert_eq!(
        servers,
        [
            "server loe2e10-control-plane 10.214.10.151:6443 check check-ssl verify none",
            "server loe2e10-control-plane2 10.214.10.152:6443 check check-ssl verify none",
            "server loe2e10-control-plane3 10.214.10.153:6443 check check-ssl verify none",
        ]
    );
    assert_eq!(inspect("container", &lb).unwrap()["State"]["Running"], true);

    // kubeadm: init on the first, the others join through the load balancer; control planes
    // first got the cluster's CA and keys (the stand-in's join refuses without them, and
    // signs its serving certificate with that CA).
    let first_calls = lo.exec(&control_planes[0], "cat /kind/calls.log");
    assert!(first_calls.contains("kubeadm init"), "{first_calls}");
    assert!(
        !first_calls.contains("taint"),
        "several nodes: the control plane stays tainted"
    );
    let ca = lo.exec(&control_planes[0], "cat /etc/kubernetes/pki/ca.crt");
    for node in control_planes[1..].iter().chain(&workers) {
        assert_eq!(
            lo.exec(node, "cat /kind/calls.log"),
            "kubeadm join --config /kind/kubeadm.conf --v=6",
            "{node}"
        );
        let conf = lo.exec(node, "cat /kind/kubeadm.conf");
        assert!(
            conf.contains("apiServerEndpoint: \"loe2e10-external-load-balancer:6443\""),
            "{conf}"
        );
    }
    for (node, ip) in control_planes[1..]
        .iter()
        .zip(["10.214.10.152", "10.214.10.153"])
    {
        assert_eq!(
            lo.exec(node, "cat /etc/kubernetes/pki/ca.crt"),
            ca,
            "{node}"
        );
        let conf = lo.exec(node, "cat /kind/kubeadm.conf");
        assert!(
            conf.contains(&format!(
                "controlPlane:\n  localAPIEndpoint:\n    advertiseAddress: \"{ip}\""
            )),
            "{conf}"
        );
        let c = inspect("container", node).unwrap();
        assert_eq!(c["Config"]["Labels"]["io.x-k8s.kind.role"], "control-plane");
    }
    for node in &workers {
        assert!(
            lo.exec(
                node,
                "test -f /etc/kubernetes/pki/ca.key && echo copied || echo no"
            ) == "no"
        );
        assert!(
            !lo.exec(node, "cat /kind/kubeadm.conf")
                .contains("controlPlane:")
        );
    }
    let conf = lo.exec(&control_planes[0], "cat /kind/kubeadm.conf");
    assert!(
        conf.contains("controlPlaneEndpoint: \"loe2e10-external-load-balancer:6443\""),
        "{conf}"
    );

    // The kubeconfig goes through the load balancer, and the cluster answers there.
    let kc_path = lo.p.path(&format!(".kubeconfig/{}.yaml", lo.name));
    let kc = lo.p.read(&format!(".kubeconfig/{}.yaml", lo.name));
    assert!(
        kc.contains(&format!("server: https://127.0.0.1:{lb_port}")),
        "{kc}"
    );
    let client = Api::new(&kc_path);
    let regs = client.get("/api/v1/namespaces/kube-system/configmaps/lok8s-registries");
    assert_eq!(regs["data"]["build.port"], "443");
    let status = lo.lo(&["status", DOMAIN, "-o", "json"]);
    assert_eq!(status.json()["phase"], "Running", "{}", status.stdout);
    assert!(
        status
            .stdout
            .contains("3 control planes, 2 workers, API load balancer running"),
        "{}",
        status.stdout
    );

    // A re-run changes nothing: same containers, no kubeadm call, the same configuration.
    let all: Vec<String> = control_planes
        .iter()
        .chain(&workers)
        .chain(std::iter::once(&lb))
        .cloned()
        .collect();
    let ids: Vec<String> = all.iter().map(|c| lo.id(c)).collect();
    let calls: Vec<String> = control_planes
        .iter()
        .chain(&workers)
        .map(|n| lo.exec(n, "cat /kind/calls.log"))
        .collect();
    lo.lo(&["provision", DOMAIN]).success();
    assert_eq!(all.iter().map(|c| lo.id(c)).collect::<Vec<_>>(), ids);
    assert_eq!(
        control_planes
            .iter()
            .chain(&workers)
            .map(|n| lo.exec(n, "cat /kind/calls.log"))
            .collect::<Vec<_>>(),
        calls
    );
    assert_eq!(lo.exec(&lb, "cat /usr/local/etc/haproxy/haproxy.cfg"), cfg);

    // A stopped load balancer is Degraded; provision starts it and the API answers again.
    docker(&["stop", "-t", "1", &lb]);
    assert_eq!(
        lo.lo(&["status", DOMAIN, "-o", "json"]).json()["phase"],
        "Degraded"
    );
    lo.lo(&["provision", DOMAIN]).success();
    assert_eq!(lo.id(&lb), ids[ids.len() - 1]);

    // Destroy removes all six containers.
    lo.lo(&["destroy", DOMAIN]).success();
    for c in &all {
        assert!(inspect("container", c).is_none(), "{c} survived destroy");
    }
}

#[test]
fn a_remote_engine_is_reached_through_ssh_with_the_users_keys_and_known_hosts() {
    use lok8s_tests::sshd::{Sshd, keygen};
    // A "remote" engine: a real sshd on 127.0.0.1 in front of this machine's engine, logged
    // into with a key of a throwaway HOME (~/.ssh as OpenSSH keeps it).
    let home = tempfile::tempdir().unwrap();
    let ssh_dir = home.path().join(".ssh");
    std::fs::create_dir_all(&ssh_dir).unwrap();
    keygen(&ssh_dir.join("id_ed25519"));
    let sshd = Sshd::start_for("root", &ssh_dir.join("id_ed25519.pub"));
    let docker_host = format!("ssh://root@127.0.0.1:{}", sshd.port);
    let home_text = home.path().display().to_string();
    let env = [
        ("HOME", home_text.as_str()),
        ("DOCKER_HOST", docker_host.as_str()),
    ];
    let lo = Lo::new(11, "bootstrap: []\n");

    // Its host key is not in ~/.ssh/known_hosts yet: refused, nothing created.
    lo.lo_with(&["provision", DOMAIN], &env)
        .code(1)
        .stderr_has("not in ~/.ssh/known_hosts");
    assert!(inspect("network", &lo.net).is_none());
    assert!(lo.cleanup.labelled("container").is_empty());

    // Known, the cluster is made through it, and status and destroy go the same way.
    let host_key = std::fs::read_to_string(sshd.host_key_path().with_extension("pub")).unwrap();
    let key = host_key
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    std::fs::write(
        ssh_dir.join("known_hosts"),
        format!("[127.0.0.1]:{} {key}\n", sshd.port),
    )
    .unwrap();
    lo.lo_with(&["provision", DOMAIN], &env).success();
    let node = inspect("container", &lo.node()).expect("a node made through the ssh engine");
    assert_eq!(node["State"]["Running"], true);
    assert!(
        sshd.log().contains("Accepted publickey for root"),
        "{}",
        sshd.log()
    );
    let status = lo.lo_with(&["status", DOMAIN, "-o", "json"], &env);
    assert_eq!(status.json()["phase"], "Running", "{}", status.stdout);
    assert_eq!(status.json()["engine"]["docker_host"], docker_host.as_str());
    lo.lo_with(&["status", DOMAIN], &env)
        .success()
        .stdout_has("(remote: ports published on 127.0.0.1 are that machine's")
        .stdout_has(&format!("run `lo tunnel {DOMAIN}`"));

    // The API is published on the engine machine's loopback: `lo tunnel` forwards a local port
    // there over its own ssh session and writes a kubeconfig naming it, until it is stopped.
    let caroot = lo.caroot.path().display().to_string();
    let mut tunnel =
        lo.p.command(&["tunnel", DOMAIN, "-o", "json"])
            .envs(env)
            .env("CAROOT", &caroot)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(tunnel.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let opened: serde_json::Value = match serde_json::from_str(&line) {
        Ok(v) => v,
        Err(e) => {
            let _ = tunnel.kill();
            let out = tunnel.wait_with_output().unwrap();
            panic!("{e}: {line:?}\n{}", String::from_utf8_lossy(&out.stderr))
        }
    };
    let local_port = opened["local_port"].as_u64().unwrap();
    assert_ne!(Some(local_port), opened["remote_port"].as_u64(), "{opened}");
    let forwarded = PathBuf::from(opened["kubeconfig"].as_str().unwrap());
    let text = std::fs::read_to_string(&forwarded).unwrap();
    assert!(
        text.contains(&format!("server: https://127.0.0.1:{local_port}")),
        "{text}"
    );
    let corefile = Api::new(&forwarded).get("/api/v1/namespaces/kube-system/configmaps/coredns");
    assert_eq!(corefile["metadata"]["name"], "coredns", "{corefile}");
    // SAFETY: signalling the child this test spawned, by its PID.
    assert_eq!(unsafe { libc::kill(tunnel.id() as i32, libc::SIGTERM) }, 0);
    let stopped = tunnel.wait_with_output().unwrap();
    assert!(
        stopped.status.success(),
        "{}",
        String::from_utf8_lossy(&stopped.stderr)
    );
    assert!(!forwarded.exists(), "the tunnel's kubeconfig outlived it");

    lo.lo_with(&["destroy", DOMAIN], &env).success();
    assert!(inspect("container", &lo.node()).is_none());
}

/// Stands in for dockerd's TLS listener (`dockerd --tlsverify -H tcp://…`): TLS with client
/// certificates required, each connection passed to this machine's engine socket. Counts the
/// connections whose client certificate verified.
struct TlsEngine {
    port: u16,
    verified: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    _runtime: tokio::runtime::Runtime,
}

impl TlsEngine {
    /// Writes `ca.pem`, `cert.pem` and `key.pem` (the client's, as the docker CLI expects them
    /// in DOCKER_CERT_PATH) into `cert_path` and starts listening on 127.0.0.1.
    fn start(cert_path: &Path) -> TlsEngine {
        use rcgen::{
            BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
        };
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut ca_params = CertificateParams::new(Vec::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_key = KeyPair::generate().unwrap();
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let leaf = |sans: Vec<String>, usage| {
            let mut params = CertificateParams::new(sans).unwrap();
            params.extended_key_usages = vec![usage];
            let key = KeyPair::generate().unwrap();
            let cert = params.signed_by(&key, &issuer).unwrap();
            (cert, key)
        };
        let (server_cert, server_key) = leaf(
            vec!["127.0.0.1".into()],
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        let (client_cert, client_key) = leaf(vec![], ExtendedKeyUsagePurpose::ClientAuth);
        std::fs::write(cert_path.join("ca.pem"), ca_cert.pem()).unwrap();
        std::fs::write(cert_path.join("cert.pem"), client_cert.pem()).unwrap();
        std::fs::write(cert_path.join("key.pem"), client_key.serialize_pem()).unwrap();

        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca_cert.der().clone()).unwrap();
        let verifier = rustls::server::WebPkiClientVerifier::builder(roots.into())
            .build()
            .unwrap();
        let config = rustls::ServerConfig::builder()
            .with_client_cert_verifier(verifier)
            .with_single_cert(
                vec![CertificateDer::from(server_cert.der().to_vec())],
                PrivateKeyDer::try_from(server_key.serialize_der()).unwrap(),
            )
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let verified = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = verified.clone();
        runtime.spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, count) = (acceptor.clone(), count.clone());
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    if let Ok(mut engine) =
                        tokio::net::UnixStream::connect("/var/run/docker.sock").await
                    {
                        let _ = tokio::io::copy_bidirectional(&mut tls, &mut engine).await;
                    }
                });
            }
        });
        TlsEngine {
            port,
            verified,
            _runtime: runtime,
        }
    }
}

#[test]
fn a_remote_engine_is_reached_over_tcp_with_mutual_tls() {
    let certs = tempfile::tempdir().unwrap();
    let engine = TlsEngine::start(certs.path());
    let docker_host = format!("tcp://127.0.0.1:{}", engine.port);
    let cert_path = certs.path().display().to_string();
    let env = [
        ("DOCKER_HOST", docker_host.as_str()),
        ("DOCKER_TLS_VERIFY", "1"),
        ("DOCKER_CERT_PATH", cert_path.as_str()),
    ];
    let lo = Lo::new(12, "bootstrap: []\n");
    lo.lo_with(&["provision", DOMAIN], &env).success();
    assert!(
        engine.verified.load(std::sync::atomic::Ordering::SeqCst) > 0,
        "every call went through the TLS listener with the client certificate"
    );
    let node = inspect("container", &lo.node()).expect("a node made through the TLS engine");
    assert_eq!(node["State"]["Running"], true);
    lo.lo_with(&["destroy", DOMAIN], &env).success();
    assert!(inspect("container", &lo.node()).is_none());

    // Without the client certificate the engine does not answer: refused, nothing made.
    std::fs::remove_file(certs.path().join("key.pem")).unwrap();
    lo.lo_with(&["provision", DOMAIN], &env).code(1);
    assert!(inspect("container", &lo.node()).is_none());
}
