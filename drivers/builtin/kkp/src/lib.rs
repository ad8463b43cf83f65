//! The Kkp driver: hosted control planes through the Kubermatic Kubernetes Platform API.
//! This build carries its contract and grant; the provisioning steps need host capabilities
//! that are not in this build yet.

use lok8s_driver_sdk::{
    CONTRACT_VERSION, Capability, CapabilityRequest, Context, Driver, DriverError, DriverInfo,
    Outcome, Result, StatusReport,
};

struct Kkp;

const PENDING: &str = "the Kkp driver's provisioning steps are not in this build of lo yet; \
nothing was created";

impl Driver for Kkp {
    fn describe() -> DriverInfo {
        DriverInfo {
            name: "kkp".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            contract: CONTRACT_VERSION.into(),
            kinds: vec!["Kkp".into()],
            summary: "hosted control planes through the Kubermatic Kubernetes Platform API".into(),
            capabilities: vec![
                CapabilityRequest {
                    capability: Capability::Http(vec!["https://*:443".into()]),
                    reason: "the KKP API named by spec.kkp.apiUrl".into(),
                },
                CapabilityRequest {
                    capability: Capability::Env(vec!["KKP_TOKEN".into()]),
                    reason: "the KKP API token".into(),
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

lok8s_driver_sdk::export_driver!(Kkp);
