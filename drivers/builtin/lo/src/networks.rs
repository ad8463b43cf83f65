//! The project network and the shared registries network. A project
//! network whose subnet no longer matches the spec is recreated only when nothing is attached;
//! otherwise provision stops and says how to fix it (the original's `rm -f` failed silently
//! while nodes were attached).

use lok8s_driver_sdk::docker::{self, NetworkSpec, Subnet};
use lok8s_driver_sdk::{DriverError, Result, info};
use lok8s_lo_plan::{Cidr, Plan};

use crate::docker_util::context;

/// Linux bridge names are at most 15 bytes; longer network names get Docker's own bridge name.
const BRIDGE_NAME_MAX: usize = 15;
const BRIDGE_NAME: &str = "com.docker.network.bridge.name";

fn subnets(info: &docker::NetworkInfo) -> String {
    info.subnets
        .iter()
        .map(|s| s.cidr.clone())
        .collect::<Vec<_>>()
        .join(",")
}

fn spec(
    name: &str,
    cidr: Cidr,
    options: Vec<(String, String)>,
    labels: Vec<(String, String)>,
) -> NetworkSpec {
    NetworkSpec {
        name: name.into(),
        subnets: vec![Subnet {
            cidr: cidr.to_string(),
            gateway: None,
        }],
        labels,
        options,
        mtu: None,
        internal: false,
    }
}

fn common_options() -> Vec<(String, String)> {
    vec![
        (
            "com.docker.network.bridge.enable_ip_masquerade".into(),
            "true".into(),
        ),
        ("com.docker.network.bridge.enable_icc".into(), "true".into()),
    ]
}

pub fn ensure(plan: &Plan) -> Result<()> {
    let wanted = plan.cidr.to_string();
    if let Some(existing) = docker::inspect_network(&plan.network)? {
        if subnets(&existing) == wanted {
            ensure_shared(plan)?;
            return Ok(());
        }
        if !existing.containers.is_empty() {
            let attached: Vec<&str> = existing
                .containers
                .iter()
                .map(|(n, _)| n.as_str())
                .collect();
            return Err(DriverError::Failed(format!(
                "network {} has subnet {} but spec.network.cidr is {wanted}, and containers are attached ({}); \
                 run `lo destroy` first, or set spec.network.cidr back to {}",
                plan.network,
                subnets(&existing),
                attached.join(", "),
                subnets(&existing)
            )));
        }
        info!(
            "network {}: subnet {} → {wanted}, recreating",
            plan.network,
            subnets(&existing)
        );
        docker::remove_network(&plan.network)?;
    }
    let mut options = common_options();
    let named_bridge = plan.network.len() <= BRIDGE_NAME_MAX;
    if named_bridge {
        options.push((BRIDGE_NAME.into(), plan.network.clone()));
    }
    let created = docker::create_network(&spec(&plan.network, plan.cidr, options.clone(), vec![]));
    let created = match created {
        // lo names the Linux bridge only where it can see the interfaces (not on a remote
        // engine): there the bridge keeps Docker's own name.
        Err(DriverError::Denied(why)) if named_bridge && why.contains(BRIDGE_NAME) => {
            info!(
                "network {}: the engine does not allow naming its bridge; it keeps Docker's name",
                plan.network
            );
            options.retain(|(k, _)| k != BRIDGE_NAME);
            docker::create_network(&spec(&plan.network, plan.cidr, options, vec![]))
        }
        other => other,
    };
    context(
        created.map(|_| ()),
        &format!("creating network {}", plan.network),
    )?;
    info!("network {} {wanted}", plan.network);
    ensure_shared(plan)
}

fn ensure_shared(plan: &Plan) -> Result<()> {
    if !plan.shared {
        return Ok(());
    }
    let wanted = plan.shared_cidr.to_string();
    match docker::inspect_network(&plan.shared_network)? {
        Some(existing) if subnets(&existing) == wanted => Ok(()),
        Some(existing) => Err(DriverError::Failed(format!(
            "registry network {} exists with subnet {}, expected {wanted}; set spec.registries.shared.network.cidr to {}, \
             or remove the network once no cluster uses it (`docker network rm {}`)",
            plan.shared_network,
            subnets(&existing),
            subnets(&existing),
            plan.shared_network
        ))),
        None => {
            let labels = vec![("lok8s.registry".into(), "shared".into())];
            context(
                docker::create_network(&spec(
                    &plan.shared_network,
                    plan.shared_cidr,
                    common_options(),
                    labels,
                ))
                .map(|_| ()),
                &format!("creating network {}", plan.shared_network),
            )?;
            info!(
                "network {} {wanted} (shared registries)",
                plan.shared_network
            );
            Ok(())
        }
    }
}
