//! User-facing messages pinned whole (insta snapshots in tests/snapshots/), not by a substring:
//! what a user reads when a spec is wrong, a driver is refused, a grant is missing, and what
//! `lo drivers show` and `lo --help` say. Paths of the throwaway project and hashes are
//! replaced by placeholders. A changed message fails here; review it and accept the new
//! snapshot (`cargo insta review`, or INSTA_UPDATE=always once) when the change is meant.

use lok8s_tests::{Project, Run};

/// Output with the project's path and component hashes made stable.
fn stable(p: &Project, text: &str) -> String {
    let root = p.root().canonicalize().unwrap();
    let text = text
        .replace(&root.display().to_string(), "[PROJECT]")
        .replace(&p.root().display().to_string(), "[PROJECT]");
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(i) = rest.find("sha256:") {
        out.push_str(&rest[..i]);
        let after = &rest[i + "sha256:".len()..];
        let hex = after.chars().take_while(|c| c.is_ascii_hexdigit()).count();
        out.push_str("sha256:[HASH]");
        rest = &after[hex..];
        rest = rest.strip_prefix('…').unwrap_or(rest);
    }
    out.push_str(rest);
    out
}

fn stderr(p: &Project, run: &Run) -> String {
    stable(p, &run.stderr)
}

#[test]
fn a_spec_error_names_the_file_the_field_and_the_fix() {
    let p = Project::new();
    p.cluster("a.dev", "Lo", "../x", "");
    let run = p.lo(&["provision", "a.dev"]);
    run.code(1);
    insta::assert_snapshot!(stderr(&p, &run));
}

#[test]
fn an_unknown_kind_lists_the_known_ones_and_the_fix() {
    let p = Project::new();
    p.cluster("a.dev", "Nope", "dev", "");
    let run = p.lo(&["provision", "a.dev"]);
    run.code(1);
    insta::assert_snapshot!(stderr(&p, &run));
}

#[test]
fn a_refused_kubeconfig_names_the_field_and_what_lo_accepts() {
    // A driver that leaves a kubeconfig with a credential plugin behind.
    let a = lok8s_tests::attack::Attack::new("kubeconfig-exec-published")
        .param("marker", "/nonexistent/lok8s-marker");
    let run = a.run();
    run.code(1);
    insta::assert_snapshot!(stderr(&a.project, &run));
}

#[test]
fn an_unpinned_driver_under_ci_says_how_to_pin_it() {
    let p = Project::new();
    p.cluster("a.dev", "Lo", "dev", "");
    let run = p.lo_env(&["provision", "a.dev"], &[("CI", "true")]);
    run.code(1);
    insta::assert_snapshot!(stderr(&p, &run));
}

#[test]
fn drivers_show_lists_requests_grants_files_and_imports() {
    let p = Project::new();
    let run = p.lo(&["drivers", "show", "lo"]);
    run.success();
    insta::assert_snapshot!(stable(&p, &run.stdout));
}

#[test]
fn help_declares_every_environment_variable() {
    let p = Project::new();
    let run = p.lo(&["--help"]);
    run.success();
    insta::assert_snapshot!(stable(&p, &run.stdout));
}
