//! What status and destroy do on the machines: the real health of each control plane's API
//! server and etcd (`/readyz?verbose` on the node itself, not the original's substring match
//! that took "unhealthy" for "healthy"), and `kubeadm reset` on every host before its server
//! goes. The hosts are the ones the provider's APIs report now.

use std::collections::BTreeMap;

use lok8s_driver_sdk::spec::invalid;
use lok8s_driver_sdk::{Result, failed, info, warn};
use lok8s_kubeadm::{Command, NodeShell};
use lok8s_provider_hetzner::cloud_api::{Cloud, Transport};
use lok8s_provider_hetzner::descriptor::Descriptor;
use lok8s_provider_hetzner::inventory::{self, Inventory, Role};
use lok8s_provider_hetzner::robot_api::{Named, Robot, name_workers};

use crate::provider;
use crate::shell::SshShell;

/// The inventory of cluster `name` as the APIs report it now. Its dedicated servers must be
/// servers of the Robot account (the listing is also what lets `lo` open ssh to them); each is
/// named after its host (spec 2.2 step 6b).
pub fn inventory<T: Transport>(
    cloud: &Cloud<T>,
    descriptor: &Descriptor,
    name: &str,
) -> Result<Inventory> {
    let inventory =
        inventory::inventory(cloud, descriptor, name).map_err(crate::provision::provider_error)?;
    dedicated(&inventory)?;
    Ok(inventory)
}

fn dedicated(inventory: &Inventory) -> Result<()> {
    let servers: Vec<(String, String)> = inventory
        .nodes
        .iter()
        .filter(|n| n.bare_metal)
        .map(|n| (n.name.clone(), n.public_ip.clone()))
        .collect();
    if servers.is_empty() {
        return Ok(());
    }
    let (endpoint, user, password) = provider::robot_login()?;
    let transport = provider::Http;
    let robot = Robot::new(&endpoint, &user, &password, &transport);
    for ((host, address), (_, named)) in servers
        .iter()
        .zip(name_workers(&robot, &servers).map_err(failed)?)
    {
        match named {
            Named::NotDedicated => {
                return Err(invalid(
                    "spec.provider.config.server",
                    format!(
                        "{host}: #external-ip {address} is not a dedicated server of the Robot \
                         account HROBOT_USER names; correct the address or the account"
                    ),
                ));
            }
            Named::Renamed(number) => info!("named dedicated server {number} {host}"),
            Named::Unchanged(_) => {}
        }
    }
    Ok(())
}

fn shell(inventory: &Inventory) -> SshShell {
    let addresses: BTreeMap<String, String> = inventory
        .nodes
        .iter()
        .filter(|n| !n.public_ip.is_empty())
        .map(|n| (n.name.clone(), n.public_ip.clone()))
        .collect();
    SshShell::new(inventory.access.clone(), addresses)
}

/// One control plane's health.
pub struct PlaneHealth {
    pub name: String,
    /// None when healthy; else what is wrong.
    pub problem: Option<String>,
}

pub fn control_planes(inventory: &Inventory) -> Vec<PlaneHealth> {
    let mut sh = shell(inventory);
    let check = "kubectl --kubeconfig=/etc/kubernetes/admin.conf --server=https://127.0.0.1:6443 get --raw='/readyz?verbose'";
    let planes: Vec<_> = inventory
        .nodes
        .iter()
        .filter(|n| n.role == Role::ControlPlane)
        .collect();
    let commands = Command::on_each(
        planes.iter().map(|n| n.name.as_str()),
        &["sh", "-c", check],
        None,
    );
    planes
        .iter()
        .zip(sh.run_each(&commands))
        .map(|(node, answer)| {
            let problem = match answer {
                Err(e) => Some(format!("unreachable ({e})")),
                Ok(out) => {
                    let text = String::from_utf8_lossy(&out.stdout);
                    let etcd = text.lines().any(|l| l.trim() == "[+]etcd ok");
                    match (out.code, etcd) {
                        (0, true) => None,
                        (0, false) => Some("the API server answers but etcd is not ok".into()),
                        _ => Some("the API server is not ready".into()),
                    }
                }
            };
            PlaneHealth {
                name: node.name.clone(),
                problem,
            }
        })
        .collect()
}

/// `kubeadm reset` on every cloud host (workers first); a host that cannot be reset is
/// reported and the destroy goes on (its server is deleted next anyway).
pub fn reset_all(inventory: &Inventory) {
    let mut sh = shell(inventory);
    let nodes: Vec<_> = inventory
        .nodes
        .iter()
        .filter(|n| !n.public_ip.is_empty())
        .collect();
    // Workers together, then the control planes together.
    for role in [Role::Worker, Role::ControlPlane] {
        let group: Vec<_> = nodes.iter().filter(|n| n.role == role).collect();
        let commands = Command::on_each(
            group.iter().map(|n| n.name.as_str()),
            &["kubeadm", "reset", "--force"],
            None,
        );
        for (node, reset) in group.iter().zip(sh.run_each(&commands)) {
            report_reset(&node.name, reset);
        }
    }
}

fn report_reset(node: &str, reset: Result<lok8s_kubeadm::Output, String>) {
    match reset {
        Ok(out) if out.code == 0 => {}
        Ok(out) => warn!(
            "{node}: kubeadm reset exited with {}: {}",
            out.code,
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(e) => warn!("{node}: kubeadm reset skipped: {e}"),
    }
}
