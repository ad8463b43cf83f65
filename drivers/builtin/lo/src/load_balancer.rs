//! kind's external load balancer of an HA cluster: a haproxy container in front of every
//! control plane's API server, published on 127.0.0.1, and the endpoint kubeadm and the
//! kubeconfig use. Labelled as kind labels it, so `nodes::list` and destroy find it; a re-run
//! rewrites its configuration (and reloads haproxy) only when the file differs from the plan's.

use lok8s_driver_sdk::docker::{self, Endpoint, PortBinding, RestartPolicy};
use lok8s_driver_sdk::{Result, log};
use lok8s_lo_plan::render::{HAPROXY_CONFIG, digest, haproxy_config};
use lok8s_lo_plan::{LoadBalancer, Plan};

use crate::docker_util::{
    CONFIG_HASH, KIND_CLUSTER, KIND_ROLE, container, context, ensure_image, label,
};

pub const ROLE: &str = "external-load-balancer";

/// kind's name for a cluster's load balancer (status and kubeconfig work without a plan).
pub use lok8s_lo_plan::load_balancer_name as name;

fn spec(plan: &Plan, lb: &LoadBalancer, config_digest: &str) -> docker::ContainerSpec {
    let mut spec = container(&lb.name, &plan.load_balancer_image);
    spec.hostname = Some(lb.name.clone());
    spec.labels = vec![
        (KIND_CLUSTER.into(), plan.cluster_name.clone()),
        (KIND_ROLE.into(), ROLE.into()),
        (CONFIG_HASH.into(), config_digest.into()),
    ];
    spec.restart = RestartPolicy::OnFailure;
    spec.init = false;
    spec.cgroupns = Some("private".into());
    spec.network = Some(Endpoint {
        network: plan.network.clone(),
        ipv4: Some(lb.ip.to_string()),
        aliases: vec![],
    });
    spec.ports.push(PortBinding {
        container_port: 6443,
        protocol: "tcp".into(),
        host_ip: "127.0.0.1".into(),
        host_port: None,
    });
    spec
}

/// Creates (or starts) the load balancer and gives it the control planes; nothing to do for
/// one control plane. Runs before `kubeadm init`, whose endpoint it is.
pub fn ensure(plan: &Plan) -> Result<()> {
    let Some(lb) = &plan.load_balancer else {
        return Ok(());
    };
    lok8s_driver_sdk::phase("load balancer", Some(1), || ensure_one(plan, lb))
}

fn ensure_one(plan: &Plan, lb: &LoadBalancer) -> Result<()> {
    let config = haproxy_config(plan);
    let config_digest = digest(&[&config]);
    let existing = docker::inspect_container(&lb.name)?;
    let configured = match &existing {
        Some(c) => {
            if !c.running {
                docker::start_container(&lb.name)?;
            }
            // The label is the configuration it was created with; a container cannot be
            // relabelled, so after a reconfiguration the file itself is the record.
            label(&c.labels, CONFIG_HASH) == Some(config_digest.as_str())
                || current_config(&lb.name).as_deref() == Some(config.as_bytes())
        }
        None => {
            ensure_image(&plan.load_balancer_image)?;
            context(
                docker::create_container(&spec(plan, lb, &config_digest)).map(|_| ()),
                &format!("creating load balancer {}", lb.name),
            )?;
            docker::start_container(&lb.name)?;
            false
        }
    };
    if configured {
        log::phase_step(&format!("{} {}", lb.name, lb.ip));
        return Ok(());
    }
    if let Err(e) = configure(&lb.name, &config).map_err(|e| with_logs(&lb.name, e)) {
        // Its label says "configured": a new container next time, not a stale one.
        if existing.is_none() {
            let _ = docker::remove_container(&lb.name, true);
        }
        return Err(e);
    }
    log::phase_step(&format!("{} {} (haproxy configured)", lb.name, lb.ip));
    Ok(())
}

/// The configuration file in the load balancer, if it can be read.
fn current_config(lb: &str) -> Option<Vec<u8>> {
    let out = docker::exec(&docker::ExecSpec {
        container: lb.into(),
        cmd: vec!["cat".into(), HAPROXY_CONFIG.into()],
        env: vec![],
        user: None,
        working_dir: None,
        stdin: None,
    })
    .ok()?;
    (out.exit_code == 0).then_some(out.stdout)
}

/// Writes the configuration and reloads haproxy: its master process (PID 1, `-W`) re-reads
/// the file on SIGHUP, as kind relies on.
fn configure(lb: &str, config: &str) -> Result<()> {
    context(
        docker::copy_file(lb, HAPROXY_CONFIG, config.as_bytes(), 0o644),
        &format!("configuring load balancer {lb}"),
    )?;
    let reload = docker::exec(&docker::ExecSpec {
        container: lb.into(),
        cmd: vec!["kill".into(), "-s".into(), "HUP".into(), "1".into()],
        env: vec![],
        user: None,
        working_dir: None,
        stdin: None,
    })?;
    if reload.exit_code != 0 {
        return Err(crate::failed(format!(
            "reloading haproxy in {lb} (kill -s HUP 1) exited {}: {}",
            reload.exit_code,
            String::from_utf8_lossy(&reload.stderr).trim()
        )));
    }
    Ok(())
}

/// The error with the container's last log lines: haproxy says why it stopped there.
fn with_logs(lb: &str, e: lok8s_driver_sdk::DriverError) -> lok8s_driver_sdk::DriverError {
    let logs = docker::logs(lb, Some(5)).unwrap_or_default();
    if logs.trim().is_empty() {
        return e;
    }
    crate::failed(format!(
        "{}; its last log lines:\n{}",
        crate::docker_util::message(&e),
        logs.trim_end()
    ))
}
