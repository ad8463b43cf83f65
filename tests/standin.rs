//! The test doubles honour their contracts, on the real dockerd: the registry image serves the
//! registry API over TLS with an uploaded config and over plain HTTP by default; the stand-in
//! node image boots like kindest/node, its kubeadm writes the PKI and admin.conf kubeadm
//! writes, its kubectl records what kind feeds it, and its API server answers kube-rs over TLS
//! verified against the kubeadm CA. And the API double's apply merges named lists item by item.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, Patch, PatchParams};
use lok8s_tests::docker::{Cleanup, docker};
use lok8s_tests::images::{NODE_VERSION, node_image, registry_image};
use lok8s_tests::kube_api::KubeApi;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const STANDIN: &str = env!("CARGO_BIN_EXE_lok8s-node-standin");

fn name(what: &str) -> String {
    format!("lok8s-standin-{}-{what}", std::process::id())
}

/// `docker exec [-i] <container> <argv>`: (exit code, stdout, stderr).
fn exec(container: &str, argv: &[&str], stdin: Option<&str>) -> (i32, String, String) {
    let mut cmd = Command::new("docker");
    cmd.arg("exec");
    if stdin.is_some() {
        cmd.arg("-i");
    }
    cmd.arg(container).args(argv);
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("running docker exec");
    if let Some(input) = stdin {
        // Dropping the pipe closes it: `cp /dev/stdin` sees EOF.
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The docker CLI with whitespace-separated arguments (none of ours contain spaces).
fn docker_words(args: &str) -> (i32, String) {
    docker(&args.split_whitespace().collect::<Vec<_>>())
}

/// The host port Docker published for `port/tcp` on 127.0.0.1.
fn published(container: &str, port: u16) -> u16 {
    let (code, out) = docker(&["port", container, &format!("{port}/tcp")]);
    assert_eq!(code, 0, "docker port {container}");
    let line = out.lines().find(|l| l.starts_with("127.0.0.1:")).unwrap();
    line.rsplit(':').next().unwrap().parse().unwrap()
}

fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A CA and a leaf for 127.0.0.1 signed by it: (CA PEM, leaf PEM, leaf key PEM).
fn leaf_for_loopback() -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_pem = ca.self_signed(&ca_key).unwrap().pem();
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&key, &Issuer::from_params(&ca, &ca_key))
        .unwrap();
    (ca_pem, leaf.pem(), key.serialize_pem())
}

/// The status line of `GET /v2/` on 127.0.0.1:`port`, over TLS trusting `ca_pem` if given.
async fn get_v2(port: u16, ca_pem: Option<&str>) -> std::io::Result<String> {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    let request = "GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    let mut response = Vec::new();
    match ca_pem {
        Some(ca) => {
            use rustls::pki_types::CertificateDer;
            use rustls::pki_types::pem::PemObject;
            let mut roots = rustls::RootCertStore::empty();
            roots
                .add(CertificateDer::from_pem_slice(ca.as_bytes()).unwrap())
                .unwrap();
            let config = rustls::ClientConfig::builder()
                .with_root_certificates(roots)
                .with_no_client_auth();
            let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
            let server = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
            let mut tls = connector.connect(server, tcp).await?;
            tls.write_all(request.as_bytes()).await?;
            tls.read_to_end(&mut response).await?;
        }
        None => {
            let mut tcp = tcp;
            tcp.write_all(request.as_bytes()).await?;
            tcp.read_to_end(&mut response).await?;
        }
    }
    let text = String::from_utf8_lossy(&response);
    Ok(text.lines().next().unwrap_or_default().trim().to_string())
}

fn runtime() -> tokio::runtime::Runtime {
    let _ = rustls::crypto::ring::default_provider().install_default();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn kube_client(rt: &tokio::runtime::Runtime, kubeconfig: &str) -> kube::Client {
    let kubeconfig = kube::config::Kubeconfig::from_yaml(kubeconfig).unwrap();
    rt.block_on(async {
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
            .await
            .unwrap();
        kube::Client::try_from(config).unwrap()
    })
}

#[test]
fn registry_image_serves_v2_over_uploaded_tls_and_plain_http() {
    let image = registry_image();
    let scratch = tempfile::tempdir().unwrap();
    let mut cleanup = Cleanup::new(scratch.path());
    let net = name("reg-net");
    assert_eq!(docker(&["network", "create", &net]).0, 0);
    cleanup.networks.push(net.clone());
    let rt = runtime();

    // TLS: config, certificate and key uploaded into /etc/docker/registry before start.
    let tls = name("reg-tls");
    cleanup.containers.push(tls.clone());
    let (code, out) = docker_words(&format!(
        "create --name {tls} --network {net} --publish 127.0.0.1::5000 {image}"
    ));
    assert_eq!(code, 0, "{out}");
    let (ca, cert, key) = leaf_for_loopback();
    let config = "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: /var/lib/registry\n\
                  http:\n  addr: :5000\n  tls:\n    certificate: /etc/docker/registry/tls.crt\n    \
                  key: /etc/docker/registry/tls.key\n";
    for (file, contents) in [
        ("config.yml", config),
        ("tls.crt", &cert),
        ("tls.key", &key),
    ] {
        let local = scratch.path().join(file);
        std::fs::write(&local, contents).unwrap();
        let dest = format!("{tls}:/etc/docker/registry/{file}");
        assert_eq!(docker(&["cp", local.to_str().unwrap(), &dest]).0, 0);
    }
    assert_eq!(docker(&["start", &tls]).0, 0);
    let port = published(&tls, 5000);
    let status = eventually("the TLS registry", || {
        rt.block_on(get_v2(port, Some(&ca)))
            .ok()
            .filter(|status| !status.is_empty())
    });
    assert_eq!(status, "HTTP/1.1 200 OK");
    let plain_on_tls = rt.block_on(get_v2(port, None)).unwrap();
    assert_eq!(plain_on_tls, "HTTP/1.0 400 Bad Request", "TLS is really on");

    // Plain HTTP with the image's own config.
    let plain = name("reg-plain");
    cleanup.containers.push(plain.clone());
    let (code, out) = docker_words(&format!(
        "run -d --name {plain} --network {net} --publish 127.0.0.1::5000 {image}"
    ));
    assert_eq!(code, 0, "{out}");
    let port = published(&plain, 5000);
    // docker-proxy accepts before the registry listens, then closes with no answer: not yet.
    let status = eventually("the plain registry", || {
        rt.block_on(get_v2(port, None))
            .ok()
            .filter(|status| !status.is_empty())
    });
    assert_eq!(status, "HTTP/1.1 200 OK");
}

/// A kubeadm config as kind writes it (v1beta4, trimmed to what the stand-in reads).
fn kubeadm_config(node: &str, ip: &str) -> String {
    format!(
        "# config generated by kind\napiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\n\
         kubernetesVersion: {NODE_VERSION}\nclusterName: \"standin\"\ncontrolPlaneEndpoint: {node}:6443\n\
         apiServer:\n  certSANs: [localhost, \"127.0.0.1\"]\nnetworking:\n  podSubnet: 10.244.0.0/16\n  \
         serviceSubnet: 10.96.0.0/16\n---\napiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\n\
         localAPIEndpoint:\n  advertiseAddress: {ip}\n  bindPort: 6443\n---\n\
         apiVersion: kubeadm.k8s.io/v1beta4\nkind: JoinConfiguration\ncontrolPlane:\n  localAPIEndpoint:\n    \
         advertiseAddress: {ip}\n    bindPort: 6443\ndiscovery:\n  bootstrapToken:\n    \
         apiServerEndpoint: {node}:6443\n    token: abcdef.0123456789abcdef\n    unsafeSkipCAVerification: true\n\
         ---\napiVersion: kubelet.config.k8s.io/v1beta1\n\
         kind: KubeletConfiguration\ncgroupDriver: systemd\n"
    )
}

#[test]
fn node_image_boots_and_kubeadm_init_yields_a_tls_api_kube_rs_trusts() {
    let image = node_image(Path::new(STANDIN));
    let scratch = tempfile::tempdir().unwrap();
    let mut cleanup = Cleanup::new(scratch.path());
    let net = name("node-net");
    assert_eq!(docker(&["network", "create", &net]).0, 0);
    cleanup.networks.push(net.clone());
    let node = name("control-plane");
    cleanup.containers.push(node.clone());
    // As kind runs a node, but `--privileged` (it cannot start on this VM, see
    // host-backends-notes.md) and the /lib/modules bind (the host has none).
    let (code, out) = docker_words(&format!(
        "run -d --tty --name {node} --hostname {node} --network {net} \
         --cap-add ALL --cap-drop SYS_RESOURCE --security-opt seccomp=unconfined \
         --tmpfs /tmp --tmpfs /run -v /var --publish 127.0.0.1::6443 \
         -e KUBECONFIG=/etc/kubernetes/admin.conf {image}"
    ));
    assert_eq!(code, 0, "docker run: {out}");
    eventually("the boot line", || {
        let logs = Command::new("docker")
            .args(["logs", &node])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&logs.stdout);
        (text.contains("Reached target Multi-User System") && text.contains("detected cgroup v1"))
            .then_some(())
    });

    // The image contract.
    assert_eq!(
        exec(&node, &["cat", "/kind/version"], None).1,
        format!("{NODE_VERSION}\n")
    );
    let cni = exec(&node, &["cat", "/kind/manifests/default-cni.yaml"], None).1;
    assert!(cni.contains("would you kindly template this file"), "{cni}");
    assert!(cni.contains("would you kindly patch this file"), "{cni}");
    assert!(
        cni.contains("kind: DaemonSet") && cni.contains("{{ .PodSubnet }}"),
        "{cni}"
    );
    let storage = exec(
        &node,
        &["cat", "/kind/manifests/default-storage.yaml"],
        None,
    )
    .1;
    assert!(storage.contains("kind: StorageClass") && storage.contains("name: standard"));
    let containerd = exec(&node, &["cat", "/etc/containerd/config.toml"], None).1;
    assert!(containerd.starts_with("version = 2\n"), "{containerd}");
    assert!(containerd.contains("sandbox_image"), "{containerd}");
    assert_eq!(
        exec(&node, &["test", "-d", "/etc/kubernetes/manifests"], None).0,
        0
    );
    assert_eq!(
        exec(&node, &["bash", "-c", "mkdir -p /kind/x && echo ok"], None).1,
        "ok\n"
    );

    // kubeadm refuses a config without an InitConfiguration, then inits with kind's.
    let ip =
        lok8s_tests::docker::inspect("container", &node).unwrap()["NetworkSettings"]["Networks"]
            [&net]["IPAddress"]
            .as_str()
            .unwrap()
            .to_string();
    let init = [
        "kubeadm",
        "init",
        "--config=/kind/kubeadm.conf",
        "--skip-token-print",
        "--v=6",
    ];
    let only_cluster = kubeadm_config(&node, &ip)
        .split("---")
        .next()
        .unwrap()
        .to_string();
    let cp = ["cp", "/dev/stdin", "/kind/kubeadm.conf"];
    assert_eq!(exec(&node, &cp, Some(&only_cluster)).0, 0);
    let (code, _, stderr) = exec(&node, &init, None);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("has no InitConfiguration document"),
        "{stderr}"
    );
    assert_eq!(exec(&node, &cp, Some(&kubeadm_config(&node, &ip))).0, 0);
    let (code, stdout, stderr) = exec(&node, &init, None);
    assert_eq!(code, 0, "kubeadm init: {stdout}{stderr}");
    let join = ["kubeadm", "join", "--config", "/kind/kubeadm.conf", "--v=6"];
    assert_eq!(exec(&node, &join, None).0, 0);

    // The PKI verifies, with the SANs kubeadm puts in.
    let pki = scratch.path().join("pki");
    std::fs::create_dir_all(&pki).unwrap();
    for file in ["ca.crt", "apiserver.crt"] {
        let text = exec(
            &node,
            &["cat", &format!("/etc/kubernetes/pki/{file}")],
            None,
        )
        .1;
        std::fs::write(pki.join(file), text).unwrap();
    }
    let verify = Command::new("openssl")
        .args(["verify", "-CAfile"])
        .arg(pki.join("ca.crt"))
        .arg(pki.join("apiserver.crt"))
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
    let sans = Command::new("openssl")
        .args(["x509", "-noout", "-ext", "subjectAltName", "-in"])
        .arg(pki.join("apiserver.crt"))
        .output()
        .unwrap();
    let sans = String::from_utf8_lossy(&sans.stdout);
    for san in [
        "DNS:kubernetes.default.svc.cluster.local".to_string(),
        format!("DNS:{node}"),
        "DNS:localhost".into(),
        "IP Address:127.0.0.1".into(),
        "IP Address:10.96.0.1".into(),
        format!("IP Address:{ip}"),
    ] {
        assert!(sans.contains(&san), "{san} missing in {sans}");
    }
    for file in [
        "ca.key",
        "apiserver.key",
        "sa.key",
        "sa.pub",
        "front-proxy-ca.crt",
        "front-proxy-ca.key",
        "etcd/ca.crt",
        "etcd/ca.key",
    ] {
        let path = format!("/etc/kubernetes/pki/{file}");
        assert_eq!(exec(&node, &["test", "-s", &path], None).0, 0, "{path}");
    }

    // admin.conf: one cluster, one user, one context, as kind requires.
    let admin = exec(&node, &["cat", "/etc/kubernetes/admin.conf"], None).1;
    let mut kubeconfig: Value = serde_yaml::from_str(&admin).unwrap();
    assert_eq!(kubeconfig["clusters"].as_array().unwrap().len(), 1);
    assert_eq!(kubeconfig["users"].as_array().unwrap().len(), 1);
    assert_eq!(kubeconfig["contexts"].as_array().unwrap().len(), 1);
    assert_eq!(kubeconfig["clusters"][0]["name"], "standin");
    assert_eq!(kubeconfig["users"][0]["name"], "kubernetes-admin");
    assert_eq!(kubeconfig["current-context"], "kubernetes-admin@standin");
    assert_eq!(
        kubeconfig["clusters"][0]["cluster"]["server"],
        format!("https://{node}:6443")
    );

    // kube-rs through the published port, verifying the server against the kubeadm CA.
    let port = published(&node, 6443);
    kubeconfig["clusters"][0]["cluster"]["server"] = json!(format!("https://127.0.0.1:{port}"));
    let rt = runtime();
    let client = kube_client(&rt, &serde_yaml::to_string(&kubeconfig).unwrap());
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), "kube-system");
    let listed = eventually("the API double", || {
        rt.block_on(configmaps.list(&ListParams::default())).ok()
    });
    let names: Vec<String> = listed
        .items
        .iter()
        .filter_map(|c| c.metadata.name.clone())
        .collect();
    assert_eq!(names, ["coredns"]);
    rt.block_on(async {
        let applied = configmaps
            .patch(
                "lok8s-probe",
                &PatchParams::apply("lok8s"),
                &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": "lok8s-probe"}, "data": {"k": "v"}})),
            )
            .await
            .unwrap();
        assert_eq!(applied.data.unwrap()["k"], "v");
        // CoreDNS as kubeadm left it: changing its image is a conflict with "kubeadm".
        let deployments: Api<Deployment> = Api::namespaced(client, "kube-system");
        let patch = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "coredns"}, "spec": {"template": {"spec": {
                "containers": [{"name": "coredns", "image": "example.test/coredns:v9"}]}}}});
        let err = deployments
            .patch(
                "coredns",
                &PatchParams::apply("lok8s"),
                &Patch::Apply(&patch),
            )
            .await
            .unwrap_err();
        assert!(err.to_string().contains("conflict"), "{err}");
        let forced = deployments
            .patch(
                "coredns",
                &PatchParams::apply("lok8s").force(),
                &Patch::Apply(&patch),
            )
            .await
            .unwrap();
        let pod = forced.spec.template.spec.unwrap();
        assert_eq!(pod.containers.len(), 1);
        assert_eq!(
            pod.containers[0].image.as_deref(),
            Some("example.test/coredns:v9")
        );
        assert_eq!(pod.containers[0].volume_mounts.as_ref().unwrap().len(), 1);
        assert_eq!(pod.volumes.unwrap()[0].name, "config-volume");
    });

    // kubectl: what kind feeds it is kept, readiness answers 'True'.
    let manifest = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n";
    let apply = [
        "kubectl",
        "--kubeconfig=/etc/kubernetes/admin.conf",
        "apply",
        "-f",
        "-",
    ];
    assert_eq!(exec(&node, &apply, Some(manifest)).0, 0);
    assert_eq!(
        exec(&node, &["cat", "/kind/kubectl-stdin-1.yaml"], None).1,
        manifest
    );
    let (code, stdout, _) = exec(
        &node,
        &[
            "kubectl",
            "--kubeconfig=/etc/kubernetes/admin.conf",
            "get",
            "nodes",
            "--selector=node-role.kubernetes.io/control-plane",
            "-o=jsonpath='{.items..status.conditions[-1:].status}'",
        ],
        None,
    );
    assert_eq!((code, stdout.trim()), (0, "'True'"));
    let calls = exec(&node, &["cat", "/kind/calls.log"], None).1;
    let lines: Vec<&str> = calls.lines().collect();
    assert_eq!(
        lines[..4],
        [
            "kubeadm init --config=/kind/kubeadm.conf --skip-token-print --v=6",
            "kubeadm init --config=/kind/kubeadm.conf --skip-token-print --v=6",
            "kubeadm join --config /kind/kubeadm.conf --v=6",
            "kubectl --kubeconfig=/etc/kubernetes/admin.conf apply -f -",
        ],
        "{calls}"
    );
    let requests = exec(&node, &["cat", "/kind/api-requests.log"], None).1;
    assert!(
        requests.contains("GET /api/v1/namespaces/kube-system/configmaps")
            && requests.contains("PATCH /api/v1/namespaces/kube-system/configmaps/lok8s-probe?"),
        "{requests}"
    );
}

#[test]
fn apply_merges_named_lists_by_name_and_replaces_other_arrays() {
    let api = KubeApi::start();
    api.seed(
        "apps",
        "deployments",
        "kube-system",
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "d", "namespace": "kube-system"},
            "spec": {"template": {"spec": {
                "containers": [{"name": "c", "image": "a", "args": ["x", "y"]}],
                "volumes": [{"name": "v1", "emptyDir": {}}]}}}}),
        "kubeadm",
    );
    let rt = runtime();
    let client = kube_client(&rt, &api.kubeconfig());
    let deployments: Api<Deployment> = Api::namespaced(client, "kube-system");
    let apply = |patch: Value| {
        rt.block_on(deployments.patch("d", &PatchParams::apply("lok8s"), &Patch::Apply(&patch)))
    };
    let spec = |pod: Value| {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
            "spec": {"template": {"spec": pod}}})
    };
    // Another manager's field inside a list item conflicts, named by item.
    let err = apply(spec(json!({"containers": [{"name": "c", "image": "b"}]}))).unwrap_err();
    assert!(err.to_string().contains("[name=\"c\"].image"), "{err}");
    // New fields and new items merge in; what kubeadm set stays.
    apply(spec(
        json!({"containers": [{"name": "c", "env": [{"name": "E", "value": "1"}]}],
        "volumes": [{"name": "v2", "emptyDir": {}}]}),
    ))
    .unwrap();
    let stored = api
        .object("apps", "deployments", "kube-system", "d")
        .unwrap();
    let pod = &stored["spec"]["template"]["spec"];
    assert_eq!(
        pod["containers"],
        json!([{"name": "c", "image": "a", "args": ["x", "y"],
        "env": [{"name": "E", "value": "1"}]}])
    );
    assert_eq!(
        pod["volumes"],
        json!([{"name": "v1", "emptyDir": {}}, {"name": "v2", "emptyDir": {}}])
    );
    // An array of plain values is replaced whole (here with force: kubeadm owns it).
    rt.block_on(deployments.patch(
        "d",
        &PatchParams::apply("lok8s").force(),
        &Patch::Apply(spec(json!({"containers": [{"name": "c", "args": ["z"]}]}))),
    ))
    .unwrap();
    let stored = api
        .object("apps", "deployments", "kube-system", "d")
        .unwrap();
    assert_eq!(
        stored["spec"]["template"]["spec"]["containers"][0]["args"],
        json!(["z"])
    );
}
