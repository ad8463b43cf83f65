//! The built-in Kkp driver against the KKP API double (HTTPS on 127.0.0.1, its own CA, see
//! `support/kkp_api.rs`): the request sequence and bodies of a fresh run, re-runs that create
//! nothing twice, 429 backoff, health waits and their timeout, status, destroy with KKP's
//! cleanup flags, and bad input refused before any request.

use lok8s_tests::Project;
use lok8s_tests::kkp_api::KkpApi;
use serde_json::json;

const TOKEN: &str = "kkp-test-token-7f3a";
const DOMAIN: &str = "kkp.test";

/// The spec's body for a Kkp cluster on `url`, `extra` appended under `spec:`.
fn spec_body(url: &str, extra: &str) -> String {
    format!(
        "kubernetes: {{version: 1.31.4}}\nkkp:\n  apiUrl: {url}/\n  projectId: prj42\n  datacenter: hetzner-fsn1\n  \
         caCert: kkp-ca.pem\n{extra}"
    )
}

const POOLS: &str = "provider: {name: hetzner}\nworkers:\n  pool-1:\n    replicas: 3\n    flavor: cpx31\n    \
    autoscaler: {min: 1, max: 10}\n  small:\n    type: cx22\n";

/// A project with a Kkp cluster on `api` (`extra` under `spec:`, two worker pools unless it
/// names its own), the double's CA next to the spec, and the double's loopback address allowed
/// for its kubeconfig.
fn project(api: &KkpApi, extra: &str) -> Project {
    let p = Project::new();
    let extra = if extra.is_empty() { POOLS } else { extra };
    p.cluster(DOMAIN, "Kkp", "edge", &spec_body(&api.url(), extra));
    p.write(&format!("clusters/{DOMAIN}/kkp-ca.pem"), &api.ca_pem);
    p.lo(&["drivers", "lock"]).success();
    let lock = p.read("drivers.lock");
    p.write(
        "drivers.lock",
        format!("{lock}\n[drivers.kkp.grants.kube]\nservers = [\"https://127.0.0.1:*\"]\n"),
    );
    p
}

fn env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("KKP_TOKEN", TOKEN),
        ("HCLOUD_TOKEN", "hcloud-secret"),
        ("KKP_WAIT_INTERVAL", "1"),
        ("KKP_RETRY_DELAY", "1"),
    ]
}

#[test]
fn a_kkp_cluster_is_created_waited_for_given_its_pools_and_destroyed_through_the_api() {
    let api = KkpApi::start(TOKEN);
    api.script(|s| s.healthy_after = Some(2));
    let p = project(&api, "");
    p.lo_env(&["provision", DOMAIN], &env()).success();

    let base = "/api/v2/projects/prj42/clusters";
    let id = "kkp0001";
    assert_eq!(
        api.sequence(),
        [
            format!("POST {base}"),
            format!("GET {base}/{id}/health"),
            format!("GET {base}/{id}/machinedeployments"),
            format!("POST {base}/{id}/machinedeployments"),
            format!("GET {base}/{id}/kubeconfig"),
        ]
    );
    let seen = api.seen();
    assert!(
        seen.iter()
            .all(|s| s.authorization.as_deref() == Some(&format!("Bearer {TOKEN}")))
    );
    // The control plane wait polled until the third health answer was up.
    assert!(seen.iter().filter(|s| s.path.ends_with("/health")).count() >= 3);
    assert_eq!(
        seen[0].body,
        Some(
            json!({"cluster": {"name": "edge", "spec": {"version": "1.31.4",
            "cloud": {"dc": "hetzner-fsn1", "hetzner": {"token": "hcloud-secret"}}}}})
        )
    );
    let deployments: Vec<_> = seen
        .iter()
        .filter(|s| s.method == "POST" && s.path.ends_with("/machinedeployments"))
        .map(|s| s.body.clone().unwrap())
        .collect();
    assert_eq!(
        deployments,
        [
            json!({"name": "pool-1", "spec": {"replicas": 3, "template": {"cloud": {"hetzner": {"type": "cpx31"}},
                "operatingSystem": {"ubuntu": {}}}, "minReplicas": 1, "maxReplicas": 10}}),
            json!({"name": "small", "spec": {"replicas": 1, "template": {"cloud": {"hetzner": {"type": "cx22"}},
                "operatingSystem": {"ubuntu": {}}}}}),
        ]
    );
    let kubeconfig = p.read(".kubeconfig/edge.yaml");
    assert!(
        kubeconfig.contains(&format!("server: {}", api.url())),
        "{kubeconfig}"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(p.path(".kubeconfig/edge.yaml"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "the kubeconfig is the owner's only");
    assert_eq!(
        p.read(&format!("clusters/{DOMAIN}/.state/cluster_id")),
        "kkp0001\n"
    );

    // A re-run finds the saved cluster and its pools: nothing is created again.
    api.forget_requests();
    p.lo_env(&["provision", DOMAIN], &env()).success();
    assert!(
        api.seen().iter().all(|s| s.method == "GET"),
        "{:?}",
        api.sequence()
    );
    assert_eq!(api.clusters(), ["kkp0001"]);

    let status = p.lo_env(&["status", DOMAIN, "-o", "json"], &env()).json();
    assert_eq!(status["phase"], "Running", "{status}");
    let blind = p.lo_env(&["status", DOMAIN, "-o", "json"], &[]).json();
    assert_eq!(blind["phase"], "Unknown", "{blind}");
    assert!(
        blind["message"].as_str().unwrap().contains("KKP_TOKEN"),
        "{blind}"
    );

    // Destroy asks for KKP's cleanup and waits until the cluster is gone.
    api.script(|s| s.reads_after_delete = 2);
    api.forget_requests();
    let p_spec = p.read(&format!("clusters/{DOMAIN}/cluster.lok8s.yaml"));
    p.write(
        &format!("clusters/{DOMAIN}/cluster.lok8s.yaml"),
        p_spec.replace(
            "    caCert: kkp-ca.pem\n",
            "    caCert: kkp-ca.pem\n    deleteVolumes: true\n    deleteLoadBalancers: true\n",
        ),
    );
    p.lo_env(&["destroy", DOMAIN], &env()).success();
    let seen = api.seen();
    let delete = seen
        .iter()
        .find(|s| s.method == "DELETE")
        .expect("a DELETE");
    assert_eq!(delete.path, format!("{base}/{id}"));
    assert_eq!(
        delete.delete_flags,
        ["DeleteVolumes", "DeleteLoadBalancers"]
    );
    let reads_after = seen
        .iter()
        .skip_while(|s| s.method != "DELETE")
        .filter(|s| s.method == "GET")
        .count();
    assert_eq!(
        reads_after,
        3,
        "two reads still find it, the third does not: {:?}",
        api.sequence()
    );
    assert!(api.clusters().is_empty());
    assert!(!p.path(".kubeconfig/edge.yaml").exists());
    assert!(
        !p.path(&format!("clusters/{DOMAIN}/.state/cluster_id"))
            .exists()
    );
    let status = p.lo_env(&["status", DOMAIN, "-o", "json"], &env()).json();
    assert_eq!(status["phase"], "NotFound", "{status}");
    // Destroying again is not an error: there is nothing left.
    p.lo_env(&["destroy", DOMAIN], &env()).success();
}

#[test]
fn rate_limits_are_waited_out_and_a_lasting_one_is_reported() {
    let api = KkpApi::start(TOKEN);
    api.script(|s| s.rate_limited = 2);
    let p = project(&api, "");
    p.lo_env(&["provision", DOMAIN], &env()).success();
    let posts = api
        .seen()
        .iter()
        .filter(|s| s.line() == "POST /api/v2/projects/prj42/clusters")
        .count();
    assert_eq!(posts, 3, "two 429s, then the create: {:?}", api.sequence());
    assert_eq!(api.clusters().len(), 1);

    let q = project(&api, "");
    api.script(|s| s.rate_limited = 100);
    let mut env = env();
    env.push(("KKP_MAX_RETRIES", "2"));
    let run = q.lo_env(&["provision", DOMAIN], &env);
    run.code(1).stderr_has(
        "still rate limited (429) after 2 attempts for POST /api/v2/projects/prj42/clusters",
    );
    assert_eq!(api.clusters().len(), 1, "no second cluster");
}

#[test]
fn a_control_plane_that_never_comes_up_fails_the_run_and_the_next_run_resumes() {
    let api = KkpApi::start(TOKEN);
    api.script(|s| s.healthy_after = None);
    let p = project(&api, "");
    let mut env = env();
    env.push(("KKP_WAIT_TIMEOUT", "2"));
    let run = p.lo_env(&["provision", DOMAIN], &env);
    run.code(1).stderr_has(
        "timed out after 2s waiting for the KKP cluster's apiserver, etcd, controller, scheduler",
    );
    assert!(!p.path(".kubeconfig/edge.yaml").exists());
    let status = p.lo_env(&["status", DOMAIN, "-o", "json"], &env).json();
    assert_eq!(status["phase"], "Provisioning", "{status}");

    api.script(|s| s.healthy_after = Some(0));
    api.forget_requests();
    p.lo_env(&["provision", DOMAIN], &env).success();
    assert!(
        !api.sequence()
            .contains(&"POST /api/v2/projects/prj42/clusters".to_string())
    );
    assert_eq!(api.clusters(), ["kkp0001"]);
}

#[test]
fn a_failing_read_of_the_saved_cluster_never_creates_a_second_one() {
    let api = KkpApi::start(TOKEN);
    let p = project(&api, "");
    p.lo_env(&["provision", DOMAIN], &env()).success();
    api.script(|s| s.cluster_read_status = Some(503));
    let run = p.lo_env(&["provision", DOMAIN], &env());
    run.code(1).stderr_has("KKP API error: GET /api/v2/projects/prj42/clusters/kkp0001 -> HTTP 503; response: {\"error\"");
    assert_eq!(api.clusters(), ["kkp0001"]);
    // A clear 404 is a cluster deleted behind lo's back: then a new one is made.
    api.script(|s| s.cluster_read_status = Some(404));
    p.lo_env(&["provision", DOMAIN], &env())
        .success()
        .stderr_has("no longer exists in KKP");
    assert_eq!(api.clusters(), ["kkp0001", "kkp0002"]);
}

#[test]
fn bad_input_is_refused_before_any_request() {
    let api = KkpApi::start(TOKEN);
    let p = project(&api, "");
    // No token, no cloud credentials: both named at once.
    p.lo_env(&["provision", DOMAIN], &[("KKP_WAIT_INTERVAL", "1")])
        .code(1)
        .stderr_has("2 credential validation error(s): KKP_TOKEN env var is required for KKP API authentication; required environment variable HCLOUD_TOKEN is not set");
    let cases = [
        ("workers:\n  bad_pool:\n    flavor: cx22\n", "spec.workers"),
        (
            "workers:\n  pool-1:\n    replicas: 2\n",
            "spec.workers.pool-1.flavor",
        ),
        ("provider: gcp\n", "unsupported KKP provider \"gcp\""),
    ];
    for (extra, needle) in cases {
        project(&api, extra)
            .lo_env(&["provision", DOMAIN], &env())
            .code(1)
            .stderr_has(needle);
    }
    let q = project(&api, "");
    let spec = q.read(&format!("clusters/{DOMAIN}/cluster.lok8s.yaml"));
    q.write(
        &format!("clusters/{DOMAIN}/cluster.lok8s.yaml"),
        spec.replace(
            &format!("apiUrl: {}/", api.url()),
            "apiUrl: http://127.0.0.1:9/",
        ),
    );
    q.lo_env(&["provision", DOMAIN], &env())
        .code(1)
        .stderr_has("spec.kkp.apiUrl");
    // The CA file the spec names must be there: refused before the driver runs.
    let q = project(&api, "");
    std::fs::remove_file(q.path(&format!("clusters/{DOMAIN}/kkp-ca.pem"))).unwrap();
    q.lo_env(&["provision", DOMAIN], &env())
        .code(1)
        .stderr_has("spec.kkp.caCert points to a missing file: kkp-ca.pem");
    assert!(api.seen().is_empty(), "{:?}", api.sequence());
    assert!(api.clusters().is_empty());
}

#[test]
fn the_kkp_api_is_trusted_only_through_the_ca_the_operator_names() {
    let api = KkpApi::start(TOKEN);
    let p = project(&api, "");
    let spec = p.read(&format!("clusters/{DOMAIN}/cluster.lok8s.yaml"));
    p.write(
        &format!("clusters/{DOMAIN}/cluster.lok8s.yaml"),
        spec.replace("    caCert: kkp-ca.pem\n", ""),
    );
    let run = p.lo_env(&["provision", DOMAIN], &env());
    run.code(1)
        .stderr_has("KKP API error: POST /api/v2/projects/prj42/clusters");
    assert!(api.clusters().is_empty());
    // The same CA through KKP_CA_CERT works.
    let mut env = env();
    let ca = p.path("outside-ca.pem");
    std::fs::write(&ca, &api.ca_pem).unwrap();
    let ca = ca.display().to_string();
    env.push(("KKP_CA_CERT", &ca));
    p.lo_env(&["provision", DOMAIN], &env).success();
    assert_eq!(api.clusters().len(), 1);
}

#[test]
fn presets_and_other_clouds_shape_the_bodies() {
    let api = KkpApi::start(TOKEN);
    // A preset: no cloud credentials are needed or sent; KKP reads the preset's.
    let p = project(
        &api,
        "  preset: hz-preset\nprovider: byo\nworkers:\n  edge-pool:\n    replicas: 2\n    type: custom\n    operatingSystem: flatcar\n",
    );
    p.lo_env(
        &["provision", DOMAIN],
        &[("KKP_TOKEN", TOKEN), ("KKP_WAIT_INTERVAL", "1")],
    )
    .success();
    let seen = api.seen();
    assert_eq!(
        seen[0].body,
        Some(
            json!({"cluster": {"name": "edge", "credential": "hz-preset", "spec": {"version": "1.31.4",
            "cloud": {"dc": "hetzner-fsn1", "bringyourown": {}, "presetName": "hz-preset"}}}})
        )
    );
    let md = seen
        .iter()
        .find(|s| s.method == "POST" && s.path.ends_with("/machinedeployments"))
        .and_then(|s| s.body.clone());
    assert_eq!(
        md,
        Some(
            json!({"name": "edge-pool", "spec": {"replicas": 2, "template": {"cloud": {"bringyourown": {}},
            "operatingSystem": {"flatcar": {}}}}})
        )
    );

    // AWS without a preset: both keys are required and sent.
    let api = KkpApi::start(TOKEN);
    let q = project(&api, "provider: aws\n");
    q.lo_env(
        &["provision", DOMAIN],
        &[("KKP_TOKEN", TOKEN), ("AWS_ACCESS_KEY_ID", "AKIA1")],
    )
    .code(1)
    .stderr_has("1 credential validation error(s): required environment variable AWS_SECRET_ACCESS_KEY is not set");
    assert!(api.seen().is_empty());
    q.lo_env(
        &["provision", DOMAIN],
        &[
            ("KKP_TOKEN", TOKEN),
            ("AWS_ACCESS_KEY_ID", "AKIA1"),
            ("AWS_SECRET_ACCESS_KEY", "s3cr3t"),
            ("KKP_WAIT_INTERVAL", "1"),
        ],
    )
    .success();
    assert_eq!(
        api.seen()[0].body.as_ref().unwrap()["cluster"]["spec"]["cloud"],
        json!({"dc": "hetzner-fsn1", "aws": {"accessKeyID": "AKIA1", "secretAccessKey": "s3cr3t"}})
    );
}
