//! The ssh capability against a real OpenSSH sshd on 127.0.0.1 (throwaway host key and user):
//! exec with stdin/stdout/stderr/exit code, upload, host keys pinned on first use and a changed
//! key refused, and ungranted hosts and keys denied before any connection (sshd's own log
//! proves nothing reached it).

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
    p.lo(&["provision", "ssh.dev"]).success();
    assert_eq!(
        p.read("clusters/ssh.dev/.state/ssh-report.txt"),
        "exit=4 stdout=hi there stderr=err upload=payload mode=640"
    );
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
    // A second run uses the pin.
    p.lo(&["provision", "ssh.dev"]).success();
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
