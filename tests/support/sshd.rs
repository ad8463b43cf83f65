//! A real OpenSSH sshd for the tests, on a free 127.0.0.1 port with a throwaway host key,
//! accepting one client key for a throwaway user; ended by PID when dropped.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const USER: &str = "lok8stest";

/// An sshd on a free loopback port; ended by PID on drop.
pub struct Sshd {
    child: Child,
    pub port: u16,
    dir: tempfile::TempDir,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn keygen(path: &Path) {
    let ok = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .status()
        .unwrap();
    assert!(ok.success());
}

impl Sshd {
    /// Starts sshd accepting `client_pub` for the test user.
    pub fn start(client_pub: &Path) -> Sshd {
        Sshd::start_for(USER, client_pub)
    }

    /// Starts sshd accepting `client_pub` for `user`: the test user (made if missing), or
    /// `root` (the engine's socket is root's; its key is this sshd's own file, never root's
    /// ~/.ssh).
    pub fn start_for(user: &str, client_pub: &Path) -> Sshd {
        if user != "root"
            && Command::new("id")
                .arg(USER)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map(|s| !s.success())
                .unwrap_or(true)
        {
            let made = Command::new("useradd")
                .args(["-m", "-s", "/bin/sh", USER])
                .status()
                .expect("useradd (tests run as root)");
            assert!(made.success(), "useradd {USER} failed");
        }
        // A locked password ('!') would refuse key logins too: '*' only disables passwords.
        if user != "root" {
            Command::new("usermod")
                .args(["-p", "*", USER])
                .status()
                .unwrap();
        }
        std::fs::create_dir_all("/run/sshd").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        keygen(&d.join("host_ed25519"));
        std::fs::copy(client_pub, d.join("authorized_keys")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(
            d.join("authorized_keys"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_ed25519\nPidFile {d}/sshd.pid\n\
             AuthorizedKeysFile {d}/authorized_keys\nUsePAM no\nStrictModes no\nPasswordAuthentication no\n\
             KbdInteractiveAuthentication no\nAllowUsers {user}\nPermitRootLogin prohibit-password\nLogLevel VERBOSE\n",
            d = d.display()
        );
        std::fs::write(d.join("sshd_config"), config).unwrap();
        let child = Command::new("/usr/sbin/sshd")
            .args(["-D", "-f"])
            .arg(d.join("sshd_config"))
            .arg("-E")
            .arg(d.join("sshd.log"))
            .stdin(Stdio::null())
            .spawn()
            .expect("openssh-server is installed");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "sshd did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Sshd { child, port, dir }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }

    pub fn host_key_path(&self) -> PathBuf {
        self.dir.path().join("host_ed25519")
    }
}
