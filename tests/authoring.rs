//! Tools for driver authors, on real components: `lo driver check` reports what a component
//! targets, exports, imports and requests, and fails with the reasons when lo would refuse it.

use lok8s_tests::{Project, fixture, hostile};

/// `lo driver test` on a component: exit 0 and every step ok; the JSON report.
fn conformance_passes(p: &Project, wasm: &std::path::Path) -> serde_json::Value {
    let run = p.lo(&["driver", "test", wasm.to_str().unwrap(), "-o", "json"]);
    run.success();
    let report = run.json();
    assert!(
        report["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["ok"] == true),
        "{report}"
    );
    report
}

#[test]
fn check_reports_a_runnable_driver() {
    let p = Project::new();
    let run = p.lo(&[
        "driver",
        "check",
        fixture("corners").to_str().unwrap(),
        "-o",
        "json",
    ]);
    run.success();
    let v = run.json();
    assert_eq!(v["contract"], "1.2.0");
    assert_eq!(v["hooks"], true);
    assert_eq!(v["kinds"][0], "Corners");
    assert_eq!(v["problems"].as_array().unwrap().len(), 0);
    let bytes = std::fs::read(fixture("corners")).unwrap();
    assert_eq!(v["size"], bytes.len());
    assert!(v["sha256"].as_str().unwrap().starts_with("sha256:"), "{v}");
    assert!(
        v["exports"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e.as_str().unwrap().starts_with("lok8s:driver/lifecycle@"))
    );
    // Text form for people.
    p.lo(&["driver", "check", fixture("corners").to_str().unwrap()])
        .success()
        .stdout_has("contract  lok8s:driver@1.2.0")
        .stdout_has("ok: this lo runs it");
}

#[test]
fn check_fails_with_the_reason_lo_would_refuse() {
    let p = Project::new();
    // Built against a newer contract.
    let run = p.lo(&[
        "driver",
        "check",
        fixture("newer-contract").to_str().unwrap(),
    ]);
    run.code(1).stderr_has("would be refused").stderr_has("1.3");
    // An interface outside the contract.
    p.lo(&[
        "driver",
        "check",
        fixture("forbidden-imports").to_str().unwrap(),
    ])
    .code(1)
    .stderr_has("  - fixture:forbidden/steal: not part of the lok8s driver contract");
    // wasi:sockets is linked (CPython imports it) and refused at use, so it passes check.
    p.lo(&["driver", "check", hostile("raw-socket").to_str().unwrap()])
        .success();
    // Imports docker without requesting it in describe.
    let run = p.lo(&[
        "driver",
        "check",
        hostile("docker-ungranted-import").to_str().unwrap(),
        "-o",
        "json",
    ]);
    run.code(1);
    let v = run.json();
    assert!(
        v["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m.as_str().unwrap().contains("lok8s:driver/docker")),
        "{v}"
    );
    // Not a component at all.
    p.write("junk.wasm", b"\0asm junk");
    p.lo(&["driver", "check", "junk.wasm"])
        .code(1)
        .stderr_has("would be refused");
    p.lo(&["driver", "check", "missing.wasm"])
        .code(1)
        .stderr_has("missing.wasm");
}

#[test]
fn new_scaffolds_a_rust_driver_that_builds_and_passes_check() {
    let p = Project::new();
    let run = p.lo(&["driver", "new", "k3s-docker", "--kind", "K3s", "-o", "json"]);
    run.success();
    assert!(
        run.json()["files"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "wit/world.wit")
    );
    let root = p.path("k3s-docker");
    assert!(root.join("justfile").is_file() && root.join("README.md").is_file());
    // Builds as it is, out of this workspace, with its own target folder.
    let target = lok8s_tests::workspace().join("target/scaffold-test");
    build_in(
        &root,
        std::process::Command::new(env!("CARGO"))
            .args([
                "build",
                "--release",
                "--offline",
                "--target",
                "wasm32-wasip2",
            ])
            .env("CARGO_TARGET_DIR", &target)
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS"),
    );
    let wasm = target.join("wasm32-wasip2/release/k3s_docker.wasm");
    let check = p.lo(&["driver", "check", wasm.to_str().unwrap(), "-o", "json"]);
    check.success();
    assert_eq!(check.json()["kinds"][0], "K3s");
    assert_eq!(check.json()["hooks"], true);
    // And passes the conformance sequence.
    let report = conformance_passes(&p, &wasm);
    let steps = report["steps"].as_array().unwrap().clone();
    let names: Vec<&str> = steps.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "check",
            "provision",
            "status after provision",
            "kubeconfig",
            "provision again",
            "destroy",
            "status after destroy",
            "malformed spec"
        ]
    );
    // A second run refuses to overwrite.
    p.lo(&["driver", "new", "k3s-docker"])
        .code(1)
        .stderr_has("already exists");
    p.lo(&["driver", "new", "x", "--lang", "cobol"]).code(2);
}

#[test]
fn conformance_fails_a_driver_that_traps() {
    let p = Project::new();
    p.write("trap.yaml", "fixture:\n  behaviour: trap\n");
    let run = p.lo(&[
        "driver",
        "test",
        fixture("corners").to_str().unwrap(),
        "--spec",
        "trap.yaml",
        "-o",
        "json",
    ]);
    run.code(1).stderr_has("failed conformance: provision");
    let steps = run.json()["steps"].as_array().unwrap().clone();
    assert_eq!(steps[1]["name"], "provision");
    assert_eq!(steps[1]["ok"], false);
    assert!(
        steps[1]["detail"].as_str().unwrap().contains("trap"),
        "{steps:?}"
    );
}

/// Runs a scaffold's build command in its folder; fails the test with the tool's stderr.
fn build_in(root: &std::path::Path, command: &mut std::process::Command) {
    let build = command.current_dir(root).output().unwrap();
    assert!(
        build.status.success(),
        "{}",
        String::from_utf8_lossy(&build.stderr)
    );
}

/// `lo driver new <name> --lang <lang> --kind <kind>`, then `tool` (installed by tools/setup
/// under target/tools/) run in the new folder with `args`, then `lo driver test` on `wasm`.
fn scaffold_builds_and_passes(lang: &str, name: &str, kind: &str, tool: &str, args: &[&str]) {
    let tool = lok8s_tests::workspace().join("target/tools").join(tool);
    assert!(
        tool.is_file(),
        "{} is missing: run `bash tools/setup`",
        tool.display()
    );
    let p = Project::new();
    p.lo(&["driver", "new", name, "--lang", lang, "--kind", kind])
        .success();
    let root = p.path(name);
    assert!(root.join("wit/deps/lok8s-driver/lifecycle.wit").is_file());
    build_in(&root, std::process::Command::new(&tool).args(args));
    let wasm = root.join(format!("{}.wasm", name.replace('-', "_")));
    let report = conformance_passes(&p, &wasm);
    assert_eq!(report["kind"], kind);
    // The scaffold's hooks ran: its export hook names the cluster.
    assert_eq!(report["steps"][1]["name"], "provision");
    assert_eq!(
        report["steps"][1]["detail"],
        "continue; export: LOK8S_SPEC_CLUSTER_NAME"
    );
}

#[test]
fn new_scaffolds_a_python_driver_that_passes_conformance() {
    let args = "-d wit -w driver componentize app -o py_drv.wasm";
    let args: Vec<&str> = args.split(' ').collect();
    scaffold_builds_and_passes(
        "python",
        "py-drv",
        "PyDrv",
        "venv/bin/componentize-py",
        &args,
    );
}

#[test]
fn new_scaffolds_a_javascript_driver_that_passes_conformance() {
    // The scaffold's own build script (package.json), with the componentize-qjs tools/setup
    // installed instead of an `npm install`.
    let template = include_str!("../runtime/templates/js/package.json.tmpl");
    let package: serde_json::Value = serde_json::from_str(template).unwrap();
    let script = package["scripts"]["build"]
        .as_str()
        .unwrap()
        .replace("{{crate_file}}", "js_drv");
    let args: Vec<&str> = script.split(' ').collect();
    assert_eq!(args[0], "componentize-qjs");
    let qjs = "node/node_modules/.bin/componentize-qjs";
    scaffold_builds_and_passes("js", "js-drv", "JsDrv", qjs, &args[1..]);
}
