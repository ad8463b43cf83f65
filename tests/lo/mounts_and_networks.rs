//! What the spec adds to the nodes: extra mounts (with the operator's grant) and a shared
//! network the spec names.

use super::setup::*;
use lok8s_tests::docker::{Cleanup, docker, inspect};
use lok8s_tests::images::registry_image;

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
