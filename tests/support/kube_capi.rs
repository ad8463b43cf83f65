//! Stands in for the Cluster API controllers (core, kubeadm control plane, the Hetzner
//! provider) inside the Kubernetes API double, from their documented behaviour: the CRDs of
//! the kinds a workload cluster is made of are installed (as `clusterctl init` leaves them);
//! a new `cluster.x-k8s.io` Cluster gets the core finalizer and phase `Provisioning`, then,
//! after a set number of further requests, phase `Provisioned` and the `<name>-kubeconfig`
//! Secret (key `value`, type `cluster.x-k8s.io/secret`) that the control plane controller
//! writes; a deleted Cluster stays (Terminating, phase `Deleting`) for a set number of requests
//! while the machines are torn down, then goes with its Secret. The controllers act between
//! requests, as the real ones act between a client's polls.

use std::collections::HashMap;

use serde_json::json;

use crate::kube_core::{ObjectKey, Store, key};
use crate::kube_kinds::Kind;

/// The kinds a Capi cluster is made of: (group, version, plural, kind).
pub const KINDS: [(&str, &str, &str, &str); 6] = [
    ("cluster.x-k8s.io", "v1beta2", "clusters", "Cluster"),
    (
        "cluster.x-k8s.io",
        "v1beta2",
        "machinedeployments",
        "MachineDeployment",
    ),
    (
        "controlplane.cluster.x-k8s.io",
        "v1beta2",
        "kubeadmcontrolplanes",
        "KubeadmControlPlane",
    ),
    (
        "bootstrap.cluster.x-k8s.io",
        "v1beta2",
        "kubeadmconfigtemplates",
        "KubeadmConfigTemplate",
    ),
    (
        "infrastructure.cluster.x-k8s.io",
        "v1beta1",
        "hetznerclusters",
        "HetznerCluster",
    ),
    (
        "infrastructure.cluster.x-k8s.io",
        "v1beta1",
        "hcloudmachinetemplates",
        "HCloudMachineTemplate",
    ),
];

const FINALIZER: &str = "cluster.cluster.x-k8s.io";

/// How the stand-in controllers behave.
#[derive(Debug, Clone)]
pub struct CapiControllers {
    /// Requests after a Cluster appears before it is `Provisioned`; None: never.
    pub provisioned_after: Option<usize>,
    /// Requests after a Cluster's deletion before it is gone; None: never.
    pub deleted_after: Option<usize>,
    /// What the `<name>-kubeconfig` Secret holds.
    pub workload_kubeconfig: String,
    /// Per Cluster: the request count when it was first seen, and when its deletion was.
    seen: HashMap<ObjectKey, (usize, Option<usize>)>,
}

impl CapiControllers {
    pub fn new(workload_kubeconfig: &str) -> CapiControllers {
        CapiControllers {
            provisioned_after: Some(0),
            deleted_after: Some(0),
            workload_kubeconfig: workload_kubeconfig.to_string(),
            seen: HashMap::new(),
        }
    }
}

impl Store {
    /// Installs the Cluster API kinds and runs `controllers` from now on.
    pub fn stand_in_for_capi(&mut self, controllers: CapiControllers) {
        for (group, version, plural, kind) in KINDS {
            let crd_name = format!("{plural}.{group}");
            let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                "metadata": {"name": crd_name},
                "spec": {"group": group, "scope": "Namespaced",
                    "names": {"plural": plural, "kind": kind},
                    "versions": [{"name": version, "served": true, "storage": true}]},
                "status": {"conditions": [{"type": "Established", "status": "True"}]}});
            self.seed(
                "apiextensions.k8s.io",
                "customresourcedefinitions",
                "",
                crd,
                "clusterctl",
            );
            let kind = Kind {
                group: group.into(),
                version: version.into(),
                plural: plural.into(),
                kind: kind.into(),
                namespaced: true,
            };
            let crd_key = key(
                "apiextensions.k8s.io",
                "customresourcedefinitions",
                "",
                &crd_name,
            );
            self.custom.push((kind, 0, crd_key));
        }
        self.capi = Some(controllers);
    }

    /// One round of the stand-in controllers (called before each request is served).
    pub(crate) fn run_capi_controllers(&mut self) {
        let Some(mut controllers) = self.capi.take() else {
            return;
        };
        let now = self.request_count();
        let clusters: Vec<ObjectKey> = self
            .objects
            .keys()
            .filter(|(g, p, _, _)| g == "cluster.x-k8s.io" && p == "clusters")
            .cloned()
            .collect();
        controllers.seen.retain(|k, _| clusters.contains(k));
        for cluster_key in clusters {
            let object = self.objects[&cluster_key].clone();
            let terminating = object["metadata"]["deletionTimestamp"].is_string();
            let entry = controllers
                .seen
                .entry(cluster_key.clone())
                .or_insert((now, None));
            if terminating && entry.1.is_none() {
                entry.1 = Some(now);
            }
            let (first, deleted) = *entry;
            let (_, _, namespace, name) = cluster_key.clone();
            let secret_key = key("", "secrets", &namespace, &format!("{name}-kubeconfig"));
            let mut updated = object.clone();
            match deleted {
                Some(at) => {
                    if controllers.deleted_after.is_some_and(|n| now >= at + n) {
                        self.objects.remove(&cluster_key);
                        self.owners.remove(&cluster_key);
                        self.objects.remove(&secret_key);
                        self.version += 1;
                        continue;
                    }
                    updated["status"]["phase"] = json!("Deleting");
                }
                None => {
                    let finalizers = updated["metadata"]["finalizers"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default();
                    if !finalizers.contains(&json!(FINALIZER)) {
                        updated["metadata"]["finalizers"] = json!([FINALIZER]);
                    }
                    let provisioned = controllers
                        .provisioned_after
                        .is_some_and(|n| now >= first + n);
                    updated["status"]["phase"] = json!(if provisioned {
                        "Provisioned"
                    } else {
                        "Provisioning"
                    });
                    if provisioned && !self.objects.contains_key(&secret_key) {
                        use base64::Engine as _;
                        let value = base64::engine::general_purpose::STANDARD
                            .encode(&controllers.workload_kubeconfig);
                        let secret = json!({"apiVersion": "v1", "kind": "Secret",
                            "metadata": {"name": format!("{name}-kubeconfig"), "namespace": namespace,
                                "labels": {"cluster.x-k8s.io/cluster-name": name}},
                            "type": "cluster.x-k8s.io/secret", "data": {"value": value}});
                        self.seed(
                            "",
                            "secrets",
                            &namespace,
                            secret,
                            "capi-kubeadm-control-plane",
                        );
                    }
                }
            }
            if updated != object {
                self.version += 1;
                updated["metadata"]["resourceVersion"] = json!(self.version.to_string());
                self.objects.insert(cluster_key, updated);
            }
        }
        self.capi = Some(controllers);
    }
}
