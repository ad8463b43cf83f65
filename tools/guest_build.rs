// Shared by runtime/build.rs and tests/build.rs (through `include!`): building guest components
// for wasm32-wasip2 from inside a build script.

/// Where guest components are built: `LO_GUEST_TARGET_DIR`, else `<workspace>/target/guest`.
/// A target dir of its own, since the outer cargo holds the lock on the host one.
fn guest_target_dir(root: &std::path::Path) -> std::path::PathBuf {
    println!("cargo:rerun-if-env-changed=LO_GUEST_TARGET_DIR");
    std::env::var_os("LO_GUEST_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root.join("target/guest"))
}

/// Builds `packages` in the guest profile; `what` names them in the failure message.
fn build_guest_packages(
    root: &std::path::Path,
    guest_dir: &std::path::Path,
    packages: &[String],
    what: &str,
) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = std::process::Command::new(cargo);
    cmd.current_dir(root)
        .args([
            "build",
            "--profile",
            "guest",
            "--target",
            "wasm32-wasip2",
            "--target-dir",
        ])
        .arg(guest_dir);
    for package in packages {
        cmd.args(["-p", package]);
    }
    // Flags meant for the host build must not leak into the guest build.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTC_WRAPPER",
        "CARGO_TARGET_DIR",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("running cargo to build {what}: {e}"));
    assert!(
        status.success(),
        "building {what} failed; is the wasm target installed? run `rustup target add wasm32-wasip2` (or `just setup`)"
    );
}
