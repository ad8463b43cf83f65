//! Example drivers in other languages (drivers/examples/), built from source by
//! `just build-examples` (which `just test` and `.ci/run` run first): each passes
//! `lo driver check` and `lo driver test`, and provisions from a project that pins it by hash,
//! against the real dockerd with the stand-in k3s image (tests/standin/k3s.rs).

use std::path::{Path, PathBuf};

use lok8s_tests::Project;
use lok8s_tests::docker::{Cleanup, inspect};
use lok8s_tests::images::k3s_image;

fn example(file: &str) -> PathBuf {
    let path = lok8s_tests::workspace().join("target/examples").join(file);
    assert!(
        path.is_file(),
        "{} is missing: run `just build-examples` (after `bash tools/setup`)",
        path.display()
    );
    path
}

fn image() -> &'static str {
    k3s_image(Path::new(env!("CARGO_BIN_EXE_lok8s-node-standin")))
}

const ENV: [(&str, &str); 1] = [("LO_PRIVILEGED_MODE", "capabilities")];

#[test]
fn python_k3s_driver_passes_check_and_conformance_and_provisions_when_pinned() {
    let wasm = example("k3s_python.wasm");
    let p = Project::new();
    let check = p.lo(&["driver", "check", wasm.to_str().unwrap(), "-o", "json"]);
    check.success();
    assert_eq!(check.json()["kinds"][0], "K3s");
    assert_eq!(check.json()["hooks"], true);
    p.write("spec.yaml", format!("image: {}\n", image()));
    let cleanup = Cleanup::new(p.root());
    let run = p.lo_env(
        &[
            "driver",
            "test",
            wasm.to_str().unwrap(),
            "--spec",
            "spec.yaml",
            "-o",
            "json",
        ],
        &ENV,
    );
    let steps = run.json()["steps"].clone();
    run.success();
    assert!(
        steps.as_array().unwrap().iter().all(|s| s["ok"] == true),
        "{steps}"
    );
    drop(cleanup);

    // Then from a project that pins it (one test: the 18 MB component compiles once).
    let p = Project::new();
    let _cleanup = Cleanup::new(p.root());
    p.write("drivers/k3s_python.wasm", std::fs::read(&wasm).unwrap());
    p.cluster("k3s.test", "K3s", "pyk3s", &format!("image: {}", image()));
    p.lo(&["drivers", "add", "K3s", "drivers/k3s_python.wasm"])
        .success();
    // Pinned: CI mode runs it, and only it.
    let env = [ENV[0], ("CI", "true")];
    p.lo_env(&["provision", "k3s.test"], &env).success();
    let c = inspect("container", "pyk3s-k3s-server").expect("the k3s server container");
    assert_eq!(c["State"]["Running"], true);
    assert_eq!(c["Config"]["Labels"]["dev.lok8s.driver"], "k3s");
    let port = c["NetworkSettings"]["Ports"]["6443/tcp"][0]["HostPort"]
        .as_str()
        .unwrap()
        .to_string();
    let kc = p.read(".kubeconfig/pyk3s.yaml");
    assert!(
        kc.contains(&format!("server: https://127.0.0.1:{port}")),
        "{kc}"
    );
    let status = p.lo_env(&["status", "k3s.test", "-o", "json"], &env);
    assert_eq!(status.json()["phase"], "Running");
    // The kubeconfig works: kubectl (preinstalled) lists the API double's namespaces over TLS.
    let kubectl = std::process::Command::new("kubectl")
        .args([
            "--kubeconfig",
            p.path(".kubeconfig/pyk3s.yaml").to_str().unwrap(),
            "get",
            "namespaces",
            "-o",
            "name",
        ])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&kubectl.stdout).contains("namespace/kube-system"),
        "{}",
        String::from_utf8_lossy(&kubectl.stderr)
    );
    p.lo_env(&["destroy", "k3s.test"], &env).success();
    assert!(inspect("container", "pyk3s-k3s-server").is_none());
}
