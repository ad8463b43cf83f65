//! Builds the built-in driver components (wasm32-wasip2) and embeds them, so an installed `lo`
//! is self-contained. The guest build uses its own target dir: the outer cargo holds the lock on
//! the host one.

use std::path::PathBuf;

const BUILTINS: &[(&str, &str)] = &[
    ("lo", "lok8s-driver-lo"),
    ("capi", "lok8s-driver-capi"),
    ("kubeone", "lok8s-driver-kubeone"),
    ("kkp", "lok8s-driver-kkp"),
];

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.parent().unwrap().to_path_buf();
    for watched in ["wit", "drivers/sdk", "drivers/builtin", "drivers/lib"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    let guest_dir = guest_target_dir(&root);
    let packages: Vec<String> = BUILTINS.iter().map(|(_, p)| p.to_string()).collect();
    build_guest_packages(
        &root,
        &guest_dir,
        &packages,
        "the built-in driver components",
    );

    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let mut table = String::from("pub(crate) static EMBEDDED: &[(&str, &[u8], &str, &str)] = &[\n");
    for (kind, package) in BUILTINS {
        let wasm = guest_dir
            .join("wasm32-wasip2/guest")
            .join(format!("{}.wasm", package.replace('-', "_")));
        let grant = root.join("drivers/builtin").join(kind).join("grant.toml");
        let schema = root.join("drivers/builtin").join(kind).join("schema.json");
        table.push_str(&format!(
            "    ({kind:?}, include_bytes!({:?}), include_str!({:?}), include_str!({:?})),\n",
            wasm.display().to_string(),
            grant.display().to_string(),
            schema.display().to_string()
        ));
    }
    table.push_str("];\n");
    std::fs::write(out.join("builtin_drivers.rs"), table).unwrap();
}

include!("../tools/guest_build.rs");
