//! Builds the fixture driver components and the hostile-driver suite (wasm32-wasip2) once per
//! test build and tells the tests where they are. Uses the guest target dir, like
//! runtime/build.rs. Every folder under tests/hostile/ except `common` is one component.

use std::path::PathBuf;

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
    let guest_dir = guest_target_dir(&root);
    let mut packages: Vec<String> = FIXTURES.iter().map(|f| format!("fixture-{f}")).collect();
    packages.extend(hostile(&root).into_iter().map(|h| format!("hostile-{h}")));
    build_guest_packages(
        &root,
        &guest_dir,
        &packages,
        "the fixture driver components",
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

include!("../tools/guest_build.rs");
