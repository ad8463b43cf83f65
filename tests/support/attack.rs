//! The harness for the attacker's cases (tests/hostile/attacker): a throwaway project with a
//! victim cluster and secrets, the attacker pinned in drivers.lock with exactly the grant a case
//! starts from, one `lo provision`, and the checks every case shares: a clear refusal, never
//! "ESCAPED", no terminal sequences, the project outside the driver's own folders byte for byte
//! as it was, nothing written beside the project, no labelled container or network left.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use lok8s::host::grants::Grants;
use lok8s::lock::{LockEntry, Lockfile};

use crate::docker::{Cleanup, busybox, docker, inspect};
use crate::sshd::{Sshd, keygen};
use crate::{Project, Run, fixtures_dir};

/// Where the attacker's own writes go: they may change.
pub const OWN: &[&str] = &[
    "clusters/hostile.dev/.state/",
    ".kubeconfig/.drivers/hostile.dev/",
];

/// One attack, set up and not yet run.
pub struct Attack {
    pub project: Project,
    pub name: &'static str,
    /// Prefix for Docker objects the attack makes (unique per test process and case).
    pub prefix: String,
    params: Vec<(String, String)>,
    pub grants: Grants,
    cpu_seconds: &'static str,
    /// The wall-clock budget per call: generous unless the case is about the wall clock.
    timeout: &'static str,
    /// Paths lo itself writes for the case (a host-key pin, a CA): not the driver's doing.
    lo_writes: Vec<&'static str>,
    env: Vec<(String, String)>,
    /// `lo -v`: debug lines too (more of the driver's text reaches the terminal).
    verbose: bool,
    component: PathBuf,
    pub cleanup: Cleanup,
    /// The last run's peak resident memory, KiB.
    pub peak_rss_kib: std::cell::Cell<u64>,
}

impl Attack {
    pub fn new(name: &'static str) -> Attack {
        let project = Project::new();
        let prefix = format!("lok8s-attack-{}-{name}", std::process::id());
        let cleanup = Cleanup::new(project.root());
        project.cluster("victim.dev", "Lo", "victim", "");
        project.write("secret.txt", "the project's secret");
        project.write(".secrets/id", "not a key");
        let grants = Grants {
            docker: Some(Default::default()),
            kube: Some(lok8s::host::kube::grant::KubeGrant {
                namespaces: vec!["kube-system".into()],
                kinds: vec!["ConfigMap".into()],
                ..Default::default()
            }),
            http: Some(vec![]),
            ssh: Some(Default::default()),
            tls: Some(vec![]),
            ..Default::default()
        };
        Attack {
            project,
            name,
            params: vec![
                ("prefix".into(), prefix.clone()),
                ("image".into(), busybox().into()),
            ],
            prefix,
            verbose: false,
            grants,
            cpu_seconds: "2",
            timeout: "300",
            lo_writes: vec![],
            env: vec![],
            component: fixtures_dir().join("hostile_attacker.wasm"),
            cleanup,
            peak_rss_kib: std::cell::Cell::new(0),
        }
    }

    /// A second case of the same attack in this process: its Docker objects get their own
    /// prefix, so the two never meet.
    pub fn variant(mut self, suffix: &str) -> Self {
        self.prefix = format!("{}-{suffix}", self.prefix);
        for (k, v) in &mut self.params {
            if k == "prefix" {
                *v = self.prefix.clone();
            }
        }
        self
    }

    pub fn param(mut self, key: &str, value: impl Into<String>) -> Self {
        self.params.push((key.into(), value.into()));
        self
    }

    pub fn grant(mut self, change: impl FnOnce(&mut Grants)) -> Self {
        change(&mut self.grants);
        self
    }

    /// A path lo itself may write during the run (`.lok8s/known_hosts`, `.lok8s/project-ca/`).
    pub fn lo_writes(mut self, path: &'static str) -> Self {
        self.lo_writes.push(path);
        self
    }

    /// The wall-clock budget per call (default 300 seconds, so a busy machine cuts nothing
    /// short), for the cases where the wall clock is what stops the driver.
    pub fn timeout(mut self, seconds: &'static str) -> Self {
        self.timeout = seconds;
        self
    }

    /// The guest CPU budget (default 2 seconds).
    pub fn cpu_seconds(mut self, seconds: &'static str) -> Self {
        self.cpu_seconds = seconds;
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Logs in to `sshd` (from [`sshd_for`]) as its test user with the project's key, granted
    /// the one ssh host entry `host`.
    pub fn ssh_login(self, sshd: &Sshd, host: &str) -> Self {
        let host = host.to_string();
        self.param("port", sshd.port.to_string())
            .param("user", crate::sshd::USER)
            .param("key", ".secrets/ssh/id_ed25519")
            .grant(|g| {
                let ssh = g.ssh.as_mut().unwrap();
                ssh.hosts = vec![host];
                ssh.keys = vec![".secrets/ssh".into()];
            })
    }

    /// Runs `lo -v`.
    pub fn verbose(mut self) -> Self {
        self.verbose = true;
        self
    }

    /// Runs another component (built from the attacker, such as the table bomb).
    pub fn component(mut self, file: &str) -> Self {
        self.component = fixtures_dir().join(file);
        self
    }

    /// Writes the spec and the lock, runs `lo provision hostile.dev` under tight limits, and
    /// checks what every case must hold. The caller checks the refusal and its own evidence.
    pub fn run(&self) -> Run {
        let p = &self.project;
        let mut body = format!("attempt:\n  attack: {}\n", self.name);
        for (k, v) in &self.params {
            body.push_str(&format!("  {k}: {v}\n"));
        }
        p.cluster("hostile.dev", "Hostile", "hostile", &body);
        let bytes = std::fs::read(&self.component).expect("the attacker component");
        p.write("drivers/attacker.wasm", &bytes);
        let mut lock = Lockfile {
            version: lok8s::lock::LOCK_VERSION,
            drivers: BTreeMap::new(),
        };
        lock.drivers.insert(
            "hostile".into(),
            LockEntry {
                source: "path+drivers/attacker.wasm".into(),
                requested: None,
                sha256: lok8s::lock::sha256_of(&bytes).to_string(),
                driver: None,
                contract: None,
                requests: Grants::default(),
                grants: self.grants.clone(),
                limits: Default::default(),
            },
        );
        lock.save(&p.path("drivers.lock"))
            .expect("writing drivers.lock");
        let before = self.outside_own();
        let mut args = vec![
            "provision",
            "hostile.dev",
            "--memory-mib",
            "64",
            "--cpu-seconds",
            self.cpu_seconds,
            "--timeout",
            self.timeout,
        ];
        if self.verbose {
            args.push("-v");
        }
        let env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let (run, rss) = p.lo_watched(&args, &env, std::time::Duration::from_secs(300));
        self.peak_rss_kib.set(rss);
        assert!(
            !run.stderr.contains("ESCAPED") && !run.stdout.contains("ESCAPED"),
            "{} escaped:\n{}",
            self.name,
            run.stderr
        );
        assert!(
            !run.stderr.contains('\x1b') && !run.stdout.contains('\x1b'),
            "{}: escape sequences reached the terminal",
            self.name
        );
        assert_eq!(
            self.outside_own(),
            before,
            "{} changed the project outside its own folders",
            self.name
        );
        assert!(
            !p.root().parent().unwrap().join("escaped.txt").exists(),
            "{} wrote outside the project",
            self.name
        );
        run
    }

    /// Every file of the project outside the driver's own folders, with its content's digest.
    pub fn outside_own(&self) -> Vec<(String, String)> {
        self.project
            .files()
            .into_iter()
            .filter(|f| !OWN.iter().any(|own| f.starts_with(own)))
            .filter(|f| !self.lo_writes.iter().any(|w| f.starts_with(w)))
            .map(|f| {
                // Regular files only: a FIFO a case planted must not block the check.
                let path = self.project.path(&f);
                let regular = std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file());
                let content = if regular {
                    std::fs::read(&path).unwrap_or_default()
                } else {
                    Vec::new()
                };
                (f, lok8s::lock::sha256_of(&content).to_string())
            })
            .collect()
    }

    /// Asserts no Docker object labelled for the project is left.
    pub fn left_nothing(&self) {
        assert!(
            self.cleanup.labelled("container").is_empty(),
            "{} left containers",
            self.name
        );
        assert!(
            self.cleanup.labelled("network").is_empty(),
            "{} left networks",
            self.name
        );
    }
}

// What the cases set up and check on the host.

/// A container of the test's own, not the driver's.
pub fn foreign_container(a: &mut Attack) -> String {
    let name = format!("{}-foreign", a.prefix);
    let (code, _) = docker(&["run", "-d", "--name", &name, busybox(), "sleep", "600"]);
    assert_eq!(code, 0);
    a.cleanup.containers.push(name.clone());
    name
}

pub fn foreign_network(a: &mut Attack) -> String {
    let name = format!("{}-foreign-net", a.prefix);
    assert_eq!(docker(&["network", "create", &name]).0, 0);
    a.cleanup.networks.push(name.clone());
    name
}

pub fn still_running(container: &str) {
    assert_eq!(
        inspect("container", container).unwrap()["State"]["Running"],
        true,
        "the foreign container was touched"
    );
}

/// A TCP listener on 127.0.0.1 that counts connections (it never answers).
pub struct Listener {
    port: u16,
    hits: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Listener {
    pub fn start() -> Listener {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = hits.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                drop(stream);
            }
        });
        Listener { port, hits }
    }

    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn hits(&self) -> usize {
        self.hits.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// A tmpfs mounted nosuid,nodev (what a writable host-path grant must be on); unmounted on drop.
pub struct ScratchMount {
    dir: tempfile::TempDir,
}

impl ScratchMount {
    /// Mounts it (tests run as root).
    pub fn mount() -> ScratchMount {
        let dir = tempfile::Builder::new()
            .prefix("lok8s-scratch-")
            .tempdir()
            .unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "nosuid,nodev,size=4m", "tmpfs"])
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(ok.success(), "mounting a tmpfs (tests run as root)");
        ScratchMount { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for ScratchMount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.dir.path())
            .status();
    }
}

/// A folder on a mount without nosuid (what a writable grant must not be on).
pub fn suid_capable_dir() -> tempfile::TempDir {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    for base in [
        std::env::temp_dir(),
        PathBuf::from("/var/tmp"),
        crate::workspace().join("target"),
    ] {
        let dir = tempfile::Builder::new()
            .prefix("lok8s-plain-")
            .tempdir_in(&base)
            .unwrap();
        let real = dir.path().canonicalize().unwrap();
        if lok8s::host::docker::policy::writable_mount_ok(&real, &info).is_err() {
            return dir;
        }
    }
    panic!("no folder on a mount without nosuid,nodev for this test");
}

/// A subnet inside one of the host's own routes (default routes excluded).
pub fn routed_subnet() -> String {
    let facts = lok8s::host::docker::networks::read_host_facts();
    let (route, _) = facts
        .routes
        .iter()
        .find(|(r, _)| match r.addr() {
            // A private one, so the refusal is about the route (a public one is refused first).
            std::net::IpAddr::V4(a) => a.is_private(),
            std::net::IpAddr::V6(_) => false,
        })
        .expect("the host routes a private IPv4 range (docker0 at least)");
    route.trunc().to_string()
}

/// A CA in mkcert's layout, as `mkcert` would leave it.
pub fn user_ca(dir: &Path) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let cert = params.self_signed(&key).unwrap();
    std::fs::write(dir.join("rootCA.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("rootCA-key.pem"), key.serialize_pem()).unwrap();
}

pub fn openssl_verifies(ca: &Path, leaf: &Path) -> bool {
    std::process::Command::new("openssl")
        .args(["verify", "-CAfile"])
        .arg(ca)
        .arg(leaf)
        .output()
        .unwrap()
        .status
        .success()
}

/// An sshd accepting a key the project holds in `.secrets/ssh/`.
pub fn sshd_for(a: &Attack) -> Sshd {
    std::fs::create_dir_all(a.project.path(".secrets/ssh")).unwrap();
    keygen(&a.project.path(".secrets/ssh/id_ed25519"));
    Sshd::start(&a.project.path(".secrets/ssh/id_ed25519.pub"))
}
