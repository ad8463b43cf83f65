//! The bootstrap's grammar and plan: every refusal names the field and the fix, and the
//! graph orders entries by dependsOn and gates.

use super::*;

/// A project with raw addons `a`..`e` and a chart addon `chart` in `.lok8s/addons/`.
fn project() -> (tempfile::TempDir, Project) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("clusters/x.dev/addons/local")).unwrap();
    std::fs::write(
        dir.path()
            .join("clusters/x.dev/addons/local/kustomization.yaml"),
        "resources: []\n",
    )
    .unwrap();
    for name in ["a", "b", "c", "d", "e"] {
        let addon = dir.path().join(format!(".lok8s/addons/{name}"));
        std::fs::create_dir_all(&addon).unwrap();
        std::fs::write(addon.join("kustomization.yaml"), "resources: []\n").unwrap();
    }
    let chart = dir.path().join(".lok8s/addons/chart");
    std::fs::create_dir_all(&chart).unwrap();
    std::fs::write(
        chart.join("kustomization.yaml"),
        "helmCharts:\n  - name: c\n    repo: https://charts.example\n    version: 1.0.0\n",
    )
    .unwrap();
    let project = Project::at(dir.path()).unwrap();
    (dir, project)
}

fn graph(project: &Project, bootstrap: &str) -> Result<Graph, BootstrapError> {
    let spec: serde_yaml::Value =
        serde_yaml::from_str(&format!("kind: Test\nspec:\n  bootstrap: {bootstrap}\n")).unwrap();
    let items = entries::selected(&spec, "test")?;
    Graph::plan(entries::parse_all(&items, &Addons::new(project, "x.dev"))?)
}

fn error(project: &Project, bootstrap: &str) -> String {
    graph(project, bootstrap).unwrap_err().to_string()
}

#[test]
fn which_entries_run() {
    let doc = |text: &str| serde_yaml::from_str::<serde_yaml::Value>(text).unwrap();
    let names = |v: Vec<serde_yaml::Value>| -> Vec<String> {
        v.iter()
            .map(|e| serde_yaml::to_string(e).unwrap().trim().to_string())
            .collect()
    };
    assert_eq!(
        names(entries::selected(&doc("kind: Lo\nspec: {}"), "Lo").unwrap()),
        ["cilium"]
    );
    assert!(
        entries::selected(&doc("kind: Capi\nspec: {}"), "Capi")
            .unwrap()
            .is_empty()
    );
    assert!(
        entries::selected(&doc("spec:\n  bootstrap: []"), "lo")
            .unwrap()
            .is_empty()
    );
    assert!(
        entries::selected(&doc("spec:\n  bootstrap:"), "lo")
            .unwrap()
            .is_empty()
    );
    let scalar = entries::selected(&doc("spec:\n  bootstrap: cilium"), "lo").unwrap_err();
    assert!(
        scalar
            .to_string()
            .starts_with("spec.bootstrap: must be a list"),
        "{scalar}"
    );
}

#[test]
fn grammar_refusals_name_the_field_and_the_fix() {
    let (_dir, p) = project();
    for (bootstrap, expected) in [
        (
            "[{a: {}, b: {}}]",
            "spec.bootstrap[0]: an entry is a single-key map, this one has 2 keys",
        ),
        (
            "[42]",
            "spec.bootstrap[0]: the number 42 is not an addon reference",
        ),
        (
            "[null]",
            "spec.bootstrap[0]: null is not an addon reference",
        ),
        (
            "[{a: true}]",
            "spec.bootstrap[0] (a): the value must be a map of values/env/wait/dependsOn/name",
        ),
        (
            "[{a: {name: 7}}]",
            "spec.bootstrap[0] (a).name: the number 7 is not a string",
        ),
        ("[{a: {name: ''}}]", "spec.bootstrap[0] (a).name: is empty"),
        (
            "[{a: {name: 'a b'}}]",
            "spec.bootstrap[0] (a).name: \"a b\" is not a valid entry name",
        ),
        (
            "[{a: {wait: 'yes'}}]",
            "spec.bootstrap[0] (a).wait: \"yes\" is not true or false",
        ),
        (
            "[{a: {values: {x: 1}}}]",
            "spec.bootstrap[0] (a): `values:` only apply to chart addons",
        ),
        (
            "[{a: {x: 1}}]",
            "spec.bootstrap[0] (a): inline values only apply to chart addons",
        ),
        (
            "[{a: {env: [1]}}]",
            "spec.bootstrap[0] (a).env: must be a map of NAME: value, got a list",
        ),
        (
            "[{a: {env: {X: {y: 1}}}}]",
            "spec.bootstrap[0] (a).env: values must be scalars; X are not",
        ),
        (
            "[{a: {env: {1X: y}}}]",
            "spec.bootstrap[0] (a).env: \"1X\" is not an environment variable name",
        ),
        (
            "[{a: {dependsOn: b}}]",
            "spec.bootstrap[0] (a).dependsOn: must be a list of entry names, got \"b\"",
        ),
        (
            "[{a: {dependsOn: [null]}}]",
            "spec.bootstrap[0] (a).dependsOn: has an empty element",
        ),
        (
            "[{a: {dependsOn: [[b]]}}]",
            "spec.bootstrap[0] (a).dependsOn: a list is not an entry name",
        ),
        (
            "[{a: {wait: true, typo: 1}}]",
            "spec.bootstrap[0] (a): \"typo\" is not one of values, env, wait, dependsOn, name",
        ),
        (
            "[nope]",
            "spec.bootstrap[0] (nope): addon not found: no .lok8s/addons/nope/ in the project and no \"nope\" in lo's catalogue",
        ),
        (
            "[./missing]",
            "spec.bootstrap[0] (./missing): addon not found: clusters/x.dev/missing/ does not exist",
        ),
        (
            "[../../../etc]",
            "spec.bootstrap[0] (../../../etc): \"../../../etc\" leads outside the project",
        ),
        (
            "[./.state/x]",
            "spec.bootstrap[0] (./.state/x): \"./.state/x\" resolves to clusters/x.dev/.state/x, a folder drivers can write",
        ),
        ("[/.kubeconfig]", "a folder drivers can write"),
    ] {
        let got = error(&p, bootstrap);
        assert!(
            got.contains(expected),
            "{bootstrap}:\n  got      {got}\n  expected {expected}"
        );
    }
    // The first failing entry is the one reported.
    assert!(error(&p, "[a, 42, nope]").starts_with("spec.bootstrap[1]"));
}

#[test]
fn what_parses() {
    let (_dir, p) = project();
    let g = graph(
        &p,
        "[a, {chart: {values: {x: 1}, env: {LOK8S_USER_N: 3, OTHER: \"a\\nLOK8S_USER_EVIL=x\"}}}, {chart: {y: 2}}, {./addons/local: {name: mine, wait: 'true'}}, {b: null}]",
    )
    .unwrap();
    let e = &g.entries;
    assert_eq!(e.len(), 5);
    assert_eq!(e[1].values.as_ref().unwrap().len(), 1);
    assert_eq!(
        e[1].env,
        [
            ("LOK8S_USER_N".to_string(), "3".to_string()),
            ("OTHER".to_string(), "a\nLOK8S_USER_EVIL=x".to_string())
        ],
        "one value each, never split"
    );
    assert!(
        e[2].values.is_some(),
        "the legacy form: the whole map is values"
    );
    assert_eq!((e[3].name.as_str(), e[3].wait), ("mine", true));
    assert_eq!(e[3].addon.shown, "clusters/x.dev/addons/local");
    assert!(e[1].addon.is_chart && !e[0].addon.is_chart);
    assert_eq!(e[4].name, "b");
    // Two entries named `chart` nobody references: a warning, not an error.
    assert_eq!(g.warnings.len(), 1, "{:?}", g.warnings);
}

#[test]
fn the_graph_orders_by_depends_on_and_gates() {
    let (_dir, p) = project();
    let g = graph(&p, "[{a: {dependsOn: [c]}}, b, c, {d: {wait: true}}, e]").unwrap();
    let names = |wave: &Vec<usize>| -> Vec<&str> {
        wave.iter().map(|&k| g.entries[k].name.as_str()).collect()
    };
    let waves: Vec<Vec<&str>> = g.waves().iter().map(names).collect();
    assert_eq!(waves, [vec!["b", "c"], vec!["a"], vec!["d"], vec!["e"]]);
    assert!(g.is_target[2], "c is depended on");
    assert!(g.is_target[3], "a gate releases what follows it");
    assert!(!g.is_target[4]);
    assert_eq!(g.descendants(2), [0, 3, 4]);
}

#[test]
fn graph_refusals() {
    let (_dir, p) = project();
    assert!(error(&p, "[{a: {dependsOn: [zz]}}, b]").contains(
        "spec.bootstrap[0].dependsOn: \"zz\" is not an entry of spec.bootstrap; name one of: a, b"
    ));
    assert!(
        error(&p, "[a, {a: {name: a}}]")
            .contains("spec.bootstrap[1].name: \"a\" is used by 2 entries")
    );
    assert!(
        error(&p, "[a, a, {b: {dependsOn: [a]}}]")
            .contains("\"a\" is ambiguous: 2 entries share it")
    );
    assert!(
        error(&p, "[{a: {dependsOn: [b]}}, {b: {dependsOn: [a]}}, c]")
            .contains("dependsOn forms a cycle through a, b")
    );
    assert!(error(&p, "[{a: {dependsOn: [a]}}]").contains("cycle through a"));
}

#[test]
fn api_endpoints() {
    assert_eq!(
        api_endpoint("https://10.0.0.1:6443"),
        Some(("10.0.0.1".into(), "6443".into()))
    );
    assert_eq!(
        api_endpoint("https://[::1]:7443"),
        Some(("::1".into(), "7443".into()))
    );
    assert_eq!(
        api_endpoint("https://api.example.com/k8s/clusters/c-1"),
        Some(("api.example.com".into(), "443".into()))
    );
    assert_eq!(api_endpoint("not a url"), None);
}

#[test]
fn only_whitelisted_exports_are_variables() {
    let vars = variables(
        &[
            ("LOK8S_SPEC_A".into(), "1".into()),
            ("HCLOUD_TOKEN".into(), "secret".into()),
        ],
        Some("https://127.0.0.1:6443"),
    );
    assert_eq!(vars.get("LOK8S_SPEC_A").map(String::as_str), Some("1"));
    assert!(!vars.contains_key("HCLOUD_TOKEN"));
    assert_eq!(
        vars.get("LOK8S_USER_API_PORT").map(String::as_str),
        Some("6443")
    );
}

/// Runs `graph` with entries that each take one yield of the executor and record how many
/// ran at once; `fail` names entries that fail.
async fn run_counting(
    graph: &Graph,
    parallel: usize,
    fail: &[&str],
) -> (Vec<schedule::State<()>>, usize) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let now = AtomicUsize::new(0);
    let most = AtomicUsize::new(0);
    let selected = vec![true; graph.entries.len()];
    let states = schedule::run(
        graph,
        &selected,
        parallel,
        |k| {
            let failing = fail.contains(&graph.entries[k].name.as_str());
            let (now, most) = (&now, &most);
            async move {
                let running = now.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(running, Ordering::SeqCst);
                // Every started entry is still running when the next ones are started.
                tokio::task::yield_now().await;
                tokio::task::yield_now().await;
                now.fetch_sub(1, Ordering::SeqCst);
                if failing {
                    Err("asked to fail".to_string())
                } else {
                    Ok(())
                }
            }
        },
        std::future::pending(),
    )
    .await
    .unwrap_or_else(|states| states);
    (states, most.load(Ordering::SeqCst))
}

#[tokio::test]
async fn the_scheduler_never_runs_more_than_the_cap_and_a_failure_skips_only_its_dependents() {
    let (_dir, project) = project();
    let independent = graph(&project, "[a, b, c, d, e]").unwrap();
    let (states, most) = run_counting(&independent, 2, &[]).await;
    assert_eq!(most, 2, "five independent entries under a cap of 2");
    assert!(
        states
            .iter()
            .all(|s| matches!(s, schedule::State::Done(())))
    );
    let (_, most) = run_counting(&independent, 8, &[]).await;
    assert_eq!(most, 5, "all five at once under a cap of 8");

    let chained = graph(
        &project,
        "[a, {b: {dependsOn: [a]}}, {c: {dependsOn: [b]}}, d]",
    )
    .unwrap();
    let (states, _) = run_counting(&chained, 8, &["a"]).await;
    assert!(matches!(states[0], schedule::State::Failed(_)));
    assert!(matches!(&states[1], schedule::State::Skipped(by) if by == "a"));
    assert!(matches!(&states[2], schedule::State::Skipped(by) if by == "a"));
    assert!(
        matches!(states[3], schedule::State::Done(())),
        "d does not wait on a"
    );
}

#[tokio::test]
async fn stopping_the_scheduler_starts_nothing_more() {
    let (_dir, project) = project();
    let g = graph(&project, "[a, {b: {dependsOn: [a]}}]").unwrap();
    let started = std::sync::Mutex::new(Vec::new());
    let result = schedule::run(
        &g,
        &[true, true],
        8,
        |k| {
            started.lock().unwrap().push(k);
            std::future::pending::<Result<(), String>>()
        },
        std::future::ready(()),
    )
    .await;
    let states = result.expect_err("stopped");
    assert!(matches!(states[1], schedule::State::Pending));
    assert_eq!(*started.lock().unwrap(), [0]);
}
