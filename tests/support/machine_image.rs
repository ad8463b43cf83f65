//! The stand-in for a Hetzner Cloud server booted from a Debian image: a busybox rootfs with
//! Debian's `dash` as `/bin/sh` and Debian's real OpenSSH `sshd` (root logs in with the key in `$AUTHORIZED_KEY`; a host key made
//! at first start), `/etc/os-release` of Debian 12, `kubeadm`, `kubectl` and the API server
//! played by `lok8s-node-standin` (as in the node image), and the package and system tools a
//! host's prerequisites call (`apt-get`, `apt-mark`, `modprobe`, `sysctl`, `systemctl`,
//! `swapoff`, `containerd`, `curl`, `gpg`) as stubs that append their call to
//! `/kind/calls.log`, like the stand-in does, for the tests' assertions.

use std::path::Path;
use std::sync::OnceLock;

use crate::images::{
    NODE_ENTRYPOINT, NODE_STANDIN_PATH, NODE_VERSION, build, install, install_standin, write,
    write_executable,
};

pub const MACHINE_IMAGE: &str = "lok8s-test/machine:debian-12";

const RECORDED: [&str; 9] = [
    "apt-get",
    "apt-mark",
    "modprobe",
    "sysctl",
    "systemctl",
    "swapoff",
    "containerd",
    "curl",
    "gpg",
];

const SSHD_CONFIG: &str = "Port 22
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile /run/sshd.pid
";

/// Starts sshd (after making the host key and installing the authorized key), then runs the
/// node entrypoint's loop (the API server once the serving certificate exists).
fn entrypoint() -> String {
    let node = NODE_ENTRYPOINT.trim_start_matches("#!/bin/sh\n");
    format!(
        "#!/bin/sh\n# lok8s test stand-in for a cloud server's boot: sshd, then the node loop.\n\
         mkdir -p /run/sshd /root/.ssh /kind\n\
         [ -f /etc/ssh/ssh_host_ed25519_key ] || ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key\n\
         printf '%s\\n' \"$AUTHORIZED_KEY\" > /root/.ssh/authorized_keys\n\
         chmod 600 /root/.ssh/authorized_keys\n\
         /usr/sbin/sshd -e\n{node}"
    )
}

/// The image, built once per test process (rebuilt when its content changes).
pub fn machine_image(standin: &Path) -> &'static str {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let changes = [
            r#"ENTRYPOINT ["/usr/local/bin/entrypoint"]"#,
            "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        ];
        build(MACHINE_IMAGE, &changes, |r| {
            install_standin(standin, r);
            install(Path::new("/usr/sbin/sshd"), r, "usr/sbin/sshd");
            // Debian's /bin/sh is dash, which follows PATH (busybox's ash runs its own applets
            // first, so the stubs below would never be called).
            let _ = std::fs::remove_file(r.join("bin/sh"));
            install(Path::new("/bin/dash"), r, "bin/sh");
            install(Path::new("/usr/bin/ssh-keygen"), r, "usr/bin/ssh-keygen");
            for tool in ["kubeadm", "kubectl"] {
                let wrapper = format!(
                    "#!/bin/sh\n# lok8s test stand-in for {tool}\nexec {NODE_STANDIN_PATH} {tool} \"$@\"\n"
                );
                write_executable(r, &format!("usr/bin/{tool}"), &wrapper);
            }
            for tool in RECORDED {
                // /kind/stub-delay (seconds; benchmarks only) stands in for the time the real
                // tool takes.
                let mut stub = format!(
                    "#!/bin/sh\n# lok8s test stub: records the call\n\
                     if [ -f /kind/stub-delay ]; then sleep \"$(cat /kind/stub-delay)\"; fi\n\
                     echo \"{tool} $*\" >> /kind/calls.log\n"
                );
                if tool == "containerd" {
                    stub.push_str(
                        "[ \"$1\" = config ] && printf '[plugins]\\n  SystemdCgroup = false\\n'\n",
                    );
                }
                write_executable(r, &format!("usr/local/bin/{tool}"), &stub);
            }
            write(
                r,
                "etc/passwd",
                "root:x:0:0:root:/root:/bin/sh\nsshd:x:100:65534::/run/sshd:/bin/false\n",
            );
            write(r, "etc/shadow", "root:*:19000:0:99999:7:::\nsshd:*:19000:0:99999:7:::\n");
            write(r, "etc/group", "root:x:0:\nnogroup:x:65534:\n");
            write(r, "etc/ssh/sshd_config", SSHD_CONFIG);
            write(r, "etc/os-release", "ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n");
            write(r, "kind/version", &format!("{NODE_VERSION}\n"));
            write_executable(r, "usr/local/bin/entrypoint", &entrypoint());
            std::fs::create_dir_all(r.join("etc/kubernetes/manifests")).unwrap();
            std::fs::create_dir_all(r.join("var/empty")).unwrap();
        });
    });
    MACHINE_IMAGE
}
