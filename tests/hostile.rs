//! The hostile-driver suite: 28 small components (tests/hostile/*), each trying one escape.
//! Each must end with a clear denial or limit error, never "ESCAPED", and leave no trace: the
//! project's files unchanged, nothing outside it written, no Docker object of the project left,
//! the foreign container untouched, no object request at the Kubernetes API double.

use lok8s_tests::docker::{Cleanup, busybox, docker, inspect};
use lok8s_tests::escapes::refusal;
use lok8s_tests::kube_api::KubeApi;
use lok8s_tests::{Project, hostile, hostile_names};

/// Every component in tests/hostile/ has a case below (a new one cannot be forgotten).
#[test]
fn every_hostile_component_has_a_case() {
    let names = hostile_names();
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
        let before = p.files();
        let run = p.lo_env(
            &[
                "provision",
                "hostile.dev",
                "--memory-mib",
                "64",
                "--cpu-seconds",
                "2",
                "--timeout",
                "5",
            ],
            &[("HOSTILE_SECRET", "leak")],
        );
        assert_eq!(p.files(), before, "{name} changed the project's files");
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
