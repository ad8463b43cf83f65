//! Builds the built-in driver components (wasm32-wasip2) and embeds them, so an installed `lo`
//! is self-contained. The guest build uses its own target dir: the outer cargo holds the lock on
//! the host one.

use std::path::{Path, PathBuf};
use std::process::Command;

const BUILTINS: &[(&str, &str)] = &[
    ("lo", "lok8s-driver-lo"),
    ("capi", "lok8s-driver-capi"),
    ("kubeone", "lok8s-driver-kubeone"),
    ("kkp", "lok8s-driver-kkp"),
];

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.parent().unwrap().to_path_buf();
    for watched in [
        "wit",
        "drivers/sdk",
        "drivers/lo",
        "drivers/capi",
        "drivers/kubeone",
        "drivers/kkp",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    println!("cargo:rerun-if-env-changed=LO_GUEST_TARGET_DIR");

    let guest_dir = std::env::var_os("LO_GUEST_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/guest"));
    build_guests(&root, &guest_dir);

    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let mut table = String::from("pub(crate) static EMBEDDED: &[(&str, &[u8], &str)] = &[\n");
    for (kind, package) in BUILTINS {
        let wasm = guest_dir
            .join("wasm32-wasip2/guest")
            .join(format!("{}.wasm", package.replace('-', "_")));
        let grant = root.join("drivers").join(kind).join("grant.toml");
        table.push_str(&format!(
            "    ({kind:?}, include_bytes!({:?}), include_str!({:?})),\n",
            wasm.display().to_string(),
            grant.display().to_string()
        ));
    }
    table.push_str("];\n");
    std::fs::write(out.join("builtin_drivers.rs"), table).unwrap();
}

fn build_guests(root: &Path, guest_dir: &Path) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
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
    for (_, package) in BUILTINS {
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
        .expect("running cargo for the built-in drivers");
    if !status.success() {
        panic!(
            "building the built-in driver components failed; is the wasm target installed? \
             run `rustup target add wasm32-wasip2` (or `just setup`)"
        );
    }
}
