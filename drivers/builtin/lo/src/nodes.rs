//! Node containers the way kind creates them, without kind: the same
//! names, labels, privileges, tmpfs, anonymous `/var`, read-only `/lib/modules`, restart
//! policy and API port published on 127.0.0.1 (a port the engine picks, so a remote engine
//! works too), then a wait for the boot line. Nodes get fixed addresses. A node
//! that exists is started if stopped, never recreated.

use std::time::{Duration, Instant};

use lok8s_driver_sdk::docker::{
    self, ContainerInfo, Endpoint, ExecSpec, Mount, MountKind, PortBinding, RestartPolicy,
};
use lok8s_driver_sdk::{Context, DriverError, Result, info, log, warn};
use lok8s_kubeadm::{NodeShell, Output};
use lok8s_lo_plan::{Node, Plan};

use crate::docker_util::{KIND_CLUSTER, KIND_ROLE, container, context, ensure_image, label};
use crate::failed;

/// kind waits 30 s for a node's boot line.
const BOOT_TIMEOUT: Duration = Duration::from_secs(30);
const BOOT_LINE: [&str; 2] = ["Multi-User System", "detected cgroup v1"];

/// `kubeadm` and `cp /dev/stdin` on nodes through `docker exec`.
pub struct DockerShell;

impl NodeShell for DockerShell {
    fn run(
        &mut self,
        node: &str,
        argv: &[&str],
        stdin: Option<&[u8]>,
    ) -> std::result::Result<Output, String> {
        let spec = ExecSpec {
            container: node.into(),
            cmd: argv.iter().map(|s| s.to_string()).collect(),
            env: vec![],
            user: None,
            working_dir: None,
            stdin: stdin.map(<[u8]>::to_vec),
        };
        docker::exec(&spec)
            .map(|o| Output {
                code: o.exit_code,
                stdout: o.stdout,
                stderr: o.stderr,
            })
            .map_err(|e| format!("docker exec on {node}: {}", crate::docker_util::message(&e)))
    }
}

fn mount(kind: MountKind, source: &str, target: &str, read_only: bool) -> Mount {
    Mount {
        kind,
        source: source.into(),
        target: target.into(),
        read_only,
        options: None,
    }
}

fn node_spec(plan: &Plan, node: &Node, first: bool, with_modules: bool) -> docker::ContainerSpec {
    let mut spec = container(&node.name, &plan.node_image);
    spec.hostname = Some(node.name.clone());
    let role = if node.control_plane {
        "control-plane"
    } else {
        "worker"
    };
    spec.labels = vec![
        (KIND_CLUSTER.into(), plan.cluster_name.clone()),
        (KIND_ROLE.into(), role.into()),
    ];
    spec.privileged = true;
    spec.security_opts = vec!["seccomp=unconfined".into(), "apparmor=unconfined".into()];
    spec.mounts = vec![
        mount(MountKind::Tmpfs, "", "/tmp", false),
        mount(MountKind::Tmpfs, "", "/run", false),
        // Anonymous: Docker copies the image's /var (containerd's store) into it.
        mount(MountKind::Volume, "", "/var", false),
    ];
    if with_modules {
        spec.mounts
            .push(mount(MountKind::Bind, "/lib/modules", "/lib/modules", true));
    }
    spec.restart = RestartPolicy::OnFailure;
    spec.init = false;
    spec.cgroupns = Some("private".into());
    spec.network = Some(Endpoint {
        network: plan.network.clone(),
        ipv4: Some(node.ip.to_string()),
        aliases: vec![],
    });
    if node.control_plane {
        spec.env
            .push(("KUBECONFIG".into(), "/etc/kubernetes/admin.conf".into()));
    }
    // The API is published on the endpoint: the load balancer when there is one.
    if node.control_plane && plan.load_balancer.is_none() {
        spec.ports.push(PortBinding {
            container_port: 6443,
            protocol: "tcp".into(),
            host_ip: "127.0.0.1".into(),
            host_port: None,
        });
    }
    if first {
        if plan.nodes.host_ports {
            for port in [80, 443, 8080] {
                spec.ports.push(PortBinding {
                    container_port: port,
                    protocol: "tcp".into(),
                    host_ip: "0.0.0.0".into(),
                    host_port: Some(port),
                });
            }
        }
        for m in &plan.extra_mounts {
            spec.mounts.push(mount(
                MountKind::Bind,
                &m.host_path,
                &m.container_path,
                m.read_only,
            ));
        }
    }
    spec
}

/// Creates missing nodes, starts stopped ones, and waits until each has booted.
pub fn ensure(plan: &Plan) -> Result<()> {
    ensure_image(&plan.node_image)?;
    lok8s_driver_sdk::phase("nodes", Some(plan.node_list.len() as u32), || {
        plan.node_list
            .iter()
            .enumerate()
            .try_for_each(|(i, node)| ensure_one(plan, node, i == 0))
    })
}

fn ensure_one(plan: &Plan, node: &Node, first: bool) -> Result<()> {
    match docker::inspect_container(&node.name)? {
        Some(c) if c.running => {
            log::phase_step(&format!("{} running", node.name));
            return Ok(());
        }
        Some(c) => {
            if c.image != plan.node_image {
                warn!(
                    "{} runs {}, the spec asks for {}; `lo destroy` and provision again to change it",
                    node.name, c.image, plan.node_image
                );
            }
            docker::start_container(&node.name)?;
        }
        None => {
            // A local engine refuses the missing /lib/modules at create, a remote one (where
            // the bind is a volume of that path) at start: either way, without it.
            if let Err(e) = create_and_start(plan, node, first, true) {
                if !crate::docker_util::message(&e).contains("/lib/modules") {
                    return Err(e);
                }
                warn!(
                    "the Docker host has no /lib/modules: nodes run without the host's kernel modules"
                );
                create_and_start(plan, node, first, false)?;
            }
        }
    }
    wait_for_boot(&node.name)?;
    log::phase_step(&format!("{} {}", node.name, node.ip));
    Ok(())
}

/// Creates and starts a node; one that cannot start is removed, so the next try starts clean.
fn create_and_start(plan: &Plan, node: &Node, first: bool, with_modules: bool) -> Result<()> {
    context(
        docker::create_container(&node_spec(plan, node, first, with_modules)).map(|_| ()),
        &format!("creating node {}", node.name),
    )?;
    if let Err(e) = docker::start_container(&node.name) {
        let _ = docker::remove_container(&node.name, true);
        return Err(e);
    }
    Ok(())
}

fn wait_for_boot(name: &str) -> Result<()> {
    let start = Instant::now();
    loop {
        let logs = docker::logs(name, Some(200))?;
        if BOOT_LINE.iter().any(|l| logs.contains(l)) {
            return Ok(());
        }
        if start.elapsed() > BOOT_TIMEOUT {
            let tail: Vec<&str> = logs
                .lines()
                .rev()
                .take(10)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            return Err(DriverError::Timeout(format!(
                "node {name} did not report booting (\"Reached target Multi-User System\") within {}s; last log lines:\n{}\n\
                 (often inotify limits: sysctl fs.inotify.max_user_watches=524288 fs.inotify.max_user_instances=512)",
                BOOT_TIMEOUT.as_secs(),
                tail.join("\n")
            )));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The cluster's node containers (running or not), found by kind's cluster label: no spec
/// needed, so status and destroy work whatever the spec says now.
pub fn list(cluster: &str) -> Result<Vec<ContainerInfo>> {
    docker::list_containers(&[(KIND_CLUSTER.into(), cluster.to_string())], true)
}

/// Destroy: removes every node container and its anonymous volumes, as `kind delete cluster`.
pub fn remove(cluster: &str) -> Result<()> {
    for c in list(cluster)? {
        docker::remove_container(&c.name, true)?;
        info!("removed {}", c.name);
    }
    Ok(())
}

/// The bootstrap control plane (kind: the control plane whose name sorts first).
pub fn bootstrap(plan: &Plan) -> &Node {
    &plan.node_list[0]
}

/// kind's name for the bootstrap control plane.
pub fn bootstrap_name(cluster: &str) -> String {
    lok8s_lo_plan::bootstrap_node_name(cluster)
}

/// "2 control planes, 1 worker, load balancer", from kind's role labels.
pub fn census(containers: &[ContainerInfo]) -> String {
    let count = |role: &str| {
        containers
            .iter()
            .filter(|c| label(&c.labels, KIND_ROLE) == Some(role))
            .count()
    };
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let mut parts = vec![
        plural(count("control-plane"), "control plane", "control planes"),
        plural(count("worker"), "worker", "workers"),
    ];
    if count(crate::load_balancer::ROLE) > 0 {
        parts.push("API load balancer".into());
    }
    format!("{} running", parts.join(", "))
}

/// Writes `.kubeconfig/<name>.yaml` from the live admin.conf of the cluster's bootstrap control
/// plane, pointed at the published API port of the load balancer (HA) or of that node.
pub fn write_kubeconfig(ctx: &Context, cluster: &str) -> Result<String> {
    let cp = bootstrap_name(cluster);
    let lb = crate::load_balancer::name(cluster);
    let endpoint = match docker::inspect_container(&lb)? {
        Some(info) if label(&info.labels, KIND_CLUSTER) == Some(cluster) => Some(info),
        _ => docker::inspect_container(&cp)?,
    };
    let info = endpoint.ok_or_else(|| {
        DriverError::NotFound(format!(
            "node {} does not exist; run `lo provision` first",
            cp
        ))
    })?;
    let port = info
        .ports
        .iter()
        .find(|p| p.container_port == 6443)
        .and_then(|p| p.host_port.map(|h| (p.host_ip.clone(), h)))
        .ok_or_else(|| {
            failed(format!(
                "{} publishes no API server port (6443/tcp)",
                info.name
            ))
        })?;
    let host = if port.0.is_empty() || port.0 == "0.0.0.0" {
        "127.0.0.1".to_string()
    } else {
        port.0
    };
    let server = format!("https://{host}:{}", port.1);
    let text =
        lok8s_kubeadm::admin_kubeconfig(&mut DockerShell, &cp, cluster, &server).map_err(failed)?;
    let path = std::path::Path::new(&ctx.kubeconfig);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| failed(format!("{}: {e}", dir.display())))?;
    }
    std::fs::write(path, text).map_err(|e| failed(format!("{}: {e}", path.display())))?;
    Ok(ctx.kubeconfig.clone())
}
