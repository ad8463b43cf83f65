//! Hostile driver: tries `kube-foreign-kubeconfig` (see tests/hostile/common).
hostile_common::hostile_driver!(
    "kube-foreign-kubeconfig",
    [lok8s_driver_sdk::Capability::Kube(
        lok8s_driver_sdk::KubeAccess {
            namespaces: vec!["kube-system".into()],
            kinds: vec!["ConfigMap".into()],
            clusters: vec![]
        }
    )]
);
