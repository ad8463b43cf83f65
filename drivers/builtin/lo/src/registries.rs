//! Registry containers: build, cache and mirrors at fixed addresses, each with
//! its own certificate from the local CA (SANs: its host name and address, not every mirrored
//! domain: 7.4). Config and certificate are copied into the container before it starts, so a
//! Docker or host restart finds them and a remote engine needs no local paths
//!. A container created from another configuration is recreated, keeping its
//! volume; registries the spec no longer lists are removed.

use lok8s_driver_sdk::docker::{self, Endpoint, Mount, MountKind, RestartPolicy, VolumeSpec};
use lok8s_driver_sdk::{Result, info, log, tls, warn};
use lok8s_lo_plan::render::{
    REGISTRY_CA, REGISTRY_CA_DIR, REGISTRY_CERT, REGISTRY_CONFIG, REGISTRY_KEY, digest,
    registry_config,
};
use lok8s_lo_plan::{Plan, Registry, RegistryKind};

use crate::docker_util::{
    CONFIG_HASH, REGISTRY_ROLE, SHARED, container, context, ensure_image, label,
};

/// Registry certificates: the original's two years and three months.
const CERT_DAYS: u32 = 820;

fn is_shared(plan: &Plan, reg: &Registry) -> bool {
    plan.shared && reg.kind == RegistryKind::Mirror
}

/// Labels that say what a registry container is; shared mirrors belong to the shared network.
fn labels(plan: &Plan, reg: &Registry, hash: &str) -> Vec<(String, String)> {
    let mut l = vec![
        (REGISTRY_ROLE.to_string(), "registry".to_string()),
        ("lok8s.dev/registry".to_string(), reg.name.clone()),
        (CONFIG_HASH.to_string(), hash.to_string()),
    ];
    if is_shared(plan, reg) {
        l.push((SHARED.into(), plan.shared_network.clone()));
    }
    l
}

/// Inside the caller's "registries" phase.
pub fn ensure(plan: &Plan) -> Result<()> {
    plan.registries
        .iter()
        .try_for_each(|reg| ensure_one(plan, reg))?;
    remove_stale(plan)
}

fn ensure_one(plan: &Plan, reg: &Registry) -> Result<()> {
    let config = registry_config(plan, reg);
    let hash = digest(&[
        &config,
        &plan.registry_image,
        &reg.ip.to_string(),
        &reg.network,
        // Bump when what a registry gets beyond its config changes (here: the CA trust).
        "ca-trust-1",
    ]);
    if let Some(existing) = docker::inspect_container(&reg.container)? {
        if label(&existing.labels, CONFIG_HASH) == Some(hash.as_str()) {
            if existing.state == "restarting" {
                // Docker is restarting it already; say why it keeps failing.
                let logs = docker::logs(&reg.container, Some(40)).unwrap_or_default();
                let reason = logs
                    .lines()
                    .find(|l| l.starts_with("panic:") || l.contains("level=fatal"))
                    .unwrap_or("see docker logs");
                warn!("{} keeps restarting: {reason}", reg.container);
            } else if !existing.running {
                docker::start_container(&reg.container)?;
                log::phase_step(&format!("{} started", reg.container));
            } else {
                log::phase_step(&format!("{} up to date", reg.container));
            }
            return Ok(());
        }
        info!(
            "{}: configuration changed, recreating (its volume keeps the images)",
            reg.container
        );
        docker::remove_container(&reg.container, true)?;
    }
    ensure_image(&plan.registry_image)?;
    let volume_labels = if is_shared(plan, reg) {
        vec![(SHARED.to_string(), plan.shared_network.clone())]
    } else {
        vec![]
    };
    docker::create_volume(&VolumeSpec {
        name: reg.container.clone(),
        labels: volume_labels,
    })?;
    let mut spec = container(&reg.container, &plan.registry_image);
    spec.labels = labels(plan, reg, &hash);
    spec.restart = RestartPolicy::Always;
    if plan.tls {
        spec.env = vec![("SSL_CERT_DIR".into(), REGISTRY_CA_DIR.into())];
    }
    spec.mounts = vec![Mount {
        kind: MountKind::Volume,
        source: reg.container.clone(),
        target: "/var/lib/registry".into(),
        read_only: false,
        options: None,
    }];
    spec.network = Some(Endpoint {
        network: reg.network.clone(),
        ipv4: Some(reg.ip.to_string()),
        aliases: vec![],
    });
    let doing = format!("creating registry {} at {}", reg.container, reg.ip);
    context(docker::create_container(&spec).map(|_| ()), &doing)?;
    let files = (|| -> Result<()> {
        docker::copy_file(&reg.container, REGISTRY_CONFIG, config.as_bytes(), 0o644)?;
        if plan.tls {
            // A mirrored `host:port` names the host in the certificate.
            let host = reg.host.split(':').next().unwrap_or_default().to_string();
            let leaf = tls::issue(&[host, reg.ip.to_string()], Some(CERT_DAYS))?;
            docker::copy_file(
                &reg.container,
                REGISTRY_CERT,
                leaf.certificate_pem.as_bytes(),
                0o644,
            )?;
            docker::copy_file(
                &reg.container,
                REGISTRY_KEY,
                leaf.private_key_pem.as_bytes(),
                0o600,
            )?;
            // Mirrors also trust the local CAs for their upstream (a private registry with a
            // dev certificate); Go adds SSL_CERT_DIR's certificates to the system roots.
            let cas = tls::ca_certificate()?;
            docker::copy_file(&reg.container, REGISTRY_CA, cas.as_bytes(), 0o644)?;
        }
        docker::start_container(&reg.container)
    })();
    if let Err(e) = files {
        // Never leave a registry that would start without its configuration.
        let _ = docker::remove_container(&reg.container, true);
        return context(Err(e), &doing);
    }
    log::phase_step(&format!("{} {}", reg.container, reg.ip));
    Ok(())
}

/// Project registries of this cluster that the spec no longer lists.
fn remove_stale(plan: &Plan) -> Result<()> {
    let wanted: Vec<&str> = plan
        .registries
        .iter()
        .map(|r| r.container.as_str())
        .collect();
    for c in docker::list_containers(&[(REGISTRY_ROLE.into(), "registry".into())], true)? {
        if !wanted.contains(&c.name.as_str()) {
            info!("{}: no longer in the spec, removing", c.name);
            docker::remove_container(&c.name, true)?;
            docker::remove_volume(&c.name)?;
        }
    }
    Ok(())
}

/// Destroy: every registry of this cluster except shared mirrors, with its volume.
pub fn remove(plan: Option<&Plan>) -> Result<()> {
    for c in docker::list_containers(&[(REGISTRY_ROLE.into(), "registry".into())], true)? {
        docker::remove_container(&c.name, true)?;
        docker::remove_volume(&c.name)?;
        info!("removed {}", c.name);
    }
    if let Some(plan) = plan {
        for reg in plan.registries.iter().filter(|r| !is_shared(plan, r)) {
            docker::remove_volume(&reg.container)?;
        }
    }
    Ok(())
}
