//! The Lo driver: local Kubernetes clusters in Docker with registries, TLS and cluster DNS.
//! This build carries its contract and grant; the provisioning steps need the docker import.

use lok8s_driver_sdk::{
    CONTRACT_VERSION, Capability, CapabilityRequest, Context, DockerAccess, Driver, DriverError,
    DriverInfo, KubeAccess, Outcome, Result, StatusReport,
};

struct Lo;

const PENDING: &str = "the Lo driver's provisioning steps are not in this build of lo yet: they \
need the docker host capability (tracked as issue 5); nothing was created";

impl Driver for Lo {
    fn describe() -> DriverInfo {
        DriverInfo {
            name: "lo".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            contract: CONTRACT_VERSION.into(),
            kinds: vec!["Lo".into()],
            summary: "Local Kubernetes clusters in Docker with registries, TLS and cluster DNS"
                .into(),
            capabilities: vec![
                CapabilityRequest {
                    capability: Capability::Docker(DockerAccess {
                        privileged: true,
                        shared_networks: vec!["lok8s-registries".into()],
                        host_paths: vec![],
                    }),
                    reason: "node and registry containers; nodes run privileged like kind's".into(),
                },
                CapabilityRequest {
                    capability: Capability::Kube(KubeAccess {
                        namespaces: vec!["kube-system".into(), "kube-public".into()],
                        kinds: vec!["ConfigMap".into()],
                        clusters: vec![],
                    }),
                    reason: "registry hosting and CoreDNS ConfigMaps in its own cluster".into(),
                },
                CapabilityRequest {
                    capability: Capability::Tls(vec!["*".into()]),
                    reason: "registry and application certificates from the local CA".into(),
                },
            ],
        }
    }

    fn provision(_ctx: Context) -> Result<Outcome> {
        Err(DriverError::Unavailable(PENDING.into()))
    }

    fn destroy(_ctx: Context) -> Result<()> {
        Err(DriverError::Unavailable(PENDING.into()))
    }

    fn status(_ctx: Context) -> Result<StatusReport> {
        Err(DriverError::Unavailable(PENDING.into()))
    }

    fn kubeconfig(_ctx: Context) -> Result<String> {
        Err(DriverError::Unavailable(PENDING.into()))
    }
}

lok8s_driver_sdk::export_driver!(Lo);
