//! Provision (spec 2.2): the spec and the provider config checked first (nothing is created on
//! a bad one), the provider's resources made to exist, its inventory read back from the API,
//! `kubeone.yaml` written as the cluster's record, then Kubernetes installed over ssh on the
//! servers the API reported, and the admin kubeconfig saved pointing at the load balancer.
//! Files go to the driver's state folder (`clusters/<domain>/.state/kubeone/`): the cluster
//! folder itself, which holds the spec, is read-only to drivers.

use std::collections::BTreeMap;

use lok8s_driver_sdk::spec::invalid;
use lok8s_driver_sdk::{
    Context, DriverError, Outcome, Result, env, failed, info, log, phase, warn,
};
use lok8s_kubeone_plan::kubeadm_config::{Cluster, Host};
use lok8s_kubeone_plan::{install, manifest};
use lok8s_provider_hetzner::inventory::{self, Inventory, Role};
use lok8s_provider_hetzner::provision::ProvisionError;

use crate::provider;
use crate::shell::SshShell;

/// The spec's settings, or every spec error at once.
pub fn settings(ctx: &Context) -> Result<lok8s_kubeone_plan::Settings> {
    lok8s_kubeone_plan::settings(&ctx.spec).map_err(|errors| {
        let mut text = errors[0].message.clone();
        for e in &errors[1..] {
            text.push_str(&format!("\n  {}: {}", e.field, e.message));
        }
        invalid(&errors[0].field, text)
    })
}

/// `clusters/<domain>/.state/kubeone/<file>`.
pub fn state_file(ctx: &Context, file: &str) -> String {
    format!("{}/kubeone/{file}", ctx.cluster_dir)
}

fn write(path: &str, text: &str) -> Result<()> {
    if let Some(dir) = std::path::Path::new(path).parent() {
        std::fs::create_dir_all(dir).map_err(|e| failed(format!("{}: {e}", dir.display())))?;
    }
    std::fs::write(path, text).map_err(|e| failed(format!("{path}: {e}")))
}

pub fn provider_error(e: ProvisionError) -> DriverError {
    match e {
        ProvisionError::Descriptor(m) => invalid("spec.provider.config", m),
        ProvisionError::Api(e) => provider::error(e),
    }
}

/// The extra API server names (`KUBEONE_EXTRA_SANS`, space-separated).
fn extra_sans() -> Vec<String> {
    env::var("KUBEONE_EXTRA_SANS")
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// The registries' logins from the cluster's secret cache
/// (`clusters/<domain>/secrets/Secret.<name>.<namespace>.username` and `.password`), as
/// containerd's drop-in; `None` without `spec.registries` logins. A registry whose secret is
/// incomplete is left anonymous with a warning; none configured at all is an error (spec 2.2
/// step 4).
fn registry_logins(
    ctx: &Context,
    settings: &lok8s_kubeone_plan::Settings,
) -> Result<Option<String>> {
    use lok8s_kubeone_plan::prerequisites::{Login, registry_logins};
    if settings.registries.is_empty() {
        return Ok(None);
    }
    let mut logins = Vec::new();
    for r in &settings.registries {
        let stem = format!(
            "clusters/{}/secrets/Secret.{}.{}",
            ctx.domain, r.secret, r.namespace
        );
        let read = |field: &str| {
            std::fs::read_to_string(format!("{stem}.{field}"))
                .ok()
                .map(|s| s.trim_end_matches(['\r', '\n']).to_string())
                .filter(|s| !s.is_empty())
        };
        match (read("username"), read("password")) {
            (Some(username), Some(password)) => logins.push(Login {
                host: r.host.clone(),
                username,
                password,
            }),
            _ => warn!(
                "registry auth: secret {}/{} lacks username/password ({stem}.username and .password) — '{}' left anonymous",
                r.namespace, r.secret, r.host
            ),
        }
    }
    if logins.is_empty() {
        return Err(invalid(
            "spec.registries",
            format!(
                "{} registry(ies) declared in spec.registries but none could be configured (missing secretRef credentials) — populate the secret(s) in clusters/{}/secrets/ or remove spec.registries",
                settings.registries.len(),
                ctx.domain
            ),
        ));
    }
    Ok(Some(registry_logins(&logins)))
}

pub fn run(ctx: &Context) -> Result<Outcome> {
    let settings = settings(ctx)?;
    let logins = registry_logins(ctx, &settings)?;
    let (descriptor, name) = provider::config(ctx)?;
    inventory::access(&descriptor).map_err(|e| invalid("spec.provider.config", e))?;
    let token = provider::token()?;
    if inventory::has_dedicated(&descriptor) {
        provider::robot_login()?;
    }
    let transport = provider::Http;
    let cloud = provider::cloud(&token, &transport)?;
    let made = phase("provider resources", None, || {
        lok8s_provider_hetzner::provision::provision(
            &cloud,
            &descriptor,
            &|_, entry| provider::user_data(&descriptor, entry),
            &mut |step| log::phase_step(step),
        )
        .map_err(provider_error)
    })?;
    for (kind, shown) in &made.created {
        info!("created {kind} {shown}");
    }
    let dump = serde_json::to_string_pretty(&made.dump(&descriptor)).unwrap_or_default();
    write(&state_file(ctx, "hetzner.dump.json"), &dump)?;
    let inventory = crate::hosts::inventory(&cloud, &descriptor, &name)?;
    check(&inventory, &name)?;
    let sans = extra_sans();
    write(
        &state_file(ctx, "kubeone.yaml"),
        &manifest::manifest(&settings, &inventory, &sans),
    )?;
    let hosts = hosts(&inventory);
    let mut cert_sans = vec![inventory.api.endpoint.clone()];
    cert_sans.extend(manifest::alternative_names(&inventory, &sans));
    let cluster = Cluster {
        settings: &settings,
        endpoint: format!("{}:{}", inventory.api.endpoint, inventory.api.port),
        cert_sans,
    };
    let addresses: BTreeMap<String, String> = inventory
        .nodes
        .iter()
        .map(|n| (n.name.clone(), n.public_ip.clone()))
        .collect();
    let mut shell = SshShell::new(inventory.access.clone(), addresses);
    if inventory.nodes.iter().any(|n| n.bare_metal) {
        phase("dedicated servers out of rescue mode", None, || {
            crate::rescue::install_dedicated(ctx, &mut shell, &descriptor, &inventory)
        })?;
    }
    let oidc_ca = settings.oidc.as_ref().and_then(|o| o.ca_bundle.clone());
    let title = format!("Kubernetes {} on {} hosts", settings.version, hosts.len());
    let installed = phase(&title, None, || {
        install::install(
            &mut shell,
            &cluster,
            &hosts,
            oidc_ca.as_deref(),
            logins.as_deref(),
            &mut |step| log::phase_step(&step),
        )
        .map_err(failed)
    })?;
    if installed.initialized {
        info!("{}: kubeadm init done", hosts[0].name);
    }
    for host in &installed.joined {
        info!("{host} joined");
    }
    for node in &installed.removed_stale {
        warn!("{node} was reinstalled: its stale node was removed before it joined again");
    }
    for csr in &installed.approved {
        info!("approved the kubelet serving certificate {csr}");
    }
    write(&ctx.kubeconfig, &installed.kubeconfig)?;
    Ok(Outcome::Continue)
}

/// The inventory must give an API endpoint and a control plane.
fn check(inventory: &Inventory, name: &str) -> Result<()> {
    if inventory.api.endpoint.is_empty() {
        return Err(failed(format!(
            "kubeone inventory: no API endpoint: no load balancer is labelled lok8s.dev/cluster={name}; \
             add a load-balancer entry (with the label) to spec.provider.config"
        )));
    }
    if !inventory
        .nodes
        .iter()
        .any(|n| n.role == Role::ControlPlane && !n.bare_metal)
    {
        return Err(failed(format!(
            "kubeone inventory: no control plane: label a server of cluster {name} lok8s.dev/role=control-plane"
        )));
    }
    if let Some(node) = inventory.nodes.iter().find(|n| n.public_ip.is_empty()) {
        return Err(failed(format!(
            "kubeone inventory: server {} has no public IPv4 address to reach it over ssh",
            node.name
        )));
    }
    Ok(())
}

/// The hosts to install, cloud and dedicated, control planes first (the first is the leader).
fn hosts(inventory: &Inventory) -> Vec<Host> {
    let mut hosts: Vec<Host> = inventory
        .nodes
        .iter()
        .map(|n| Host {
            name: n.name.clone(),
            role: n.role,
            private_ip: n.private_ip.clone(),
        })
        .collect();
    hosts.sort_by_key(|h| h.role);
    hosts
}
