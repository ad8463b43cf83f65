//! The grant holds whatever language a driver is written in: the same escape attempt, made by a
//! Rust driver (tests/hostile/<escape>), a Python one (componentize-py) and a JavaScript one
//! (componentize-qjs) (tests/languages/*, built by `just build-examples`), ends the same way:
//! exit 1 with lo's own refusal for capability and limit escapes, an error from the guest's
//! file API for file escapes, and in every case no trace (no file outside the project, the
//! project's files unchanged, no container left, the foreign container still running).

use std::path::PathBuf;

use lok8s_tests::docker::{Cleanup, busybox, docker, inspect};
use lok8s_tests::escapes::refusal;
use lok8s_tests::{Project, example, hostile};

/// The attempts every language makes: files, Docker, and the two limits.
const ESCAPES: &[&str] = &[
    "read-host-file",
    "write-outside-project",
    "docker-socket-mount",
    "docker-privileged",
    "docker-foreign-container",
    "memory-bomb",
    "endless-loop",
];

fn is_file_escape(escape: &str) -> bool {
    matches!(escape, "read-host-file" | "write-outside-project")
}

#[derive(Clone, Copy, Debug)]
enum Language {
    Rust,
    Python,
    JavaScript,
}

impl Language {
    fn component(self, escape: &str) -> PathBuf {
        match self {
            Language::Rust => hostile(escape),
            Language::Python => example("escapes_python.wasm"),
            Language::JavaScript => example("escapes_js.wasm"),
        }
    }

    /// What a refused file access looks like from inside: each language's own error for
    /// WASI's answer (there is no preopen that reaches the path).
    fn file_refusal(self) -> &'static str {
        match self {
            Language::Rust => "os error",
            Language::Python => "[Errno",
            Language::JavaScript => "not-permitted",
        }
    }
}

/// Makes every attempt with `language`'s driver, checks it left no trace, and returns each
/// attempt's refusal as the user reads it, without what differs by run and driver (the
/// driver's name and hash, container names, numbers).
fn attempts(language: Language) -> Vec<String> {
    let mut refusals = Vec::new();
    for escape in ESCAPES {
        let p = Project::new();
        let prefix =
            format!("lok8s-lang-{}-{language:?}-{escape}", std::process::id()).to_lowercase();
        let foreign = format!("{prefix}-foreign");
        let mut cleanup = Cleanup::new(p.root());
        assert_eq!(
            docker(&["run", "-d", "--name", &foreign, busybox(), "sleep", "600"]).0,
            0
        );
        cleanup.containers.push(foreign.clone());
        p.cluster(
            "hostile.dev",
            "Hostile",
            "hostile",
            &format!(
                "attempt:\n  escape: {escape}\n  prefix: {prefix}\n  image: {}\n  target: {foreign}",
                busybox()
            ),
        );
        p.write("secret.txt", "the project's secret");
        p.write(
            "drivers/escapes.wasm",
            std::fs::read(language.component(escape)).unwrap(),
        );
        p.lo(&["drivers", "add", "Hostile", "drivers/escapes.wasm"])
            .success();
        let before = p.files();
        let run = p.lo(&[
            "provision",
            "hostile.dev",
            "--memory-mib",
            "128",
            "--cpu-seconds",
            "2",
            // Generous: each attempt ends on its own (a refusal, the memory cap, 2 s of guest
            // CPU); a busy machine must not turn one into a wall-clock timeout.
            "--timeout",
            "300",
        ]);
        let expected = if is_file_escape(escape) {
            language.file_refusal()
        } else {
            refusal(escape).unwrap()
        };
        let context = format!("{language:?} {escape}:\n{}", run.stderr);
        assert_eq!(run.code, 1, "{context}");
        assert!(
            run.stderr.contains(expected),
            "expected {expected:?}; {context}"
        );
        assert!(!run.stderr.contains("ESCAPED"), "{context}");
        assert_eq!(p.files(), before, "{context}: the project's files changed");
        assert!(
            !p.root().parent().unwrap().join("escaped.txt").exists(),
            "{context}: wrote outside the project"
        );
        assert!(
            cleanup.labelled("container").is_empty(),
            "{context}: left containers"
        );
        for suffix in ["bind", "priv"] {
            assert!(
                inspect("container", &format!("{prefix}-{suffix}")).is_none(),
                "{context}"
            );
        }
        assert_eq!(
            inspect("container", &foreign).unwrap()["State"]["Running"],
            true,
            "{context}: touched the foreign container"
        );
        let said = run.stderr.lines().next().unwrap_or_default();
        let said = said
            .split_once("provision: ")
            .map_or(said, |(_, rest)| rest);
        let said: String = said
            .replace(&prefix, "<prefix>")
            .split(|c: char| c.is_ascii_digit())
            .filter(|part| !part.is_empty())
            .collect::<Vec<_>>()
            .join("N");
        refusals.push(said);
    }
    refusals
}

/// One test, so the three runs can be compared (the Python component compiles once).
#[test]
fn every_language_is_refused_the_same_way() {
    let rust = attempts(Language::Rust);
    let python = attempts(Language::Python);
    let javascript = attempts(Language::JavaScript);
    for (i, escape) in ESCAPES.iter().enumerate() {
        if is_file_escape(escape) {
            continue; // each language words WASI's refusal its own way (checked above)
        }
        assert_eq!(rust[i], python[i], "{escape}: Rust and Python differ");
        assert_eq!(
            rust[i], javascript[i],
            "{escape}: Rust and JavaScript differ"
        );
    }
}
