//! The framework's bootstrap, end to end: the real `lo` with the `corners` fixture driver, whose
//! "cluster" is the Kubernetes API double (tests/support/kube_api.rs) in the test process.
//! Addons are real kustomizations rendered by `kubectl kustomize`. Assertions are on what
//! reached the API (objects, request order) and on exit codes, not on log lines alone.

use lok8s_tests::kube_api::KubeApi;
use lok8s_tests::{Project, Run};
use serde_json::Value;

const DOMAIN: &str = "a.dev";

/// A project whose Corners cluster is the API double, with these addons under
/// `clusters/a.dev/addons/` and this `bootstrap:` block (YAML, indented under `spec:`).
struct Setup {
    p: Project,
    api: KubeApi,
}

impl Setup {
    fn new(bootstrap: &str, addons: &[(&str, &str)]) -> Setup {
        Setup::with_server(bootstrap, addons, None)
    }

    fn with_server(bootstrap: &str, addons: &[(&str, &str)], server: Option<&str>) -> Setup {
        let p = Project::new();
        let api = KubeApi::start();
        let mut kubeconfig = api.kubeconfig();
        if let Some(server) = server {
            kubeconfig = kubeconfig.replace(&api.server(), server);
        }
        p.write(&format!("clusters/{DOMAIN}/api.kubeconfig"), kubeconfig);
        let s = Setup { p, api };
        s.spec(bootstrap);
        for (path, text) in addons {
            s.p.write(&format!("clusters/{DOMAIN}/addons/{path}"), text);
        }
        s.p.pin("Corners", "corners").success();
        s
    }

    /// Rewrites the spec with this `bootstrap:` block.
    fn spec(&self, bootstrap: &str) {
        self.p.cluster(
            DOMAIN,
            "Corners",
            "dev",
            &format!("fixture:\n  behaviour: cluster\nexported: 10.9.8.7\n{bootstrap}"),
        );
    }

    fn lo(&self, args: &[&str]) -> Run {
        self.p.lo(args)
    }

    fn configmap(&self, namespace: &str, name: &str) -> Option<Value> {
        self.api.object("", "configmaps", namespace, name)
    }

    /// Server-side applies received, as "<path>" in order.
    fn applies(&self) -> Vec<String> {
        self.api
            .requests()
            .into_iter()
            .filter(|r| r.starts_with("PATCH ") && r.contains("fieldManager=lok8s"))
            .map(|r| r["PATCH ".len()..].split('?').next().unwrap().to_string())
            .collect()
    }
}

fn kustomization(resources: &[&str]) -> String {
    let mut text = String::from(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n",
    );
    for r in resources {
        text.push_str(&format!("  - {r}\n"));
    }
    text
}

fn configmap(namespace: &str, name: &str, data: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: {namespace}\ndata:\n{data}"
    )
}

fn deployment(namespace: &str, name: &str, app: &str, annotations: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  namespace: {namespace}\n{annotations}\
         spec:\n  replicas: 1\n  selector:\n    matchLabels: {{app: {app}}}\n  template:\n    metadata:\n      \
         labels: {{app: {app}}}\n    spec:\n      containers:\n        - {{name: c, image: example.test/c:1}}\n"
    )
}

fn entry<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["bootstrap"]["entries"]
        .as_array()
        .unwrap_or_else(|| panic!("no bootstrap entries in {report}"))
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("no entry {name} in {report}"))
}

/// Three addons: `base` (a namespace and a ConfigMap carrying exported values), `gate`
/// (waited for), `after` (depends on base, applied after the gate).
fn three_addons() -> Setup {
    Setup::new(
        "bootstrap:\n  - ./addons/base\n  - ./addons/gate: {wait: true}\n  - ./addons/after: {dependsOn: [base]}\n",
        &[
            (
                "base/kustomization.yaml",
                &kustomization(&["ns.yaml", "cm.yaml"]),
            ),
            (
                "base/ns.yaml",
                "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: demo\n",
            ),
            (
                "base/cm.yaml",
                &configmap(
                    "demo",
                    "settings",
                    "  address: ${LOK8S_SPEC_EXPORTED}\n  port: ${LOK8S_USER_API_PORT}\n  \
                     host: ${LOK8S_USER_API_HOST}\n  untouched: ${HOME}\n",
                ),
            ),
            ("gate/kustomization.yaml", &kustomization(&["d.yaml"])),
            (
                "gate/d.yaml",
                &deployment("kube-system", "gatekeeper", "gate", ""),
            ),
            ("after/kustomization.yaml", &kustomization(&["cm.yaml"])),
            ("after/cm.yaml", &configmap("demo", "later", "  x: \"1\"\n")),
        ],
    )
}

#[test]
fn exported_values_reach_the_addons_in_dependency_and_gate_order() {
    let s = three_addons();
    let run = s.lo(&["provision", DOMAIN, "-o", "json"]);
    run.success();
    let report = run.json();
    for name in ["base", "gate", "after"] {
        assert_eq!(entry(&report, name)["outcome"], "applied", "{report}");
    }
    // The export hook's value, not its name, is what the render substituted; names outside
    // the LOK8S_SPEC_/LOK8S_USER_ whitelist are left as written.
    let cm = s.configmap("demo", "settings").expect("settings applied");
    assert_eq!(cm["data"]["address"], "10.9.8.7", "{cm}");
    assert_eq!(cm["data"]["port"], s.api.port.to_string(), "{cm}");
    assert_eq!(cm["data"]["host"], "127.0.0.1", "{cm}");
    assert_eq!(cm["data"]["untouched"], "${HOME}", "{cm}");
    // Order: the namespace before what lives in it; the gate (alone in its wave) before the
    // entry after it.
    let applies = s.applies();
    let at = |needle: &str| {
        applies
            .iter()
            .position(|a| a.ends_with(needle))
            .unwrap_or_else(|| panic!("{needle} never applied: {applies:?}"))
    };
    assert!(
        at("/namespaces/demo") < at("/configmaps/settings"),
        "{applies:?}"
    );
    assert!(
        at("/deployments/gatekeeper") < at("/configmaps/later"),
        "{applies:?}"
    );
    assert!(
        at("/configmaps/settings") < at("/deployments/gatekeeper"),
        "{applies:?}"
    );
    // What was applied is recorded in the cluster.
    let record = s
        .configmap("kube-system", "lok8s-bootstrap")
        .expect("record");
    let entries: Value =
        serde_json::from_str(record["data"]["entries.json"].as_str().unwrap()).unwrap();
    assert!(entries.to_string().contains("settings"), "{entries}");

    // Again: converges, nothing new or changed.
    let again = s.lo(&["bootstrap", DOMAIN, "-o", "json"]);
    again.success();
    let report = again.json();
    let changed: u64 = report["bootstrap"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["changed"].as_u64().unwrap())
        .sum();
    assert_eq!(changed, 0, "{report}");
}

#[test]
fn bootstrap_only_uses_the_export_of_this_run() {
    let s = three_addons();
    s.lo(&["provision", DOMAIN]).success();
    s.p.write(
        &format!("clusters/{DOMAIN}/cluster.lok8s.yaml"),
        s.p.read(&format!("clusters/{DOMAIN}/cluster.lok8s.yaml"))
            .replace("exported: 10.9.8.7", "exported: 10.1.2.3"),
    );
    s.lo(&["provision", DOMAIN, "--bootstrap"]).success();
    let cm = s.configmap("demo", "settings").unwrap();
    assert_eq!(cm["data"]["address"], "10.1.2.3", "{cm}");
}

#[test]
fn a_broken_bootstrap_creates_nothing() {
    let cases: &[(&str, &str)] = &[
        (
            "bootstrap:\n  - ./addons/base: {dependsOn: [nowhere]}\n",
            "spec.bootstrap[0].dependsOn",
        ),
        ("bootstrap:\n  - ./addons/missing\n", "spec.bootstrap[0]"),
        (
            "bootstrap:\n  - ./addons/base: {wait: maybe}\n",
            "spec.bootstrap[0] (./addons/base).wait",
        ),
        (
            "bootstrap:\n  - ./addons/base: {dependsOn: [b2]}\n  - ./addons/base: {name: b2, dependsOn: [base]}\n",
            "cycle",
        ),
        ("bootstrap:\n  - ../../../outside\n", "spec.bootstrap[0]"),
        ("bootstrap: cilium\n", "spec.bootstrap"),
    ];
    for (bootstrap, named) in cases {
        let s = Setup::new(
            bootstrap,
            &[
                ("base/kustomization.yaml", &kustomization(&["cm.yaml"])),
                ("base/cm.yaml", &configmap("default", "x", "  a: b\n")),
            ],
        );
        let before = s.p.files();
        let run = s.lo(&["provision", DOMAIN]);
        assert_ne!(run.code, 0, "{bootstrap}: {}", run.stderr);
        run.stderr_has(named);
        // Planned before the driver ran: no kubeconfig published, no request reached the API.
        assert_eq!(s.p.files(), before, "{bootstrap}");
        assert!(
            s.api.requests().is_empty(),
            "{bootstrap}: {:?}",
            s.api.requests()
        );
    }
}

#[test]
fn a_chart_addon_without_helm_fails_before_anything_is_created() {
    let s = Setup::new(
        "bootstrap:\n  - ./addons/chart\n",
        &[(
            "chart/kustomization.yaml",
            "helmCharts:\n  - name: thing\n    version: 1.0.0\n    repo: https://charts.example.test\n",
        )],
    );
    // A PATH with kubectl (the renderer) and no helm.
    let bin = tempfile::tempdir().unwrap();
    let kubectl = which("kubectl");
    std::os::unix::fs::symlink(kubectl, bin.path().join("kubectl")).unwrap();
    let before = s.p.files();
    let run = s.p.lo_env(
        &["provision", DOMAIN],
        &[("PATH", bin.path().to_str().unwrap())],
    );
    assert_ne!(run.code, 0);
    run.stderr_has("spec.bootstrap[0]")
        .stderr_has("helm is not on PATH")
        .stderr_has("install Helm 3");
    assert_eq!(s.p.files(), before);
    assert!(s.api.requests().is_empty());
}

fn which(program: &str) -> std::path::PathBuf {
    std::env::var_os("PATH")
        .and_then(|path| {
            std::env::split_paths(&path)
                .map(|d| d.join(program))
                .find(|p| p.is_file())
        })
        .unwrap_or_else(|| panic!("{program} is not on PATH"))
}

#[test]
fn an_addon_that_renders_nothing_fails_its_entry() {
    let s = Setup::new(
        "bootstrap:\n  - ./addons/empty\n",
        &[(
            "empty/kustomization.yaml",
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: []\n",
        )],
    );
    let run = s.lo(&["provision", DOMAIN, "-o", "json"]);
    run.code(1);
    let report = run.json();
    assert_eq!(entry(&report, "empty")["outcome"], "failed", "{report}");
    let message = entry(&report, "empty")["message"].to_string();
    assert!(message.contains("rendered no objects"), "{report}");
}

#[test]
fn a_failure_skips_only_its_dependents() {
    let s = Setup::new(
        "bootstrap:\n  - ./addons/bad\n  - ./addons/child: {dependsOn: [bad]}\n  - ./addons/other\n",
        &[
            // Does not render: its kustomization names a file that is not there.
            ("bad/kustomization.yaml", &kustomization(&["x.yaml"])),
            ("child/kustomization.yaml", &kustomization(&["cm.yaml"])),
            ("child/cm.yaml", &configmap("default", "child", "  a: b\n")),
            ("other/kustomization.yaml", &kustomization(&["cm.yaml"])),
            ("other/cm.yaml", &configmap("default", "other", "  a: b\n")),
        ],
    );
    let run = s.lo(&["provision", DOMAIN, "-o", "json"]);
    run.code(1).stderr_has("1 failed");
    let report = run.json();
    assert_eq!(entry(&report, "bad")["outcome"], "failed", "{report}");
    assert_eq!(entry(&report, "child")["outcome"], "skipped", "{report}");
    assert_eq!(entry(&report, "other")["outcome"], "applied", "{report}");
    assert!(s.configmap("default", "other").is_some());
    assert!(s.configmap("default", "child").is_none());
    assert!(
        entry(&report, "bad")["message"]
            .as_str()
            .unwrap()
            .contains("x.yaml"),
        "{report}"
    );
}

#[test]
fn crds_and_webhooks_that_are_not_ready_yet_are_retried() {
    let crd = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  \
               name: widgets.example.test\n  annotations:\n    double.lok8s.dev/established-after-requests: \"1000\"\n\
               spec:\n  group: example.test\n  scope: Namespaced\n  names: {plural: widgets, singular: widget, kind: Widget}\n  \
               versions:\n    - {name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}}\n";
    let widget = "apiVersion: example.test/v1\nkind: Widget\nmetadata:\n  name: w\n  namespace: default\n\
                  spec: {size: 3}\n";
    let guarded = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: guarded\n  namespace: default\n  \
                   annotations:\n    double.lok8s.dev/webhook-failures: \"1\"\ndata: {a: b}\n";
    // Two independent entries: the widget may be applied before the other entry's CRD is
    // served (retried until it is); the guarded object's webhook fails its first apply.
    let s = Setup::new(
        "bootstrap:\n  - ./addons/widgets\n  - ./addons/crds\n",
        &[
            ("crds/kustomization.yaml", &kustomization(&["crd.yaml"])),
            ("crds/crd.yaml", crd),
            (
                "widgets/kustomization.yaml",
                &kustomization(&["widget.yaml", "guarded.yaml"]),
            ),
            ("widgets/widget.yaml", widget),
            ("widgets/guarded.yaml", guarded),
        ],
    );
    let run = s.lo(&["provision", DOMAIN, "-o", "json"]);
    run.success();
    assert_eq!(entry(&run.json(), "widgets")["outcome"], "applied");
    let w = s
        .api
        .object("example.test", "widgets", "default", "w")
        .expect("widget");
    assert_eq!(w["spec"]["size"], 3);
    assert!(s.configmap("default", "guarded").is_some());
    let applies = s.applies();
    let guarded = applies
        .iter()
        .filter(|a| a.ends_with("/configmaps/guarded"));
    assert!(guarded.count() >= 2, "{applies:?}");
}

#[test]
fn a_webhook_race_waits_for_the_entrys_own_workloads_before_retrying() {
    // The guarded object's webhook fails its first apply; its server is the entry's own
    // Deployment, which the first retry waits for (nothing depends on the entry, so without
    // the race nothing would wait for it).
    let guarded = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: guarded\n  namespace: default\n  \
                   annotations:\n    double.lok8s.dev/webhook-failures: \"1\"\ndata: {a: b}\n";
    let s = Setup::new(
        "bootstrap:\n  - ./addons/hooked\n",
        &[
            (
                "hooked/kustomization.yaml",
                &kustomization(&["guarded.yaml", "server.yaml"]),
            ),
            ("hooked/guarded.yaml", guarded),
            (
                "hooked/server.yaml",
                &deployment("default", "hook-server", "hook", ""),
            ),
        ],
    );
    s.lo(&["provision", DOMAIN, "-o", "json"]).success();
    let requests = s.api.requests();
    let applies_of_guarded: Vec<usize> = requests
        .iter()
        .enumerate()
        .filter(|(_, r)| r.starts_with("PATCH ") && r.contains("/configmaps/guarded"))
        .map(|(i, _)| i)
        .collect();
    assert!(applies_of_guarded.len() >= 2, "{requests:#?}");
    let between = &requests[applies_of_guarded[0]..applies_of_guarded[1]];
    assert!(
        between
            .iter()
            .any(|r| r.starts_with("GET ") && r.contains("/deployments/hook-server")),
        "no look at the entry's workload before the retry: {between:#?}"
    );
}

#[test]
fn a_target_that_never_becomes_ready_fails_its_entry() {
    let s = Setup::new(
        "bootstrap:\n  - ./addons/slow: {wait: true}\n  - ./addons/next: {dependsOn: [slow]}\n",
        &[
            ("slow/kustomization.yaml", &kustomization(&["d.yaml"])),
            (
                "slow/d.yaml",
                &deployment(
                    "default",
                    "slow",
                    "slow",
                    "  annotations:\n    double.lok8s.dev/never-ready: \"true\"\n",
                ),
            ),
            ("next/kustomization.yaml", &kustomization(&["cm.yaml"])),
            ("next/cm.yaml", &configmap("default", "next", "  a: b\n")),
        ],
    );
    let run = s.lo(&["provision", DOMAIN, "-o", "json", "--ready-timeout", "2"]);
    run.code(1);
    let report = run.json();
    let slow = entry(&report, "slow");
    assert_eq!(slow["outcome"], "failed", "{report}");
    assert!(
        slow["message"]
            .as_str()
            .unwrap()
            .contains("Deployment default/slow"),
        "{report}"
    );
    assert_eq!(entry(&report, "next")["outcome"], "skipped", "{report}");
    assert!(s.configmap("default", "next").is_none());
}

#[test]
fn an_immutable_change_needs_force_recreate() {
    let s = Setup::new(
        "bootstrap:\n  - ./addons/app\n",
        &[
            ("app/kustomization.yaml", &kustomization(&["d.yaml"])),
            ("app/d.yaml", &deployment("default", "app", "one", "")),
        ],
    );
    s.lo(&["provision", DOMAIN]).success();
    s.p.write(
        &format!("clusters/{DOMAIN}/addons/app/d.yaml"),
        deployment("default", "app", "two", ""),
    );
    let run = s.lo(&["bootstrap", DOMAIN]);
    run.code(1).stderr_has("--force-recreate");
    let live = s
        .api
        .object("apps", "deployments", "default", "app")
        .unwrap();
    assert_eq!(live["spec"]["selector"]["matchLabels"]["app"], "one");

    s.lo(&["bootstrap", DOMAIN, "--force-recreate"]).success();
    let live = s
        .api
        .object("apps", "deployments", "default", "app")
        .unwrap();
    assert_eq!(live["spec"]["selector"]["matchLabels"]["app"], "two");
}

#[test]
fn stuck_deletions_are_finished_only_with_force_recreate() {
    let s = Setup::new(
        "bootstrap:\n  - ./addons/app\n",
        &[
            (
                "app/kustomization.yaml",
                &kustomization(&["held.yaml", "inside.yaml"]),
            ),
            ("app/held.yaml", &configmap("default", "held", "  v: new\n")),
            (
                "app/inside.yaml",
                &configmap("stuck", "inside", "  v: new\n"),
            ),
        ],
    );
    // Left by an earlier owner: a ConfigMap being deleted behind a finalizer, and a namespace
    // stuck Terminating on one.
    let marked = serde_json::json!("2026-01-01T00:00:00Z");
    s.api.seed(
        "",
        "configmaps",
        "default",
        serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "held", "namespace": "default", "finalizers": ["example.com/hold"],
                "deletionTimestamp": marked}, "data": {"v": "old"}}),
        "someone",
    );
    s.api.seed(
        "",
        "namespaces",
        "",
        serde_json::json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": "stuck", "deletionTimestamp": marked},
            "spec": {"finalizers": ["kubernetes"]}}),
        "someone",
    );
    s.lo(&["provision", DOMAIN])
        .code(1)
        .stderr_has("--force-recreate");
    let held = s.configmap("default", "held").unwrap();
    assert_eq!(held["data"]["v"], "old");
    assert!(s.configmap("stuck", "inside").is_none());

    s.lo(&["bootstrap", DOMAIN, "--force-recreate"]).success();
    let held = s.configmap("default", "held").unwrap();
    assert_eq!(held["data"]["v"], "new", "{held}");
    assert!(held["metadata"]["deletionTimestamp"].is_null(), "{held}");
    assert_eq!(s.configmap("stuck", "inside").unwrap()["data"]["v"], "new");
}

#[test]
fn removed_entries_and_dropped_objects_are_pruned_unless_asked_not_to() {
    let s = Setup::new(
        "bootstrap:\n  - ./addons/keep\n  - ./addons/gone\n",
        &[
            (
                "keep/kustomization.yaml",
                &kustomization(&["a.yaml", "b.yaml"]),
            ),
            ("keep/a.yaml", &configmap("default", "a", "  x: y\n")),
            ("keep/b.yaml", &configmap("default", "b", "  x: y\n")),
            (
                "gone/kustomization.yaml",
                &kustomization(&["ns.yaml", "c.yaml"]),
            ),
            (
                "gone/ns.yaml",
                "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: gone\n",
            ),
            ("gone/c.yaml", &configmap("gone", "c", "  x: y\n")),
        ],
    );
    s.lo(&["provision", DOMAIN]).success();
    assert!(s.configmap("gone", "c").is_some());

    // b dropped from its render, with --no-prune: stays.
    s.p.write(
        &format!("clusters/{DOMAIN}/addons/keep/kustomization.yaml"),
        kustomization(&["a.yaml"]),
    );
    s.lo(&["bootstrap", DOMAIN, "--no-prune"]).success();
    assert!(s.configmap("default", "b").is_some());

    // The entry removed from spec.bootstrap: its objects go, its namespace is kept.
    s.spec("bootstrap:\n  - ./addons/keep\n");
    let run = s.lo(&["bootstrap", DOMAIN, "-o", "json"]);
    run.success();
    assert!(s.configmap("default", "a").is_some());
    assert!(
        s.configmap("default", "b").is_none(),
        "dropped from the render"
    );
    assert!(s.configmap("gone", "c").is_none(), "entry removed");
    assert!(
        s.api.object("", "namespaces", "", "gone").is_some(),
        "namespaces are kept"
    );
    let report = run.json();
    let kept = report["bootstrap"]["kept"].to_string();
    assert!(kept.contains("gone"), "{report}");

    // An object that moves to another entry, and an entry renamed: applied, never pruned.
    s.p.write(
        &format!("clusters/{DOMAIN}/addons/moved/kustomization.yaml"),
        kustomization(&["a.yaml"]),
    );
    s.p.write(
        &format!("clusters/{DOMAIN}/addons/moved/a.yaml"),
        configmap("default", "a", "  x: y\n"),
    );
    s.p.write(
        &format!("clusters/{DOMAIN}/addons/keep/kustomization.yaml"),
        kustomization(&["b.yaml"]),
    );
    s.spec("bootstrap:\n  - ./addons/keep\n  - ./addons/moved\n");
    let run = s.lo(&["bootstrap", DOMAIN, "-o", "json"]);
    run.success();
    assert!(
        s.configmap("default", "a").is_some(),
        "moved, then pruned: {}",
        run.stdout
    );
    s.spec("bootstrap:\n  - ./addons/keep\n  - ./addons/moved:\n      name: renamed\n");
    let run = s.lo(&["bootstrap", DOMAIN, "-o", "json"]);
    run.success();
    assert!(
        s.configmap("default", "a").is_some(),
        "renamed, then pruned: {}",
        run.stdout
    );
    assert!(
        !run.json()["bootstrap"]["pruned"].to_string().contains("/a"),
        "{}",
        run.stdout
    );
}

#[test]
fn dry_run_plans_and_changes_nothing() {
    let s = three_addons();
    let before = s.p.files();
    let run = s.lo(&["provision", DOMAIN, "--dry-run", "-o", "json"]);
    run.success();
    let plan = run.json();
    assert_eq!(plan["outcome"], "planned", "{plan}");
    let entries = plan["bootstrap"].as_array().unwrap();
    let gate = entries.iter().find(|e| e["name"] == "gate").unwrap();
    assert_eq!(gate["gate"], true);
    let base = entries.iter().find(|e| e["name"] == "base").unwrap();
    let objects = base["objects"].to_string();
    assert!(
        objects.contains("Namespace demo") || objects.contains("Namespace/demo"),
        "{plan}"
    );
    assert!(objects.contains("settings"), "{plan}");
    assert_eq!(s.p.files(), before);
    assert!(s.api.requests().is_empty(), "{:?}", s.api.requests());
    // Text form too.
    s.lo(&["bootstrap", DOMAIN, "--dry-run"])
        .success()
        .stdout_has("nothing changed")
        .stdout_has("wave");
    // --only plans what it selects: the rest is listed, not rendered.
    let run = s.lo(&[
        "bootstrap",
        DOMAIN,
        "--dry-run",
        "--only",
        "gate",
        "-o",
        "json",
    ]);
    run.success();
    let plan = run.json();
    let entries = plan["bootstrap"].as_array().unwrap();
    let base = entries.iter().find(|e| e["name"] == "base").unwrap();
    assert_eq!(base["selected"], false, "{plan}");
    assert_eq!(base["objects"], serde_json::json!([]), "{plan}");
    let gate = entries.iter().find(|e| e["name"] == "gate").unwrap();
    assert_eq!(gate["selected"], true, "{plan}");
    assert_ne!(gate["objects"], serde_json::json!([]), "{plan}");
    s.lo(&["bootstrap", DOMAIN, "--dry-run", "--skip", "base"])
        .success()
        .stdout_has("not selected (--only/--skip): not rendered");
    assert!(s.api.requests().is_empty(), "{:?}", s.api.requests());
}

#[test]
fn only_and_skip_name_entries_that_exist() {
    let s = three_addons();
    s.lo(&["provision", DOMAIN, "--only", "nothere"])
        .code(1)
        .stderr_has("--only nothere: no such entry")
        .stderr_has("name one of: base, gate, after");
    assert!(s.api.requests().is_empty());
    let run = s.lo(&["provision", DOMAIN, "--only", "base", "-o", "json"]);
    run.success();
    let report = run.json();
    assert_eq!(entry(&report, "base")["outcome"], "applied");
    assert_eq!(entry(&report, "after")["outcome"], "not-selected");
    assert!(s.configmap("demo", "later").is_none());
}

#[test]
fn a_cni_left_out_of_a_provision_is_said() {
    let s = Setup::new(
        "bootstrap:\n  - ./addons/cilium\n  - ./addons/base\n",
        &[
            ("cilium/kustomization.yaml", &kustomization(&["cm.yaml"])),
            ("cilium/cm.yaml", &configmap("default", "cni", "  x: y\n")),
            ("base/kustomization.yaml", &kustomization(&["cm.yaml"])),
            ("base/cm.yaml", &configmap("default", "base", "  x: y\n")),
        ],
    );
    s.lo(&["provision", DOMAIN, "--skip", "cilium"])
        .success()
        .stderr_has("cilium (a CNI) is left out of this run")
        .stderr_has("lo bootstrap --only cilium");
    assert!(s.configmap("default", "cni").is_none());
    assert!(s.configmap("default", "base").is_some());
    let run = s.lo(&["provision", DOMAIN, "--skip", "base"]);
    run.success();
    assert!(!run.stderr.contains("a CNI"), "{}", run.stderr);
}

#[test]
fn bootstrap_before_provision_says_what_to_do() {
    let s = three_addons();
    s.lo(&["bootstrap", DOMAIN])
        .code(1)
        .stderr_has("has not been provisioned")
        .stderr_has(&format!("lo provision {DOMAIN}"));
    assert!(s.api.requests().is_empty());
}

#[test]
fn lo_connects_only_where_the_driver_may() {
    // 127.0.0.2 is loopback (so nothing leaves the machine) but outside the default servers
    // rule; the double listens on 127.0.0.1 only.
    let s = Setup::with_server(
        "bootstrap:\n  - ./addons/base\n",
        &[
            ("base/kustomization.yaml", &kustomization(&["cm.yaml"])),
            ("base/cm.yaml", &configmap("default", "x", "  a: b\n")),
        ],
        Some("https://127.0.0.2:6443"),
    );
    let run = s.lo(&["provision", DOMAIN]);
    assert_ne!(run.code, 0);
    run.stderr_has("127.0.0.2");
    assert!(s.api.requests().is_empty());
}

#[test]
fn the_catalogue_is_listed() {
    let p = Project::new();
    let run = p.lo(&["addons", "-o", "json"]);
    run.success();
    let names = run.json().to_string();
    for name in [
        "cilium",
        "metallb",
        "cert-manager",
        "metrics-server",
        "local-path-provisioner",
    ] {
        assert!(names.contains(name), "{names}");
    }
    p.lo(&["addons", "local-path-provisioner"])
        .success()
        .stdout_has("local-path-provisioner");
}

/// The runtime and the Lo driver read `spec.bootstrap` by one rule (so the driver skips kind's
/// default CNI exactly when the bootstrap installs one).
#[test]
fn the_runtime_and_the_lo_driver_agree_on_what_is_bootstrapped() {
    let specs = [
        "kind: Lo\nspec: {}\n",
        "kind: Lo\nspec:\n  bootstrap:\n",
        "kind: Lo\nspec:\n  bootstrap: []\n",
        "kind: Lo\nspec:\n  bootstrap: [cilium]\n",
        "kind: Lo\nspec:\n  bootstrap:\n    - cilium: {wait: true}\n",
        "kind: Lo\nspec:\n  bootstrap:\n    - ./addons/calico\n    - metallb\n",
        "kind: Lo\nspec:\n  bootstrap:\n    - ./addons/net: {name: calico}\n",
        "kind: Lo\nspec:\n  bootstrap:\n    - {cilium: {values: {a: 1}}}\n    - metallb\n",
        "kind: Capi\nspec: {}\n",
    ];
    for text in specs {
        let doc: serde_yaml::Value = serde_yaml::from_str(text).unwrap();
        let kind = doc["kind"].as_str().unwrap();
        let runtime = lok8s::framework::bootstrap::entries::references(&doc, kind).unwrap();
        let driver = lok8s_lo_plan::bootstrap_references(&doc).unwrap();
        assert_eq!(runtime, driver, "{text}");
    }
}

#[test]
fn the_secrets_generator_takes_values_from_the_users_environment() {
    let generator = "apiVersion: secrets.lok8s.dev/v1\nkind: Secret\nmetadata: {name: creds, namespace: default}\n\
                     env: {token: BOOT_TOKEN}\noptionalEnv: {robot: BOOT_ROBOT, extra: BOOT_UNSET}\n";
    let s = Setup::new(
        "bootstrap:\n  - ./addons/creds\n",
        &[
            (
                "creds/kustomization.yaml",
                "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\ngenerators: [secret.yaml]\n",
            ),
            ("creds/secret.yaml", generator),
        ],
    );
    // Unset: the entry fails naming the variable; nothing is applied.
    let run = s.lo(&["provision", DOMAIN, "-o", "json"]);
    run.code(1);
    let message = entry(&run.json(), "creds")["message"].to_string();
    assert!(message.contains("BOOT_TOKEN"), "{message}");
    assert!(s.api.object("", "secrets", "default", "creds").is_none());

    let run = s.p.lo_env(
        &["bootstrap", DOMAIN],
        &[("BOOT_TOKEN", "s3cr3t-token"), ("BOOT_ROBOT", "robot")],
    );
    run.success();
    assert!(!run.stderr.contains("s3cr3t") && !run.stdout.contains("s3cr3t"));
    let secret = s
        .api
        .object("", "secrets", "default", "creds")
        .expect("secret");
    assert_eq!(secret["data"]["token"], "czNjcjN0LXRva2Vu", "{secret}");
    assert_eq!(secret["data"]["robot"], "cm9ib3Q=", "{secret}");
    assert!(secret["data"].get("extra").is_none(), "{secret}");
    // The project holds no copy of the value.
    for file in s.p.files() {
        let text = std::fs::read(s.p.path(&file)).unwrap_or_default();
        assert!(!String::from_utf8_lossy(&text).contains("s3cr3t"), "{file}");
    }
}

#[test]
fn a_certificate_generator_gives_a_tls_secret_that_stays_the_same_across_runs() {
    let generator = "apiVersion: secrets.lok8s.dev/v1\nkind: Secret\nmetadata: {name: web-tls, namespace: default}\n\
                     cert: {hosts: [web.a.dev, 10.1.2.3]}\n";
    let s = Setup::new(
        "bootstrap:\n  - ./addons/web\n",
        &[
            (
                "web/kustomization.yaml",
                "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\ngenerators: [tls.yaml]\n",
            ),
            ("web/tls.yaml", generator),
        ],
    );
    let caroot = tempfile::tempdir().unwrap();
    let caroot_s = caroot.path().display().to_string();
    s.p.lo_env(&["provision", DOMAIN], &[("CAROOT", &caroot_s)])
        .success();
    let secret = s
        .api
        .object("", "secrets", "default", "web-tls")
        .expect("secret");
    assert_eq!(secret["type"], "kubernetes.io/tls", "{secret}");
    let decode = |key: &str| {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .decode(secret["data"][key].as_str().unwrap())
            .unwrap()
    };
    // The leaf is for the hosts and verifies against the user's CA (the cluster's own names).
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tls.crt"), decode("tls.crt")).unwrap();
    let verify = std::process::Command::new("openssl")
        .args(["verify", "-CAfile"])
        .arg(caroot.path().join("rootCA.pem"))
        .arg(dir.path().join("tls.crt"))
        .output()
        .unwrap();
    assert!(verify.status.success(), "{verify:?}");
    let text = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-ext", "subjectAltName", "-in"])
        .arg(dir.path().join("tls.crt"))
        .output()
        .unwrap();
    let sans = String::from_utf8_lossy(&text.stdout);
    assert!(
        sans.contains("DNS:web.a.dev") && sans.contains("IP Address:10.1.2.3"),
        "{sans}"
    );
    assert_eq!(
        decode("ca.crt"),
        std::fs::read(caroot.path().join("rootCA.pem")).unwrap()
    );
    // A re-run applies the same certificate (pods keep theirs); the key never lands in the
    // cluster's folder or the driver's.
    let first = secret["data"]["tls.crt"].clone();
    s.p.lo_env(&["bootstrap", DOMAIN], &[("CAROOT", &caroot_s)])
        .success();
    let again = s.api.object("", "secrets", "default", "web-tls").unwrap();
    assert_eq!(again["data"]["tls.crt"], first);
    assert!(
        s.p.path(".lok8s/secrets/a.dev/Secret.default.web-tls.tls.key")
            .exists()
    );
    assert!(
        s.p.files()
            .iter()
            .all(|f| !f.starts_with("clusters/") || !f.ends_with(".key")),
        "{:?}",
        s.p.files()
    );
}
