//! The built-in Capi driver against two Kubernetes API doubles: a management cluster with the
//! Cluster API stand-in (`support/kube_capi.rs`: CRDs, phase, kubeconfig Secret, finalizer-held
//! deletion) and the workload cluster whose kubeconfig that Secret holds. The generated objects
//! are read back from the management double field by field; the webhook retry, the waits and
//! their timeouts, status, destroy, and bad input refused with nothing sent.

use lok8s_tests::Project;
use lok8s_tests::kube_api::KubeApi;
use lok8s_tests::kube_capi::CapiControllers;
use serde_json::{Value, json};

mod local_management;
mod releases;

const DOMAIN: &str = "prod.test";
const NS: &str = "capi-system";
const NAME: &str = "test-production";

struct Setup {
    p: Project,
    mgmt: KubeApi,
    workload: KubeApi,
}

pub const SPEC: &str = "kubernetes: {version: v1.31.10}\nmanagementCluster: {domain: mgmt.test}\n\
cluster: {namespace: capi-system, domain: prod.lok8s.dev}\n\
provider:\n  name: hetzner\n  config: {region: fsn1, sshKeyName: test-key, network: {enabled: true}}\n\
controlPlane: {replicas: 3, type: cax21}\nworkers:\n  general: {replicas: 2, type: cax21}\n";

/// A project with a published management cluster (`mgmt.test`) and a Capi cluster whose spec
/// body is `spec`.
fn setup(spec: &str) -> Setup {
    let workload = KubeApi::start();
    let mgmt = KubeApi::start();
    mgmt.stand_in_for_capi(CapiControllers::new(&workload.kubeconfig()));
    let p = Project::new();
    p.cluster("mgmt.test", "Lo", "mgmt", "");
    p.write(".kubeconfig/mgmt.yaml", mgmt.kubeconfig());
    p.cluster(DOMAIN, "Capi", NAME, spec);
    p.lo(&["drivers", "lock"]).success();
    let lock = p.read("drivers.lock");
    p.write(
        "drivers.lock",
        format!("{lock}\n[drivers.capi.grants.kube]\nservers = [\"https://127.0.0.1:*\"]\n"),
    );
    Setup { p, mgmt, workload }
}

fn env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("HCLOUD_TOKEN", "hcloud-secret"),
        ("HROBOT_USER", "robot"),
        ("CAPI_WAIT_INTERVAL", "1"),
        ("CAPI_APPLY_RETRY_DELAY", "1"),
    ]
}

fn object(api: &KubeApi, group: &str, plural: &str, name: &str) -> Value {
    api.object(group, plural, NS, name)
        .unwrap_or_else(|| panic!("{plural}/{name} is not on the management cluster"))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_capi_cluster_is_applied_waited_for_read_back_and_destroyed() {
    let s = setup(SPEC);
    s.mgmt.capi_controllers(|c| c.provisioned_after = Some(4));
    s.mgmt
        .fail_applies("cluster.x-k8s.io", "clusters", NS, NAME, 2);
    s.p.lo_env(&["provision", DOMAIN], &env()).success();

    // The webhook retry: two refused applies of the Cluster, then the one that took.
    let cluster_patches = s
        .mgmt
        .requests()
        .iter()
        .filter(|r| {
            r.starts_with(&format!(
                "PATCH /apis/cluster.x-k8s.io/v1beta2/namespaces/{NS}/clusters/{NAME}?"
            ))
        })
        .count();
    assert_eq!(cluster_patches, 3, "{:#?}", s.mgmt.requests());

    let labels = json!({"lok8s.dev/managed": "true", "lok8s.dev/domain": "prod.lok8s.dev"});
    let secret = object(&s.mgmt, "", "secrets", "test-production-credentials");
    assert_eq!(secret["type"], "Opaque");
    assert_eq!(
        secret["stringData"],
        json!({"hcloud-token": "hcloud-secret", "robot-user": "robot", "robot-password": ""})
    );
    assert!(s.mgmt.object("", "namespaces", "", NS).is_some());

    let cluster = object(&s.mgmt, "cluster.x-k8s.io", "clusters", NAME);
    assert_eq!(cluster["metadata"]["labels"], labels);
    assert_eq!(
        cluster["spec"],
        json!({"clusterNetwork": {"pods": {"cidrBlocks": ["10.244.0.0/16"]}, "services": {"cidrBlocks": ["10.96.0.0/12"]}},
            "controlPlaneRef": {"apiGroup": "controlplane.cluster.x-k8s.io", "kind": "KubeadmControlPlane", "name": "test-production-control-plane"},
            "infrastructureRef": {"apiGroup": "infrastructure.cluster.x-k8s.io", "kind": "HetznerCluster", "name": NAME}})
    );
    let hetzner = object(
        &s.mgmt,
        "infrastructure.cluster.x-k8s.io",
        "hetznerclusters",
        NAME,
    );
    assert_eq!(
        hetzner["spec"],
        json!({"hcloudNetwork": {"enabled": true}, "controlPlaneRegions": ["fsn1"],
            "controlPlaneEndpoint": {"host": "", "port": 443}, "controlPlaneLoadBalancer": {"region": "fsn1"},
            "sshKeys": {"hcloud": [{"name": "test-key"}]},
            "hetznerSecretRef": {"name": "test-production-credentials", "key": {"hcloudToken": "hcloud-token",
                "hetznerRobotUser": "robot-user", "hetznerRobotPassword": "robot-password"}}})
    );
    let kcp = object(
        &s.mgmt,
        "controlplane.cluster.x-k8s.io",
        "kubeadmcontrolplanes",
        "test-production-control-plane",
    );
    assert_eq!(kcp["spec"]["replicas"], 3);
    assert_eq!(kcp["spec"]["version"], "v1.31.10");
    let config = &kcp["spec"]["kubeadmConfigSpec"];
    assert_eq!(
        config["clusterConfiguration"]["controllerManager"]["extraArgs"],
        json!([{"name": "cloud-provider", "value": "external"}])
    );
    assert_eq!(
        config["initConfiguration"]["nodeRegistration"]["kubeletExtraArgs"],
        json!([{"name": "cloud-provider", "value": "external"}, {"name": "max-pods", "value": "120"},
            {"name": "resolv-conf", "value": "/etc/kubernetes/resolv.conf"}])
    );
    let commands = strings(&config["preKubeadmCommands"]);
    assert!(commands.contains(&"export KUBERNETES_VERSION=1.31.10".to_string()));
    assert!(commands.contains(&"export TRIMMED_KUBERNETES_VERSION=1.31".to_string()));
    assert!(
        commands.iter().any(|c| c.contains("runc.$ARCH")),
        "shell variables stay literal"
    );
    assert!(
        commands
            .iter()
            .any(|c| c.starts_with("kubeadm config images pull"))
    );
    let paths: Vec<&str> = config["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths.len(), 6);
    let cp_template = object(
        &s.mgmt,
        "infrastructure.cluster.x-k8s.io",
        "hcloudmachinetemplates",
        "test-production-control-plane",
    );
    assert_eq!(
        cp_template["spec"]["template"]["spec"],
        json!({"type": "cax21", "imageName": "ubuntu-24.04"})
    );

    let md = object(
        &s.mgmt,
        "cluster.x-k8s.io",
        "machinedeployments",
        "test-production-general",
    );
    assert_eq!(
        md["metadata"]["labels"]["nodepool"],
        "test-production-general"
    );
    assert_eq!(md["spec"]["replicas"], 2);
    assert_eq!(md["spec"]["template"]["spec"]["failureDomain"], "fsn1");
    assert_eq!(md["spec"]["template"]["spec"]["version"], "v1.31.10");
    assert_eq!(
        md["spec"]["template"]["spec"]["bootstrap"]["configRef"],
        json!({"apiGroup": "bootstrap.cluster.x-k8s.io", "kind": "KubeadmConfigTemplate", "name": "test-production-general"})
    );
    let kct = object(
        &s.mgmt,
        "bootstrap.cluster.x-k8s.io",
        "kubeadmconfigtemplates",
        "test-production-general",
    );
    let worker = &kct["spec"]["template"]["spec"];
    let worker_files: Vec<&str> = worker["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        worker_files[5..],
        [
            "/etc/kubernetes/kubelet/config.yaml",
            "/etc/systemd/system/containerd.service"
        ]
    );
    assert!(
        worker["files"][5]["content"]
            .as_str()
            .unwrap()
            .contains("maxPods: 220")
    );
    let worker_commands = strings(&worker["preKubeadmCommands"]);
    assert_eq!(
        worker_commands[1],
        "grep VERSION= /etc/os-release; uname -a"
    );
    assert!(
        !worker_commands
            .iter()
            .any(|c| c.starts_with("kubeadm config images pull"))
    );
    let pool_template = object(
        &s.mgmt,
        "infrastructure.cluster.x-k8s.io",
        "hcloudmachinetemplates",
        "test-production-general",
    );
    assert_eq!(pool_template["spec"]["template"]["spec"]["type"], "cax21");

    // The workload kubeconfig came from the Secret, and its API server was asked before the end.
    let kubeconfig = s.p.read(".kubeconfig/test-production.yaml");
    assert!(kubeconfig.contains(&s.workload.server()), "{kubeconfig}");
    assert!(
        s.workload
            .requests()
            .iter()
            .any(|r| r.starts_with("GET /api/v1/namespaces/default"))
    );

    let status = s.p.lo_env(&["status", DOMAIN, "-o", "json"], &env()).json();
    assert_eq!(status["phase"], "Provisioned", "{status}");
    // CAPH names the private network after the cluster; the CCM addon reads it from here.
    let exported = s.p.lo_env(&["env", DOMAIN, "-o", "json"], &env()).json();
    assert_eq!(
        exported["variables"],
        json!({"LOK8S_SPEC_HCLOUD_CCM_NETWORK": "test-production"}),
        "{exported}"
    );

    // A re-run changes nothing and creates nothing new.
    let before = s
        .mgmt
        .object("cluster.x-k8s.io", "clusters", NS, NAME)
        .unwrap();
    s.p.lo_env(&["provision", DOMAIN], &env()).success();
    let after = s
        .mgmt
        .object("cluster.x-k8s.io", "clusters", NS, NAME)
        .unwrap();
    assert_eq!(
        before["metadata"]["resourceVersion"],
        after["metadata"]["resourceVersion"]
    );

    s.mgmt.capi_controllers(|c| c.deleted_after = Some(3));
    s.p.lo_env(&["destroy", DOMAIN], &env()).success();
    assert!(
        s.mgmt
            .object("cluster.x-k8s.io", "clusters", NS, NAME)
            .is_none()
    );
    assert!(!s.p.path(".kubeconfig/test-production.yaml").exists());
    let status = s.p.lo_env(&["status", DOMAIN, "-o", "json"], &env()).json();
    assert_eq!(status["phase"], "NotFound", "{status}");
}

#[test]
fn a_cluster_that_is_never_provisioned_or_never_torn_down_is_reported() {
    let s = setup(SPEC);
    s.mgmt.capi_controllers(|c| c.provisioned_after = None);
    let mut env = env();
    env.push(("CAPI_WAIT_TIMEOUT", "2"));
    s.p.lo_env(&["provision", DOMAIN], &env).code(1).stderr_has(
        "timed out after 2s waiting for Cluster test-production in namespace capi-system to be Provisioned (phase: Provisioning)",
    );
    assert!(!s.p.path(".kubeconfig/test-production.yaml").exists());
    let status = s.p.lo_env(&["status", DOMAIN, "-o", "json"], &env).json();
    assert_eq!(status["phase"], "Provisioning", "{status}");

    s.mgmt.capi_controllers(|c| c.deleted_after = None);
    env.push(("CAPI_DELETE_TIMEOUT", "2"));
    s.p.lo_env(&["destroy", DOMAIN], &env)
        .code(1)
        .stderr_has("is still being torn down after 2s; the management cluster mgmt.test is kept");
    let cluster = s
        .mgmt
        .object("cluster.x-k8s.io", "clusters", NS, NAME)
        .expect("still there");
    assert_eq!(cluster["status"]["phase"], "Deleting");
}

#[test]
fn bad_input_is_refused_before_anything_reaches_the_management_cluster() {
    let cases = [
        (
            SPEC.replace("sshKeyName: test-key", "image: ubuntu-22.04"),
            "spec.provider.config.sshKeyName",
        ),
        (SPEC.replace("general: {", "General_1: {"), "spec.workers"),
        (
            SPEC.replace("v1.31.10", "latest"),
            "spec.kubernetes.version",
        ),
        (
            SPEC.replace("name: hetzner", "name: aws"),
            "spec.provider.name",
        ),
        (
            SPEC.replace("domain: mgmt.test", "domain: prod.test"),
            "is this cluster's own domain",
        ),
    ];
    for (spec, needle) in cases {
        let s = setup(&spec);
        s.p.lo_env(&["provision", DOMAIN], &env())
            .code(1)
            .stderr_has(needle);
        assert!(
            s.mgmt.requests().is_empty(),
            "{needle}: {:?}",
            s.mgmt.requests()
        );
    }
    // No credentials: nothing sent.
    let s = setup(SPEC);
    s.p.lo_env(&["provision", DOMAIN], &[("CAPI_WAIT_INTERVAL", "1")])
        .code(1)
        .stderr_has("HCLOUD_TOKEN is not set");
    assert!(s.mgmt.requests().is_empty());
    // A management cluster with a spec but no kubeconfig is provisioned first: here its spec
    // cannot be provisioned here (its default bootstrap needs helm), so that fails, with nothing
    // sent and the Capi driver never run.
    let s = setup(SPEC);
    std::fs::remove_file(s.p.path(".kubeconfig/mgmt.yaml")).unwrap();
    s.p.lo_env(&["provision", DOMAIN], &env())
        .code(1)
        .stderr_has("prod.test needs mgmt.test, which has no kubeconfig yet: provisioning it first")
        .stderr_has("provisioning mgmt.test first, which prod.test needs")
        .stderr_has("spec.bootstrap");
    assert!(s.mgmt.requests().is_empty());
    // Neither spec nor kubeconfig: the driver says so, with both fixes.
    std::fs::remove_dir_all(s.p.path("clusters/mgmt.test")).unwrap();
    s.p.lo_env(&["provision", DOMAIN], &env())
        .code(1)
        .stderr_has("(lo provision mgmt.test, or set spec.managementCluster.local: true for one on this machine)");
    assert!(s.mgmt.requests().is_empty());
}

#[test]
fn placement_groups_spread_control_planes_and_workers() {
    let s = setup(&SPEC.replace("network: {enabled: true}", "placementGroups: true"));
    s.p.lo_env(&["provision", DOMAIN], &env()).success();
    let hetzner = object(
        &s.mgmt,
        "infrastructure.cluster.x-k8s.io",
        "hetznerclusters",
        NAME,
    );
    assert_eq!(
        hetzner["spec"]["hcloudPlacementGroups"],
        json!([{"name": "control-plane", "type": "spread"}, {"name": "workers", "type": "spread"}])
    );
    assert_eq!(hetzner["spec"]["hcloudNetwork"]["enabled"], false);
    let group = |name: &str| {
        object(
            &s.mgmt,
            "infrastructure.cluster.x-k8s.io",
            "hcloudmachinetemplates",
            name,
        )["spec"]["template"]["spec"]["placementGroupName"]
            .clone()
    };
    assert_eq!(group("test-production-control-plane"), "control-plane");
    assert_eq!(group("test-production-general"), "workers");
    // Without a private network there is nothing for the CCM to name.
    let exported = s.p.lo_env(&["env", DOMAIN, "-o", "json"], &env()).json();
    assert_eq!(exported["variables"], json!({}), "{exported}");
}
