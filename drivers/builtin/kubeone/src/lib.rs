//! The KubeOne driver: production clusters on machines reached over SSH, the way KubeOne does it.
//! This build reaches the machines' provider (Hetzner Cloud, through the http import):
//! `status` reports the servers labelled for the cluster and `destroy` deletes every resource
//! labelled for it (so clusters made by the original tool can be inspected and torn down);
//! installing Kubernetes over ssh is not in this build yet.

mod provider;

use lok8s_driver_sdk::{
    CONTRACT_VERSION, Capability, CapabilityRequest, Context, Driver, DriverError, DriverInfo,
    Health, KubeAccess, Outcome, Result, StatusReport, info, warn,
};
use lok8s_provider_hetzner::cluster::{self, Servers};

struct KubeOne;

const PENDING: &str = "installing a KubeOne cluster over ssh is not in this build of lo yet \
(status and destroy of the provider's resources are); nothing was created";

impl Driver for KubeOne {
    fn describe() -> DriverInfo {
        let strings = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<Vec<_>>();
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
                        namespaces: strings(&["*"]),
                        kinds: strings(&["*"]),
                        clusters: vec![],
                    }),
                    reason: "the new cluster and its addons".into(),
                },
                CapabilityRequest {
                    capability: Capability::Ssh(lok8s_driver_sdk::SshAccess {
                        hosts: strings(&[
                            "hcloud-servers:https://api.hetzner.cloud",
                            "hcloud-servers:env:HCLOUD_ENDPOINT",
                        ]),
                        keys: strings(&[".secrets/ssh"]),
                    }),
                    reason: "kubeadm on the servers the Hetzner Cloud API reports".into(),
                },
                CapabilityRequest {
                    capability: Capability::Http(strings(&[
                        "https://api.hetzner.cloud",
                        "env:HCLOUD_ENDPOINT",
                    ])),
                    reason: "the Hetzner Cloud API (or the endpoint HCLOUD_ENDPOINT names)".into(),
                },
                CapabilityRequest {
                    capability: Capability::Env(strings(&[
                        "HCLOUD_TOKEN",
                        "HCLOUD_ENDPOINT",
                        "HCLOUD_POLL_INTERVAL",
                        "HROBOT_USER",
                        "HROBOT_PASSWORD",
                        "KUBEONE_EXTRA_SANS",
                    ])),
                    reason: "the Hetzner credentials; extra API server names".into(),
                },
            ],
        }
    }

    fn provision(_ctx: Context) -> Result<Outcome> {
        Err(DriverError::Unavailable(PENDING.into()))
    }

    /// The provider's resources labelled for the cluster, deleted (spec 7.3 destroy; the
    /// original skipped this unless run with --remote, leaving machines billed).
    fn destroy(ctx: Context) -> Result<()> {
        let name = provider::cluster_name(&ctx)?;
        let token = provider::token()?;
        let transport = provider::Http;
        let cloud = provider::cloud(&token, &transport)?;
        let done = lok8s_driver_sdk::phase("provider resources deleted", None, || {
            cluster::destroy(&cloud, &name, |kind, shown| info!("deleted {kind} {shown}"))
                .map_err(provider::error)
        })?;
        if !done.failed.is_empty() {
            return Err(DriverError::Failed(format!(
                "{} of cluster {name}'s resources could not be deleted (run lo destroy again): {}",
                done.failed.len(),
                done.failed.join("; ")
            )));
        }
        if done.deleted.is_empty() {
            warn!("nothing in the Hetzner project is labelled lok8s.dev/cluster={name}");
        }
        let _ = std::fs::remove_file(&ctx.kubeconfig);
        Ok(())
    }

    fn status(ctx: Context) -> Result<StatusReport> {
        let name = provider::cluster_name(&ctx)?;
        let report = |phase: &str, health, message: String| StatusReport {
            phase: phase.into(),
            health,
            message,
        };
        let token = match provider::token() {
            Ok(token) => token,
            Err(e) => {
                return Ok(report(
                    "Unknown",
                    Health::Unknown,
                    lok8s_driver_sdk::message(&e),
                ));
            }
        };
        let transport = provider::Http;
        let cloud = provider::cloud(&token, &transport)?;
        Ok(
            match cluster::servers(&cloud, &name).map_err(provider::error)? {
                Servers::NotFound => report(
                    "NotFound",
                    Health::NotFound,
                    format!("no server is labelled lok8s.dev/cluster={name}"),
                ),
                Servers::Running(n) => report(
                    "Running",
                    Health::Running,
                    format!(
                        "{n} servers running (the Kubernetes health of a KubeOne cluster is not read by this build)"
                    ),
                ),
                Servers::Partial { running, total } => report(
                    &format!("Partial ({running}/{total} running)"),
                    Health::Degraded,
                    format!(
                        "{running} of {total} servers labelled lok8s.dev/cluster={name} are running"
                    ),
                ),
            },
        )
    }

    fn kubeconfig(_ctx: Context) -> Result<String> {
        Err(DriverError::Unavailable(PENDING.into()))
    }
}

lok8s_driver_sdk::export_driver!(KubeOne);
