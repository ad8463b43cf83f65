//! The Kkp driver: a cluster whose control plane a Kubermatic Kubernetes Platform (KKP)
//! installation hosts, made through KKP's v2 REST API over the http import: create the cluster
//! (or find the one made before), wait for its control plane, add the worker pools' machine
//! deployments, write its kubeconfig. No CLI, no curl: the API's address and CA come from the
//! operator (spec or environment) through the grant.

mod api;
mod bodies;
mod config;
mod state;

use std::time::Duration;

use lok8s_driver_sdk::wait::{Backoff, poll};
use lok8s_driver_sdk::{
    CONTRACT_VERSION, Capability, CapabilityRequest, Context, Driver, DriverError, DriverInfo,
    Health, KubeAccess, Outcome, Result, StatusReport, failed, info, status, warn,
};
use serde_json::Value;

use api::Api;
use config::Kkp;
use state::Saved;

/// The longest wait between health checks.
const HEALTH_CAP: Duration = Duration::from_secs(60);

struct KkpDriver;

impl Driver for KkpDriver {
    fn describe() -> DriverInfo {
        let env = [
            "KKP_TOKEN",
            "KKP_API_URL",
            "KKP_CA_CERT",
            "HCLOUD_TOKEN",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "KKP_MAX_RETRIES",
            "KKP_RETRY_DELAY",
            "KKP_WAIT_TIMEOUT",
            "KKP_WAIT_INTERVAL",
        ];
        DriverInfo {
            name: "kkp".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            contract: CONTRACT_VERSION.into(),
            kinds: vec!["Kkp".into()],
            summary: "hosted control planes through the Kubermatic Kubernetes Platform API".into(),
            capabilities: vec![
                CapabilityRequest {
                    capability: Capability::Http(vec![
                        "env:KKP_API_URL".into(),
                        "spec:kkp.apiUrl".into(),
                    ]),
                    reason: "the KKP API the operator names (KKP_API_URL, else spec.kkp.apiUrl)"
                        .into(),
                },
                CapabilityRequest {
                    capability: Capability::Kube(KubeAccess {
                        namespaces: vec![],
                        kinds: vec![],
                        clusters: vec![],
                    }),
                    reason: "its kubeconfig names the API server KKP hosts for the cluster".into(),
                },
                CapabilityRequest {
                    capability: Capability::Env(env.iter().map(|s| s.to_string()).collect()),
                    reason: "the KKP token, the cloud credentials for the cluster, tuning".into(),
                },
            ],
        }
    }

    fn spec_schema() -> Option<String> {
        Some(include_str!("../schema.json").into())
    }

    fn provision(ctx: Context) -> Result<Outcome> {
        let kkp = Kkp::load(&ctx.spec, &ctx.cluster_name)?;
        let api = Api::new(&kkp);
        let saved = Saved::at(&ctx.cluster_dir);
        let cluster_id =
            lok8s_driver_sdk::phase("KKP cluster", None, || find_or_create(&api, &kkp, &saved))?;
        let project = &kkp.project_id;
        let cluster_path = api.project_path(project, &format!("/clusters/{cluster_id}"));
        lok8s_driver_sdk::phase("control plane", None, || {
            wait_components(&api, &kkp, &cluster_path, &bodies::CORE, true)
        })?;
        if !kkp.pools.is_empty() {
            lok8s_driver_sdk::phase("worker pools", Some(kkp.pools.len() as u32), || {
                wait_components(&api, &kkp, &cluster_path, &bodies::NODE_COMPONENTS, false)?;
                create_pools(&api, &kkp, &cluster_path)
            })?;
        }
        let kubeconfig = api.call("GET", &format!("{cluster_path}/kubeconfig"), None, &[])?;
        write_kubeconfig(&ctx.kubeconfig, &kubeconfig)?;
        info!(
            "KKP cluster {cluster_id} is ready; kubeconfig in {}",
            ctx.kubeconfig
        );
        Ok(Outcome::Continue)
    }

    fn destroy(ctx: Context) -> Result<()> {
        let saved = Saved::at(&ctx.cluster_dir);
        let Some((project, cluster_id)) = saved.load()? else {
            warn!(
                "no saved cluster ID in {}: nothing to destroy (a cluster made elsewhere is deleted in KKP's dashboard)",
                saved.cluster_id_path()
            );
            remove_kubeconfig(&ctx.kubeconfig);
            return Ok(());
        };
        let kkp = Kkp::load_for_api(&ctx.spec, &ctx.cluster_name)?;
        let api = Api::new(&kkp);
        let path = api.project_path(&project, &format!("/clusters/{cluster_id}"));
        let mut headers = Vec::new();
        if kkp.delete_volumes {
            headers.push(("DeleteVolumes", "true"));
        }
        if kkp.delete_load_balancers {
            headers.push(("DeleteLoadBalancers", "true"));
        }
        lok8s_driver_sdk::phase("delete KKP cluster", None, || {
            match api.call("DELETE", &path, None, &headers) {
                Ok(_) => {}
                Err(e) if e.is_not_found() => {
                    info!("KKP cluster {cluster_id} was already gone");
                }
                Err(e) => return Err(e.into()),
            }
            let gone = poll(
                kkp.tuning.wait_timeout,
                Backoff::doubling(kkp.tuning.wait_interval, HEALTH_CAP),
                || match api.call("GET", &path, None, &[]) {
                    Ok(_) => Ok(None),
                    Err(e) if e.is_not_found() => Ok(Some(())),
                    Err(e) => Err(e.into()),
                },
            )?;
            gone.ok_or_else(|| {
                DriverError::Timeout(format!(
                    "KKP cluster {cluster_id} is still there {}s after its deletion was asked; \
                     check it in KKP (finalizers, cloud resources) and run lo destroy again",
                    kkp.tuning.wait_timeout.as_secs()
                ))
            })
        })?;
        saved.remove()?;
        remove_kubeconfig(&ctx.kubeconfig);
        Ok(())
    }

    fn status(ctx: Context) -> Result<StatusReport> {
        let saved = Saved::at(&ctx.cluster_dir);
        let Some((project, cluster_id)) = saved.load()? else {
            return Ok(status(
                "NotFound",
                Health::NotFound,
                "no KKP cluster was made for this spec",
            ));
        };
        // Without the token or the API's address the cluster is there but cannot be asked.
        let kkp = match Kkp::load_for_api(&ctx.spec, &ctx.cluster_name) {
            Ok(kkp) => kkp,
            Err(e) => {
                return Ok(status(
                    "Unknown",
                    Health::Unknown,
                    format!(
                        "KKP cluster {cluster_id}: {}",
                        lok8s_driver_sdk::message(&e)
                    ),
                ));
            }
        };
        let api = Api::new(&kkp);
        let path = api.project_path(&project, &format!("/clusters/{cluster_id}"));
        match api.call("GET", &path, None, &[]) {
            Ok(_) => {}
            Err(e) if e.is_not_found() => {
                return Ok(status(
                    "NotFound",
                    Health::NotFound,
                    format!("KKP has no cluster {cluster_id} any more"),
                ));
            }
            Err(e) => {
                return Ok(status(
                    "Unknown",
                    Health::Unknown,
                    lok8s_driver_sdk::message(&DriverError::from(e)),
                ));
            }
        }
        match api.json("GET", &format!("{path}/health"), None) {
            Ok(health) if bodies::all_up(&health, &bodies::CORE) => Ok(status(
                "Running",
                Health::Running,
                format!("KKP cluster {cluster_id}: control plane up"),
            )),
            Ok(health) => Ok(status(
                "Provisioning",
                Health::Provisioning,
                format!(
                    "KKP cluster {cluster_id}: waiting for {}",
                    bodies::down(&health, &bodies::CORE).join(", ")
                ),
            )),
            Err(e) => Ok(status(
                "Unknown",
                Health::Unknown,
                lok8s_driver_sdk::message(&DriverError::from(e)),
            )),
        }
    }

    fn kubeconfig(ctx: Context) -> Result<String> {
        lok8s_driver_sdk::written_kubeconfig(ctx)
    }
}

/// The saved cluster if KKP still has it, else a new one (its ID saved at once).
fn find_or_create(api: &Api, kkp: &Kkp, saved: &Saved) -> Result<String> {
    if let Some((project, id)) = saved.load()? {
        let path = api.project_path(&project, &format!("/clusters/{id}"));
        match api.call("GET", &path, None, &[]) {
            Ok(_) if project == kkp.project_id => {
                info!("KKP cluster {id} already exists; not creating another");
                return Ok(id);
            }
            Ok(_) => {
                return Err(failed(format!(
                    "KKP cluster {id} was made in project {project}, and the spec now names project {}; \
                     destroy it first (lo destroy) or restore spec.kkp.projectId",
                    kkp.project_id
                )));
            }
            // Only a clear 404 means gone: any other failure must not make a second cluster.
            Err(e) if e.is_not_found() => {
                warn!("saved cluster ID {id} no longer exists in KKP; creating a new cluster");
            }
            Err(e) => return Err(e.into()),
        }
    }
    let path = api.project_path(&kkp.project_id, "/clusters");
    let created = api.json("POST", &path, Some(&bodies::cluster(kkp)))?;
    let id = created
        .get("id")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
        .ok_or_else(|| {
            failed(format!(
                "KKP create cluster: no cluster ID in the answer: {created}"
            ))
        })?;
    state::check_id(id)?;
    saved.save(&kkp.project_id, id)?;
    info!("created KKP cluster {id}");
    Ok(id.to_string())
}

/// Waits until each of `components` is up in the cluster's health, doubling the interval up to
/// a minute (`core`) or at a fixed interval (node components).
fn wait_components(
    api: &Api,
    kkp: &Kkp,
    cluster_path: &str,
    components: &[&str],
    core: bool,
) -> Result<()> {
    let interval = kkp.tuning.wait_interval;
    let backoff = if core {
        Backoff::doubling(interval, HEALTH_CAP)
    } else {
        Backoff::fixed(interval)
    };
    let mut last = None;
    let health_path = format!("{cluster_path}/health");
    let done = poll(kkp.tuning.wait_timeout, backoff, || {
        match api.json("GET", &health_path, None) {
            Ok(health) if bodies::all_up(&health, components) => return Ok(Some(())),
            Ok(health) => last = Some(health),
            Err(e) => warn!(
                "KKP cluster health check failed, retrying: {}",
                lok8s_driver_sdk::message(&DriverError::from(e))
            ),
        }
        Ok(None)
    })?;
    done.ok_or_else(|| {
        let waiting = match &last {
            Some(h) => bodies::down(h, components).join(", "),
            None => components.join(", "),
        };
        DriverError::Timeout(format!(
            "timed out after {}s waiting for the KKP cluster's {waiting} (last health: {}); \
             raise KKP_WAIT_TIMEOUT or check the cluster in KKP",
            kkp.tuning.wait_timeout.as_secs(),
            last.map(|h| h.to_string())
                .unwrap_or_else(|| "unknown".into())
        ))
    })
}

/// Creates each pool's machine deployment that is not there yet, in spec order.
fn create_pools(api: &Api, kkp: &Kkp, cluster_path: &str) -> Result<()> {
    let path = format!("{cluster_path}/machinedeployments");
    let existing = api.json("GET", &path, None)?;
    let names: Vec<&str> = existing
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|md| md.get("name").and_then(Value::as_str))
        .collect();
    for pool in &kkp.pools {
        lok8s_driver_sdk::log::phase_step(&pool.name);
        if names.contains(&pool.name.as_str()) {
            info!("machine deployment {} exists", pool.name);
            continue;
        }
        let body = bodies::machine_deployment(&kkp.provider, pool);
        let created = api.json("POST", &path, Some(&body)).map_err(|e| {
            failed(format!(
                "creating machine deployment {}: {}",
                pool.name,
                lok8s_driver_sdk::message(&DriverError::from(e))
            ))
        })?;
        match created.get("id").and_then(Value::as_str) {
            Some(id) => info!("created machine deployment {} ({id})", pool.name),
            None => {
                return Err(failed(format!(
                    "KKP create machine deployment {}: no ID in the answer",
                    pool.name
                )));
            }
        }
    }
    Ok(())
}

fn write_kubeconfig(path: &str, text: &[u8]) -> Result<()> {
    let mut text = String::from_utf8_lossy(text).trim_end().to_string();
    if text.is_empty() {
        return Err(failed("KKP answered an empty kubeconfig"));
    }
    text.push('\n');
    std::fs::write(path, text).map_err(|e| failed(format!("writing {path}: {e}")))
}

fn remove_kubeconfig(path: &str) {
    let _ = std::fs::remove_file(path);
}

lok8s_driver_sdk::export_driver!(KkpDriver);
