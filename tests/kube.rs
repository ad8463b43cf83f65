//! The kubectl-apply capability through kube-rs against the Kubernetes API double: server-side
//! apply (created vs updated, field-manager conflicts, force), get, list by label, wait,
//! delete, and the grant's namespace, kind and cluster limits. The double records every
//! request, so refusals are proven by what never reached it.

use lok8s_tests::Project;
use lok8s_tests::kube_api::KubeApi;

fn probe(action: &str) -> (Project, KubeApi) {
    let api = KubeApi::start();
    let p = Project::new();
    p.cluster(
        "kube.dev",
        "KubeProbe",
        "kube",
        &format!("probe:\n  action: {action}"),
    );
    p.write(".kubeconfig/kube.yaml", api.kubeconfig());
    p.pin("KubeProbe", "kube-probe").success();
    (p, api)
}

#[test]
fn server_side_apply_get_list_wait_delete() {
    let (p, api) = probe("script");
    p.lo(&["provision", "kube.dev"]).success();
    assert_eq!(
        p.read("clusters/kube.dev/.state/kube-report.txt"),
        "first=one:true,two:true again=false get-has-a2=true missing=true listed=2 conflict=true \
         waited-has-forced=true deleted=true deleted-again=false timeout=true"
    );
    let one = api
        .object("", "configmaps", "kube-system", "one")
        .expect("applied object");
    assert_eq!(one["data"]["key"], "forced");
    assert!(api.object("", "configmaps", "kube-system", "two").is_none());
    let requests = api.requests();
    assert!(
        requests.iter().any(|r| r
            .starts_with("PATCH /api/v1/namespaces/kube-system/configmaps/one?")
            && r.contains("fieldManager=lok8s")),
        "{requests:#?}"
    );
    assert!(
        requests
            .iter()
            .any(|r| r.contains("fieldManager=someone-else") && r.contains("force=true")),
        "{requests:#?}"
    );
}

#[test]
fn writes_and_reads_outside_the_grant_never_reach_the_cluster() {
    let cases = [
        ("other-namespace", "ConfigMap in namespace default"),
        ("other-kind", "Secret in namespace kube-system"),
        ("read-secret", "get Secret in namespace kube-system"),
        ("cluster-scoped", "Namespace in cluster scope"),
        (
            "kubeconfig-escape",
            "a driver uses its own cluster's kubeconfig (.kubeconfig/kube.yaml)",
        ),
        ("other-domain", "add \"mgmt.dev\" to kube.clusters"),
    ];
    for (action, why) in cases {
        let (p, api) = probe(action);
        let run = p.lo(&["provision", "kube.dev"]);
        run.code(1)
            .stderr_has("denied: kubectl-apply")
            .stderr_has(why);
        // Where a grant would allow it, the denial says where grants go.
        if action != "kubeconfig-escape" {
            run.stderr_has("[drivers.kubeprobe.grants]");
        }
        let touched: Vec<String> = api
            .requests()
            .into_iter()
            .filter(|r| {
                r.contains("/namespaces/") || r.starts_with("PATCH") || r.starts_with("DELETE")
            })
            .collect();
        assert!(touched.is_empty(), "{action} reached objects: {touched:?}");
    }
}

#[test]
fn a_conflict_without_force_leaves_the_other_managers_value() {
    let (p, api) = probe("script");
    api.seed(
        "",
        "configmaps",
        "kube-system",
        serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "one", "namespace": "kube-system"}, "data": {"key": "theirs"}}),
        "kubectl",
    );
    p.lo(&["provision", "kube.dev"])
        .code(1)
        .stderr_has("conflict")
        .stderr_has("apply with force");
    assert_eq!(
        api.object("", "configmaps", "kube-system", "one").unwrap()["data"]["key"],
        "theirs"
    );
}
