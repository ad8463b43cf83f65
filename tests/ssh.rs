//! The ssh capability against a real OpenSSH sshd on 127.0.0.1 (throwaway host key and user):
//! exec with stdin/stdout/stderr/exit code, upload, host keys pinned on first use and a changed
//! key refused, ungranted hosts and keys denied before any connection (sshd's own log
//! proves nothing reached it), and `exec-all` running commands at the same time, in order,
//! one at a time under `LO_SSH_PARALLEL=1`.

use std::process::Command;

use lok8s_tests::Project;
use lok8s_tests::sshd::{Sshd, USER, keygen};

/// A project with a client key in `.secrets/ssh`, the ssh-probe pinned, and its grant
/// pointed at `granted_host`.
fn probe(granted_host: &str, port: u16, key: &str) -> Project {
    let p = Project::new();
    std::fs::create_dir_all(p.path(".secrets/ssh")).unwrap();
    keygen(&p.path(".secrets/ssh/id_ed25519"));
    let upload = format!("/tmp/lok8s-ssh-{}-{port}.txt", std::process::id());
    p.cluster(
        "ssh.dev",
        "SshProbe",
        "ssh",
        &format!("probe:\n  host: 127.0.0.1\n  port: {port}\n  user: {USER}\n  key: {key}\n  upload: {upload}"),
    );
    p.pin("SshProbe", "ssh-probe").success();
    let lock = p.read("drivers.lock").replace(
        "hosts = [\"127.0.0.1\"]",
        &format!("hosts = [\"{granted_host}\"]"),
    );
    p.write("drivers.lock", lock);
    p
}

#[test]
fn exec_and_upload_over_a_pinned_session() {
    let p = probe("PLACEHOLDER", 0, ".secrets/ssh/id_ed25519");
    let sshd = Sshd::start(&p.path(".secrets/ssh/id_ed25519.pub"));
    let spec = p
        .read("clusters/ssh.dev/cluster.lok8s.yaml")
        .replace("port: 0", &format!("port: {}", sshd.port));
    p.write("clusters/ssh.dev/cluster.lok8s.yaml", spec);
    p.write(
        "drivers.lock",
        p.read("drivers.lock")
            .replace("PLACEHOLDER", &format!("127.0.0.1:{}", sshd.port)),
    );
    let quiet = p.lo(&["provision", "ssh.dev"]);
    quiet.success();
    assert_eq!(
        p.read("clusters/ssh.dev/.state/ssh-report.txt"),
        "exit=4 stdout=hi there stderr=err upload=payload mode=640"
    );
    let origin = format!("{USER}@127.0.0.1:{}", sshd.port);
    assert!(!quiet.stderr.contains(&origin), "{}", quiet.stderr);
    // The host key is pinned, outside the driver's reach, with the fingerprint ssh-keygen shows.
    let pins = p.read(".lok8s/known_hosts");
    let fp = Command::new("ssh-keygen")
        .arg("-lf")
        .arg(sshd.host_key_path())
        .output()
        .unwrap();
    let fingerprint = String::from_utf8_lossy(&fp.stdout)
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string();
    assert_eq!(pins, format!("127.0.0.1:{} {fingerprint}\n", sshd.port));
    // A second run uses the pin; with -v the commands' output is shown as it comes, cleaned.
    p.lo(&["provision", "ssh.dev", "-v"])
        .success()
        .stderr_has(&format!("{origin}: hi there\n"))
        .stderr_has(&format!("{origin}: err\n"));
    assert_eq!(p.read(".lok8s/known_hosts").lines().count(), 1);
    // A changed host key is refused.
    p.write(
        ".lok8s/known_hosts",
        format!(
            "127.0.0.1:{} SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",
            sshd.port
        ),
    );
    p.lo(&["provision", "ssh.dev"])
        .code(1)
        .stderr_has("the host key changed")
        .stderr_has(&fingerprint);
}

#[test]
fn ungranted_hosts_and_keys_never_connect() {
    let p = probe("10.0.0.1:22", 0, ".secrets/ssh/id_ed25519");
    let sshd = Sshd::start(&p.path(".secrets/ssh/id_ed25519.pub"));
    let spec = p
        .read("clusters/ssh.dev/cluster.lok8s.yaml")
        .replace("port: 0", &format!("port: {}", sshd.port));
    p.write("clusters/ssh.dev/cluster.lok8s.yaml", &spec);
    p.lo(&["provision", "ssh.dev"])
        .code(1)
        .stderr_has(&format!(
            "denied: ssh connect {USER}@127.0.0.1:{}",
            sshd.port
        ))
        .stderr_has("add \"127.0.0.1:");
    // Granted host, but a key outside the granted key paths.
    p.write(
        "drivers.lock",
        p.read("drivers.lock")
            .replace("10.0.0.1:22", &format!("127.0.0.1:{}", sshd.port)),
    );
    p.write(
        "clusters/ssh.dev/cluster.lok8s.yaml",
        spec.replace(
            ".secrets/ssh/id_ed25519",
            &sshd.host_key_path().display().to_string(),
        ),
    );
    p.lo(&["provision", "ssh.dev"])
        .code(1)
        .stderr_has("denied: ssh key")
        .stderr_has("add it to ssh.keys");
    // One connection only: the harness's own readiness check.
    assert_eq!(
        sshd.log().matches("Connection from").count(),
        1,
        "sshd saw the driver:\n{}",
        sshd.log()
    );
    assert!(!p.path(".lok8s/known_hosts").exists());
}

/// The probe with `spec.probe.meet` set, its grant pointed at `sshd`; `wait` in tenths of a
/// second is how long each rendezvous command waits for the other.
fn rendezvous(sshd_port: u16, p: &Project, meet: &str, wait: u32) {
    let spec = p
        .read("clusters/ssh.dev/cluster.lok8s.yaml")
        .replace("port: 0", &format!("port: {sshd_port}"));
    p.write(
        "clusters/ssh.dev/cluster.lok8s.yaml",
        format!("{spec}\n  meet: {meet}\n  wait: {wait}"),
    );
    p.write(
        "drivers.lock",
        p.read("drivers.lock")
            .replace("PLACEHOLDER", &format!("127.0.0.1:{sshd_port}")),
    );
}

#[test]
fn exec_all_runs_together_in_order_and_one_at_a_time_when_the_operator_says() {
    let p = probe("PLACEHOLDER", 0, ".secrets/ssh/id_ed25519");
    let sshd = Sshd::start(&p.path(".secrets/ssh/id_ed25519.pub"));
    let meet = tempfile::Builder::new()
        .prefix("lok8s-meet-")
        .tempdir()
        .unwrap();
    // The sshd's test user makes the meeting folders.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(meet.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let together = meet.path().join("together");
    // Each command waits up to 120 s for the other: both start at once, so neither waits long.
    rendezvous(sshd.port, &p, &together.display().to_string(), 1200);
    p.lo(&["provision", "ssh.dev"]).success();
    assert_eq!(
        p.read("clusters/ssh.dev/.state/exec-all-report.txt"),
        "a=0 b=0 c=3/c too-many=33x ssh exec-all: 33 requests; at most 32 per call"
    );
    // One at a time: the first waits for a command that has not started (2 s), and fails.
    let spec = p.read("clusters/ssh.dev/cluster.lok8s.yaml");
    let alone = meet.path().join("alone");
    p.write(
        "clusters/ssh.dev/cluster.lok8s.yaml",
        spec.replace(
            &together.display().to_string(),
            &alone.display().to_string(),
        )
        .replace("wait: 1200", "wait: 20"),
    );
    p.lo_env(&["provision", "ssh.dev"], &[("LO_SSH_PARALLEL", "1")])
        .success();
    assert_eq!(
        p.read("clusters/ssh.dev/.state/exec-all-report.txt"),
        "a=1 b=0 c=3/c too-many=33x ssh exec-all: 33 requests; at most 32 per call"
    );
    // Out of range is the operator's error, named with the setting.
    p.lo_env(&["provision", "ssh.dev"], &[("LO_SSH_PARALLEL", "0")])
        .code(2)
        .stderr_has("ssh-parallel");
}
