//! Test support: throwaway projects and the real `lo` binary. A [`Project`] writes
//! `clusters/<domain>/cluster.lok8s.yaml` and friends into a temp dir, runs `lo` there with a
//! controlled environment, and returns exit code, stdout and stderr for assertions.

pub mod attack;
pub mod docker;
pub mod escapes;
pub mod hcloud_api;
pub mod images;
pub mod kkp_api;
pub mod kube_api;
pub mod kube_capi;
pub mod kube_core;
pub mod kube_kinds;
pub mod kube_watch;
pub mod kube_writes;
pub mod kubeone_site;
pub mod machine_image;
pub mod robot_api;
pub mod sshd;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The workspace root.
pub fn workspace() -> PathBuf {
    PathBuf::from(env!("LO_WORKSPACE_ROOT"))
}

/// The `lo` binary under test: `LO_BIN`, else a debug build made once per test process.
pub fn lo_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("LO_BIN") {
            return PathBuf::from(bin);
        }
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let built = Command::new(cargo)
            .current_dir(workspace())
            // With lok8s-tests selected too, features unify as under `cargo test`, so this
            // build reuses what `cargo test` compiled instead of rebuilding lo each time.
            .args([
                "build",
                "--quiet",
                "-p",
                "lok8s",
                "--bin",
                "lo",
                "-p",
                "lok8s-tests",
            ])
            .output()
            .expect("running cargo build for lo");
        assert!(
            built.status.success(),
            "building lo failed ({}):\n{}",
            built.status,
            String::from_utf8_lossy(&built.stderr)
        );
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace().join("target"));
        target.join("debug/lo")
    })
}

/// Where build.rs put the guest components.
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("LO_FIXTURES_DIR"))
}

/// A fixture driver component built by build.rs, such as `corners`.
pub fn fixture(name: &str) -> PathBuf {
    let path =
        Path::new(env!("LO_FIXTURES_DIR")).join(format!("fixture_{}.wasm", name.replace('-', "_")));
    assert!(
        path.is_file(),
        "fixture component {} is missing",
        path.display()
    );
    path
}

/// A component built from another language by `just build-examples`, such as `k3s_js.wasm`.
pub fn example(file: &str) -> PathBuf {
    let path = workspace().join("target/examples").join(file);
    assert!(
        path.is_file(),
        "{} is missing: run `just build-examples` (after `bash tools/setup`)",
        path.display()
    );
    path
}

/// A hostile-suite component, such as `docker-privileged`.
pub fn hostile(name: &str) -> PathBuf {
    let path =
        Path::new(env!("LO_FIXTURES_DIR")).join(format!("hostile_{}.wasm", name.replace('-', "_")));
    assert!(
        path.is_file(),
        "hostile component {} is missing",
        path.display()
    );
    path
}

/// The names of every hostile-suite component.
pub fn hostile_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(workspace().join("tests/hostile"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().join("Cargo.toml").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "common")
        .collect();
    names.sort();
    names
}

/// A compiled-code cache shared by the tests of one process (entries are keyed by hash).
pub fn shared_cache() -> PathBuf {
    let dir = workspace().join("target/test-cache");
    std::fs::create_dir_all(&dir).expect("creating the test cache");
    dir
}

/// What one `lo` run did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// The end of a long output, for failure messages.
fn tail(text: &str) -> &str {
    let mut start = text.len().saturating_sub(4096);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

impl Run {
    /// Asserts the exit code, printing the run on failure.
    #[track_caller]
    pub fn code(&self, expected: i32) -> &Self {
        assert_eq!(
            self.code,
            expected,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            tail(&self.stdout),
            tail(&self.stderr)
        );
        self
    }

    #[track_caller]
    pub fn success(&self) -> &Self {
        self.code(0)
    }

    #[track_caller]
    pub fn stderr_has(&self, needle: &str) -> &Self {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}\n--- stderr\n{}\n--- stdout\n{}",
            tail(&self.stderr),
            tail(&self.stdout)
        );
        self
    }

    #[track_caller]
    pub fn stdout_has(&self, needle: &str) -> &Self {
        assert!(
            self.stdout.contains(needle),
            "stdout lacks {needle:?}\n--- stdout\n{}\n--- stderr\n{}",
            tail(&self.stdout),
            tail(&self.stderr)
        );
        self
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

/// A throwaway project in a temp dir.
pub struct Project {
    dir: tempfile::TempDir,
    cache: PathBuf,
}

impl Default for Project {
    fn default() -> Self {
        Self::new()
    }
}

impl Project {
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("lo-test-")
            .tempdir()
            .expect("temp dir");
        std::fs::create_dir_all(dir.path().join("clusters")).unwrap();
        Project {
            dir,
            cache: shared_cache(),
        }
    }

    /// Uses its own compiled cache, to observe what gets compiled.
    pub fn with_private_cache(mut self) -> Self {
        self.cache = self.dir.path().join(".test-cache");
        self
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn cache_dir(&self) -> &Path {
        &self.cache
    }

    /// Writes a file, creating its folders.
    pub fn write(&self, rel: &str, contents: impl AsRef<[u8]>) -> &Self {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
        self
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("reading {rel}: {e}"))
    }

    /// A cluster spec with this kind and name, plus `spec_body` under `spec:`.
    pub fn cluster(&self, domain: &str, kind: &str, name: &str, spec_body: &str) -> &Self {
        let mut text = format!(
            "apiVersion: cluster.lok8s.dev/v1beta1\nkind: {kind}\nmetadata:\n  name: {name}\nspec:\n"
        );
        for line in spec_body.lines() {
            text.push_str(&format!("  {line}\n"));
        }
        if spec_body.trim().is_empty() {
            text.push_str("  {}\n");
        }
        self.write(&format!("clusters/{domain}/cluster.lok8s.yaml"), text)
    }

    /// A `Corners` cluster whose fixture driver behaves as `behaviour`.
    pub fn corners(&self, domain: &str, behaviour: &str) -> &Self {
        self.cluster(
            domain,
            "Corners",
            "dev",
            &format!("fixture:\n  behaviour: {behaviour}"),
        )
    }

    /// Copies a fixture component into `drivers/` and pins it with `lo drivers add`.
    pub fn pin(&self, kind: &str, fixture_name: &str) -> Run {
        let rel = format!("drivers/{fixture_name}.wasm");
        self.write(&rel, std::fs::read(fixture(fixture_name)).unwrap());
        self.lo(&["drivers", "add", kind, &rel])
    }

    /// Runs `lo` in the project root with a clean environment.
    pub fn lo(&self, args: &[&str]) -> Run {
        self.lo_env(args, &[])
    }

    pub fn lo_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = self.command(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("running lo");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs `lo` like [`Project::lo_env`], but gives up (and fails) if it has not exited after
    /// `limit`: a liveness bound, far above what the run needs. Also returns the process's
    /// peak resident memory in KiB (its own rusage, not the test process's other children).
    pub fn lo_watched(
        &self,
        args: &[&str],
        env: &[(&str, &str)],
        limit: std::time::Duration,
    ) -> (Run, u64) {
        use std::io::Read;
        let mut cmd = self.command(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        // Reaped below by wait4, which also gives the child's own rusage.
        #[allow(clippy::zombie_processes)]
        let mut child = cmd
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("running lo");
        let pipe = |mut r: Box<dyn Read + Send>| {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let _ = r.read_to_end(&mut buf);
                String::from_utf8_lossy(&buf).into_owned()
            })
        };
        let out = pipe(Box::new(child.stdout.take().unwrap()));
        let err = pipe(Box::new(child.stderr.take().unwrap()));
        let pid = child.id() as libc::pid_t;
        let deadline = std::time::Instant::now() + limit;
        let mut status = 0;
        // SAFETY: an all-zero rusage is a valid value to be overwritten.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        loop {
            // SAFETY: wait4 on our own child with valid out-pointers; WNOHANG does not block.
            let reaped = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
            if reaped == pid {
                break;
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("lo {args:?} had not exited after {limit:?}");
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let code = if libc::WIFEXITED(status) {
            libc::WEXITSTATUS(status)
        } else {
            -1
        };
        let run = Run {
            code,
            stdout: out.join().unwrap_or_default(),
            stderr: err.join().unwrap_or_default(),
        };
        (run, usage.ru_maxrss.max(0) as u64)
    }

    /// The command, for tests that need to drive the process themselves (signals).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(lo_bin());
        cmd.current_dir(self.root())
            .args(args)
            .env("LO_CACHE_DIR", &self.cache);
        for var in [
            "CI",
            "LO_LOCKED",
            "DOMAIN_NAME",
            "FIXTURE_SECRET",
            "FIXTURE_UNGRANTED",
        ] {
            cmd.env_remove(var);
        }
        cmd
    }

    /// Files in the project, relative, sorted (for "nothing was created" checks).
    pub fn files(&self) -> Vec<String> {
        let mut out = Vec::new();
        walk(self.root(), self.root(), &mut out);
        out.sort();
        out
    }
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let rel = path
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if rel.starts_with(".test-cache") {
            continue;
        }
        // Links are listed, not followed: a test may link a folder back to the root.
        let is_dir = std::fs::symlink_metadata(&path)
            .map(|m| m.is_dir())
            .unwrap_or(false);
        if is_dir {
            walk(root, &path, out);
        } else {
            out.push(rel);
        }
    }
}

/// Files in a directory tree (absolute paths), for cache assertions.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            out.push(entry.path());
        }
    }
    out
}
