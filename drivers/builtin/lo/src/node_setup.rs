//! What kind's `config` action and the Lo specifics do inside running nodes, each step
//! skipped when the node already has it: join the shared registries network, copy the
//! `certs.d` tree (copied, not bind-mounted, so a remote engine works), patch the
//! containerd config, place the OIDC auth-config, write `/kind/kubeadm.conf`, then
//! `kubeadm init` / `join` through the kubeadm library.

use lok8s_driver_sdk::docker::{self, Endpoint};
use lok8s_driver_sdk::{Result, log};
use lok8s_kubeadm::{
    ClusterConfig, HostPathVolume, NodeConfig, NodeShell, read_file, run_ok, write_file,
};
use lok8s_lo_plan::render::{POD_SUBNET, SERVICE_SUBNET, patch_containerd_config};
use lok8s_lo_plan::{Node, Plan};

use crate::failed;
use crate::nodes::{DockerShell, bootstrap};
use crate::project_files::CertsD;

const CERTS_D: &str = "/etc/containerd/certs.d";
const CERTS_DIGEST: &str = "/etc/containerd/certs.d/.lok8s-digest";
const ADDONS_DONE: &str = "/kind/lok8s-addons-installed";
const OIDC_IN_NODE: &str = "/etc/kubernetes/oidc/auth-config.yaml";
/// kind's well-known bootstrap token: nodes are local and discovery skips CA pinning.
const TOKEN: &str = "abcdef.0123456789abcdef";

pub fn converge(plan: &Plan, certs: &CertsD) -> Result<()> {
    lok8s_driver_sdk::phase("kubeadm", Some(plan.node_list.len() as u32 + 1), || {
        run(plan, certs)
    })
}

fn run(plan: &Plan, certs: &CertsD) -> Result<()> {
    let sh = &mut DockerShell;
    for node in &plan.node_list {
        join_shared_network(plan, node)?;
        copy_certs_d(sh, &node.name, certs)?;
        patch_containerd(sh, plan, &node.name)?;
    }
    let cp = bootstrap(plan);
    let version = lok8s_kubeadm::node_version(sh, &cp.name).map_err(failed)?;
    let cluster = cluster_config(plan);
    if let Some(oidc) = &plan.oidc {
        let text = lok8s_lo_plan::render::oidc_auth_config(oidc);
        if read_file(sh, &cp.name, OIDC_IN_NODE)
            .map_err(failed)?
            .as_deref()
            != Some(text.as_bytes())
        {
            write_file(sh, &cp.name, OIDC_IN_NODE, text.as_bytes()).map_err(failed)?;
        }
    }
    for node in &plan.node_list {
        let config = node_config(plan, node, node.name == cp.name);
        let text = lok8s_kubeadm::render(&cluster, &config, version);
        if read_file(sh, &node.name, "/kind/kubeadm.conf")
            .map_err(failed)?
            .as_deref()
            != Some(text.as_bytes())
        {
            write_file(sh, &node.name, "/kind/kubeadm.conf", text.as_bytes()).map_err(failed)?;
        }
    }
    if lok8s_kubeadm::init(sh, &cp.name, version, plan.node_list.len() == 1).map_err(failed)? {
        log::phase_step(&format!("kubeadm init on {}", cp.name));
    }
    // CNI and storage once, after init; the marker is written last, so a run that failed
    // in between does them on the next run.
    if read_file(sh, &cp.name, ADDONS_DONE)
        .map_err(failed)?
        .is_none()
    {
        if plan.default_cni
            && lok8s_kubeadm::install_cni(sh, &cp.name, POD_SUBNET, &cluster.control_plane_endpoint)
                .map_err(failed)?
        {
            log::phase_step("default CNI from the node image");
        }
        lok8s_kubeadm::install_storage(sh, &cp.name).map_err(failed)?;
        write_file(sh, &cp.name, ADDONS_DONE, b"cni storage\n").map_err(failed)?;
    }
    // Control planes one at a time (kind: concurrent control-plane joins are not safe), each
    // with the bootstrap's CA and keys first, then the workers.
    for node in plan.node_list.iter().filter(|n| n.name != cp.name) {
        if node.control_plane
            && lok8s_kubeadm::share_control_plane_files(sh, &cp.name, &node.name).map_err(failed)?
        {
            log::phase_step(&format!("{}: the cluster's CA and keys", node.name));
        }
        if lok8s_kubeadm::join(sh, &node.name, version).map_err(failed)? {
            log::phase_step(&format!("{} joined", node.name));
        }
    }
    Ok(())
}

fn cluster_config(plan: &Plan) -> ClusterConfig {
    let mut cluster = ClusterConfig {
        name: plan.cluster_name.clone(),
        // The load balancer when there is one (HA), else the only control plane.
        control_plane_endpoint: format!(
            "{}:6443",
            plan.load_balancer
                .as_ref()
                .map_or(&bootstrap(plan).name, |lb| &lb.name)
        ),
        pod_subnet: POD_SUBNET.into(),
        service_subnet: SERVICE_SUBNET.into(),
        cert_sans: vec!["localhost".into(), "127.0.0.1".into()],
        api_server_args: vec![],
        api_server_volumes: vec![],
        token: TOKEN.into(),
    };
    if plan.oidc.is_some() {
        cluster
            .api_server_args
            .push(("authentication-config".into(), OIDC_IN_NODE.into()));
        cluster.api_server_volumes.push(HostPathVolume {
            name: "oidc-auth-config".into(),
            path: OIDC_IN_NODE.into(),
        });
    }
    cluster
}

fn node_config(plan: &Plan, node: &Node, first: bool) -> NodeConfig {
    NodeConfig {
        name: node.name.clone(),
        control_plane: node.control_plane,
        address: node.ip.to_string(),
        labels: if first {
            vec![("ingress-ready".into(), "true".into())]
        } else {
            vec![]
        },
        provider_id: format!("kind://docker/{}/{}", plan.cluster_name, node.name),
    }
}

fn join_shared_network(plan: &Plan, node: &Node) -> Result<()> {
    if !plan.shared {
        return Ok(());
    }
    let info = docker::inspect_container(&node.name)?
        .ok_or_else(|| failed(format!("node {} vanished", node.name)))?;
    if info
        .networks
        .iter()
        .any(|e| e.network == plan.shared_network)
    {
        return Ok(());
    }
    docker::connect_network(
        &node.name,
        &Endpoint {
            network: plan.shared_network.clone(),
            ipv4: None,
            aliases: vec![],
        },
    )
}

fn copy_certs_d(sh: &mut dyn NodeShell, node: &str, certs: &CertsD) -> Result<()> {
    let current = read_file(sh, node, CERTS_DIGEST).map_err(failed)?;
    if current.as_deref() == Some(certs.digest.as_bytes()) {
        return Ok(());
    }
    let mut dirs: Vec<String> = certs
        .files
        .iter()
        .filter_map(|(rel, _)| rel.rsplit_once('/').map(|(d, _)| format!("{CERTS_D}/{d}")))
        .collect();
    dirs.dedup();
    let script = format!("rm -rf {CERTS_D} && mkdir -p {CERTS_D} {}", dirs.join(" "));
    run_ok(sh, node, &["sh", "-c", &script], None).map_err(failed)?;
    for (rel, contents) in &certs.files {
        docker::copy_file(
            node,
            &format!("{CERTS_D}/{rel}"),
            contents.as_bytes(),
            0o644,
        )?;
    }
    docker::copy_file(node, CERTS_DIGEST, certs.digest.as_bytes(), 0o644)?;
    log::phase_step(&format!("{node}: registry configuration"));
    Ok(())
}

fn patch_containerd(sh: &mut dyn NodeShell, plan: &Plan, node: &str) -> Result<()> {
    const CONFIG: &str = "/etc/containerd/config.toml";
    let existing = read_file(sh, node, CONFIG)
        .map_err(failed)?
        .ok_or_else(|| {
            failed(format!(
                "{node}: {CONFIG} is missing; is {} a kind node image?",
                plan.node_image
            ))
        })?;
    let text = String::from_utf8_lossy(&existing);
    let Some(patched) = patch_containerd_config(&text, plan.nodes.max_concurrent_downloads)
        .map_err(|e| failed(format!("{node}: {e}")))?
    else {
        return Ok(());
    };
    write_file(sh, node, CONFIG, patched.as_bytes()).map_err(failed)?;
    run_ok(
        sh,
        node,
        &[
            "sh",
            "-c",
            "! pgrep -x containerd || systemctl restart containerd",
        ],
        None,
    )
    .map_err(failed)?;
    Ok(())
}
