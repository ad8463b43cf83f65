//! Registries and mirrors: spec changes, restarts, repairs, and mirrors shared across projects.

use super::setup::*;
use lok8s_tests::docker::{Cleanup, busybox, docker, inspect};
use lok8s_tests::images::registry_image;

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
