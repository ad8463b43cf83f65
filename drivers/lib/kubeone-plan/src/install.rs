//! KubeOne's task list (spec 2.8) over a [`NodeShell`]: probe every host, ready the ones that
//! have not joined, `kubeadm init` on the leader, copy the cluster's certificates to each
//! other control plane and join them one at a time (each healthy before the next), remove the
//! stale node of a reinstalled worker (spec 2.6) and join the workers, approve the serving
//! certificates of our own nodes, and read the admin kubeconfig back. A host that already
//! joined is never touched again; a version change stops with the upgrade it needs.
//! Steps that concern each host alone (probes, prerequisites, files, worker joins) run on all
//! of them at once ([`NodeShell::run_each`]).

use lok8s_kubeadm::{
    Command, NodeShell, read_file, run_ok, run_ok_each, share_control_plane_files, write_file,
    write_file_each,
};
use lok8s_provider_hetzner::inventory::Role;

use crate::kubeadm_config::{
    CONFIG, Cluster, ENCRYPTION_CONFIG, Host, Join, KUBELET_PATCH, Kubelet, OIDC_CA_FILE,
    encryption_config, render,
};
use crate::prerequisites::{PROBE, Probe, REGISTRY_LOGINS, script};

const ADMIN: &str = "--kubeconfig=/etc/kubernetes/admin.conf";

/// What an install did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Installed {
    pub initialized: bool,
    /// Hosts that joined in this run, in order.
    pub joined: Vec<String>,
    /// Nodes of reinstalled workers removed before they joined again.
    pub removed_stale: Vec<String>,
    pub approved: Vec<String>,
    /// The admin kubeconfig, pointed at the load balancer.
    pub kubeconfig: String,
}

/// Probes every host; an unsupported OS or a version change stops here, before anything runs.
pub fn probe(
    sh: &mut dyn NodeShell,
    cluster: &Cluster,
    hosts: &[Host],
) -> Result<Vec<Probe>, String> {
    let version = cluster.settings.version;
    let commands = Command::on_each(
        hosts.iter().map(|h| h.name.as_str()),
        &["sh", "-c", PROBE],
        None,
    );
    let outputs = run_ok_each(sh, &commands)?;
    let mut probes = Vec::new();
    for (host, out) in hosts.iter().zip(outputs) {
        let probe = Probe::parse(&String::from_utf8_lossy(&out.stdout));
        if !probe.supported() {
            return Err(format!(
                "{}: the OS is {:?} {}; this driver installs on Debian and Ubuntu only",
                host.name, probe.os, probe.os_version
            ));
        }
        if let Some(installed) = probe.kubeadm
            && installed != version
            && probe.kubelet_conf
        {
            return Err(format!(
                "{} runs Kubernetes {installed} and the spec asks for {version}: that is an upgrade \
                 (`kubeadm upgrade apply {version}` on {} first, then `kubeadm upgrade node` on each \
                 other host, after installing kubeadm {version}), which lo does not do in place yet; \
                 set spec.kubernetes.version back to {installed} to keep the cluster as it is",
                host.name, hosts[0].name
            ));
        }
        probes.push(probe);
    }
    Ok(probes)
}

/// Installs (or completes) the cluster. `hosts` start with the control planes; the leader is
/// the first one that already runs the cluster (so a reinstalled first control plane joins it
/// again instead of starting a second cluster), else the first.
pub fn install(
    sh: &mut dyn NodeShell,
    cluster: &Cluster,
    hosts: &[Host],
    oidc_ca: Option<&str>,
    registry_logins: Option<&str>,
    progress: &mut dyn FnMut(String),
) -> Result<Installed, String> {
    if hosts.first().is_none_or(|h| h.role != Role::ControlPlane) {
        return Err(
            "the provider reports no control plane: label one server lok8s.dev/role=control-plane"
                .into(),
        );
    }
    let probes = probe(sh, cluster, hosts)?;
    let lead = hosts
        .iter()
        .zip(&probes)
        .position(|(h, p)| h.role == Role::ControlPlane && p.admin_conf)
        .unwrap_or(0);
    let leader = &hosts[lead];
    let fresh: Vec<&Host> = hosts
        .iter()
        .zip(&probes)
        .filter(|(_, p)| !p.kubelet_conf)
        .map(|(h, _)| h)
        .collect();
    if !fresh.is_empty() {
        progress(format!("{}: prerequisites", names(&fresh)));
        let ready = script(cluster.settings.version);
        let commands = Command::on_each(
            fresh.iter().map(|h| h.name.as_str()),
            &["sh", "-s"],
            Some(ready.as_bytes()),
        );
        run_ok_each(sh, &commands)?;
        let patches: Vec<String> = fresh
            .iter()
            .map(|h| Kubelet::for_role(h.role).patch())
            .collect();
        let files: Vec<(&str, &str, &[u8])> = fresh
            .iter()
            .zip(&patches)
            .map(|(h, patch)| (h.name.as_str(), KUBELET_PATCH, patch.as_bytes()))
            .collect();
        write_file_each(sh, &files)?;
    }
    if let Some(logins) = registry_logins {
        write_logins(sh, hosts, logins)?;
    }
    let encryption = encryption_key(sh, &leader.name)?;
    let mut files: Vec<(&str, &str, &[u8])> = Vec::new();
    for host in fresh.iter().filter(|h| h.role == Role::ControlPlane) {
        files.push((&host.name, ENCRYPTION_CONFIG, encryption.as_bytes()));
        if let Some(ca) = oidc_ca {
            files.push((&host.name, OIDC_CA_FILE, ca.as_bytes()));
        }
    }
    write_file_each(sh, &files)?;
    let mut done = Installed::default();
    if !probes[lead].admin_conf {
        progress(format!("{}: kubeadm init", leader.name));
        write_file(
            sh,
            &leader.name,
            CONFIG,
            render(cluster, leader, None).as_bytes(),
        )?;
        run_ok(
            sh,
            &leader.name,
            &["kubeadm", "init", "--config", CONFIG],
            None,
        )?;
        done.initialized = true;
    }
    let joining: Vec<&Host> = fresh
        .iter()
        .copied()
        .filter(|h| h.name != leader.name)
        .collect();
    if !joining.is_empty() {
        let join = join_credentials(sh, &leader.name)?;
        // Control planes one at a time, each healthy before the next (etcd quorum).
        let (planes, workers): (Vec<&Host>, Vec<&Host>) = joining
            .into_iter()
            .partition(|h| h.role == Role::ControlPlane);
        for host in planes {
            progress(format!("{}: joining as a control plane", host.name));
            share_control_plane_files(sh, &leader.name, &host.name)?;
            join_each(sh, cluster, &[host], &join)?;
            wait_healthy(sh, &host.name)?;
            done.joined.push(host.name.clone());
        }
        for host in &workers {
            if remove_stale_node(sh, &leader.name, &host.name)? {
                done.removed_stale.push(host.name.clone());
            }
        }
        if !workers.is_empty() {
            progress(format!("{}: joining as workers", names(&workers)));
            join_each(sh, cluster, &workers, &join)?;
            done.joined.extend(workers.iter().map(|h| h.name.clone()));
        }
    }
    done.approved = approve_serving_certificates(sh, &leader.name, hosts)?;
    let admin = read_file(sh, &leader.name, "/etc/kubernetes/admin.conf")?.ok_or_else(|| {
        format!(
            "{}: /etc/kubernetes/admin.conf is missing after init",
            leader.name
        )
    })?;
    done.kubeconfig = lok8s_kubeadm::named_kubeconfig(
        &String::from_utf8_lossy(&admin),
        &cluster.settings.name,
        &format!("https://{}", cluster.endpoint),
    )?;
    Ok(done)
}

/// "a, b, c" for a progress line.
fn names(hosts: &[&Host]) -> String {
    hosts
        .iter()
        .map(|h| h.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The registry logins' drop-in (root-only) on every host, and containerd restarted where it
/// changed.
fn write_logins(sh: &mut dyn NodeShell, hosts: &[Host], logins: &str) -> Result<(), String> {
    let update = format!(
        "umask 077 && f={REGISTRY_LOGINS} && mkdir -p \"$(dirname \"$f\")\" && cat > \"$f.new\" && \
         if cmp -s \"$f.new\" \"$f\"; then rm -f \"$f.new\"; \
         else mv \"$f.new\" \"$f\" && systemctl restart containerd; fi"
    );
    let commands = Command::on_each(
        hosts.iter().map(|h| h.name.as_str()),
        &["sh", "-c", &update],
        Some(logins.as_bytes()),
    );
    run_ok_each(sh, &commands).map(|_| ())
}

/// Writes each host's join configuration and runs `kubeadm join` on all of them at once.
fn join_each(
    sh: &mut dyn NodeShell,
    cluster: &Cluster,
    hosts: &[&Host],
    join: &Join,
) -> Result<(), String> {
    let configs: Vec<String> = hosts
        .iter()
        .map(|host| render(cluster, host, Some(join)))
        .collect();
    let files: Vec<(&str, &str, &[u8])> = hosts
        .iter()
        .zip(&configs)
        .map(|(host, config)| (host.name.as_str(), CONFIG, config.as_bytes()))
        .collect();
    write_file_each(sh, &files)?;
    let commands = Command::on_each(
        hosts.iter().map(|h| h.name.as_str()),
        &["kubeadm", "join", "--config", CONFIG],
        None,
    );
    run_ok_each(sh, &commands).map(|_| ())
}

/// The encryption config every control plane shares: the leader's, or a new one with a key
/// made on the leader (the key never has to exist anywhere else first).
fn encryption_key(sh: &mut dyn NodeShell, leader: &str) -> Result<String, String> {
    if let Some(existing) = read_file(sh, leader, ENCRYPTION_CONFIG)? {
        return Ok(String::from_utf8_lossy(&existing).into_owned());
    }
    let out = run_ok(
        sh,
        leader,
        &["sh", "-c", "head -c 32 /dev/urandom | base64"],
        None,
    )?;
    let key = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if key.len() != 44 {
        return Err(format!(
            "{leader}: could not make an encryption key (got {} characters)",
            key.len()
        ));
    }
    Ok(encryption_config(&key))
}

/// A fresh bootstrap token and the CA hash, from `kubeadm token create --print-join-command`.
fn join_credentials(sh: &mut dyn NodeShell, leader: &str) -> Result<Join, String> {
    let out = run_ok(
        sh,
        leader,
        &[
            "kubeadm",
            "token",
            "create",
            "--ttl",
            "1h",
            "--print-join-command",
        ],
        None,
    )?;
    parse_join_command(&String::from_utf8_lossy(&out.stdout)).ok_or_else(|| {
        format!(
            "{leader}: `kubeadm token create --print-join-command` printed no token and CA hash"
        )
    })
}

pub fn parse_join_command(text: &str) -> Option<Join> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let after = |flag: &str| {
        words
            .iter()
            .position(|w| *w == flag)
            .and_then(|i| words.get(i + 1))
            .map(|s| s.to_string())
    };
    let token = after("--token")?;
    let hash = after("--discovery-token-ca-cert-hash")?;
    let token_ok = token.len() == 23
        && token
            .split_once('.')
            .is_some_and(|(a, b)| a.len() == 6 && b.len() == 16)
        && token
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.');
    let hash_ok = hash
        .strip_prefix("sha256:")
        .is_some_and(|h| h.len() == 64 && h.chars().all(|c| c.is_ascii_hexdigit()));
    (token_ok && hash_ok).then_some(Join {
        token,
        ca_cert_hash: hash,
    })
}

/// Waits (30 tries, two seconds apart, counted on the host) for a joined control plane's API
/// server to answer `/readyz`.
fn wait_healthy(sh: &mut dyn NodeShell, host: &str) -> Result<(), String> {
    let check = format!(
        "i=0; while [ $i -lt 30 ]; do kubectl {ADMIN} --server=https://127.0.0.1:6443 get --raw=/readyz >/dev/null 2>&1 && exit 0; i=$((i+1)); sleep 2; done; exit 1"
    );
    run_ok(sh, host, &["sh", "-c", &check], None)
        .map(|_| ())
        .map_err(|_| format!("{host}: the API server did not become ready after joining (60 s)"))
}

/// Spec 2.6: a worker without kubelet.conf whose node is still in the cluster and not Ready
/// was reinstalled: its old node goes first, so the join starts clean.
fn remove_stale_node(sh: &mut dyn NodeShell, leader: &str, worker: &str) -> Result<bool, String> {
    let ready = "-o=jsonpath={.status.conditions[?(@.type==\"Ready\")].status}";
    let out = sh.run(
        leader,
        &["kubectl", ADMIN, "get", "node", worker, ready],
        None,
    )?;
    let status = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if out.code != 0 || status.is_empty() || status == "True" {
        return Ok(false);
    }
    run_ok(
        sh,
        leader,
        &["kubectl", ADMIN, "delete", "node", worker, "--timeout=20s"],
        None,
    )?;
    Ok(true)
}

/// Approves pending kubelet serving certificates requested by our own nodes only (a CSR from
/// any other name stays pending).
fn approve_serving_certificates(
    sh: &mut dyn NodeShell,
    leader: &str,
    hosts: &[Host],
) -> Result<Vec<String>, String> {
    let listing = "-o=jsonpath={range .items[*]}{.metadata.name}{\" \"}{.spec.signerName}{\" \"}{.spec.username}{\" \"}{.status.conditions[*].type}{\"\\n\"}{end}";
    let out = run_ok(sh, leader, &["kubectl", ADMIN, "get", "csr", listing], None)?;
    let mut approved = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [name, signer, user] = fields[..] else {
            continue;
        };
        let ours = hosts
            .iter()
            .any(|h| user == format!("system:node:{}", h.name));
        if signer == "kubernetes.io/kubelet-serving" && ours {
            run_ok(
                sh,
                leader,
                &["kubectl", ADMIN, "certificate", "approve", name],
                None,
            )?;
            approved.push(name.to_string());
        }
    }
    Ok(approved)
}

#[cfg(test)]
mod tests;
