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
    table_bomb(
        &out.join("hostile_attacker.wasm"),
        &out.join("hostile_table_bomb.wasm"),
    );
    println!("cargo:rustc-env=LO_FIXTURES_DIR={}", out.display());
    println!("cargo:rustc-env=LO_WORKSPACE_ROOT={}", root.display());
}

/// The attacker with a core module of many 1M-element funcref tables appended (and an instance
/// of it): instantiating it asks for gigabytes of tables, which the memory cap must stop. The
/// appended sections come last, so no index of the attacker's own shifts.
fn table_bomb(attacker: &std::path::Path, out: &std::path::Path) {
    use wasm_encoder::{ComponentSectionId, InstanceSection, RawSection};
    let mut bytes = std::fs::read(attacker).expect("reading the attacker component");
    let mut modules = 0u32;
    let mut parser = wasmparser::Parser::new(0);
    let mut rest: &[u8] = &bytes;
    loop {
        let (consumed, payload) = match parser.parse(rest, true).expect("parsing the attacker") {
            wasmparser::Chunk::Parsed { consumed, payload } => (consumed, payload),
            wasmparser::Chunk::NeedMoreData(_) => unreachable!("the whole component is given"),
        };
        rest = &rest[consumed..];
        match payload {
            wasmparser::Payload::ModuleSection {
                unchecked_range, ..
            } => {
                modules += 1;
                rest = &rest[(unchecked_range.end - unchecked_range.start) as usize..];
            }
            wasmparser::Payload::ComponentSection {
                unchecked_range, ..
            } => {
                rest = &rest[(unchecked_range.end - unchecked_range.start) as usize..];
            }
            wasmparser::Payload::End(_) => break,
            _ => {}
        }
    }
    let tables = "(table 1000000 funcref) ".repeat(50);
    let module = wat::parse_str(format!("(module {tables})")).expect("the bomb module");
    let mut instances = InstanceSection::new();
    instances.instantiate(modules, Vec::<(&str, wasm_encoder::ModuleArg)>::new());
    let mut extra = wasm_encoder::Component::new();
    extra.section(&RawSection {
        id: ComponentSectionId::CoreModule as u8,
        data: &module,
    });
    extra.section(&instances);
    let extra = extra.finish();
    // Past the 8-byte preamble: sections only.
    bytes.extend_from_slice(&extra[8..]);
    std::fs::write(out, bytes).expect("writing the table bomb");
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
