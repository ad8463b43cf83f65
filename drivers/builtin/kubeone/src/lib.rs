//! The KubeOne driver: production clusters on machines reached over SSH, the way KubeOne does it,
//! without running a CLI. The provider (Hetzner Cloud, through the http import) makes the
//! machines; Kubernetes goes on them over the ssh import (`lok8s-kubeone-plan`'s task list on
//! `lok8s-kubeadm`), reaching only the servers the Cloud API reported. `status` reads each
//! control plane's API server and etcd health; `destroy` resets every host, then deletes what
//! carries the cluster's label.

mod hosts;
mod provider;
mod provision;
mod rescue;
mod shell;

use lok8s_driver_sdk::{
    CONTRACT_VERSION, Capability, CapabilityRequest, Context, Driver, DriverError, DriverInfo,
    Health, KubeAccess, Outcome, Result, StatusReport, info, warn,
};
use lok8s_provider_hetzner::cloud_api::Cloud;
use lok8s_provider_hetzner::cluster::{self, Servers};
use lok8s_provider_hetzner::descriptor::Descriptor;

struct KubeOne;

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
                            "hrobot-servers:https://robot-ws.your-server.de",
                            "hrobot-servers:env:HROBOT_ENDPOINT",
                        ]),
                        keys: strings(&[".secrets/ssh"]),
                    }),
                    reason: "kubeadm on the servers the Hetzner Cloud and Robot APIs report".into(),
                },
                CapabilityRequest {
                    capability: Capability::Http(strings(&[
                        "https://api.hetzner.cloud",
                        "env:HCLOUD_ENDPOINT",
                        "https://robot-ws.your-server.de",
                        "env:HROBOT_ENDPOINT",
                    ])),
                    reason: "the Hetzner Cloud API and Robot webservice (or the endpoints HCLOUD_ENDPOINT and HROBOT_ENDPOINT name)".into(),
                },
                CapabilityRequest {
                    capability: Capability::Env(strings(&[
                        "HCLOUD_TOKEN",
                        "HCLOUD_ENDPOINT",
                        "HCLOUD_POLL_INTERVAL",
                        "HROBOT_USER",
                        "HROBOT_PASSWORD",
                        "HROBOT_ENDPOINT",
                        "KUBEONE_EXTRA_SANS",
                    ])),
                    reason: "the Hetzner credentials; extra API server names".into(),
                },
            ],
        }
    }

    fn provision(ctx: Context) -> Result<Outcome> {
        provision::run(&ctx)
    }

    /// The provider's resources labelled for the cluster, deleted (spec 7.3 destroy; the
    /// original skipped this unless run with --remote, leaving machines billed).
    fn destroy(ctx: Context) -> Result<()> {
        let (descriptor, name) = provider::config(&ctx)?;
        let token = provider::token()?;
        let transport = provider::Http;
        let cloud = provider::cloud(&token, &transport)?;
        match hosts::inventory(&cloud, &descriptor, &name) {
            Ok(inventory) => lok8s_driver_sdk::phase("kubeadm reset on every host", None, || {
                hosts::reset_all(&inventory);
                Ok(())
            })?,
            Err(e) => warn!(
                "the hosts were not reset: {}",
                lok8s_driver_sdk::message(&e)
            ),
        }
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
        let (descriptor, name) = provider::config(&ctx)?;
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
                Servers::Running(n) => kubernetes_health(&ctx, n, &cloud, &descriptor, &name)?,
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

    fn kubeconfig(ctx: Context) -> Result<String> {
        lok8s_driver_sdk::written_kubeconfig(ctx)
    }

    /// Spec 2.5's values for bootstrap addons, from the spec and the provider config alone (the
    /// original also read the provider's live state here; nothing here needs it).
    fn export(ctx: Context) -> Result<Vec<(String, String)>> {
        let settings = provision::settings(&ctx)?;
        let (descriptor, _) = provider::config(&ctx)?;
        let access = lok8s_provider_hetzner::inventory::access(&descriptor)
            .map_err(|e| lok8s_driver_sdk::spec::invalid("spec.provider.config", e))?;
        Ok(lok8s_kubeone_plan::export(
            &settings,
            &access.user,
            access.port,
        ))
    }
}

/// With every server running: Healthy when each control plane's API server and etcd are,
/// Degraded naming the ones that are not; Provisioned when Kubernetes was never installed.
fn kubernetes_health(
    ctx: &Context,
    servers: usize,
    cloud: &Cloud<provider::Http>,
    descriptor: &Descriptor,
    name: &str,
) -> Result<StatusReport> {
    if !std::path::Path::new(&ctx.kubeconfig).is_file() {
        return Ok(lok8s_driver_sdk::status(
            "Provisioned",
            Health::Provisioning,
            format!("{servers} servers running; Kubernetes is not installed (run lo provision)"),
        ));
    }
    let inventory = hosts::inventory(cloud, descriptor, name)?;
    let planes = hosts::control_planes(&inventory);
    let sick: Vec<String> = planes
        .iter()
        .filter_map(|p| Some(format!("{}: {}", p.name, p.problem.as_ref()?)))
        .collect();
    Ok(if sick.is_empty() {
        lok8s_driver_sdk::status(
            "Healthy",
            Health::Running,
            format!(
                "{servers} servers running; API server and etcd healthy on {} control planes",
                planes.len()
            ),
        )
    } else {
        lok8s_driver_sdk::status("Degraded", Health::Degraded, sick.join("; "))
    })
}

lok8s_driver_sdk::export_driver!(KubeOne);
