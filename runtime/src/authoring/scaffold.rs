//! `lo driver new <name> --lang rust|python|js`: a driver project that builds as it is, with the
//! contract (`wit/`) of this lo, a README and a `justfile`. Nothing is overwritten.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

/// The contract files, as this lo was built with them.
const WIT: &[(&str, &str)] = &[
    ("docker.wit", include_str!("../../../wit/1.2.0/docker.wit")),
    ("http.wit", include_str!("../../../wit/1.2.0/http.wit")),
    (
        "kubectl-apply.wit",
        include_str!("../../../wit/1.2.0/kubectl-apply.wit"),
    ),
    (
        "lifecycle.wit",
        include_str!("../../../wit/1.2.0/lifecycle.wit"),
    ),
    ("log.wit", include_str!("../../../wit/1.2.0/log.wit")),
    (
        "spec-schema.wit",
        include_str!("../../../wit/1.2.0/spec-schema.wit"),
    ),
    ("ssh.wit", include_str!("../../../wit/1.2.0/ssh.wit")),
    ("tls.wit", include_str!("../../../wit/1.2.0/tls.wit")),
    ("types.wit", include_str!("../../../wit/1.2.0/types.wit")),
    ("world.wit", include_str!("../../../wit/1.2.0/world.wit")),
];

const RUST: &[(&str, &str)] = &[
    (
        "Cargo.toml",
        include_str!("../../templates/rust/Cargo.toml.tmpl"),
    ),
    (
        "src/lib.rs",
        include_str!("../../templates/rust/src/lib.rs.tmpl"),
    ),
    (
        "justfile",
        include_str!("../../templates/rust/justfile.tmpl"),
    ),
    (
        "README.md",
        include_str!("../../templates/rust/README.md.tmpl"),
    ),
    (
        ".gitignore",
        include_str!("../../templates/rust/gitignore.tmpl"),
    ),
];

const PYTHON: &[(&str, &str)] = &[
    ("app.py", include_str!("../../templates/python/app.py.tmpl")),
    (
        "wit/world.wit",
        include_str!("../../templates/python/world.wit.tmpl"),
    ),
    (
        "justfile",
        include_str!("../../templates/python/justfile.tmpl"),
    ),
    (
        "README.md",
        include_str!("../../templates/python/README.md.tmpl"),
    ),
    (
        ".gitignore",
        include_str!("../../templates/python/gitignore.tmpl"),
    ),
];

const JS: &[(&str, &str)] = &[
    ("app.js", include_str!("../../templates/js/app.js.tmpl")),
    (
        "wit/world.wit",
        include_str!("../../templates/js/world.wit.tmpl"),
    ),
    (
        "package.json",
        include_str!("../../templates/js/package.json.tmpl"),
    ),
    ("justfile", include_str!("../../templates/js/justfile.tmpl")),
    (
        "README.md",
        include_str!("../../templates/js/README.md.tmpl"),
    ),
    (
        ".gitignore",
        include_str!("../../templates/js/gitignore.tmpl"),
    ),
    // The WASI packages the JavaScript world imports directly (files), as lo implements them.
    (
        "wit/deps/wasi-io/io.wit",
        include_str!("../../../wit/wasi-0.2.12/io/io.wit"),
    ),
    (
        "wit/deps/wasi-clocks/clocks.wit",
        include_str!("../../../wit/wasi-0.2.12/clocks/clocks.wit"),
    ),
    (
        "wit/deps/wasi-filesystem/filesystem.wit",
        include_str!("../../../wit/wasi-0.2.12/filesystem/filesystem.wit"),
    ),
];

/// Languages `lo driver new` scaffolds.
pub const LANGUAGES: &[&str] = &["rust", "python", "js"];

/// Writes the project into `dir`/`name`; returns its path and the files written.
pub fn new_driver(
    dir: &Path,
    name: &str,
    kind: Option<&str>,
    lang: &str,
) -> anyhow::Result<(PathBuf, Vec<String>)> {
    // The name is also a WIT package name: '-'-separated words, each starting with a letter.
    let word_ok = |w: &str| {
        w.chars().next().is_some_and(|c| c.is_ascii_lowercase())
            && w.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    };
    if !name.split('-').all(word_ok) {
        bail!(
            "driver name {name:?}: use lowercase words of letters and digits joined by '-', each starting with a letter (such as k3s-docker)"
        );
    }
    // Rust builds against the whole contract; Python and JavaScript against their own world,
    // which imports only what they use (their tools link every import of the world given).
    let (templates, wit_dir) = match lang {
        "rust" => (RUST, "wit"),
        "python" => (PYTHON, "wit/deps/lok8s-driver"),
        "js" => (JS, "wit/deps/lok8s-driver"),
        other => bail!(
            "--lang {other:?}: this lo scaffolds {}",
            LANGUAGES.join(", ")
        ),
    };
    let kind = kind
        .map(str::to_string)
        .unwrap_or_else(|| default_kind(name));
    if !kind.chars().next().is_some_and(|c| c.is_ascii_uppercase())
        || !kind.chars().all(|c| c.is_ascii_alphanumeric())
    {
        bail!(
            "--kind {kind:?}: a spec kind is letters and digits starting with a capital, such as K3s"
        );
    }
    let root = dir.join(name);
    if root.exists() {
        bail!(
            "{} already exists; pick another name or folder",
            root.display()
        );
    }
    let crate_file = name.replace('-', "_");
    let (major, minor, patch) = crate::CONTRACT;
    let contract = format!("{major}.{minor}.{patch}");
    let fill = |text: &str| {
        text.replace("{{contract}}", &contract)
            .replace("{{name}}", name)
            .replace("{{crate}}", name)
            .replace("{{crate_file}}", &crate_file)
            .replace("{{kind}}", &kind)
    };
    let mut written = Vec::new();
    let files = templates
        .iter()
        .map(|(p, t)| (p.to_string(), fill(t)))
        .chain(
            WIT.iter()
                .map(|(p, t)| (format!("{wit_dir}/{p}"), t.to_string())),
        );
    for (rel, text) in files {
        let path = root.join(&rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        written.push(rel);
    }
    Ok((root, written))
}

/// `k3s-docker` → `K3sDocker`.
fn default_kind(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut c = part.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_kinds_and_no_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let (root, files) = new_driver(dir.path(), "k3s-docker", None, "rust").unwrap();
        assert!(files.contains(&"wit/world.wit".to_string()));
        assert!(files.contains(&".gitignore".to_string()));
        let lib = std::fs::read_to_string(root.join("src/lib.rs")).unwrap();
        assert!(lib.contains("kinds: vec![\"K3sDocker\".into()]"), "{lib}");
        assert!(!lib.contains("{{"), "{lib}");
        assert!(
            new_driver(dir.path(), "k3s-docker", None, "rust")
                .unwrap_err()
                .to_string()
                .contains("already exists")
        );
        assert!(new_driver(dir.path(), "K3s", None, "rust").is_err());
        for bad in ["k3s-2", "a--b", "a-", "", "-a"] {
            assert!(new_driver(dir.path(), bad, None, "js").is_err(), "{bad}");
        }
        let (js, _) = new_driver(dir.path(), "k3s-js", None, "js").unwrap();
        for file in [
            "app.js",
            "wit/world.wit",
            "package.json",
            "justfile",
            "README.md",
        ] {
            let text = std::fs::read_to_string(js.join(file)).unwrap();
            assert!(!text.contains("{{"), "{file}: {text}");
        }
        assert!(js.join("wit/deps/wasi-filesystem/filesystem.wit").is_file());
        assert!(new_driver(dir.path(), "x", Some("lower"), "rust").is_err());
        assert!(
            new_driver(dir.path(), "y", None, "cobol")
                .unwrap_err()
                .to_string()
                .contains("rust")
        );
    }
}
