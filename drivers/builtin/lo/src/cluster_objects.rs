//! Objects in the new cluster, applied server-side through the kubectl-apply import: the
//! registry ConfigMaps (KEP-1755 and `lok8s-registries`) and CoreDNS (Corefile, the external
//! Service, `coredns-custom`, and the Deployment changes). Same objects on every run, so a
//! re-run changes nothing and restarts nothing unless the configuration changed.

use std::time::{Duration, Instant};

use lok8s_driver_sdk::kubectl_apply::{self as kube, ApplyOptions, Cluster, ObjectRef};
use lok8s_driver_sdk::{Context, DriverError, Result, log, warn};
use lok8s_lo_plan::Plan;
use lok8s_lo_plan::render::{
    COREFILE, coredns_custom, coredns_deployment_patch, coredns_external, corefile_configmap,
    custom_files, digest, local_registry_hosting, lok8s_registries,
};

use crate::docker_util::message;
use crate::project_files::coredns_imports;

/// How long the API server may take to answer after `kubeadm init`.
const API_TIMEOUT: Duration = Duration::from_secs(90);

fn options() -> ApplyOptions {
    ApplyOptions {
        field_manager: "lok8s".into(),
        force: true,
    }
}

fn object(api_version: &str, kind: &str, namespace: &str, name: &str) -> ObjectRef {
    ObjectRef {
        api_version: api_version.into(),
        kind: kind.into(),
        namespace: Some(namespace.into()),
        name: name.into(),
    }
}

fn wait_for_api(cluster: &Cluster) -> Result<()> {
    let start = Instant::now();
    let probe = object("v1", "ConfigMap", "kube-system", "coredns");
    loop {
        match kube::get(cluster, &probe) {
            Ok(_) => return Ok(()),
            Err(e @ DriverError::Denied(_)) => return Err(e),
            Err(e) if start.elapsed() > API_TIMEOUT => {
                return Err(DriverError::Timeout(format!(
                    "the API server did not answer within {}s: {}",
                    API_TIMEOUT.as_secs(),
                    message(&e)
                )));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(500)),
        }
    }
}

pub fn apply(ctx: &Context, plan: &Plan, kubeconfig: &str) -> Result<()> {
    lok8s_driver_sdk::phase("cluster objects", Some(4), || {
        apply_all(ctx, plan, &Cluster::Kubeconfig(kubeconfig.to_string()))
    })
}

fn apply_all(ctx: &Context, plan: &Plan, cluster: &Cluster) -> Result<()> {
    wait_for_api(cluster)?;
    let registries = format!(
        "{}\n---\n{}",
        local_registry_hosting(plan),
        lok8s_registries(plan)
    );
    kube::apply(cluster, &registries, &options())?;
    log::phase_step("registry ConfigMaps");

    let dns = format!("{}\n---\n{}", corefile_configmap(), coredns_external(plan));
    kube::apply(cluster, &dns, &options())?;
    let files = custom_files(plan, &coredns_imports(ctx, plan)?);
    if files.is_empty() {
        // Nothing feeds it any more: drop it (the original left it).
        kube::delete(
            cluster,
            &object("v1", "ConfigMap", "kube-system", "coredns-custom"),
        )?;
    } else {
        kube::apply(cluster, &coredns_custom(&files), &options())?;
    }
    log::phase_step("CoreDNS configuration");

    let deployment = object("apps/v1", "Deployment", "kube-system", "coredns");
    let Some(live) = kube::get(cluster, &deployment)? else {
        warn!("the cluster has no kube-system/coredns Deployment; CoreDNS customisation skipped");
        return Ok(());
    };
    let live: serde_json::Value = serde_json::from_str(&live)
        .map_err(|e| crate::failed(format!("coredns Deployment: {e}")))?;
    let tolerations = live["spec"]["template"]["spec"]["tolerations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut parts: Vec<&str> = vec![COREFILE];
    parts.extend(
        files
            .iter()
            .flat_map(|f| [f.name.as_str(), f.contents.as_str()]),
    );
    kube::apply(
        cluster,
        &coredns_deployment_patch(&tolerations, &digest(&parts)),
        &options(),
    )?;
    log::phase_step("CoreDNS Deployment");
    Ok(())
}
