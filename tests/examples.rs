//! Example drivers in other languages (drivers/examples/), built from source by
//! `just build-examples` (which `just test` and `.ci/run` run first): each passes
//! `lo driver check` and `lo driver test`, and provisions from a project that pins it by hash,
//! against the real dockerd with the stand-in k3s image (tests/standin/k3s.rs).

use std::path::Path;

use lok8s_tests::docker::{Cleanup, inspect};
use lok8s_tests::images::k3s_image;
use lok8s_tests::{Project, example};

fn image() -> &'static str {
    k3s_image(Path::new(env!("CARGO_BIN_EXE_lok8s-node-standin")))
}

const ENV: [(&str, &str); 1] = [("LO_PRIVILEGED_MODE", "capabilities")];

#[test]
fn python_k3s_driver_passes_check_and_conformance_and_provisions_when_pinned() {
    k3s_example("k3s_python.wasm", "pyk3s", "pyk3s-k3s-server");
}

#[test]
fn javascript_k3s_driver_passes_check_and_conformance_and_provisions_when_pinned() {
    k3s_example("k3s_js.wasm", "jsk3s", "jsk3s-k3s");
}

/// Check, `lo driver test`, then a pinned provision under CI=true, kubectl through the
/// kubeconfig the driver wrote, status and destroy. `container` is the driver's name for the
/// k3s server of cluster `name`.
fn k3s_example(file: &str, name: &str, container: &str) {
    let wasm = example(file);
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
            "--grant-requests",
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

    // Then from a project that pins it (same test: a large component compiles once).
    let p = Project::new();
    let _cleanup = Cleanup::new(p.root());
    p.write(&format!("drivers/{file}"), std::fs::read(&wasm).unwrap());
    p.cluster("k3s.test", "K3s", name, &format!("image: {}", image()));
    p.lo(&["drivers", "add", "K3s", &format!("drivers/{file}")])
        .success();
    // Pinned: CI mode runs it, and only it.
    let env = [ENV[0], ("CI", "true")];
    p.lo_env(&["provision", "k3s.test"], &env).success();
    let c = inspect("container", container).expect("the k3s server container");
    assert_eq!(c["State"]["Running"], true);
    assert_eq!(c["Config"]["Labels"]["dev.lok8s.driver"], "k3s");
    let port = c["NetworkSettings"]["Ports"]["6443/tcp"][0]["HostPort"]
        .as_str()
        .unwrap()
        .to_string();
    let kubeconfig = format!(".kubeconfig/{name}.yaml");
    let kc = p.read(&kubeconfig);
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
            p.path(&kubeconfig).to_str().unwrap(),
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
    assert!(inspect("container", container).is_none());
}

#[test]
fn javascript_k3s_driver_names_a_wrong_spec_field_and_creates_nothing() {
    let wasm = example("k3s_js.wasm");
    let p = Project::new();
    let cleanup = Cleanup::new(p.root());
    p.write("drivers/k3s_js.wasm", std::fs::read(&wasm).unwrap());
    p.cluster(
        "k3s.test",
        "K3s",
        "badk3s",
        "imag: rancher/k3s:v1.31.4-k3s1",
    );
    p.lo(&["drivers", "add", "K3s", "drivers/k3s_js.wasm"])
        .success();
    p.lo_env(&["provision", "k3s.test"], &ENV)
        .code(1)
        .stderr_has("spec.imag: is not a K3s field; the fields are: image");
    assert!(inspect("container", "badk3s-k3s").is_none());
    assert!(cleanup.labelled("container").is_empty());
    assert!(!p.path(".kubeconfig/badk3s.yaml").exists());
}
