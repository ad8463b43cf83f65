//! The Lo driver: local Kubernetes clusters in Docker with a build registry, a pull-through
//! cache and mirrors, trusted TLS and cluster DNS, on kind-compatible nodes created without
//! the kind binary. Everything goes through the host imports: docker for networks, registries
//! and nodes (`docker exec` drives kubeadm), tls for registry certificates, kubectl-apply for
//! the cluster's objects, and the cluster folder and `.kubeconfig/` for files.

mod cluster_objects;
mod docker_util;
mod load_balancer;
mod networks;
mod node_setup;
mod nodes;
mod project_files;
mod registries;

use lok8s_driver_sdk::{
    CONTRACT_VERSION, Capability, CapabilityRequest, Context, DockerAccess, Driver, DriverError,
    DriverInfo, Health, KubeAccess, Outcome, Result, StatusReport, status,
};
use lok8s_lo_plan::Plan;

struct Lo;

/// The plan, or every spec error at once (nothing is created on an invalid spec).
fn plan(ctx: &Context) -> Result<Plan> {
    lok8s_lo_plan::plan(&ctx.spec, &ctx.domain).map_err(|errors| {
        let first = errors[0].field.clone();
        let message = if errors.len() == 1 {
            errors[0].message.clone()
        } else {
            let mut text = errors[0].message.clone();
            for e in &errors[1..] {
                text.push_str(&format!("\n  {}: {}", e.field, e.message));
            }
            text
        };
        lok8s_driver_sdk::spec::invalid(&first, message)
    })
}

/// A driver error's text, for a warning.
fn describe(e: &DriverError) -> String {
    match e {
        DriverError::InvalidSpec(f) => format!("{}: {}", f.field, f.message),
        other => format!("{other:?}"),
    }
}

fn failed(message: impl Into<String>) -> DriverError {
    DriverError::Failed(message.into())
}

/// Networks, registry containers, `certs.d` and `.registries.json`: one phase, timed by lo.
fn registry_phase(ctx: &Context, plan: &Plan) -> Result<project_files::CertsD> {
    let steps = plan.registries.len() as u32 + 2;
    lok8s_driver_sdk::phase("registries", Some(steps), || {
        project_files::write_registries_json(ctx, plan)?;
        networks::ensure(plan)?;
        registries::ensure(plan)?;
        project_files::write_certs_d(ctx, plan)
    })
}

impl Driver for Lo {
    fn describe() -> DriverInfo {
        DriverInfo {
            name: "lo".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            contract: CONTRACT_VERSION.into(),
            kinds: vec!["Lo".into()],
            summary: "Local Kubernetes clusters in Docker with registries, TLS and cluster DNS"
                .into(),
            capabilities: vec![
                CapabilityRequest {
                    capability: Capability::Docker(DockerAccess {
                        privileged: true,
                        shared_networks: vec!["lok8s-registries".into()],
                        host_paths: vec!["/lib/modules".into()],
                    }),
                    reason: "kind-compatible node containers (privileged, like kind's), registry containers, \
                             shared mirrors on the lok8s-registries network, /lib/modules read-only in nodes"
                        .into(),
                },
                CapabilityRequest {
                    capability: Capability::Kube(KubeAccess {
                        namespaces: vec!["kube-system".into(), "kube-public".into()],
                        kinds: vec!["ConfigMap".into(), "Service".into(), "apps/Deployment".into()],
                        clusters: vec![],
                    }),
                    reason: "registry ConfigMaps and CoreDNS configuration in its own cluster".into(),
                },
                CapabilityRequest {
                    capability: Capability::Tls(vec!["*".into()]),
                    reason: "registry certificates from the local CA, naming the mirrored registries".into(),
                },
            ],
        }
    }

    fn provision(ctx: Context) -> Result<Outcome> {
        let plan = plan(&ctx)?;
        if ctx.flags.contains(lok8s_driver_sdk::RunFlags::REMOTE) && !plan.extra_mounts.is_empty() {
            return Err(lok8s_driver_sdk::spec::invalid(
                "spec.nodes.extraMounts",
                "bind mounts name folders on this machine, but with --remote the Docker engine runs elsewhere; remove them for remote clusters",
            ));
        }
        let certs = registry_phase(&ctx, &plan)?;
        project_files::write_oidc(&ctx, &plan)?;
        nodes::ensure(&plan)?;
        load_balancer::ensure(&plan)?;
        node_setup::converge(&plan, &certs)?;
        let kubeconfig = nodes::write_kubeconfig(&ctx, &plan.cluster_name)?;
        cluster_objects::apply(&ctx, &plan, &kubeconfig)?;
        Ok(Outcome::Continue)
    }

    /// Teardown never depends on a valid spec: nodes and registries are found by their labels
    /// (the spec only adds the volumes of registries whose containers are already gone).
    fn destroy(ctx: Context) -> Result<()> {
        let plan = plan(&ctx);
        if let Err(e) = &plan {
            lok8s_driver_sdk::warn!(
                "the spec does not read ({}); removing {}'s containers by their labels",
                describe(e),
                ctx.cluster_name
            );
        }
        nodes::remove(&ctx.cluster_name)?;
        registries::remove(plan.as_ref().ok())?;
        Ok(())
    }

    /// From the node containers' labels alone, so an edited spec never hides a cluster.
    fn status(ctx: Context) -> Result<StatusReport> {
        let nodes = nodes::list(&ctx.cluster_name)?;
        if nodes.is_empty() {
            return Ok(status(
                "NotFound",
                Health::NotFound,
                format!("no node containers of cluster {}", ctx.cluster_name),
            ));
        }
        let down: Vec<&str> = nodes
            .iter()
            .filter(|n| !n.running)
            .map(|n| n.name.as_str())
            .collect();
        if down.is_empty() {
            Ok(status("Running", Health::Running, nodes::census(&nodes)))
        } else {
            Ok(status(
                "Degraded",
                Health::Degraded,
                format!(
                    "node container(s) not running: {}; `lo provision` starts them again",
                    down.join(", ")
                ),
            ))
        }
    }

    fn kubeconfig(ctx: Context) -> Result<String> {
        nodes::write_kubeconfig(&ctx, &ctx.cluster_name)
    }

    fn export(ctx: Context) -> Result<Vec<(String, String)>> {
        let plan = plan(&ctx)?;
        let mut vars = lok8s_lo_plan::render::export(&plan);
        vars.extend(lok8s_lo_plan::render::consumer_env(&plan));
        let json = std::path::Path::new(&ctx.cluster_dir).join(".registries.json");
        vars.push(("LOK8S_REGISTRY_JSON".into(), json.display().to_string()));
        Ok(vars)
    }
}

lok8s_driver_sdk::export_driver!(Lo);
