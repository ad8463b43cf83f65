//! The hostile-driver suite. First 28 small components (tests/hostile/*), each trying one
//! escape with imports of its own; then the attacker (tests/hostile/attacker), one component
//! with many attacks, each run with the grant it starts from. Each must end with a clear denial
//! or limit error, never "ESCAPED", and leave no trace, checked on the host: the project's
//! files unchanged, nothing outside it written, no Docker object of the project left, the
//! foreign container untouched, no request at the Kubernetes API double, and each case's own
//! evidence (a marker not created, a tag not moved, a listener not contacted, memory under the
//! cap, a remote command gone).

use lok8s_tests::docker::{Cleanup, busybox, docker, inspect};
use lok8s_tests::escapes::refusal;
use lok8s_tests::kube_api::KubeApi;
use lok8s_tests::{Project, hostile, hostile_names};

#[path = "hostile_cases/provider.rs"]
mod provider;

/// Every component in tests/hostile/ has a case below (a new one cannot be forgotten).
#[test]
fn every_hostile_component_has_a_case() {
    let names: Vec<String> = hostile_names()
        .into_iter()
        .filter(|n| n != "attacker")
        .collect();
    assert!(names.len() >= 25, "only {} hostile components", names.len());
    for name in names {
        assert!(
            refusal(&name).is_some(),
            "tests/hostile/{name} has no refusal in tests/support/escapes.rs"
        );
    }
}

fn attempt(name: &str) {
    let p = Project::new();
    let prefix = format!("lok8s-hostile-{}-{name}", std::process::id());
    let docker_case = name.starts_with("docker-");
    let mut cleanup = Cleanup::new(p.root());
    let foreign = format!("{prefix}-foreign");
    if docker_case {
        assert_eq!(
            docker(&["run", "-d", "--name", &foreign, busybox(), "sleep", "600"]).0,
            0
        );
        cleanup.containers.push(foreign.clone());
    }
    let api = name.starts_with("kube-").then(KubeApi::start);
    if let Some(api) = &api {
        p.write(".kubeconfig/hostile.yaml", api.kubeconfig());
    }
    let image = if docker_case { busybox() } else { "none" };
    p.cluster(
        "hostile.dev",
        "Hostile",
        "hostile",
        &format!(
            "attempt:\n  prefix: {prefix}\n  image: {image}\n  target: {foreign}\n  address: 127.0.0.1:1\n  \
             url: {}\n  host: 127.0.0.1\n  port: {}\n  key: {}",
            if name == "http-loopback-by-name" { "http://localhost:1/" } else { "http://127.0.0.1:2/" },
            if name == "ssh-ungranted-key" { 1 } else { 22 },
            if name == "ssh-ungranted-key" { "/etc/passwd" } else { ".secrets/id" },
        ),
    );
    p.cluster("victim.dev", "Lo", "victim", "");
    p.write(
        "clusters/victim.dev/admin.yaml",
        "apiVersion: v1\nkind: Config\n",
    );
    p.write("secret.txt", "the project's secret");
    p.write(".secrets/id", "not a key");
    std::os::unix::fs::symlink(p.root(), p.path("clusters/hostile.dev/link")).unwrap();
    p.write(
        &format!("drivers/{name}.wasm"),
        std::fs::read(hostile(name)).unwrap(),
    );
    let before = p.files();
    // Some components are refused as soon as lo looks at them (imports no driver may have).
    let add = p.lo(&["drivers", "add", "Hostile", &format!("drivers/{name}.wasm")]);
    let run = if add.code != 0 {
        assert!(
            !p.path("drivers.lock").exists(),
            "{name}: a refused component was pinned"
        );
        add
    } else {
        // The driver's own folders may change (lo seeds its kubeconfig folder); nothing else.
        let outside = || -> Vec<String> {
            p.files()
                .into_iter()
                .filter(|f| {
                    !lok8s_tests::attack::OWN
                        .iter()
                        .any(|own| f.starts_with(own))
                })
                .collect()
        };
        let before = outside();
        // The wall clock is what stops a driver that waits forever; every other attempt ends
        // on its own, so a busy machine must not cut it short.
        let timeout = if name == "endless-host-waits" {
            "5"
        } else {
            "300"
        };
        let run = p.lo_env(
            &[
                "provision",
                "hostile.dev",
                "--memory-mib",
                "64",
                "--cpu-seconds",
                "2",
                "--timeout",
                timeout,
            ],
            &[("HOSTILE_SECRET", "leak")],
        );
        assert_eq!(outside(), before, "{name} changed the project's files");
        run
    };
    run.code(1).stderr_has(refusal(name).unwrap());
    assert!(
        !run.stderr.contains("ESCAPED"),
        "{name} escaped:\n{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains('\x1b') && !run.stdout.contains('\x1b'),
        "{name}: escape sequences reached the terminal"
    );
    assert!(
        run.stderr.len() < 9 << 20,
        "{name}: {} bytes of output",
        run.stderr.len()
    );

    let _ = before;
    assert!(
        !p.root().parent().unwrap().join("escaped.txt").exists(),
        "{name} wrote outside the project"
    );
    assert!(
        cleanup.labelled("container").is_empty(),
        "{name} left containers"
    );
    assert!(
        cleanup.labelled("network").is_empty(),
        "{name} left networks"
    );
    if docker_case {
        assert_eq!(
            inspect("container", &foreign).unwrap()["State"]["Running"],
            true,
            "{name} touched the foreign container"
        );
    }
    if let Some(api) = &api {
        let touched: Vec<String> = api
            .requests()
            .into_iter()
            .filter(|r| r.contains("/namespaces/") || !r.starts_with("GET"))
            .collect();
        assert!(touched.is_empty(), "{name} reached objects: {touched:?}");
    }
}

macro_rules! hostile_tests {
    ($($test:ident => $name:literal,)*) => {
        $(
            #[test]
            fn $test() {
                attempt($name);
            }
        )*
    };
}

hostile_tests! {
    read_host_file => "read-host-file",
    write_outside_project => "write-outside-project",
    symlink_escape => "symlink-escape",
    read_other_domain => "read-other-domain",
    read_lock_file => "read-lock-file",
    env_ungranted => "env-ungranted",
    memory_bomb => "memory-bomb",
    endless_loop => "endless-loop",
    endless_host_waits => "endless-host-waits",
    log_flood => "log-flood",
    terminal_takeover => "terminal-takeover",
    raw_socket => "raw-socket",
    http_ungranted_import => "http-ungranted-import",
    http_unlisted_origin => "http-unlisted-origin",
    http_loopback_by_name => "http-loopback-by-name",
    docker_ungranted_import => "docker-ungranted-import",
    docker_privileged => "docker-privileged",
    docker_socket_mount => "docker-socket-mount",
    docker_host_path => "docker-host-path",
    docker_foreign_container => "docker-foreign-container",
    docker_foreign_exec => "docker-foreign-exec",
    docker_forged_labels => "docker-forged-labels",
    ssh_unlisted_host => "ssh-unlisted-host",
    ssh_ungranted_key => "ssh-ungranted-key",
    kube_other_namespace => "kube-other-namespace",
    kube_other_kind => "kube-other-kind",
    kube_foreign_kubeconfig => "kube-foreign-kubeconfig",
    tls_ungranted_name => "tls-ungranted-name",
}

// ---------------------------------------------------------------------------------------------
// The attacker (tests/hostile/attacker): one component, many attacks, each case with the grant
// it starts from and the evidence checked on the host.

use std::path::{Path, PathBuf};

use lok8s_tests::attack::{
    Attack, Listener, ScratchMount, foreign_container, foreign_network, openssl_verifies,
    routed_subnet, sshd_for, still_running, suid_capable_dir, user_ca,
};
use lok8s_tests::sshd::USER;

/// Every attack the attacker knows, each with a test below.
const ATTACKS: &[&str] = &[
    "rewrite-own-spec",
    "write-other-cluster",
    "plant-project",
    "read-other-kubeconfig",
    "overwrite-other-kubeconfig",
    "kubeconfig-link-out",
    "kubeconfig-exec-published",
    "kubeconfig-elsewhere",
    "kubeconfig-unreported-balancer",
    "fifo-open",
    "kube-exec-plugin",
    "kube-token-file",
    "kube-auth-provider",
    "kube-proxy-url",
    "kube-cert-paths",
    "kube-ca-path",
    "kube-server-elsewhere",
    "kube-other-kubeconfig-path",
    "kube-ungranted-domain",
    "kube-swap-after-use",
    "kube-foreign-namespace-object",
    "http-beside-named-origin",
    "docker-bind-project",
    "docker-bind-around-project",
    "docker-bind-swap",
    "docker-restart-bind",
    "docker-writable-suid-mount",
    "docker-mknod",
    "docker-readonly-write",
    "docker-net-container-mode",
    "docker-net-host-name",
    "docker-net-duplicate",
    "docker-net-route",
    "docker-net-metadata",
    "docker-net-options",
    "docker-net-bridge-reuse",
    "docker-default-bridge",
    "docker-port-all",
    "docker-port-low",
    "docker-tag-foreign",
    "docker-pull-loopback",
    "docker-path-injection",
    "docker-connect-foreign-network",
    "tls-malformed-names",
    "tls-public-name",
    "ssh-host-case",
    "ssh-key-probe",
    "ssh-outlive",
    "ssh-outlive-all",
    "ssh-terminal-echo",
    "ssh-unreported-host",
    "format-spoof",
    "env-leak",
    "cpu-waits-not-charged",
];

#[test]
fn every_attack_of_the_attacker_has_a_case() {
    let p = Project::new();
    let attacker = lok8s_tests::fixtures_dir().join("hostile_attacker.wasm");
    let check = p.lo(&["driver", "check", attacker.to_str().unwrap(), "-o", "json"]);
    let summary = check.json()["name"].clone();
    assert_eq!(summary, "hostile-attacker");
    let listed = lo_describe_summary(&p, &attacker);
    let known: Vec<&str> = listed
        .strip_prefix("attacks: ")
        .unwrap_or_default()
        .split(' ')
        .collect();
    assert_eq!(
        known, ATTACKS,
        "the attacker's attacks and this file's list differ"
    );
    // Each attack has its test function here (`attack_<name>`), so none is listed and never run.
    let source = [
        include_str!("hostile.rs"),
        include_str!("hostile_cases/provider.rs"),
    ]
    .concat();
    for name in ATTACKS {
        let function = format!("fn attack_{}", name.replace('-', "_"));
        assert!(
            source.contains(&format!("{function}(")) || source.contains(&format!("{function}_")),
            "no {function} for attack {name}"
        );
    }
    // The per-escape components (all but the attacker) and the attacker's attacks.
    let cases = ATTACKS.len() + hostile_names().iter().filter(|n| *n != "attacker").count();
    assert!(cases >= 50, "only {cases} hostile cases");
}

/// The attacker's `describe().summary`, through `lo drivers add` on a throwaway project.
fn lo_describe_summary(p: &Project, wasm: &Path) -> String {
    p.write("drivers/attacker.wasm", std::fs::read(wasm).unwrap());
    p.lo(&["drivers", "add", "Hostile", "drivers/attacker.wasm"])
        .success();
    let shown = p.lo(&["drivers", "show", "hostile", "-o", "json"]);
    shown.success();
    shown.json()["summary"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn kube_case(name: &'static str) -> (Attack, KubeApi) {
    let api = KubeApi::start();
    let a = Attack::new(name).param("url", api.server()).param(
        "marker",
        format!("/tmp/lok8s-attack-{}-{name}", std::process::id()),
    );
    (a, api)
}

/// The double saw nothing at all: the kubeconfig was refused before any connection.
fn untouched(api: &KubeApi, name: &str) {
    assert!(
        api.requests().is_empty(),
        "{name} reached the API: {:?}",
        api.requests()
    );
}

fn marker(name: &str) -> PathBuf {
    PathBuf::from(format!("/tmp/lok8s-attack-{}-{name}", std::process::id()))
}

#[test]
fn attack_rewrite_own_spec() {
    let a = Attack::new("rewrite-own-spec");
    a.run().code(1).stderr_has("os error");
    assert!(
        a.project
            .read("clusters/hostile.dev/cluster.lok8s.yaml")
            .contains("kind: Hostile")
    );
}

#[test]
fn attack_write_other_cluster() {
    let a = Attack::new("write-other-cluster");
    a.run().code(1).stderr_has("os error");
}

#[test]
fn attack_plant_project() {
    let a = Attack::new("plant-project");
    a.run()
        .code(1)
        .stderr_has("planted a project in clusters/hostile.dev/.state/planted");
    // Run from inside what it planted, lo does not take it for a project.
    let planted = a.project.path("clusters/hostile.dev/.state/planted");
    assert!(planted.join("drivers.lock").is_file());
    let out = std::process::Command::new(lok8s_tests::lo_bin())
        .current_dir(&planted)
        .args(["provision", "planted.dev"])
        .env("LO_CACHE_DIR", a.project.cache_dir())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("lies inside the project"), "{stderr}");
    a.left_nothing();
}

fn victim_kubeconfig(a: &Attack) -> String {
    let text = "apiVersion: v1\nkind: Config\nclusters:\n- name: v\n  cluster:\n    server: https://127.0.0.1:6443\n\
                contexts:\n- name: v\n  context:\n    cluster: v\n    user: v\ncurrent-context: v\nusers:\n- name: v\n  user:\n    token: victim-admin-token\n";
    a.project.write(".kubeconfig/victim.yaml", text);
    text.to_string()
}

#[test]
fn attack_read_other_kubeconfig() {
    let a = Attack::new("read-other-kubeconfig");
    victim_kubeconfig(&a);
    let run = a.run();
    run.code(1)
        .stderr_has("another cluster's kubeconfig is not in its folder");
    assert!(!run.stderr.contains("victim-admin-token"));
}

#[test]
fn attack_overwrite_other_kubeconfig() {
    let a = Attack::new("overwrite-other-kubeconfig")
        .param("marker", marker("overwrite").display().to_string());
    let before = victim_kubeconfig(&a);
    a.run()
        .code(1)
        .stderr_has("wrote .kubeconfig/victim.yaml (in its own folder)");
    assert_eq!(a.project.read(".kubeconfig/victim.yaml"), before);
    assert!(!marker("overwrite").exists());
}

#[test]
fn attack_kubeconfig_link_out() {
    use std::os::unix::fs::PermissionsExt;
    let a = Attack::new("kubeconfig-link-out");
    let secret = a.project.path("secret.txt");
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    a.run().code(1).stderr_has("is a link");
    let mode = std::fs::metadata(&secret).unwrap().permissions().mode() & 0o777;
    assert_eq!(
        mode, 0o644,
        "lo followed the link and changed the target's mode"
    );
    assert!(!a.project.path(".kubeconfig/hostile.yaml").exists());
}

#[test]
fn attack_kubeconfig_exec_published() {
    let a = Attack::new("kubeconfig-exec-published")
        .param("marker", marker("published").display().to_string());
    a.run()
        .code(1)
        .stderr_has("which lo will not publish")
        .stderr_has("users[u].user.exec");
    assert!(!a.project.path(".kubeconfig/hostile.yaml").exists());
    assert!(!marker("published").exists());
}

#[test]
fn attack_kubeconfig_elsewhere() {
    use lok8s_tests::sshd::{Sshd, keygen};
    // A service on the engine's machine (its loopback) that the cluster does not publish: the
    // attacker's kubeconfig names it, hoping `lo tunnel` forwards the user's connections there.
    let service = Listener::start();
    let a = Attack::new("kubeconfig-elsewhere")
        .param("server", format!("https://{}", service.address()))
        .lo_writes(".kubeconfig/hostile.yaml");
    a.run().success();
    let home = tempfile::tempdir().unwrap();
    let ssh_dir = home.path().join(".ssh");
    std::fs::create_dir_all(&ssh_dir).unwrap();
    keygen(&ssh_dir.join("id_ed25519"));
    let sshd = Sshd::start_for("root", &ssh_dir.join("id_ed25519.pub"));
    let host_key = std::fs::read_to_string(sshd.host_key_path().with_extension("pub")).unwrap();
    let key: Vec<&str> = host_key.split_whitespace().take(2).collect();
    std::fs::write(
        ssh_dir.join("known_hosts"),
        format!("[127.0.0.1]:{} {}\n", sshd.port, key.join(" ")),
    )
    .unwrap();
    let docker_host = format!("ssh://root@127.0.0.1:{}", sshd.port);
    let home_text = home.path().display().to_string();
    a.project
        .lo_env(
            &["tunnel", "hostile.dev"],
            &[("HOME", &home_text), ("DOCKER_HOST", &docker_host)],
        )
        .code(1)
        .stderr_has("which no running container of cluster hostile.dev publishes");
    assert_eq!(
        service.hits(),
        0,
        "lo tunnel connected to the named service"
    );
    assert!(!a.project.path(".kubeconfig/hostile.tunnel.yaml").exists());
}

#[test]
fn attack_kubeconfig_elsewhere_far_server() {
    // Its own kubeconfig names an API server its grant does not reach (TEST-NET, never
    // contacted): published, it would send other drivers' and the user's requests there.
    let a = Attack::new("kubeconfig-elsewhere").param("server", "https://192.0.2.7:6443");
    a.run()
        .code(1)
        .stderr_has("clusters[c].cluster.server")
        .stderr_has("kube.servers");
    assert!(!a.project.path(".kubeconfig/hostile.yaml").exists());
}

#[test]
fn attack_fifo_open() {
    let a = Attack::new("fifo-open").timeout("8");
    let fifo = a.project.path("clusters/hostile.dev/fifo");
    std::fs::create_dir_all(fifo.parent().unwrap()).unwrap();
    let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: mkfifo with a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    // The open blocks in a worker thread; lo still ends at its wall clock and exits.
    a.run()
        .code(1)
        .stderr_has("timed out after 8s of wall-clock time");
}

#[test]
fn attack_kube_exec_plugin() {
    let (a, api) = kube_case("kube-exec-plugin");
    a.run().code(1).stderr_has("users[u].user.exec");
    assert!(!marker("kube-exec-plugin").exists(), "the plugin ran");
    untouched(&api, a.name);
}

#[test]
fn attack_kube_swap_after_use() {
    use base64::Engine as _;
    let (a, api) = kube_case("kube-swap-after-use");
    let ca = base64::engine::general_purpose::STANDARD.encode(&api.ca_pem);
    a.param("ca", ca)
        .run()
        .code(1)
        .stderr_has("users[u].user.exec");
    assert!(!marker("kube-swap-after-use").exists(), "the plugin ran");
    // The first, valid kubeconfig did reach the API; the swapped one made no request.
    let lists = api
        .requests()
        .iter()
        .filter(|r| r.contains("/configmaps"))
        .count();
    assert_eq!(lists, 1, "{:?}", api.requests());
}

#[test]
fn attack_kube_foreign_namespace_object() {
    // Granted kube-system and the Namespace kind: its own namespace's object, nothing more.
    use base64::Engine as _;
    let (a, api) = kube_case("kube-foreign-namespace-object");
    let ca = base64::engine::general_purpose::STANDARD.encode(&api.ca_pem);
    a.param("ca", ca)
        .grant(|g| g.kube.as_mut().unwrap().kinds.push("Namespace".into()))
        .run()
        .code(1)
        .stderr_has("delete Namespace in cluster scope");
    let requests = api.requests();
    assert!(
        requests
            .iter()
            .any(|r| r.starts_with("GET /api/v1/namespaces/kube-system")),
        "{requests:?}"
    );
    assert!(
        !requests.iter().any(|r| r.starts_with("DELETE")),
        "{requests:?}"
    );
}

#[test]
fn attack_http_beside_named_origin() {
    // The grant names the spec's API (spec:attempt.api); the driver asks another port there.
    let named = Listener::start();
    let other = Listener::start();
    let a = Attack::new("http-beside-named-origin")
        .param("api", format!("https://{}", named.address()))
        .param("other", other.address())
        .grant(|g| g.http = Some(vec!["spec:attempt.api".into()]));
    a.run().code(1).stderr_has("not among the granted origins");
    assert_eq!(other.hits(), 0, "the other port was contacted");
    assert_eq!(named.hits(), 0);
}

#[test]
fn attack_kube_token_file() {
    let (a, api) = kube_case("kube-token-file");
    a.run().code(1).stderr_has("users[u].user.tokenFile");
    untouched(&api, a.name);
}

#[test]
fn attack_kube_auth_provider() {
    let (a, api) = kube_case("kube-auth-provider");
    a.run().code(1).stderr_has("users[u].user.auth-provider");
    untouched(&api, a.name);
}

#[test]
fn attack_kube_proxy_url() {
    let proxy = Listener::start();
    let (a, api) = kube_case("kube-proxy-url");
    let a = a.param("listener", proxy.address());
    a.run().code(1).stderr_has("clusters[c].cluster.proxy-url");
    untouched(&api, a.name);
    assert_eq!(proxy.hits(), 0, "the proxy was contacted");
}

#[test]
fn attack_kube_cert_paths() {
    let (a, api) = kube_case("kube-cert-paths");
    a.run()
        .code(1)
        .stderr_has("users[u].user.client-certificate");
    untouched(&api, a.name);
}

#[test]
fn attack_kube_ca_path() {
    let (a, api) = kube_case("kube-ca-path");
    a.run()
        .code(1)
        .stderr_has("clusters[c].cluster.certificate-authority");
    untouched(&api, a.name);
}

#[test]
fn attack_kube_server_elsewhere() {
    let (a, api) = kube_case("kube-server-elsewhere");
    a.run().code(1).stderr_has("add its origin to kube.servers");
    untouched(&api, a.name);
}

#[test]
fn attack_kube_other_kubeconfig_path() {
    let (a, api) = kube_case("kube-other-kubeconfig-path");
    a.project.write(".kubeconfig/victim.yaml", api.kubeconfig());
    a.run()
        .code(1)
        .stderr_has("a driver uses its own cluster's kubeconfig");
    untouched(&api, a.name);
}

#[test]
fn attack_kube_ungranted_domain() {
    let (a, api) = kube_case("kube-ungranted-domain");
    a.project.write(".kubeconfig/victim.yaml", api.kubeconfig());
    a.run()
        .code(1)
        .stderr_has("add \"victim.dev\" to kube.clusters");
    untouched(&api, a.name);
}

#[test]
fn attack_docker_bind_project() {
    let a = Attack::new("docker-bind-project");
    a.run()
        .code(1)
        .stderr_has("files from the project go into containers with copy-file");
    a.left_nothing();
}

#[test]
fn attack_docker_bind_around_project() {
    let a = Attack::new("docker-bind-around-project");
    let around = a.project.root().parent().unwrap().display().to_string();
    let a = a
        .param("around", &around)
        .grant(|g| g.docker.as_mut().unwrap().host_paths = vec![around.clone()]);
    a.run().code(1).stderr_has("would expose");
    a.left_nothing();
}

#[test]
fn attack_docker_bind_swap() {
    let scratch = ScratchMount::mount();
    std::fs::create_dir(scratch.path().join("d")).unwrap();
    let w = scratch.path().display().to_string();
    let a = Attack::new("docker-bind-swap")
        .param("swap", &w)
        .grant(|g| g.docker.as_mut().unwrap().writable_host_paths = vec![w.clone()]);
    a.run()
        .code(1)
        .stderr_has("outside the granted host paths")
        .stderr_has("checked again at start");
    // The swap itself happened (the link is there); the container that would mount it did not run.
    assert!(
        std::fs::symlink_metadata(scratch.path().join("d"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    a.left_nothing();
}

#[test]
fn attack_docker_restart_bind() {
    let scratch = ScratchMount::mount();
    std::fs::create_dir(scratch.path().join("d")).unwrap();
    let w = scratch.path().display().to_string();
    let a = Attack::new("docker-restart-bind")
        .param("swap", &w)
        .grant(|g| g.docker.as_mut().unwrap().writable_host_paths = vec![w.clone()]);
    a.run()
        .code(1)
        .stderr_has("restart policy with bind mount")
        .stderr_has(&format!("bind {w} itself"));
    a.left_nothing();
}

#[test]
fn attack_docker_writable_suid_mount() {
    let plain = suid_capable_dir();
    let path = plain.path().display().to_string();
    let a = Attack::new("docker-writable-suid-mount")
        .param("plain", &path)
        .grant(|g| g.docker.as_mut().unwrap().writable_host_paths = vec![path.clone()]);
    a.run().code(1).stderr_has("nosuid,nodev");
    a.left_nothing();
}

#[test]
fn attack_docker_mknod() {
    let scratch = ScratchMount::mount();
    let w = scratch.path().display().to_string();
    let a = Attack::new("docker-mknod")
        .param("writable", &w)
        .grant(|g| g.docker.as_mut().unwrap().writable_host_paths = vec![w.clone()]);
    a.run()
        .code(1)
        .stderr_has("mknod exited")
        .stderr_has("not permitted");
    assert!(
        !scratch.path().join("disk").exists(),
        "a device node appeared on the host"
    );
    a.left_nothing();
}

#[test]
fn attack_docker_readonly_write() {
    let readable = tempfile::tempdir().unwrap();
    let r = readable
        .path()
        .canonicalize()
        .unwrap()
        .display()
        .to_string();
    let a = Attack::new("docker-readonly-write")
        .param("readable", &r)
        .grant(|g| g.docker.as_mut().unwrap().host_paths = vec![r.clone()]);
    let run = a.run();
    run.code(1).stderr_has("Read-only file system");
    // Mounted read-only, nosuid and nodev (the container's own mountinfo line for it).
    let line = run
        .stderr
        .lines()
        .find(|l| l.contains(" /r "))
        .unwrap_or_else(|| panic!("no mountinfo line:\n{}", run.stderr));
    for flag in ["ro", "nosuid", "nodev"] {
        assert!(
            line.split([' ', ',']).any(|f| f == flag),
            "{flag} missing: {line}"
        );
    }
    assert!(!readable.path().join("written").exists());
    a.left_nothing();
}

#[test]
fn attack_docker_net_container_mode() {
    let mut a = Attack::new("docker-net-container-mode");
    let target = foreign_container(&mut a);
    let a = a.param("target", &target);
    a.run()
        .code(1)
        .stderr_has("Docker reads forms such as container:<id>");
    still_running(&target);
    assert!(inspect("network", &format!("container:{target}")).is_none());
    a.left_nothing();
}

#[test]
fn attack_docker_net_host_name() {
    let a = Attack::new("docker-net-host-name");
    a.run().code(1).stderr_has("is Docker's own");
    a.left_nothing();
}

#[test]
fn attack_docker_net_duplicate() {
    let mut a = Attack::new("docker-net-duplicate");
    let net = foreign_network(&mut a);
    let a = a.param("foreign_net", &net);
    a.run().code(1).stderr_has("a network of that name exists");
    let (_, listed) = docker(&[
        "network",
        "ls",
        "--filter",
        &format!("name={net}"),
        "--format",
        "{{.Name}}",
    ]);
    assert_eq!(listed.lines().filter(|l| *l == net).count(), 1);
    a.left_nothing();
}

#[test]
fn attack_docker_net_route() {
    let a = Attack::new("docker-net-route").param("route", routed_subnet());
    a.run().code(1).stderr_has("overlaps the host's route");
    a.left_nothing();
    // A public range no route covers yet: Docker would route this machine's traffic for it
    // into the driver's bridge.
    let public = Attack::new("docker-net-route")
        .variant("public")
        .param("route", "198.51.100.0/24");
    public
        .run()
        .code(1)
        .stderr_has("subnet 198.51.100.0/24 is not a private range");
    public.left_nothing();
    let routes = std::fs::read_to_string("/proc/net/route").unwrap();
    // 198.51.100.0 as the kernel prints it (network-order bytes read little-endian).
    assert!(!routes.contains("006433C6"), "{routes}");
}

#[test]
fn attack_docker_net_metadata() {
    let a = Attack::new("docker-net-metadata");
    a.run().code(1).stderr_has("covers link-local");
    a.left_nothing();
}

#[test]
fn attack_docker_net_options() {
    let a = Attack::new("docker-net-options");
    a.run().code(1).stderr_has("masquerading stays on");
    a.left_nothing();
}

#[test]
fn attack_docker_net_bridge_reuse() {
    let a = Attack::new("docker-net-bridge-reuse");
    a.run()
        .code(1)
        .stderr_has("an interface of that name exists on the host");
    let (_, listed) = docker(&["network", "ls", "--format", "{{.Name}}"]);
    assert!(!listed.lines().any(|l| l == "docker0"));
}

#[test]
fn attack_docker_default_bridge() {
    let a = Attack::new("docker-default-bridge");
    a.run()
        .code(1)
        .stderr_has("a container without a network joined none");
    a.left_nothing();
}

#[test]
fn attack_docker_port_all() {
    let a = Attack::new("docker-port-all");
    a.run()
        .code(1)
        .stderr_has("ports are published on 127.0.0.1 unless the docker grant's publish list");
    a.left_nothing();
}

#[test]
fn attack_docker_port_low() {
    let a = Attack::new("docker-port-low");
    a.run().code(1).stderr_has("need low-ports = true");
    a.left_nothing();
}

#[test]
fn attack_docker_tag_foreign() {
    let a = Attack::new("docker-tag-foreign");
    let victim = format!("{}-victim:1", a.prefix);
    // A tag on an image of its own, unlike busybox.
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "tar -c --files-from /dev/null | docker import - {victim} >/dev/null"
        ))
        .status()
        .unwrap();
    assert!(status.success());
    let before = inspect("image", &victim).unwrap()["Id"].clone();
    let a = a.param("victim_tag", &victim);
    a.run()
        .code(1)
        .stderr_has("is not among the granted image repositories");
    assert_eq!(
        inspect("image", &victim).unwrap()["Id"],
        before,
        "the tag moved"
    );
    docker(&["rmi", &victim]);
}

#[test]
fn attack_docker_pull_loopback() {
    let listener = Listener::start();
    let a = Attack::new("docker-pull-loopback").param("listener", listener.address());
    a.run()
        .code(1)
        .stderr_has("is not among the granted image repositories");
    assert_eq!(
        listener.hits(),
        0,
        "the engine contacted the loopback service"
    );
}

#[test]
fn attack_docker_path_injection() {
    let mut a = Attack::new("docker-path-injection");
    let target = foreign_container(&mut a);
    let a = a.param("target", &target);
    a.run().code(1).stderr_has("use letters, digits");
    still_running(&target);
    a.left_nothing();
}

#[test]
fn attack_docker_connect_foreign_network() {
    let mut a = Attack::new("docker-connect-foreign-network");
    let net = foreign_network(&mut a);
    let a = a.param("foreign_net", &net);
    a.run()
        .code(1)
        .stderr_has("neither this cluster's nor a shared network");
    let attached = inspect("network", &net).unwrap()["Containers"].clone();
    assert!(
        attached.as_object().is_none_or(|m| m.is_empty()),
        "{attached}"
    );
    a.left_nothing();
}

#[test]
fn attack_docker_connect_foreign_network_the_spec_names() {
    // A grant may let the spec name a shared network (spec-shared-networks); a spec naming
    // another cluster's network (here through the same field) still never hands it over:
    // only a network lo created as shared is joined.
    let mut a = Attack::new("docker-connect-foreign-network").variant("spec-named");
    let net = foreign_network(&mut a);
    let a = a.param("foreign_net", &net).grant(|g| {
        g.docker
            .get_or_insert_with(Default::default)
            .spec_shared_networks = vec!["attempt.foreign_net".into()];
    });
    a.run()
        .code(1)
        .stderr_has("the spec names it as the shared network, but lo did not create it as one");
    let attached = inspect("network", &net).unwrap()["Containers"].clone();
    assert!(
        attached.as_object().is_none_or(|m| m.is_empty()),
        "{attached}"
    );
    assert!(
        inspect("network", &net).unwrap()["Labels"]
            .get("dev.lok8s.shared")
            .is_none(),
        "the foreign network was relabelled"
    );
    a.left_nothing();
}

#[test]
fn attack_tls_malformed_names() {
    let a = Attack::new("tls-malformed-names").grant(|g| g.tls = Some(vec!["*.dev.test".into()]));
    let ca = tempfile::tempdir().unwrap();
    let a = a.env("CAROOT", ca.path().to_str().unwrap());
    a.run().code(1).stderr_has("no malformed name was issued");
    assert_eq!(
        std::fs::read_dir(ca.path()).unwrap().count(),
        0,
        "a CA was made for nothing"
    );
}

#[test]
fn attack_tls_public_name() {
    let ca = tempfile::tempdir().unwrap();
    user_ca(ca.path());
    let a = Attack::new("tls-public-name")
        .lo_writes(".lok8s/project-ca/")
        .grant(|g| g.tls = Some(vec!["*".into()]))
        .env("CAROOT", ca.path().to_str().unwrap());
    a.run()
        .code(1)
        .stderr_has("issued a leaf for bank.example.com");
    let leaf = a.project.path("clusters/hostile.dev/.state/leaf.pem");
    assert!(
        !openssl_verifies(&ca.path().join("rootCA.pem"), &leaf),
        "the user's CA signed a leaf for a public name"
    );
    assert!(openssl_verifies(
        &a.project.path(".lok8s/project-ca/rootCA.pem"),
        &leaf
    ));
}

#[test]
fn attack_ssh_host_case() {
    let a = Attack::new("ssh-host-case");
    let sshd = sshd_for(&a);
    let pinned = format!(
        "localhost:{} SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",
        sshd.port
    );
    a.project.write(".lok8s/known_hosts", &pinned);
    let a = a.ssh_login(&sshd, &format!("localhost:{}", sshd.port));
    a.run().code(1).stderr_has("the host key changed");
    assert_eq!(
        a.project.read(".lok8s/known_hosts"),
        pinned,
        "a new pin was added"
    );
}

#[test]
fn attack_ssh_key_probe() {
    let a = Attack::new("ssh-key-probe")
        .param("port", "1")
        .param("user", USER)
        .grant(|g| {
            let ssh = g.ssh.as_mut().unwrap();
            ssh.hosts = vec!["127.0.0.1:1".into()];
            ssh.keys = vec![".secrets".into()];
        });
    let run = a.run();
    run.code(1)
        .stderr_has("existing: denied(")
        .stderr_has("missing: denied(");
    assert!(!run.stderr.contains("not-found"), "{}", run.stderr);
}

#[test]
fn attack_ssh_outlive() {
    outlives_its_call("ssh-outlive", 900_000);
}

#[test]
fn attack_ssh_outlive_all() {
    outlives_its_call("ssh-outlive-all", 800_000);
}

/// The attack runs `sleep <marker>` past the call's time (one command, or several through
/// `exec-all`): refused with the deadline's words, and no such command left running.
fn outlives_its_call(name: &'static str, marker_base: u32) {
    let a = Attack::new(name)
        .timeout("8")
        .lo_writes(".lok8s/known_hosts");
    let sshd = sshd_for(&a);
    let seconds = format!("{}", marker_base + std::process::id() % 90_000);
    let a = a
        .ssh_login(&sshd, &format!("127.0.0.1:{}", sshd.port))
        .param("marker", &seconds);
    a.run()
        .code(1)
        .stderr_has("was still running when the call's time ran out");
    let pattern = format!("sleep {seconds}");
    let running = || {
        std::process::Command::new("pgrep")
            .args(["-f", &pattern])
            .status()
            .unwrap()
            .success()
    };
    // The remote commands end once signalled; bounded by count, not by a time assertion.
    for _ in 0..100 {
        if !running() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(!running(), "{name}: a remote command outlived its call");
}

#[test]
fn attack_ssh_terminal_echo() {
    let a = Attack::new("ssh-terminal-echo")
        .lo_writes(".lok8s/known_hosts")
        .verbose();
    let sshd = sshd_for(&a);
    let a = a.ssh_login(&sshd, &format!("127.0.0.1:{}", sshd.port));
    // With -v every line is shown; none carries a control sequence to the terminal.
    let run = a.run();
    run.success();
    assert!(run.stderr.contains(": TAKEN\n"), "{}", run.stderr);
    assert!(run.stderr.contains(": line 999\n"), "{}", run.stderr);
    assert!(!run.stderr.contains('\u{1b}'), "{:?}", run.stderr);
    assert!(!run.stderr.contains('\u{7}'), "{:?}", run.stderr);
}

#[test]
fn attack_format_spoof() {
    let a = Attack::new("format-spoof");
    let run = a.run();
    run.code(1).stderr_has("format characters sent");
    for c in [
        '\u{202E}', '\u{202C}', '\u{2066}', '\u{2069}', '\u{200B}', '\u{FEFF}',
    ] {
        assert!(
            !run.stderr.contains(c),
            "U+{:04X} reached the terminal",
            c as u32
        );
    }
    assert!(run.stderr.contains("approvedlacol"), "{}", run.stderr);
}

#[test]
fn attack_env_leak_through_driver_test() {
    let a = Attack::new("env-leak");
    a.project
        .write("spec.yaml", "attempt:\n  attack: env-leak\n");
    let attacker = lok8s_tests::fixtures_dir().join("hostile_attacker.wasm");
    let run = a.project.lo_env(
        &[
            "driver",
            "test",
            attacker.to_str().unwrap(),
            "--spec",
            "spec.yaml",
            "--grant-requests",
        ],
        &[("ATTACKER_SECRET", "the-callers-secret")],
    );
    run.code(1).stdout_has("ATTACKER_SECRET is not visible");
    assert!(
        !run.stdout.contains("the-callers-secret") && !run.stderr.contains("the-callers-secret")
    );
}

#[test]
fn attack_driver_test_grants_no_host_paths() {
    let a = Attack::new("docker-readonly-write");
    a.project.write(
        "spec.yaml",
        format!(
            "attempt:\n  attack: docker-readonly-write\n  prefix: {}\n  image: {}\n  readable: /etc\n",
            a.prefix,
            busybox()
        ),
    );
    let attacker = lok8s_tests::fixtures_dir().join("hostile_attacker.wasm");
    let run = a.project.lo(&[
        "driver",
        "test",
        attacker.to_str().unwrap(),
        "--spec",
        "spec.yaml",
        "--grant-requests",
    ]);
    run.code(1).stdout_has("add it to host-paths");
    assert!(
        run.stdout.contains("not granted in this run"),
        "{}",
        run.stdout
    );
}

#[test]
fn attack_cpu_waits_not_charged() {
    let a = Attack::new("cpu-waits-not-charged").cpu_seconds("1");
    let run = a.run();
    run.code(1).stderr_has("2000 engine calls done");
    assert!(
        !run.stderr.contains("ran out of CPU time"),
        "{}",
        run.stderr
    );
}

#[test]
fn attack_table_bomb() {
    // The same component without the bomb, for the process's own footprint.
    let plain = Attack::new("format-spoof");
    plain.run().code(1);
    let baseline = plain.peak_rss_kib.get();
    let a = Attack::new("format-spoof").component("hostile_table_bomb.wasm");
    a.run().code(1).stderr_has("hit the memory limit");
    let bomb = a.peak_rss_kib.get();
    // 50 tables of 1M elements would be ~800 MiB; the cap is 64 MiB.
    assert!(
        bomb < baseline + 128 * 1024,
        "peak RSS {bomb} KiB with the bomb, {baseline} KiB without"
    );
}
