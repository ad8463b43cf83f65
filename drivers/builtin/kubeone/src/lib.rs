//! The KubeOne driver: production clusters on machines reached over SSH, the way KubeOne does it.
//! This build carries its contract and grant; the provisioning steps need host capabilities
//! that are not in this build yet.

use lok8s_driver_sdk::{
    CONTRACT_VERSION, Capability, CapabilityRequest, Context, Driver, DriverError, DriverInfo,
    KubeAccess, Outcome, Result, StatusReport,
};

struct KubeOne;

const PENDING: &str = "the KubeOne driver's provisioning steps are not in this build of lo yet; \
nothing was created";

impl Driver for KubeOne {
    fn describe() -> DriverInfo {
        DriverInfo {
            name: "kubeone".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            contract: CONTRACT_VERSION.into(),
            kinds: vec!["KubeOne".into()],
            summary: "production clusters on machines reached over SSH, the way KubeOne does it"
                .into(),
            capabilities: vec![
                CapabilityRequest {
                    capability: Capability::Kube(KubeAccess {
                        namespaces: vec!["*".into()],
                        kinds: vec!["*".into()],
                        clusters: vec![],
                    }),
                    reason: "the new cluster and its addons".into(),
                },
                CapabilityRequest {
                    capability: Capability::Ssh(lok8s_driver_sdk::SshAccess {
                        hosts: vec!["*".into()],
                        keys: vec![".secrets/ssh".into()],
                    }),
                    reason: "kubeadm on the machines of the spec".into(),
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

lok8s_driver_sdk::export_driver!(KubeOne);
