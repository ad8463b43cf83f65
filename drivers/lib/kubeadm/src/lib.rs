//! kubeadm orchestration for driver components, the way kind drives a node: write
//! `/kind/kubeadm.conf`, `kubeadm init` on the bootstrap control plane, untaint a single-node
//! cluster, apply the node image's default storage, `kubeadm join` the others, and read the
//! admin kubeconfig back. It knows nodes only through [`NodeShell`] ("run this on node N"),
//! so the Lo driver runs it over `docker exec` and a VM driver can run it over ssh.
//! Every step is safe to repeat: a node that already ran init or join is left alone.

mod cni;
pub mod config;
mod each;
mod kubeconfig;
mod version;

pub use cni::default_cni_manifest;
pub use config::{ClusterConfig, HostPathVolume, NodeConfig, render};
pub use each::{Command, run_ok_each, write_file_each};
pub use kubeconfig::{external_kubeconfig, named_kubeconfig};
pub use version::Version;

/// What a command printed and how it ended.
#[derive(Debug, Clone, Default)]
pub struct Output {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// Runs commands on nodes. Implementations: `docker exec`, ssh.
pub trait NodeShell {
    /// Runs `argv` on `node`, feeding `stdin` (then closed) when given.
    fn run(&mut self, node: &str, argv: &[&str], stdin: Option<&[u8]>) -> Result<Output, String>;

    /// Runs the commands (usually one per node) at the same time where the shell can, and
    /// answers in the order asked; one failing does not stop the others. This default runs
    /// them one after another.
    fn run_each(&mut self, commands: &[Command<'_>]) -> Vec<Result<Output, String>> {
        commands
            .iter()
            .map(|c| self.run(c.node, &c.argv, c.stdin))
            .collect()
    }
}

/// Runs a command that must succeed; the error carries its output's tail.
pub fn run_ok(
    sh: &mut dyn NodeShell,
    node: &str,
    argv: &[&str],
    stdin: Option<&[u8]>,
) -> Result<Output, String> {
    checked(node, argv, sh.run(node, argv, stdin)?)
}

/// `out` when the command succeeded, else an error naming it, the node and the output's tail.
fn checked(node: &str, argv: &[&str], out: Output) -> Result<Output, String> {
    if out.code != 0 {
        let text = String::from_utf8_lossy(if out.stderr.is_empty() {
            &out.stdout
        } else {
            &out.stderr
        })
        .into_owned();
        let tail: Vec<&str> = text
            .lines()
            .rev()
            .take(8)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        return Err(format!(
            "`{}` on {node} exited with {}:\n{}",
            argv.join(" "),
            out.code,
            tail.join("\n")
        ));
    }
    Ok(out)
}

/// Writes a file on a node the way kind does (works on tmpfs paths too).
pub fn write_file(
    sh: &mut dyn NodeShell,
    node: &str,
    path: &str,
    contents: &[u8],
) -> Result<(), String> {
    if let Some((dir, _)) = path.rsplit_once('/').filter(|(d, _)| !d.is_empty()) {
        run_ok(sh, node, &["mkdir", "-p", dir], None)?;
    }
    run_ok(sh, node, &["cp", "/dev/stdin", path], Some(contents)).map(|_| ())
}

/// A file's bytes, or `None` when it does not exist.
pub fn read_file(
    sh: &mut dyn NodeShell,
    node: &str,
    path: &str,
) -> Result<Option<Vec<u8>>, String> {
    if sh.run(node, &["test", "-f", path], None)?.code != 0 {
        return Ok(None);
    }
    run_ok(sh, node, &["cat", path], None).map(|o| Some(o.stdout))
}

/// The Kubernetes version the node image ships (`/kind/version`).
pub fn node_version(sh: &mut dyn NodeShell, node: &str) -> Result<Version, String> {
    let out = run_ok(sh, node, &["cat", "/kind/version"], None)?;
    let text = String::from_utf8_lossy(&out.stdout);
    Version::parse(text.trim()).ok_or_else(|| {
        format!(
            "{node}: /kind/version says {:?}, not a version such as v1.35.0",
            text.trim()
        )
    })
}

const ADMIN_CONF: &str = "/etc/kubernetes/admin.conf";
const KUBELET_CONF: &str = "/etc/kubernetes/kubelet.conf";
const KUBEADM_CONF: &str = "/kind/kubeadm.conf";

/// Writes `/kind/kubeadm.conf` for one node.
pub fn configure(
    sh: &mut dyn NodeShell,
    cluster: &ClusterConfig,
    node: &NodeConfig,
    version: Version,
) -> Result<(), String> {
    write_file(
        sh,
        &node.name,
        KUBEADM_CONF,
        render(cluster, node, version).as_bytes(),
    )
}

/// `kubeadm init` on the bootstrap control plane unless it already ran; then, on a one-node
/// cluster, lets workloads schedule on it. Returns whether init ran: then follow with
/// [`install_cni`] (unless a CNI addon comes later) and [`install_storage`], kind's order.
pub fn init(
    sh: &mut dyn NodeShell,
    bootstrap: &str,
    version: Version,
    single_node: bool,
) -> Result<bool, String> {
    if sh.run(bootstrap, &["test", "-f", ADMIN_CONF], None)?.code == 0 {
        return Ok(false);
    }
    let mut argv = vec![
        "kubeadm",
        "init",
        "--config=/kind/kubeadm.conf",
        "--skip-token-print",
        "--v=6",
    ];
    if version < Version::new(1, 23, 0) {
        argv.push("--skip-phases=preflight");
    }
    run_ok(sh, bootstrap, &argv, None)?;
    if single_node {
        let kubectl = ["kubectl", "--kubeconfig=/etc/kubernetes/admin.conf"];
        let taints: &[&str] = if version < Version::new(1, 25, 0) {
            &[
                "node-role.kubernetes.io/control-plane-",
                "node-role.kubernetes.io/master-",
            ]
        } else {
            &["node-role.kubernetes.io/control-plane-"]
        };
        let mut taint: Vec<&str> = kubectl.to_vec();
        taint.extend(["taint", "nodes", "--all"]);
        taint.extend(taints);
        run_ok(sh, bootstrap, &taint, None)?;
        let mut label: Vec<&str> = kubectl.to_vec();
        label.extend([
            "label",
            "nodes",
            "--all",
            "node.kubernetes.io/exclude-from-external-load-balancers-",
        ]);
        run_ok(sh, bootstrap, &label, None)?;
    }
    Ok(true)
}

/// kind's `installcni`: the node image's `default-cni.yaml`, templated and patched the way
/// its markers ask, created with the in-node kubectl. Returns whether the image had one.
pub fn install_cni(
    sh: &mut dyn NodeShell,
    bootstrap: &str,
    pod_subnet: &str,
    control_plane_endpoint: &str,
) -> Result<bool, String> {
    let Some(manifest) = read_file(sh, bootstrap, "/kind/manifests/default-cni.yaml")? else {
        return Ok(false);
    };
    let text = default_cni_manifest(
        &String::from_utf8_lossy(&manifest),
        pod_subnet,
        control_plane_endpoint,
    )?;
    run_ok(
        sh,
        bootstrap,
        &[
            "kubectl",
            "create",
            "--kubeconfig=/etc/kubernetes/admin.conf",
            "-f",
            "-",
        ],
        Some(text.as_bytes()),
    )?;
    Ok(true)
}

/// Applies the node image's `default-storage.yaml` (local-path provisioner, StorageClass
/// `standard`); an image without one keeps going, as kind does.
pub fn install_storage(sh: &mut dyn NodeShell, bootstrap: &str) -> Result<bool, String> {
    let Some(manifest) = read_file(sh, bootstrap, "/kind/manifests/default-storage.yaml")? else {
        return Ok(false);
    };
    run_ok(
        sh,
        bootstrap,
        &[
            "kubectl",
            "--kubeconfig=/etc/kubernetes/admin.conf",
            "apply",
            "-f",
            "-",
        ],
        Some(&manifest),
    )?;
    Ok(true)
}

/// What every control plane shares, copied from the bootstrap one before the others join
/// (kind's way: no `--upload-certs`, no certificate key in the cluster).
pub const SHARED_CONTROL_PLANE_FILES: [&str; 9] = [
    "/etc/kubernetes/admin.conf",
    "/etc/kubernetes/pki/ca.crt",
    "/etc/kubernetes/pki/ca.key",
    "/etc/kubernetes/pki/front-proxy-ca.crt",
    "/etc/kubernetes/pki/front-proxy-ca.key",
    "/etc/kubernetes/pki/sa.pub",
    "/etc/kubernetes/pki/sa.key",
    "/etc/kubernetes/pki/etcd/ca.crt",
    "/etc/kubernetes/pki/etcd/ca.key",
];

/// Copies [`SHARED_CONTROL_PLANE_FILES`] from the bootstrap control plane to another one
/// that has not joined yet. Returns whether it copied.
pub fn share_control_plane_files(
    sh: &mut dyn NodeShell,
    bootstrap: &str,
    node: &str,
) -> Result<bool, String> {
    if sh.run(node, &["test", "-f", KUBELET_CONF], None)?.code == 0 {
        return Ok(false);
    }
    for path in SHARED_CONTROL_PLANE_FILES {
        let bytes = read_file(sh, bootstrap, path)?.ok_or_else(|| {
            format!("{bootstrap}: {path} is missing: kubeadm init has not finished there")
        })?;
        write_file(sh, node, path, &bytes)?;
    }
    Ok(true)
}

/// `kubeadm join` on a node unless it already joined. Returns whether it ran.
pub fn join(sh: &mut dyn NodeShell, node: &str, version: Version) -> Result<bool, String> {
    if sh.run(node, &["test", "-f", KUBELET_CONF], None)?.code == 0 {
        return Ok(false);
    }
    let mut argv = vec!["kubeadm", "join", "--config", KUBEADM_CONF, "--v=6"];
    if version < Version::new(1, 23, 0) {
        argv.push("--skip-phases=preflight");
    }
    run_ok(sh, node, &argv, None)?;
    Ok(true)
}

/// The admin kubeconfig of the bootstrap control plane, renamed `kind-<cluster>` and pointed
/// at `server`.
pub fn admin_kubeconfig(
    sh: &mut dyn NodeShell,
    bootstrap: &str,
    cluster: &str,
    server: &str,
) -> Result<String, String> {
    let bytes = read_file(sh, bootstrap, ADMIN_CONF)?.ok_or_else(|| {
        format!("{bootstrap}: {ADMIN_CONF} is missing: kubeadm init has not run there")
    })?;
    external_kubeconfig(&String::from_utf8_lossy(&bytes), cluster, server)
}

#[cfg(test)]
mod tests;
