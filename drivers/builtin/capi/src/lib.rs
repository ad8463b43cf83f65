//! The Capi driver: a cluster that Cluster API (with the Hetzner provider, CAPH) builds on a
//! management cluster. Over the kube import only: the namespace, the credential Secret and the
//! generated objects are applied server-side to the management cluster named by the spec, the
//! Cluster is waited for until `Provisioned`, the workload kubeconfig comes from the
//! `<name>-kubeconfig` Secret, and the workload API server must answer before provision ends.

mod config;
mod node_setup;
mod objects;
mod providers;

use std::time::Instant;

use lok8s_driver_sdk::kubectl_apply::{self as kube, ApplyOptions, Cluster, ObjectRef, WaitFor};
use lok8s_driver_sdk::wait::{Backoff, poll};
use lok8s_driver_sdk::{
    CONTRACT_VERSION, Capability, CapabilityRequest, Context, Driver, DriverError, DriverInfo,
    Health, KubeAccess, Outcome, Result, StatusReport, env, failed, info, status,
};
use serde_json::Value;

use config::Capi;

const FIELD_MANAGER: &str = "lok8s-capi";
const KUBECONFIG_TRIES: u32 = 30;
const READY_TRIES: u32 = 60;

struct CapiDriver;

impl Driver for CapiDriver {
    fn describe() -> DriverInfo {
        let strings = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        DriverInfo {
            name: "capi".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            contract: CONTRACT_VERSION.into(),
            kinds: vec!["Capi".into()],
            summary: "production clusters through Cluster API on a management cluster".into(),
            capabilities: vec![
                CapabilityRequest {
                    capability: Capability::Kube(KubeAccess {
                        namespaces: strings(&["*"]),
                        kinds: strings(&["*"]),
                        clusters: strings(&["spec:managementCluster.domain"]),
                    }),
                    reason: "the management cluster the spec names: it installs Cluster API there (spec.managementCluster.local), then the cluster's objects".into(),
                },
                CapabilityRequest {
                    capability: Capability::Http(strings(&[
                        "https://github.com",
                        "https://objects.githubusercontent.com",
                        "https://release-assets.githubusercontent.com",
                        "env:CAPI_PROVIDER_MIRROR",
                    ])),
                    reason: "the Cluster API providers' release files (or the mirror CAPI_PROVIDER_MIRROR names)".into(),
                },
                CapabilityRequest {
                    capability: Capability::Env(strings(&[
                        "HCLOUD_TOKEN",
                        "HROBOT_USER",
                        "HROBOT_PASSWORD",
                        "CAPI_APPLY_RETRY_DELAY",
                        "CAPI_APPLY_ATTEMPTS",
                        "CAPI_WAIT_TIMEOUT",
                        "CAPI_WAIT_INTERVAL",
                        "CAPI_DELETE_TIMEOUT",
                        "CAPI_PROVIDER_MIRROR",
                    ])),
                    reason: "the Hetzner credentials CAPH reads from the credential Secret; wait tuning".into(),
                },
            ],
        }
    }

    fn spec_schema() -> Option<String> {
        Some(include_str!("../schema.json").into())
    }

    fn provision(ctx: Context) -> Result<Outcome> {
        let capi = Capi::load(&ctx.spec, &ctx.domain)?;
        let hcloud = env::var("HCLOUD_TOKEN").ok_or_else(|| {
            failed("required environment variable HCLOUD_TOKEN is not set (CAPH reads it from the credential Secret)")
        })?;
        let mgmt = Cluster::Domain(capi.management.clone());
        reach_management(&capi, &mgmt, "nothing was created")?;
        if capi.local_management {
            lok8s_driver_sdk::phase("Cluster API on the management cluster", None, || {
                providers::ensure(&mgmt)
            })?;
        }
        lok8s_driver_sdk::phase("credentials", None, || {
            let secret = objects::credentials(
                &capi,
                &hcloud,
                &env::var("HROBOT_USER").unwrap_or_default(),
                &env::var("HROBOT_PASSWORD").unwrap_or_default(),
            );
            let docs = objects::stream(&[objects::namespace(&capi), secret]);
            kube::apply(&mgmt, &docs, &options()).map(|_| ())
        })?;
        let cluster_objects = objects::cluster_objects(&capi);
        lok8s_driver_sdk::phase("Cluster API objects", None, || {
            apply_with_retry(&capi, &mgmt, &objects::stream(&cluster_objects))
        })?;
        lok8s_driver_sdk::phase("cluster provisioned", None, || {
            wait_provisioned(&capi, &mgmt)
        })?;
        lok8s_driver_sdk::phase("workload kubeconfig", None, || {
            let text = workload_kubeconfig(&capi, &mgmt)?;
            std::fs::write(&ctx.kubeconfig, text)
                .map_err(|e| failed(format!("writing {}: {e}", ctx.kubeconfig)))
        })?;
        lok8s_driver_sdk::phase("workload API server", None, || {
            wait_workload_api(&capi, &Cluster::Kubeconfig(ctx.kubeconfig.clone()))
        })?;
        info!(
            "cluster {} is provisioned; kubeconfig in {}",
            capi.name, ctx.kubeconfig
        );
        Ok(Outcome::Continue)
    }

    fn destroy(ctx: Context) -> Result<()> {
        let capi = Capi::load(&ctx.spec, &ctx.domain)?;
        let mgmt = Cluster::Domain(capi.management.clone());
        reach_management(&capi, &mgmt, "nothing was deleted")?;
        let cluster = cluster_ref(&capi);
        let existed = kube::delete(&mgmt, &cluster)?;
        if existed {
            info!(
                "deleting workload cluster {}: waiting for the provider's teardown (up to {}s)",
                capi.name,
                capi.tuning.delete_timeout.as_secs()
            );
            let timeout = capi.tuning.delete_timeout.as_secs().min(u32::MAX.into()) as u32;
            lok8s_driver_sdk::phase("Cluster deleted", None, || {
                match kube::wait(&mgmt, &cluster, &WaitFor::Deleted, timeout) {
                    Ok(_) => Ok(()),
                    Err(DriverError::Timeout(_)) => Err(DriverError::Timeout(format!(
                        "Cluster {} in namespace {} is still being torn down after {}s; the management cluster {} is kept so the provider can finish: \
                         check the machines (kubectl --kubeconfig <its kubeconfig> -n {} get cluster,machines) and the Hetzner servers, then run lo destroy again",
                        capi.name, capi.namespace, timeout, capi.management, capi.namespace
                    ))),
                    Err(e) => Err(e),
                }
            })?;
        } else {
            info!(
                "Cluster {} is not on the management cluster; nothing to delete there",
                capi.name
            );
        }
        let _ = std::fs::remove_file(&ctx.kubeconfig);
        Ok(())
    }

    fn status(ctx: Context) -> Result<StatusReport> {
        let capi = Capi::load(&ctx.spec, &ctx.domain)?;
        let mgmt = Cluster::Domain(capi.management.clone());
        match kube::get(&mgmt, &cluster_ref(&capi)) {
            Ok(None) => Ok(status(
                "NotFound",
                Health::NotFound,
                format!(
                    "no Cluster {} in namespace {} on {}",
                    capi.name, capi.namespace, capi.management
                ),
            )),
            Ok(Some(json)) => {
                let phase = phase_of(&json);
                let health = match phase.as_str() {
                    "Provisioned" => Health::Running,
                    "Pending" | "Provisioning" | "" => Health::Provisioning,
                    "Deleting" => Health::Degraded,
                    "Failed" => Health::Failed,
                    _ => Health::Unknown,
                };
                let shown = if phase.is_empty() {
                    "Pending".to_string()
                } else {
                    phase
                };
                Ok(status(
                    &shown,
                    health,
                    format!("Cluster {} on {}", capi.name, capi.management),
                ))
            }
            Err(e) => Ok(status(
                "Unknown",
                Health::Unknown,
                format!(
                    "cannot read the Cluster on {}: {}",
                    capi.management,
                    lok8s_driver_sdk::message(&e)
                ),
            )),
        }
    }

    fn kubeconfig(ctx: Context) -> Result<String> {
        lok8s_driver_sdk::written_kubeconfig(ctx)
    }

    fn export(ctx: Context) -> Result<Vec<(String, String)>> {
        let capi = Capi::load(&ctx.spec, &ctx.domain)?;
        // CAPH names the cluster's private network after the cluster. The original's name, and
        // the one an addon's `${LOK8S_SPEC_*}` placeholder (and `lo env`) can use.
        Ok(if capi.network {
            vec![
                ("HCLOUD_CCM_NETWORK".into(), capi.name.clone()),
                ("LOK8S_SPEC_HCLOUD_CCM_NETWORK".into(), capi.name),
            ]
        } else {
            Vec::new()
        })
    }
}

fn options() -> ApplyOptions {
    ApplyOptions {
        field_manager: FIELD_MANAGER.into(),
        force: false,
    }
}

fn cluster_ref(capi: &Capi) -> ObjectRef {
    ObjectRef {
        api_version: "cluster.x-k8s.io/v1beta2".into(),
        kind: "Cluster".into(),
        namespace: Some(capi.namespace.clone()),
        name: capi.name.clone(),
    }
}

fn phase_of(json: &str) -> String {
    serde_json::from_str::<Value>(json)
        .ok()
        .and_then(|v| v["status"]["phase"].as_str().map(str::to_string))
        .unwrap_or_default()
}

/// The management cluster must answer before anything is sent, with the fix when it cannot.
/// `unchanged` says what did not happen (nothing was created, nothing was deleted).
fn reach_management(capi: &Capi, mgmt: &Cluster, unchanged: &str) -> Result<()> {
    let probe = ObjectRef {
        api_version: "v1".into(),
        kind: "Namespace".into(),
        namespace: None,
        name: capi.namespace.clone(),
    };
    match kube::get(mgmt, &probe) {
        Ok(_) => Ok(()),
        Err(DriverError::NotFound(m)) => {
            let local = if capi.local_management {
                ""
            } else {
                ", or set spec.managementCluster.local: true for one on this machine"
            };
            Err(DriverError::NotFound(format!(
                "management cluster {}: {m} (lo provision {}{local}); {unchanged}",
                capi.management, capi.management
            )))
        }
        Err(e) => Err(e),
    }
}

/// Applies the objects, retrying while the providers' admission webhooks are not answering
/// yet (a refusal by the grant is final).
fn apply_with_retry(capi: &Capi, mgmt: &Cluster, docs: &str) -> Result<()> {
    let attempts = capi.tuning.apply_attempts;
    for attempt in 1..=attempts {
        match kube::apply(mgmt, docs, &options()) {
            Ok(_) => return Ok(()),
            Err(e @ (DriverError::Denied(_) | DriverError::InvalidSpec(_))) => return Err(e),
            Err(e) if attempt < attempts => {
                info!(
                    "apply failed ({}); provider webhooks may still be starting: retry {}/{attempts} in {}s",
                    lok8s_driver_sdk::message(&e),
                    attempt + 1,
                    capi.tuning.apply_retry_delay.as_secs()
                );
                std::thread::sleep(capi.tuning.apply_retry_delay);
            }
            Err(e) => {
                return Err(failed(format!(
                    "failed to apply the Cluster API objects after {attempts} attempts (provider webhooks not ready?): {}",
                    lok8s_driver_sdk::message(&e)
                )));
            }
        }
    }
    Ok(())
}

/// Waits for `status.phase == Provisioned`; `Failed` ends the wait at once, and running out of
/// time is an error.
fn wait_provisioned(capi: &Capi, mgmt: &Cluster) -> Result<()> {
    let cluster = cluster_ref(capi);
    let mut last = String::new();
    let done = poll(
        capi.tuning.wait_timeout,
        Backoff::fixed(capi.tuning.wait_interval),
        || {
            let json = kube::get(mgmt, &cluster)?.unwrap_or_default();
            last = phase_of(&json);
            match last.as_str() {
                "Provisioned" => Ok(Some(())),
                "Failed" => {
                    let why = serde_json::from_str::<Value>(&json)
                        .ok()
                        .and_then(|v| v["status"]["failureMessage"].as_str().map(str::to_string))
                        .unwrap_or_else(|| "no failureMessage".into());
                    Err(failed(format!("Cluster {} failed: {why}", capi.name)))
                }
                _ => Ok(None),
            }
        },
    )?;
    done.ok_or_else(|| {
        DriverError::Timeout(format!(
            "timed out after {}s waiting for Cluster {} in namespace {} to be Provisioned (phase: {}); \
             check its machines on the management cluster, or raise CAPI_WAIT_TIMEOUT",
            capi.tuning.wait_timeout.as_secs(),
            capi.name,
            capi.namespace,
            if last.is_empty() { "none yet" } else { &last }
        ))
    })
}

/// The workload kubeconfig from the `<name>-kubeconfig` Secret (key `value`), once it is there.
fn workload_kubeconfig(capi: &Capi, mgmt: &Cluster) -> Result<String> {
    let secret = ObjectRef {
        api_version: "v1".into(),
        kind: "Secret".into(),
        namespace: Some(capi.namespace.clone()),
        name: format!("{}-kubeconfig", capi.name),
    };
    let found = poll(
        capi.tuning.wait_interval * KUBECONFIG_TRIES,
        Backoff::fixed(capi.tuning.wait_interval),
        || {
            let Some(json) = kube::get(mgmt, &secret)? else {
                return Ok(None);
            };
            let value: Value = serde_json::from_str(&json).unwrap_or_default();
            let encoded = value["data"]["value"].as_str().unwrap_or_default();
            use base64::Engine as _;
            let text = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .ok_or_else(|| {
                    failed(format!(
                        "Secret {}: data.value is not base64 text",
                        secret.name
                    ))
                })?;
            Ok((!text.trim().is_empty()).then_some(text))
        },
    )?;
    found.ok_or_else(|| {
        failed(format!(
            "could not read the workload kubeconfig of {} (Secret {} in namespace {}, key value) on {}",
            capi.name, secret.name, capi.namespace, capi.management
        ))
    })
}

/// The workload API server answers an authenticated request (its `default` namespace).
fn wait_workload_api(capi: &Capi, workload: &Cluster) -> Result<()> {
    info!("waiting for the workload API server to become reachable");
    let probe = ObjectRef {
        api_version: "v1".into(),
        kind: "Namespace".into(),
        namespace: None,
        name: "default".into(),
    };
    let start = Instant::now();
    let budget = capi.tuning.wait_interval * READY_TRIES;
    let mut last = String::new();
    let done = poll(
        budget,
        Backoff::fixed(capi.tuning.wait_interval),
        || match kube::get(workload, &probe) {
            Ok(_) => Ok(Some(())),
            Err(e @ DriverError::Denied(_)) => Err(e),
            Err(e) => {
                last = lok8s_driver_sdk::message(&e);
                Ok(None)
            }
        },
    )?;
    done.ok_or_else(|| {
        DriverError::Timeout(format!(
            "the workload API server of {} did not answer in {}s: {last}",
            capi.name,
            start.elapsed().as_secs().max(budget.as_secs())
        ))
    })
}

lok8s_driver_sdk::export_driver!(CapiDriver);
