//! Docker for the tests: a real engine (started by `.ci/run` or the developer), a busybox image
//! built locally with `docker import` (nothing is pulled), and cleanup of what a test created.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

/// Runs the docker CLI; returns (exit code, stdout).
pub fn docker(args: &[&str]) -> (i32, String) {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("running the docker CLI");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
    )
}

/// `docker inspect` of one object as JSON.
pub fn inspect(kind: &str, name: &str) -> Option<serde_json::Value> {
    let (code, out) = docker(&[kind, "inspect", name]);
    if code != 0 {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(&out).ok()?;
    v.as_array().and_then(|a| a.first().cloned())
}

/// A busybox image made from Debian's busybox-static, tagged `lok8s-test/busybox:latest`.
pub fn busybox() -> &'static str {
    static IMAGE: OnceLock<&'static str> = OnceLock::new();
    IMAGE.get_or_init(|| {
        let image = "lok8s-test/busybox:latest";
        if docker(&["image", "inspect", image]).0 == 0 {
            return image;
        }
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        busybox_rootfs(r);
        let status = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "tar -C {} -c . | docker import -c 'CMD [\"/bin/sh\"]' -c 'ENV PATH=/bin' - {image} >/dev/null",
                r.display()
            ))
            .status()
            .unwrap();
        assert!(status.success(), "docker import of the busybox test image failed (is dockerd running?)");
        image
    })
}

/// Writes a minimal root filesystem into `r`: Debian's busybox-static with every applet
/// linked in `/bin`, a root user, and the usual top-level directories.
pub fn busybox_rootfs(r: &Path) {
    for d in [
        "bin", "etc", "tmp", "proc", "sys", "dev", "root", "var", "data",
    ] {
        std::fs::create_dir_all(r.join(d)).unwrap();
    }
    std::fs::set_permissions(r.join("tmp"), std::fs::Permissions::from_mode(0o1777)).unwrap();
    std::fs::copy("/bin/busybox", r.join("bin/busybox"))
        .expect("busybox-static is installed (apt-get install busybox-static)");
    // The installed one lists the applets: running the fresh copy can fail with ETXTBSY while
    // another test thread forks with the copy's write handle still open.
    let list = Command::new("/bin/busybox").arg("--list").output().unwrap();
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        if applet != "busybox" {
            let _ = std::os::unix::fs::symlink("busybox", r.join("bin").join(applet));
        }
    }
    std::fs::write(r.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
    std::fs::write(r.join("etc/group"), "root:x:0:\n").unwrap();
}

/// Removes, on drop, every container, network and volume labelled for `project_root`, and
/// the named extra objects a test made itself.
pub struct Cleanup {
    project: String,
    pub containers: Vec<String>,
    pub networks: Vec<String>,
    pub volumes: Vec<String>,
}

impl Cleanup {
    pub fn new(project_root: &std::path::Path) -> Self {
        let project = project_root.canonicalize().unwrap().display().to_string();
        Cleanup {
            project,
            containers: vec![],
            networks: vec![],
            volumes: vec![],
        }
    }

    /// Objects of a kind still labelled for the project.
    pub fn labelled(&self, kind: &str) -> Vec<String> {
        let filter = format!("label=dev.lok8s.project={}", self.project);
        let args: Vec<&str> = match kind {
            "container" => vec!["ps", "-a", "--filter", &filter, "--format", "{{.Names}}"],
            "network" => vec![
                "network",
                "ls",
                "--filter",
                &filter,
                "--format",
                "{{.Name}}",
            ],
            _ => vec!["volume", "ls", "--filter", &filter, "--format", "{{.Name}}"],
        };
        let (_, out) = docker(&args);
        out.lines()
            .map(str::to_string)
            .filter(|l| !l.is_empty())
            .collect()
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for c in self.labelled("container").iter().chain(&self.containers) {
            // -v: also the container's anonymous volumes (a node's `/var`).
            docker(&["rm", "-f", "-v", c]);
        }
        for n in self.labelled("network").iter().chain(&self.networks) {
            docker(&["network", "rm", n]);
        }
        for v in self.labelled("volume").iter().chain(&self.volumes) {
            docker(&["volume", "rm", "-f", v]);
        }
    }
}
