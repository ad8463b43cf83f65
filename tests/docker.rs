//! The docker capability on a real engine: what a driver creates (labels, IPs, mounts, ports,
//! restart policy), exec and file copy, convergence, destroy, and every refusal of the grant
//! and scope checks, each leaving no trace. Needs a running dockerd (`.ci/run` starts one).

use lok8s_tests::Project;
use lok8s_tests::docker::{Cleanup, busybox, docker, inspect};

/// A project with a Probe cluster pinned to the docker-probe fixture, granted a host folder
/// (read-only) with `hello.txt` in it. `n` keeps names and subnets apart between tests running
/// in parallel.
fn probe(n: u8, action: &str, extra: &str) -> (Project, Cleanup, String) {
    let p = Project::new();
    let prefix = format!("lok8s-probe-{}-{n}", std::process::id());
    let hostdata = hostdata(&prefix);
    let body = format!(
        "probe:\n  action: {action}\n  prefix: {prefix}\n  image: {}\n  subnet: 10.213.{n}.0/24\n  ip: 10.213.{n}.10\n  \
         hostdata: {}\n{extra}",
        busybox(),
        hostdata.display()
    );
    p.cluster("probe.dev", "Probe", "probe", &body);
    p.pin("Probe", "docker-probe").success();
    let path = p.path("drivers.lock");
    let mut lock = lok8s::lock::Lockfile::load(&path).unwrap();
    let grant = lock.drivers.get_mut("probe").unwrap();
    grant.grants.docker.as_mut().unwrap().host_paths = vec![hostdata.display().to_string()];
    lock.save(&path).unwrap();
    let cleanup = Cleanup::new(p.root());
    (p, cleanup, prefix)
}

/// A host folder outside any project, left for the process's lifetime (tests share nothing in it).
fn hostdata(prefix: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("{prefix}-hostdata"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("hello.txt"), "hello from the host").unwrap();
    dir.canonicalize().unwrap()
}

#[test]
fn lifecycle_creates_labelled_objects_and_converges() {
    let (p, cleanup, prefix) = probe(1, "lifecycle", "");
    p.lo(&["provision", "probe.dev"]).success();
    let report = p.read("clusters/probe.dev/.state/probe-report.txt");
    assert!(
        report.contains(&format!("network={prefix}-net subnet=10.213.1.0/24")),
        "{report}"
    );
    assert!(
        report.contains("exec exit=3 stdout=\"hello from the host\\npiped in\" stderr=\"oops\\n\""),
        "{report}"
    );
    assert!(report.contains("copied=copied"), "{report}");
    assert!(
        report.contains("running=true") && report.contains("ip=10.213.1.10"),
        "{report}"
    );
    assert!(report.contains(&format!("listed={prefix}-c")), "{report}");

    let root = p.root().canonicalize().unwrap().display().to_string();
    let c = inspect("container", &format!("{prefix}-c")).expect("container exists");
    let labels = &c["Config"]["Labels"];
    assert_eq!(labels["dev.lok8s.project"], root.as_str());
    assert_eq!(labels["dev.lok8s.cluster"], "probe.dev");
    assert_eq!(labels["dev.lok8s.driver"], "probe");
    assert_eq!(labels["app"], "probe");
    assert_eq!(c["HostConfig"]["RestartPolicy"]["Name"], "unless-stopped");
    assert_eq!(c["Config"]["Hostname"], "probe");
    assert!(
        c["Config"]["Env"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e == "FOO=bar")
    );
    assert_eq!(
        c["NetworkSettings"]["Networks"][format!("{prefix}-net")]["IPAMConfig"]["IPv4Address"],
        "10.213.1.10"
    );
    let binding = &c["HostConfig"]["PortBindings"]["80/tcp"][0];
    assert_eq!(binding["HostIp"], "127.0.0.1");
    let mounts = c["Mounts"].as_array().unwrap();
    // The granted host folder, through a volume that binds it ro,nosuid,nodev.
    let data = mounts
        .iter()
        .find(|m| m["Destination"] == "/data")
        .expect("the host folder's mount");
    assert_eq!(data["Type"], "volume");
    let volume = inspect("volume", data["Name"].as_str().unwrap()).unwrap();
    assert_eq!(
        volume["Options"]["device"],
        hostdata(&prefix).display().to_string().as_str()
    );
    assert_eq!(volume["Options"]["o"], "bind,ro,nosuid,nodev");
    assert_eq!(volume["Labels"]["dev.lok8s.cluster"], "probe.dev");
    assert_eq!(c["HostConfig"]["CapDrop"], serde_json::json!(["MKNOD"]));
    assert!(
        mounts
            .iter()
            .any(|m| m["Destination"] == "/vol" && m["Name"] == format!("{prefix}-vol").as_str())
    );
    assert!(c["HostConfig"]["Tmpfs"]["/scratch"].is_string());
    assert_eq!(c["HostConfig"]["Privileged"], false);
    let net = inspect("network", &format!("{prefix}-net")).expect("network exists");
    assert_eq!(net["IPAM"]["Config"][0]["Subnet"], "10.213.1.0/24");
    assert_eq!(net["Labels"]["dev.lok8s.cluster"], "probe.dev");
    let vol = inspect("volume", &format!("{prefix}-vol")).expect("volume exists");
    assert_eq!(vol["Labels"]["dev.lok8s.project"], root.as_str());

    // Re-provision converges: the same container, not a new one.
    let id = c["Id"].as_str().unwrap().to_string();
    p.lo(&["provision", "probe.dev"]).success();
    assert_eq!(
        inspect("container", &format!("{prefix}-c")).unwrap()["Id"],
        id.as_str()
    );
    p.lo(&["status", "probe.dev"])
        .success()
        .stdout_has("phase    Running");

    p.lo(&["destroy", "probe.dev"]).success();
    assert!(inspect("container", &format!("{prefix}-c")).is_none());
    assert!(inspect("network", &format!("{prefix}-net")).is_none());
    assert!(inspect("volume", &format!("{prefix}-vol")).is_none());
    assert!(cleanup.labelled("container").is_empty());
    p.lo(&["status", "probe.dev"])
        .success()
        .stdout_has("phase    NotFound");
}

#[test]
fn hostile_docker_calls_are_denied_and_leave_no_trace() {
    let (p, mut cleanup, prefix) = probe(2, "lifecycle", "  target: TARGET\n");
    // Another project's objects: unlabelled, made with the docker CLI.
    let foreign = format!("{prefix}-foreign");
    assert_eq!(
        docker(&["run", "-d", "--name", &foreign, busybox(), "sleep", "3600"]).0,
        0
    );
    assert_eq!(docker(&["network", "create", &foreign]).0, 0);
    assert_eq!(docker(&["volume", "create", &foreign]).0, 0);
    cleanup.containers.push(foreign.clone());
    cleanup.networks.push(foreign.clone());
    cleanup.volumes.push(foreign.clone());
    let spec = p
        .read("clusters/probe.dev/cluster.lok8s.yaml")
        .replace("TARGET", &foreign);
    let cases = [
        ("privileged", "privileged containers need privileged = true"),
        (
            "security-opt",
            "security option \"seccomp=unconfined\" loosens confinement",
        ),
        ("socket", "add it to host-paths"),
        ("host-path", "add it to host-paths"),
        (
            "climb",
            "files from the project go into containers with copy-file",
        ),
        ("foreign-stop", "does not belong to cluster probe.dev"),
        ("foreign-remove", "does not belong to cluster probe.dev"),
        ("foreign-exec", "does not belong to cluster probe.dev"),
        ("foreign-inspect", "does not belong to cluster probe.dev"),
        (
            "foreign-network",
            "neither this cluster's nor a shared network",
        ),
        (
            "foreign-network-remove",
            "neither this cluster's nor a shared network",
        ),
        ("foreign-volume", "is not this cluster's"),
        ("forge-label", "labels under dev.lok8s. are set by lo"),
    ];
    for (action, why) in cases {
        p.write(
            "clusters/probe.dev/cluster.lok8s.yaml",
            spec.replace("action: lifecycle", &format!("action: {action}")),
        );
        let run = p.lo(&["provision", "probe.dev"]);
        run.code(1).stderr_has("denied: docker").stderr_has(why);
        // Where a grant would allow it, the denial says where grants go; not for the project.
        if action != "climb" {
            run.stderr_has("[drivers.probe.grants]");
        }
        assert!(
            cleanup.labelled("container").is_empty(),
            "{action} left containers: {:?}",
            cleanup.labelled("container")
        );
        assert!(
            cleanup.labelled("network").is_empty(),
            "{action} left networks"
        );
    }
    let target = inspect("container", &foreign).expect("the foreign container survived");
    assert_eq!(target["State"]["Running"], true);
    assert!(inspect("network", &foreign).is_some());
}

#[test]
fn privileged_needs_the_grant_and_honours_the_operator_setting() {
    let (p, _cleanup, prefix) = probe(3, "privileged-create", "");
    let lock = p
        .read("drivers.lock")
        .replace("privileged = false", "privileged = true");
    p.write("drivers.lock", lock);
    // Default: truly privileged (created, not started: this kernel refuses to start it).
    p.lo(&["provision", "probe.dev"])
        .code(1)
        .stderr_has("privileged=true");
    let c = inspect("container", &format!("{prefix}-priv")).unwrap();
    assert_eq!(c["HostConfig"]["Privileged"], true);
    docker(&["rm", "-f", &format!("{prefix}-priv")]);
    // Starting it here fails the way this VM fails it, and lo names the operator setting.
    let spec = p.read("clusters/probe.dev/cluster.lok8s.yaml");
    p.write(
        "clusters/probe.dev/cluster.lok8s.yaml",
        spec.replace("privileged-create", "privileged-start"),
    );
    let started = p.lo(&["provision", "probe.dev"]);
    started.code(1);
    // Where the kernel allows --privileged (not this VM) the start simply succeeds.
    if !started.stderr.contains("privileged-start: ALLOWED") {
        started
            .stderr_has("unable to apply caps")
            .stderr_has("set LO_PRIVILEGED_MODE=capabilities");
    }
    docker(&["rm", "-f", &format!("{prefix}-priv")]);
    p.write("clusters/probe.dev/cluster.lok8s.yaml", spec);
    // The operator setting: every capability the host has instead.
    p.lo_env(
        &["provision", "probe.dev"],
        &[("LO_PRIVILEGED_MODE", "capabilities")],
    )
    .code(1)
    .stderr_has("privileged=false");
    let c = inspect("container", &format!("{prefix}-priv")).unwrap();
    assert_eq!(c["HostConfig"]["Privileged"], false);
    assert_eq!(c["HostConfig"]["CapAdd"], serde_json::json!(["ALL"]));
    assert_eq!(
        c["HostConfig"]["CapDrop"],
        serde_json::json!(["SYS_RESOURCE"])
    );
    assert_eq!(
        c["HostConfig"]["DeviceCgroupRules"],
        serde_json::json!(["a *:* rwm"])
    );
    let opts = c["HostConfig"]["SecurityOpt"].as_array().unwrap();
    assert!(opts.iter().any(|o| o == "seccomp=unconfined"), "{opts:?}");
    assert_eq!(
        c["HostConfig"]["MaskedPaths"],
        serde_json::json!([]),
        "system paths unconfined"
    );
    assert_eq!(c["HostConfig"]["ReadonlyPaths"], serde_json::json!([]));
    // And this kernel, which refuses --privileged, starts it.
    assert_eq!(docker(&["start", &format!("{prefix}-priv")]).0, 0);
    assert_eq!(
        inspect("container", &format!("{prefix}-priv")).unwrap()["State"]["Running"],
        true
    );
}

#[test]
fn a_driver_importing_docker_without_the_grant_is_refused_at_load() {
    let (p, cleanup, _) = probe(4, "lifecycle", "");
    let lock = p.read("drivers.lock");
    let start = lock
        .find("[drivers.probe.grants.docker]")
        .expect("docker grant in lock");
    let rest = &lock[start + 1..];
    let end = rest
        .find("\n[")
        .map(|i| start + 1 + i + 1)
        .unwrap_or(lock.len());
    p.write(
        "drivers.lock",
        format!("{}{}", &lock[..start], &lock[end..]),
    );
    p.lo(&["provision", "probe.dev"])
        .code(1)
        .stderr_has("lok8s:driver/docker@1.2.0: not granted")
        .stderr_has("[drivers.probe.grants]");
    assert!(cleanup.labelled("network").is_empty());
}
