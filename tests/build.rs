//! Builds the fixture driver components and the hostile-driver suite (wasm32-wasip2) once per
//! test build and tells the tests where they are. Uses the guest target dir, like
//! runtime/build.rs. Every folder under tests/hostile/ except `common` is one component.

use std::path::PathBuf;
use std::process::Command;

const FIXTURES: &[&str] = &[
    "corners",
    "no-hooks",
    "newer-contract",
    "forbidden-imports",
    "docker-probe",
    "tls-probe",
    "http-probe",
    "ssh-probe",
    "kube-probe",
];

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap())
        .parent()
        .unwrap()
        .to_path_buf();
    for watched in ["wit", "drivers/sdk", "tests/fixtures", "tests/hostile"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    let guest_dir = std::env::var_os("LO_GUEST_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/guest"));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&root)
        .args([
            "build",
            "--profile",
            "guest",
            "--target",
            "wasm32-wasip2",
            "--target-dir",
        ])
        .arg(&guest_dir);
    for f in FIXTURES {
        cmd.args(["-p", &format!("fixture-{f}")]);
    }
    for h in hostile(&root) {
        cmd.args(["-p", &format!("hostile-{h}")]);
    }
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTC_WRAPPER",
        "CARGO_TARGET_DIR",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd.status().expect("running cargo for the fixture drivers");
    assert!(
        status.success(),
        "building the fixture driver components failed (is wasm32-wasip2 installed?)"
    );
    let out = guest_dir.join("wasm32-wasip2/guest");
    println!("cargo:rustc-env=LO_FIXTURES_DIR={}", out.display());
    println!("cargo:rustc-env=LO_WORKSPACE_ROOT={}", root.display());
}

/// The hostile components' names: the folders of tests/hostile/ but `common`.
fn hostile(root: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root.join("tests/hostile"))
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.path().join("Cargo.toml").is_file())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n != "common")
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}
