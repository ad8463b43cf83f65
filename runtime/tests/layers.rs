//! The runtime's layering, checked on its source: each top-level module may use only the
//! modules below it (docs/architecture.md draws the same picture). A `use crate::cli` in
//! `host/`, or `engine` reaching into `cluster`, fails here, in `just lint` and in `just test`.

use std::collections::BTreeSet;
use std::path::Path;

/// Each module, with the modules it may use. Order is bottom-up.
const LAYERS: &[(&str, &[&str])] = &[
    ("contract", &[]),
    ("sanitize", &[]),
    ("project", &["sanitize"]),
    ("host", &["contract", "project", "sanitize"]),
    ("lock", &["contract", "host"]),
    ("engine", &["contract", "host", "lock", "sanitize"]),
    ("framework", &["host", "project", "sanitize"]),
    ("settings", &["engine", "host"]),
    (
        "drivers",
        &["contract", "engine", "host", "lock", "project", "settings"],
    ),
    (
        "cluster",
        &[
            "contract",
            "drivers",
            "engine",
            "framework",
            "host",
            "lock",
            "project",
            "sanitize",
            "settings",
        ],
    ),
    (
        "authoring",
        &[
            "cluster", "contract", "drivers", "engine", "host", "lock", "project", "settings",
        ],
    ),
    (
        "cli",
        &[
            "authoring",
            "cluster",
            "contract",
            "drivers",
            "engine",
            "framework",
            "host",
            "lock",
            "project",
            "sanitize",
            "settings",
        ],
    ),
];

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `crate::<module>` references in a file's code (comments included: a doc link up the
/// layers is a dependency too).
fn uses(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (i, _) in text.match_indices("crate::") {
        let rest = &text[i + "crate::".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || *c == '_')
            .collect();
        if !name.is_empty() {
            found.insert(name);
        }
    }
    found
}

#[test]
fn each_module_uses_only_the_layers_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    for file in &files {
        let rel = file.strip_prefix(&src).unwrap();
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        if top == "lib" || top == "main" {
            continue;
        }
        seen.insert(top.clone());
        let Some((_, allowed)) = LAYERS.iter().find(|(name, _)| *name == top) else {
            problems.push(format!(
                "{}: module {top} is not in LAYERS; place it",
                rel.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for used in uses(&text) {
            if used != top && !allowed.contains(&used.as_str()) {
                problems.push(format!(
                    "{}: {top} uses crate::{used}, which is not below it",
                    rel.display()
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // Every layer named exists, so the table cannot drift from the tree.
    for (name, _) in LAYERS {
        assert!(
            seen.contains(*name),
            "LAYERS names {name}, which has no files"
        );
    }
}
