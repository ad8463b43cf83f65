//! The Capi driver: production clusters through Cluster API on a management cluster.
//! This build carries its contract and grant; the provisioning steps need host capabilities
//! that are not in this build yet.

use lok8s_driver_sdk::{
    CONTRACT_VERSION, Capability, CapabilityRequest, Context, Driver, DriverError, DriverInfo,
    KubeAccess, Outcome, Result, StatusReport,
};

struct Capi;

const PENDING: &str = "the Capi driver's provisioning steps are not in this build of lo yet; \
nothing was created";

impl Driver for Capi {
    fn describe() -> DriverInfo {
        DriverInfo {
            name: "capi".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            contract: CONTRACT_VERSION.into(),
            kinds: vec!["Capi".into()],
            summary: "production clusters through Cluster API on a management cluster".into(),
            capabilities: vec![
                CapabilityRequest {
                    capability: Capability::Kube(KubeAccess {
                        namespaces: vec!["*".into()],
                        kinds: vec!["*".into()],
                        clusters: vec!["*".into()],
                    }),
                    reason: "Cluster API objects on the management cluster named by the spec"
                        .into(),
                },
                CapabilityRequest {
                    capability: Capability::Env(vec![
                        "HCLOUD_TOKEN".into(),
                        "HROBOT_USER".into(),
                        "HROBOT_PASSWORD".into(),
                    ]),
                    reason: "the infrastructure credentials stored in the credential Secret".into(),
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

lok8s_driver_sdk::export_driver!(Capi);
