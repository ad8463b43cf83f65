//! End to end: the descriptor becomes resources in the Cloud API double, whose servers are real
//! containers (`support/machine_image.rs`: OpenSSH sshd, stand-in kubeadm/kubectl that record
//! their calls) on a Docker network the test made, reached only on 127.0.0.0/8 addresses the
//! double reports as the servers' public IPv4; three control planes and two workers installed
//! over ssh; the kubeconfig read back through the leader's API; a re-run changes nothing; status
//! reads each control plane's health; destroy resets every host and deletes only what carries
//! the cluster's label.

use lok8s_tests::docker::docker;
use lok8s_tests::kubeone_site::{
    Addresses, DOMAIN, Machines, NAMES, Setup, ca_hash, calls, descriptor, exec, free_port,
};
use lok8s_tests::robot_api::RobotApi;
use serde_json::json;

const STANDIN: &str = env!("CARGO_BIN_EXE_lok8s-node-standin");

#[test]
fn three_control_planes_and_two_workers_over_ssh() {
    let a = Addresses::new(0);
    let ssh_port = free_port(&a);
    let s = Setup::new(&descriptor(&a, ssh_port));
    let m = Machines::start(&s, a, ssh_port, STANDIN.as_ref());
    let (a, containers) = (&m.a, &m.containers);
    // Someone else's server in the project: never touched.
    s.api.seed("servers", "hand-made", json!({}));

    let run = s.lo(&["provision", DOMAIN]);
    run.success();
    let created = s.api.names("servers");
    assert_eq!(
        created,
        [
            "hand-made",
            "prod-cp-0",
            "prod-cp-1",
            "prod-cp-2",
            "prod-w-0",
            "prod-w-1"
        ]
    );

    // Cloud-init for kubeadm nodes: the base, no Docker (bug 21); containerd comes over ssh.
    let user_data = s.api.object("servers", "prod-w-0").unwrap()["user_data"].clone();
    let user_data = user_data.as_str().unwrap();
    assert!(user_data.starts_with("#cloud-config"), "{user_data}");
    assert!(!user_data.contains("docker"), "{user_data}");

    // The leader ran init; the others joined, control planes one by one before the workers.
    let leader = calls(&containers[0]);
    assert!(
        leader.contains("kubeadm init --config /etc/kubeone/kubeadm.yaml"),
        "{leader}"
    );
    assert!(
        leader.contains("kubeadm token create --ttl 1h --print-join-command"),
        "{leader}"
    );
    let order: Vec<usize> = NAMES[1..]
        .iter()
        .map(|n| {
            run.stderr
                .find(&format!("{n} joined"))
                .unwrap_or_else(|| panic!("{n}: {}", run.stderr))
        })
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{}", run.stderr);
    let leader_ca = exec(&containers[0], "cat /etc/kubernetes/pki/ca.crt");
    let encryption = exec(
        &containers[0],
        "cat /etc/kubernetes/encryption-providers/config.yaml",
    );
    assert!(encryption.contains("aescbc"), "{encryption}");
    for (i, c) in containers.iter().enumerate().skip(1) {
        let log = calls(c);
        assert!(
            log.contains("kubeadm join --config /etc/kubeone/kubeadm.yaml"),
            "{}: {log}",
            NAMES[i]
        );
        assert!(!log.contains("kubeadm init"), "{}: {log}", NAMES[i]);
        let config = exec(c, "cat /etc/kubeone/kubeadm.yaml");
        assert!(
            config.contains(&format!("- \"{}\"", ca_hash(&leader_ca))),
            "{config}"
        );
        assert!(
            config.contains(&format!("apiServerEndpoint: \"{}:6443\"", a.lb())),
            "{config}"
        );
        assert!(
            config.contains(&format!("\"node-ip\": \"{}\"", a.internal(i))),
            "{config}"
        );
        let patch = exec(
            c,
            "cat '/etc/kubeone/patches/kubeletconfiguration0+strategic.yaml'",
        );
        let control_plane = NAMES[i].contains("-cp-");
        assert_eq!(config.contains("controlPlane:"), control_plane, "{config}");
        assert!(
            patch.contains(if control_plane {
                "maxPods: 110"
            } else {
                "maxPods: 250"
            }),
            "{patch}"
        );
        let (has_ca, _) = docker(&["exec", c, "test", "-f", "/etc/kubernetes/pki/ca.key"]);
        if control_plane {
            assert_eq!(
                exec(c, "cat /etc/kubernetes/pki/ca.crt"),
                leader_ca,
                "shared CA"
            );
            assert_eq!(
                exec(c, "cat /etc/kubernetes/encryption-providers/config.yaml"),
                encryption
            );
        } else {
            assert_ne!(has_ca, 0, "a worker holds the CA key");
        }
        assert!(!log.contains("apt-get"), "packages already pinned: {log}");
        let logins = exec(c, "cat /etc/containerd/conf.d/lok8s-registries.toml");
        assert!(
            logins.contains("configs.\"registry.test:5000\".auth]\n  username = \"robot\"\n  password = \"s3cret\\\"pw\""),
            "{logins}"
        );
        assert_eq!(
            exec(c, "stat -c %a /etc/containerd/conf.d/lok8s-registries.toml"),
            "600"
        );
        let containerd = exec(c, "cat /etc/containerd/config.toml");
        assert!(
            containerd.starts_with("imports = [\"/etc/containerd/conf.d/*.toml\"]"),
            "{containerd}"
        );
        assert!(log.contains("systemctl restart containerd"), "{log}");
        assert!(log.contains("modprobe br_netfilter"), "{log}");
    }

    // The record, the kubeconfig (owner-only) and the pins.
    let manifest =
        s.p.read(&format!("clusters/{DOMAIN}/.state/kubeone/kubeone.yaml"));
    assert!(manifest.contains("kind: KubeOneCluster"), "{manifest}");
    assert!(
        manifest.contains(&format!("host: {}", a.lb())),
        "{manifest}"
    );
    let kubeconfig = s.p.path(".kubeconfig/prod.yaml");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&kubeconfig).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let text = std::fs::read_to_string(&kubeconfig).unwrap();
    assert!(
        text.contains(&format!("server: https://{}:6443", a.lb())),
        "{text}"
    );
    let read_back = std::process::Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args(["get", "namespaces", "-o", "name"])
        .output()
        .unwrap();
    assert!(
        read_back.status.success(),
        "{}",
        String::from_utf8_lossy(&read_back.stderr)
    );
    assert!(String::from_utf8_lossy(&read_back.stdout).contains("namespace/kube-system"));
    // The bootstrap's hcloud-ccm, applied through the load balancer: its Secret from HCLOUD_TOKEN.
    let kubectl = |args: &[&str]| {
        let out = std::process::Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    use base64::Engine;
    let token = kubectl(&[
        "-n",
        "kube-system",
        "get",
        "secret",
        "hcloud",
        "-o",
        "jsonpath={.data.token}",
    ]);
    assert_eq!(
        token,
        base64::engine::general_purpose::STANDARD.encode(lok8s_tests::kubeone_site::TOKEN)
    );
    let ccm = kubectl(&["-n", "kube-system", "get", "deployment", "-o", "name"]);
    assert!(
        ccm.contains("deployment.apps/hcloud-cloud-controller-manager"),
        "{ccm}"
    );
    let pins = s.p.read(".lok8s/known_hosts");
    assert_eq!(pins.lines().count(), NAMES.len(), "{pins}");

    // Again: nothing created, nothing installed, nobody joins twice.
    let before: Vec<String> = containers.iter().map(|c| calls(c)).collect();
    let posts = |seen: Vec<String>| {
        seen.iter()
            .filter(|l| l.starts_with("POST") && !l.contains("/actions/"))
            .count()
    };
    let posted = posts(s.api.seen());
    s.lo(&["provision", DOMAIN]).success();
    assert_eq!(posts(s.api.seen()), posted, "the re-run created something");
    for (c, old) in containers.iter().zip(&before) {
        let new = calls(c);
        let added = new
            .strip_prefix(old.as_str())
            .unwrap_or_else(|| panic!("{c}: log rewritten"));
        assert!(
            !added.contains("kubeadm init") && !added.contains("kubeadm join"),
            "{c}: {added}"
        );
    }

    let status = s.lo(&["status", DOMAIN, "-o", "json"]).json();
    assert_eq!(status["phase"], "Healthy", "{status}");
    // A later run that asks the API nothing still publishes the kubeconfig naming the load
    // balancer lo published before.
    s.lo(&["kubeconfig", DOMAIN]).success();
    assert!(kubeconfig.exists());
    let env = s.lo(&["env", DOMAIN, "-o", "json"]).json();
    let vars = &env["variables"];
    assert_eq!(vars["LOK8S_SPEC_KUBERNETES_VERSION"], "v1.35.0", "{env}");
    assert_eq!(vars["LOK8S_SSH_PORT"], ssh_port.to_string(), "{env}");
    assert_eq!(vars["LOK8S_SPEC_PROVIDER"], "hetzner", "{env}");

    // Destroy: every host reset, the cluster's resources gone, someone else's server kept.
    s.lo(&["destroy", DOMAIN]).success();
    for c in containers {
        assert!(calls(c).contains("kubeadm reset --force"), "{c}");
        let (code, _) = docker(&["exec", c, "test", "-f", "/etc/kubernetes/kubelet.conf"]);
        assert_ne!(code, 0, "{c} still joined");
    }
    assert_eq!(s.api.names("servers"), ["hand-made"]);
    assert!(s.api.names("load_balancers").is_empty());
    assert!(!kubeconfig.exists());
}

/// An action that never finishes, an unreachable host and a failing `kubeadm join` each stop
/// the run with what happened and where; each re-run goes on from there and the last one
/// completes the cluster, with the leader's init run once.
#[test]
fn failures_are_named_and_a_rerun_repairs() {
    let a = Addresses::new(1);
    let ssh_port = free_port(&a);
    let mut s = Setup::new(&descriptor(&a, ssh_port));
    s.env[3].1 = "1ms".into();
    let m = Machines::start(&s, a, ssh_port, STANDIN.as_ref());
    let c = &m.containers;

    // The Cloud API keeps every action running: the provider gives up after its poll bound.
    s.api.script(|sc| sc.action_polls = 100_000);
    s.lo(&["provision", DOMAIN])
        .code(1)
        .stderr_has("action_expired")
        .stderr_has("run again once it finished");
    s.api.script(|sc| sc.action_polls = 0);

    // A worker that does not answer: named, and nothing is installed anywhere (probes first).
    let (code, out) = docker(&["stop", "-t", "1", &c[4]]);
    assert_eq!(code, 0, "{out}");
    s.lo(&["provision", DOMAIN])
        .code(1)
        .stderr_has("prod-w-1 (")
        .stderr_has("ssh connect");
    assert!(
        !calls(&c[0]).contains("kubeadm init"),
        "installed with a host down"
    );
    let (code, out) = docker(&["start", &c[4]]);
    assert_eq!(code, 0, "{out}");

    // A join that fails: its host and kubeadm's words; the control planes are in by then.
    exec(&c[3], "touch /kind/fail-join");
    s.lo(&["provision", DOMAIN])
        .code(1)
        .stderr_has("`kubeadm join --config /etc/kubeone/kubeadm.yaml` on prod-w-0 exited with 1")
        .stderr_has("lok8s stand-in: /kind/fail-join");
    exec(&c[3], "rm /kind/fail-join");

    s.lo(&["provision", DOMAIN]).success();
    let inits = calls(&c[0]).matches("kubeadm init").count();
    assert_eq!(inits, 1, "the leader initialised more than once");
    for (i, container) in c.iter().enumerate().skip(1) {
        let log = calls(container);
        let joins = log.matches("kubeadm join").count();
        let expected = if NAMES[i] == "prod-w-0" { 2 } else { 1 };
        assert_eq!(joins, expected, "{}: {log}", NAMES[i]);
        let (code, _) = docker(&[
            "exec",
            container,
            "test",
            "-f",
            "/etc/kubernetes/kubelet.conf",
        ]);
        assert_eq!(code, 0, "{} did not join", NAMES[i]);
    }
    assert_eq!(
        s.lo(&["status", DOMAIN, "-o", "json"]).json()["phase"],
        "Healthy"
    );

    // Another Kubernetes version: the upgrade it needs, and nothing run on any host.
    let spec_file = format!("clusters/{DOMAIN}/cluster.lok8s.yaml");
    let spec = s.p.read(&spec_file).replace("v1.35.0", "v1.36.0");
    s.p.write(&spec_file, spec);
    let before: Vec<String> = c.iter().map(|c| calls(c)).collect();
    s.lo(&["provision", DOMAIN])
        .code(1)
        .stderr_has("runs Kubernetes v1.35.0 and the spec asks for v1.36.0: that is an upgrade")
        .stderr_has("`kubeadm upgrade apply v1.36.0` on prod-cp-0");
    for (container, old) in c.iter().zip(&before) {
        let added = calls(container).replacen(old.as_str(), "", 1);
        assert!(
            !added.contains("kubeadm init") && !added.contains("kubeadm join"),
            "{added}"
        );
    }
}

/// A dedicated (Robot) worker: its address comes from the spec (`#external-ip`), but `lo` lets
/// the driver reach it only once the Robot webservice listed it; it is named after its host,
/// found in rescue mode and given its OS by installimage (a stand-in that records its call and
/// runs the post-install script; a stand-in `reboot` restarts sshd), installed with the cloud
/// servers, reset on destroy and never deleted.
#[test]
fn a_dedicated_worker_is_found_through_robot_named_and_joined() {
    let a = Addresses::new(2);
    let ssh_port = free_port(&a);
    let cloud_w1 = "- {name: prod-w-1, type: cx22, image: debian-12, location: fsn1, ssh-key: [0], network: [0], label: 'lok8s.dev/cluster=prod,lok8s.dev/role=worker'}";
    let dedicated = format!(
        "- {{name: prod-w-1, '#cloud.root': 'true', '#external-ip': '{}', '#internal-ip': '{}', '#labels': 'role=worker', '#installimage': installimage.conf}}",
        a.public(4),
        a.internal(4)
    );
    let spec = descriptor(&a, ssh_port);
    assert!(spec.contains(cloud_w1), "{spec}");
    let mut s = Setup::new(&spec.replace(cloud_w1, &dedicated));
    let robot = RobotApi::start("robot-user", "robot-pw-5e1");
    let robot_ca = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(robot_ca.path(), &robot.ca_pem).unwrap();
    s.env.push(("HROBOT_ENDPOINT", robot.url()));
    s.env
        .push(("HROBOT_CA_CERT", robot_ca.path().display().to_string()));
    let public_w1 = a.public(4);
    let m = Machines::start(&s, a, ssh_port, STANDIN.as_ref());
    let c = &m.containers;

    // No Robot login: said before anything is asked of either API.
    s.lo(&["provision", DOMAIN])
        .code(1)
        .stderr_has("set HROBOT_USER and HROBOT_PASSWORD");
    assert!(s.api.seen().is_empty(), "{:?}", s.api.seen());
    assert!(robot.seen().is_empty(), "{:?}", robot.seen());

    // The account has no server at that address: named as a spec error, nothing installed.
    s.env.push(("HROBOT_USER", "robot-user".into()));
    s.env.push(("HROBOT_PASSWORD", "robot-pw-5e1".into()));
    robot.seed(901, "203.0.113.9", "EX44 #901");
    s.lo(&["provision", DOMAIN]).code(1).stderr_has(&format!(
        "prod-w-1: #external-ip {public_w1} is not a dedicated server"
    ));
    assert!(!calls(&c[0]).contains("kubeadm init"));

    robot.seed(902, &public_w1, "EX44 #902");
    let image_config =
        "DRIVE1 /dev/sda\nHOSTNAME prod-w-1\nIMAGE /root/images/Debian-bookworm.tar.gz\n";
    s.p.write(
        &format!("clusters/{DOMAIN}/installimage.conf"),
        image_config,
    );
    rescue_mode(&c[4]);
    s.lo(&["provision", DOMAIN]).success();
    assert_eq!(robot.names()[&902], "prod-w-1");
    // Rescue mode: installimage with our config and post-install, a reboot, then the join.
    let log = calls(&c[4]);
    let installed = log
        .find("installimage -a -c /tmp/installimage.conf -x /tmp/lok8s-post-install")
        .unwrap_or_else(|| panic!("{log}"));
    let rebooted = log.find("reboot").unwrap_or_else(|| panic!("{log}"));
    let joined = log.find("kubeadm join").unwrap_or_else(|| panic!("{log}"));
    assert!(installed < rebooted && rebooted < joined, "{log}");
    assert_eq!(
        exec(&c[4], "cat /kind/installed.conf"),
        image_config.trim_end()
    );
    let seed = exec(&c[4], "cat /var/lib/cloud/seed/nocloud/user-data");
    assert!(seed.starts_with("#cloud-config"), "{seed}");
    assert!(
        exec(&c[4], "cat /var/lib/cloud/seed/nocloud/meta-data")
            .contains("local-hostname: prod-w-1")
    );
    // The host key pinned in rescue mode still matched after the reboot (one pin per host).
    let pins = s.p.read(".lok8s/known_hosts");
    assert_eq!(pins.matches(&format!("{public_w1}:")).count(), 1, "{pins}");
    // A second run: no longer in rescue mode, nothing installed again.
    s.lo(&["provision", DOMAIN]).success();
    assert_eq!(calls(&c[4]).matches("installimage -a").count(), 1);
    assert!(
        !s.api.names("servers").contains(&"prod-w-1".to_string()),
        "a dedicated server was created in the cloud"
    );
    assert!(calls(&c[4]).contains("kubeadm join"), "{}", calls(&c[4]));
    exec(&c[4], "test -f /etc/kubernetes/kubelet.conf");
    let pins = s.p.read(".lok8s/known_hosts");
    assert!(pins.contains(&format!("{public_w1}:{ssh_port} ")), "{pins}");
    assert_eq!(
        s.lo(&["status", DOMAIN, "-o", "json"]).json()["phase"],
        "Healthy"
    );

    s.lo(&["destroy", DOMAIN]).success();
    assert!(calls(&c[4]).contains("kubeadm reset --force"));
    assert!(
        robot.names().contains_key(&902),
        "the dedicated server is not ours to delete"
    );
    assert!(s.api.names("servers").is_empty());
}

/// Makes a machine look like Hetzner's rescue system: installimage (recording its call, keeping
/// the config, running the post-install script) and a `reboot` that leaves rescue mode and
/// restarts sshd.
fn rescue_mode(container: &str) {
    let installimage = "#!/bin/sh\necho \"installimage $*\" >> /kind/calls.log\n\
        cp /tmp/installimage.conf /kind/installed.conf\nsh /tmp/lok8s-post-install\n";
    let reboot = "#!/bin/sh\necho reboot >> /kind/calls.log\n\
        rm -f /root/.oldroot/nfs/install/installimage\n\
        kill \"$(cat /run/sshd.pid)\"; sleep 1; /usr/sbin/sshd -e\n";
    for (path, text) in [
        ("/root/.oldroot/nfs/install/installimage", installimage),
        ("/usr/local/bin/reboot", reboot),
    ] {
        let (code, out) = docker(&[
            "exec",
            container,
            "sh",
            "-c",
            &format!(
                "mkdir -p \"$(dirname {path})\" && printf '%s' \"$0\" > {path} && chmod 755 {path}"
            ),
            text,
        ]);
        assert_eq!(code, 0, "{out}");
    }
}
