//! The built-in KubeOne driver against the Hetzner Cloud API double (HTTPS on 127.0.0.1, its
//! own CA, see `support/hcloud_api.rs`); the install over ssh is in install.rs. Here: `status`
//! from the servers labelled for the cluster,
//! `destroy` deleting exactly what carries the cluster's label, through 429s, pagination and
//! running actions; bad input and a refused token with nothing deleted.

mod install;

use lok8s_tests::kubeone_site::{DOMAIN, Setup};
use serde_json::json;

const SPEC: &str = "provider:\n  name: hetzner\n  config:\n    cluster_name: prod\n    server: [{name: prod-cp-0}]\n";

/// The cluster's resources, another cluster's and an unlabelled one; 60 labelled volumes
/// make the listing span two pages.
fn seed(s: &Setup) {
    let prod = json!({"lok8s.dev/cluster": "prod", "lok8s.dev/role": "control-plane"});
    s.api.seed("servers", "prod-cp-0", prod.clone());
    s.api.seed("servers", "prod-cp-1", prod.clone());
    s.api.seed(
        "servers",
        "other-cp-0",
        json!({"lok8s.dev/cluster": "other"}),
    );
    s.api.seed("servers", "hand-made", json!({}));
    s.api.seed(
        "load_balancers",
        "prod-api",
        json!({"lok8s.dev/cluster": "prod"}),
    );
    s.api
        .seed("networks", "prod-net", json!({"lok8s.dev/cluster": "prod"}));
    s.api.seed(
        "networks",
        "prod-like",
        json!({"lok8s.dev/cluster": "production"}),
    );
    s.api
        .seed("ssh_keys", "prod-key", json!({"lok8s.dev/cluster": "prod"}));
    for i in 0..60 {
        s.api.seed(
            "volumes",
            &format!("prod-data-{i:02}"),
            json!({"lok8s.dev/cluster": "prod"}),
        );
    }
}

#[test]
fn destroy_deletes_only_what_carries_the_clusters_label() {
    let s = Setup::new(SPEC);
    seed(&s);
    s.api.script(|sc| {
        sc.rate_limited = 2;
        sc.action_polls = 1;
    });
    s.lo(&["destroy", DOMAIN]).success();
    assert_eq!(s.api.names("servers"), ["hand-made", "other-cp-0"]);
    assert_eq!(s.api.names("networks"), ["prod-like"]);
    assert!(s.api.names("load_balancers").is_empty());
    assert!(s.api.names("ssh_keys").is_empty());
    assert!(s.api.names("volumes").is_empty(), "both pages deleted");
    let seen = s.api.seen();
    // Load balancers before servers, servers before networks; every list by the label.
    let first = |needle: &str| seen.iter().position(|l| l.starts_with(needle)).unwrap();
    assert!(first("DELETE /load_balancers/") < first("DELETE /servers/"));
    assert!(first("DELETE /servers/") < first("DELETE /networks/"));
    assert!(
        seen.iter()
            .filter(|l| l.starts_with("GET /volumes?"))
            .count()
            >= 2,
        "{seen:#?}"
    );
    assert!(
        seen.iter()
            .filter(|l| l.starts_with("GET /") && !l.starts_with("GET /actions/"))
            .all(|l| l.contains("label_selector=lok8s%2Edev%2Fcluster%3Dprod&")),
        "{seen:#?}"
    );
    assert!(
        seen.iter().any(|l| l.starts_with("GET /actions/")),
        "actions waited for"
    );

    // Again: nothing left to delete, nothing else touched.
    s.lo(&["destroy", DOMAIN])
        .success()
        .stderr_has("nothing in the Hetzner project is labelled lok8s.dev/cluster=prod");
    assert_eq!(s.api.names("servers"), ["hand-made", "other-cp-0"]);
}

#[test]
fn status_counts_the_clusters_running_servers() {
    let s = Setup::new(SPEC);
    let status = s.lo(&["status", DOMAIN, "-o", "json"]).json();
    assert_eq!(status["phase"], "NotFound", "{status}");
    s.api
        .seed("servers", "prod-cp-0", json!({"lok8s.dev/cluster": "prod"}));
    s.api.seed(
        "servers",
        "other-cp-0",
        json!({"lok8s.dev/cluster": "other"}),
    );
    s.api
        .set("servers", "prod-cp-0", "status", json!("running"));
    let status = s.lo(&["status", DOMAIN, "-o", "json"]).json();
    assert_eq!(status["phase"], "Provisioned", "{status}");
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .contains("Kubernetes is not installed"),
        "{status}"
    );
    s.api
        .seed("servers", "prod-cp-1", json!({"lok8s.dev/cluster": "prod"}));
    s.api
        .set("servers", "prod-cp-1", "status", json!("starting"));
    let status = s.lo(&["status", DOMAIN, "-o", "json"]).json();
    assert_eq!(status["phase"], "Partial (1/2 running)", "{status}");
}

#[test]
fn a_refused_token_or_a_bad_config_deletes_nothing() {
    let mut s = Setup::new(SPEC);
    seed(&s);
    s.env[0].1 = "wrong-token".into();
    let run = s.lo(&["destroy", DOMAIN]);
    run.code(1)
        .stderr_has("401 unauthorized")
        .stderr_has("check HCLOUD_TOKEN");
    assert!(!run.stderr.contains("wrong-token"), "{}", run.stderr);
    assert_eq!(s.api.names("servers").len(), 4);

    for (spec, needle) in [
        (
            SPEC.replace("cluster_name: prod", "cluster_name: \"prod,!x\""),
            "spec.provider.config.cluster_name",
        ),
        (
            SPEC.replace("name: hetzner", "name: aws"),
            "spec.provider.name",
        ),
        (
            "provider: {name: hetzner, configRef: missing.json}\n".to_string(),
            "spec.provider.configRef",
        ),
    ] {
        let s = Setup::new(&spec);
        seed(&s);
        s.lo(&["destroy", DOMAIN]).code(1).stderr_has(needle);
        assert!(s.api.seen().is_empty(), "{needle}: {:?}", s.api.seen());
    }
}

/// Every invalid field of spec 2.1 at once, with the original's words; nothing is asked of the
/// API, nothing created.
#[test]
fn an_invalid_spec_names_every_field_and_creates_nothing() {
    let spec = format!(
        "{SPEC}bootstrap: []\ndatacenter: 'fsn 1'\nnetwork: {{cni: canal}}\nworkers:\n  -bad: {{}}\n  ok:\n    replicas: two\n    type: cx22\n    image: 'x;y'\n"
    );
    let s = Setup::new(&spec);
    let run = s.lo(&["provision", DOMAIN]);
    run.code(1)
        .stderr_has("spec.kubernetes.version: is required (such as v1.31.4)")
        .stderr_has("spec.datacenter: Invalid datacenter: fsn 1")
        .stderr_has("spec.network.cni: \"canal\": lo installs the CNI through spec.bootstrap")
        .stderr_has("Invalid worker pool name: -bad (must be alphanumeric with hyphens)")
        .stderr_has("Invalid replicas for pool ok: two (must be numeric)")
        .stderr_has("Invalid image for pool ok: x;y");
    assert!(s.api.seen().is_empty(), "{:?}", s.api.seen());

    let bad_key = SPEC.replace(
        "cluster_name: prod\n",
        "cluster_name: prod\n    sshPrivateKey: ~/.ssh/id_rsa\n",
    );
    let s = Setup::new(&format!(
        "kubernetes: {{version: v1.35.0}}\nbootstrap: []\n{bad_key}"
    ));
    s.lo(&["provision", DOMAIN])
        .code(1)
        .stderr_has("sshPrivateKey \"~/.ssh/id_rsa\": lo reads ssh keys only from the project's .secrets/ssh/ folder");
    assert!(s.api.seen().is_empty(), "{:?}", s.api.seen());

    // A registry login whose secret is not in the cache: nothing configured, nothing created.
    let s = Setup::new(&format!(
        "kubernetes: {{version: v1.35.0}}\nbootstrap: []\nregistries:\n  r.test: {{auth: {{secretRef: {{name: regcred}}}}}}\n{SPEC}"
    ));
    s.lo(&["provision", DOMAIN])
        .code(1)
        .stderr_has("registry auth: secret provisioning/regcred lacks username/password")
        .stderr_has("1 registry(ies) declared in spec.registries but none could be configured");
    assert!(s.api.seen().is_empty(), "{:?}", s.api.seen());
}
