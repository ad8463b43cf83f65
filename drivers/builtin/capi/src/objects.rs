//! The Cluster API objects of a cluster, in the order they are applied: Cluster,
//! HetznerCluster, KubeadmControlPlane and its HCloudMachineTemplate, then per worker pool a
//! MachineDeployment, KubeadmConfigTemplate and HCloudMachineTemplate. Plus the namespace and
//! the credential Secret CAPH reads. Built as JSON, never by substituting text.

use serde_json::{Value, json};

use crate::config::{Capi, Pool};
use crate::node_setup;

const CORE: &str = "cluster.x-k8s.io";
const CONTROL_PLANE: &str = "controlplane.cluster.x-k8s.io";
const BOOTSTRAP: &str = "bootstrap.cluster.x-k8s.io";
const INFRA: &str = "infrastructure.cluster.x-k8s.io";

fn metadata(c: &Capi, name: &str, extra_labels: &[(&str, &str)]) -> Value {
    let mut labels = json!({"lok8s.dev/managed": "true", "lok8s.dev/domain": c.domain});
    for (k, v) in extra_labels {
        labels[*k] = json!(v);
    }
    json!({"name": name, "namespace": c.namespace, "labels": labels})
}

fn reference(group: &str, kind: &str, name: &str) -> Value {
    json!({"apiGroup": group, "kind": kind, "name": name})
}

fn args(pairs: &[(&str, &str)]) -> Value {
    pairs
        .iter()
        .map(|(name, value)| json!({"name": name, "value": value}))
        .collect()
}

fn control_plane_name(c: &Capi) -> String {
    format!("{}-control-plane", c.name)
}

fn machine_template(c: &Capi, name: &str, server_type: &str, group: &str) -> Value {
    let mut spec = json!({"type": server_type, "imageName": c.image});
    if c.placement_groups {
        spec["placementGroupName"] = json!(group);
    }
    json!({
        "apiVersion": format!("{INFRA}/v1beta1"), "kind": "HCloudMachineTemplate",
        "metadata": metadata(c, name, &[]),
        "spec": {"template": {"spec": spec}},
    })
}

fn cluster(c: &Capi) -> Value {
    json!({
        "apiVersion": format!("{CORE}/v1beta2"), "kind": "Cluster",
        "metadata": metadata(c, &c.name, &[]),
        "spec": {
            "clusterNetwork": {
                "pods": {"cidrBlocks": ["10.244.0.0/16"]},
                "services": {"cidrBlocks": ["10.96.0.0/12"]},
            },
            "controlPlaneRef": reference(CONTROL_PLANE, "KubeadmControlPlane", &control_plane_name(c)),
            "infrastructureRef": reference(INFRA, "HetznerCluster", &c.name),
        },
    })
}

fn hetzner_cluster(c: &Capi) -> Value {
    let mut spec = json!({
        "hcloudNetwork": {"enabled": c.network},
        "controlPlaneRegions": [c.region],
        "controlPlaneEndpoint": {"host": "", "port": 443},
        "controlPlaneLoadBalancer": {"region": c.region},
        "sshKeys": {"hcloud": [{"name": c.ssh_key}]},
        "hetznerSecretRef": {
            "name": c.secret_name,
            "key": {"hcloudToken": "hcloud-token", "hetznerRobotUser": "robot-user",
                "hetznerRobotPassword": "robot-password"},
        },
    });
    if c.placement_groups {
        spec["hcloudPlacementGroups"] = json!([
            {"name": "control-plane", "type": "spread"},
            {"name": "workers", "type": "spread"},
        ]);
    }
    json!({
        "apiVersion": format!("{INFRA}/v1beta1"), "kind": "HetznerCluster",
        "metadata": metadata(c, &c.name, &[]),
        "spec": spec,
    })
}

fn control_plane(c: &Capi) -> Value {
    let kubelet = args(&[
        ("cloud-provider", "external"),
        ("max-pods", "120"),
        ("resolv-conf", "/etc/kubernetes/resolv.conf"),
    ]);
    json!({
        "apiVersion": format!("{CONTROL_PLANE}/v1beta2"), "kind": "KubeadmControlPlane",
        "metadata": metadata(c, &control_plane_name(c), &[]),
        "spec": {
            "replicas": c.cp_replicas,
            "version": c.version,
            "machineTemplate": {"spec": {
                "infrastructureRef": reference(INFRA, "HCloudMachineTemplate", &control_plane_name(c)),
            }},
            "kubeadmConfigSpec": {
                "clusterConfiguration": {
                    "apiServer": {"extraArgs": args(&[(
                        "kubelet-preferred-address-types",
                        "ExternalIP,Hostname,InternalDNS,ExternalDNS",
                    )])},
                    "controllerManager": {"extraArgs": args(&[("cloud-provider", "external")])},
                    "etcd": {"local": {"dataDir": "/var/lib/etcd"}},
                },
                "initConfiguration": {"nodeRegistration": {"kubeletExtraArgs": kubelet}},
                "joinConfiguration": {"nodeRegistration": {"kubeletExtraArgs": kubelet}},
                "files": node_setup::files(false),
                "preKubeadmCommands": node_setup::commands(&c.version_trimmed, &c.version_minor, false),
            },
        },
    })
}

fn machine_deployment(c: &Capi, pool: &Pool) -> Value {
    let name = format!("{}-{}", c.name, pool.name);
    json!({
        "apiVersion": format!("{CORE}/v1beta2"), "kind": "MachineDeployment",
        "metadata": metadata(c, &name, &[("nodepool", &name)]),
        "spec": {
            "clusterName": c.name,
            "replicas": pool.replicas,
            "selector": {"matchLabels": null},
            "template": {
                "metadata": {"labels": {"nodepool": name}},
                "spec": {
                    "clusterName": c.name,
                    "failureDomain": c.region,
                    "version": c.version,
                    "bootstrap": {"configRef": reference(BOOTSTRAP, "KubeadmConfigTemplate", &name)},
                    "infrastructureRef": reference(INFRA, "HCloudMachineTemplate", &name),
                },
            },
        },
    })
}

fn config_template(c: &Capi, pool: &Pool) -> Value {
    let name = format!("{}-{}", c.name, pool.name);
    json!({
        "apiVersion": format!("{BOOTSTRAP}/v1beta2"), "kind": "KubeadmConfigTemplate",
        "metadata": metadata(c, &name, &[]),
        "spec": {"template": {"spec": {
            "joinConfiguration": {"nodeRegistration": {"kubeletExtraArgs": args(&[
                ("cloud-provider", "external"),
                ("config", "/etc/kubernetes/kubelet/config.yaml"),
            ])}},
            "files": node_setup::files(true),
            "preKubeadmCommands": node_setup::commands(&c.version_trimmed, &c.version_minor, true),
        }}},
    })
}

/// Every Cluster API object of the cluster, in apply order.
pub fn cluster_objects(c: &Capi) -> Vec<Value> {
    let mut out = vec![
        cluster(c),
        hetzner_cluster(c),
        control_plane(c),
        machine_template(c, &control_plane_name(c), &c.cp_type, "control-plane"),
    ];
    for pool in &c.pools {
        let name = format!("{}-{}", c.name, pool.name);
        out.push(machine_deployment(c, pool));
        out.push(config_template(c, pool));
        out.push(machine_template(c, &name, &pool.server_type, "workers"));
    }
    out
}

/// The namespace the objects live in.
pub fn namespace(c: &Capi) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": c.namespace,
        "labels": {"lok8s.dev/managed": "true"}}})
}

/// The Secret CAPH reads its Hetzner credentials from (both Robot keys always present).
pub fn credentials(c: &Capi, hcloud_token: &str, robot_user: &str, robot_password: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": metadata(c, &c.secret_name, &[]),
        "type": "Opaque",
        "stringData": {"hcloud-token": hcloud_token, "robot-user": robot_user,
            "robot-password": robot_password},
    })
}

/// Documents for one apply call.
pub fn stream(objects: &[Value]) -> String {
    objects
        .iter()
        .map(Value::to_string)
        .collect::<Vec<_>>()
        .join("\n---\n")
}
