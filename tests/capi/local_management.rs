//! `spec.managementCluster.local`: Cluster API installed from the release files, and a
//! management cluster lo provisions (or creates) before the Capi driver runs.

use lok8s_tests::Project;
use lok8s_tests::docker::{Cleanup, docker, inspect};
use lok8s_tests::images::{node_image, registry_image};
use serde_json::json;

use super::releases::Releases;
use super::{DOMAIN, NAME, NS, env, setup};

const LOCAL_SPEC: &str = "kubernetes: {version: v1.31.10}\nmanagementCluster: {domain: mgmt.test, local: true}\n\
cluster: {namespace: capi-system}\nprovider:\n  name: hetzner\n  config: {sshKeyName: test-key}\n";

#[test]
fn cluster_api_is_installed_on_a_local_management_cluster_from_the_release_files() {
    let releases = Releases::start("--diagnostics-address=${CAPI_DIAGNOSTICS_ADDRESS:=:8443}");
    let s = setup(LOCAL_SPEC);
    let env = releases.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    s.p.lo_env(&["provision", DOMAIN], &env).success();
    assert_eq!(
        releases.hits(),
        [
            "cert-manager/cert-manager/releases/download/v1.18.2/cert-manager.yaml",
            "kubernetes-sigs/cluster-api/releases/download/v1.13.2/core-components.yaml",
            "kubernetes-sigs/cluster-api/releases/download/v1.13.2/bootstrap-components.yaml",
            "kubernetes-sigs/cluster-api/releases/download/v1.13.2/control-plane-components.yaml",
            "syself/cluster-api-provider-hetzner/releases/download/v1.1.7/infrastructure-components.yaml",
        ]
    );
    let core = s
        .mgmt
        .object(
            "apps",
            "deployments",
            "capi-system",
            "capi-controller-manager",
        )
        .expect("the core provider's Deployment");
    assert_eq!(
        core["spec"]["template"]["spec"]["containers"][0]["args"],
        json!(["--diagnostics-address=:8443"]),
        "clusterctl's defaults filled in"
    );
    let caph = s
        .mgmt
        .object(
            "apps",
            "deployments",
            "caph-system",
            "caph-controller-manager",
        )
        .unwrap();
    assert_eq!(
        caph["spec"]["template"]["spec"]["containers"][0]["args"],
        json!(["--leader-elect=true"])
    );
    // Every Deployment was waited for before the cluster's objects went in.
    let requests = s.mgmt.requests();
    let waited = requests
        .iter()
        .position(|r| {
            r.starts_with(
                "GET /apis/apps/v1/namespaces/caph-system/deployments/caph-controller-manager",
            )
        })
        .unwrap();
    let cluster = requests
        .iter()
        .position(|r| r.contains("/clusters/test-production?"))
        .unwrap();
    assert!(waited < cluster, "{requests:#?}");

    // Installed: a re-run fetches nothing.
    s.p.lo_env(&["provision", DOMAIN], &env).success();
    assert_eq!(releases.hits().len(), 5);
}

#[test]
fn a_release_file_needing_a_variable_lo_does_not_set_is_refused_before_it_is_applied() {
    let releases = Releases::start("--token=${PROVIDER_TOKEN}");
    let s = setup(LOCAL_SPEC);
    let env = releases.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    s.p.lo_env(&["provision", DOMAIN], &env)
        .code(1)
        .stderr_has("needs the variables PROVIDER_TOKEN and lo sets none of them");
    assert!(
        s.mgmt
            .object(
                "apps",
                "deployments",
                "capi-system",
                "capi-controller-manager"
            )
            .is_none()
    );
    assert!(
        s.mgmt
            .object("cluster.x-k8s.io", "clusters", NS, NAME)
            .is_none()
    );
}

/// The public images a Lo spec without image fields names, tagged from the local stand-ins for
/// the length of a test (nothing can be pulled here) and untagged after it.
struct DefaultImages(Vec<&'static str>);

impl DefaultImages {
    fn tag() -> DefaultImages {
        let standin = std::path::Path::new(env!("CARGO_BIN_EXE_lok8s-node-standin"));
        let pairs = [
            (node_image(standin), "kindest/node:v1.36.1"),
            (registry_image(), "registry:2.8.3"),
        ];
        let mut tagged = DefaultImages(Vec::new());
        for (local, public) in pairs {
            let ours = inspect("image", local).expect("the stand-in image")["Id"].clone();
            if let Some(found) = inspect("image", public) {
                assert_eq!(
                    found["Id"], ours,
                    "{public} is on this machine and is not the test's stand-in, which this test would hide: remove it first"
                );
            }
            let (code, out) = docker(&["tag", local, public]);
            assert_eq!(code, 0, "{out}");
            tagged.0.push(public);
        }
        tagged
    }
}

impl Drop for DefaultImages {
    fn drop(&mut self) {
        for public in &self.0 {
            docker(&["rmi", public]);
        }
    }
}

fn kubectl_json(kubeconfig: &std::path::Path, args: &[&str]) -> serde_json::Value {
    let out = std::process::Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .args(["-o", "json"])
        .output()
        .expect("kubectl");
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `local: true` with a management domain that has neither spec nor kubeconfig: lo writes a
/// Lo spec for it, provisions it (real node containers from the stand-in image), and the Capi
/// driver installs Cluster API there and applies the cluster. The stand-in node's API server
/// runs no Cluster API controllers, so the Cluster never becomes `Provisioned`: the provision
/// ends in the wait's timeout, which is the driver's to report. A re-run leaves the management
/// cluster alone; destroying the Capi cluster destroys it with its spec.
#[test]
fn a_missing_local_management_cluster_is_created_first_and_destroyed_with_its_last_user() {
    const MGMT: &str = "local-mgmt.test";
    let _images = DefaultImages::tag();
    let releases = Releases::start("--v=2");
    let p = Project::new();
    let cleanup = Cleanup::new(p.root());
    p.cluster(DOMAIN, "Capi", NAME, &LOCAL_SPEC.replace("mgmt.test", MGMT));
    let caroot = tempfile::tempdir().unwrap();
    let caroot = caroot.path().display().to_string();
    let mut env = releases.env();
    env.extend([
        ("LO_PRIVILEGED_MODE", "capabilities".to_string()),
        ("CAROOT", caroot),
        ("CAPI_WAIT_TIMEOUT", "2".to_string()),
    ]);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();

    let first = p.lo_env(&["provision", DOMAIN], &env);
    first
        .code(1)
        .stderr_has("lo wrote clusters/local-mgmt.test/cluster.lok8s.yaml")
        .stderr_has("timed out after 2s waiting for Cluster test-production");
    let spec = p.read("clusters/local-mgmt.test/cluster.lok8s.yaml");
    assert!(
        spec.starts_with("# lok8s: written by lo for prod.test"),
        "{spec}"
    );
    let node = "local-mgmt-test-control-plane";
    let created = inspect("container", node).expect("the management cluster's node");
    assert_eq!(created["State"]["Running"], true);
    let kubeconfig = p.path(".kubeconfig/local-mgmt-test.yaml");
    assert!(
        kubeconfig.is_file(),
        "the management kubeconfig is published"
    );
    let core = kubectl_json(
        &kubeconfig,
        &[
            "-n",
            "capi-system",
            "get",
            "deployment",
            "capi-controller-manager",
        ],
    );
    assert_eq!(
        core["spec"]["template"]["spec"]["containers"][0]["args"],
        json!(["--v=2"])
    );
    let cluster = kubectl_json(
        &kubeconfig,
        &["-n", NS, "get", "clusters.cluster.x-k8s.io", NAME],
    );
    assert_eq!(
        cluster["spec"]["controlPlaneRef"]["kind"],
        "KubeadmControlPlane"
    );
    assert_eq!(
        p.read(".lok8s/local-clusters/local-mgmt.test"),
        "prod.test\n"
    );

    // Again: the management cluster has its kubeconfig now and is left alone.
    let again = p.lo_env(&["provision", DOMAIN], &env);
    again.code(1);
    assert!(
        !again.stderr.contains("provisioning it first"),
        "{}",
        again.stderr
    );
    assert_eq!(inspect("container", node).unwrap()["Id"], created["Id"]);

    // Destroyed by itself while prod.test needs it: refused, with the order that works.
    p.lo_env(&["destroy", MGMT], &env).code(1).stderr_has(
        "local-mgmt.test is the local cluster lo created for prod.test, which needs it: destroy prod.test first",
    );
    assert_eq!(inspect("container", node).unwrap()["Id"], created["Id"]);

    p.lo_env(&["destroy", DOMAIN], &env)
        .success()
        .stderr_has("destroying local-mgmt.test, the local cluster lo created for prod.test");
    assert!(
        cleanup.labelled("container").is_empty(),
        "{:?}",
        cleanup.labelled("container")
    );
    // Its network stays, as every Lo cluster's does on destroy (the Cleanup removes it).
    assert_eq!(cleanup.labelled("network").len(), 1);
    assert!(!p.path("clusters/local-mgmt.test").exists());
    assert!(!kubeconfig.exists());
    assert!(!p.path(".lok8s/local-clusters/local-mgmt.test").exists());
}

/// Two clusters each naming the other as its management cluster, neither provisioned: refused
/// with the cycle, before either driver sends anything.
#[test]
fn clusters_that_need_each_other_are_refused_with_the_cycle() {
    let p = Project::new();
    let spec = |mgmt: &str| super::SPEC.replace("mgmt.test", mgmt);
    p.cluster("a.test", "Capi", "a", &spec("b.test"));
    p.cluster("b.test", "Capi", "b", &spec("a.test"));
    let before = p.files();
    p.lo_env(&["provision", "a.test"], &env())
        .code(1)
        .stderr_has("clusters that need each other: a.test -> b.test -> a.test");
    assert_eq!(p.files(), before, "nothing written");
}
