//! The attacker: one hostile driver with many escape attempts, the one to make chosen by the
//! spec (`attempt.attack`), so each case of tests/hostile.rs can give it exactly the grant the
//! attack starts from (the test writes drivers.lock). It imports every interface, so every case
//! grants each of them, if only an empty grant. An attempt that succeeds returns
//! `failed("ESCAPED: …")`; the suite requires a clear refusal and checks on the host that
//! nothing happened. `describe().summary` lists the attacks, so the suite can check each has a
//! case.

mod docker;
mod files;
mod kube;
mod other;

use lok8s_driver_sdk::{
    Capability, CapabilityRequest, Context, DockerAccess, DriverError, DriverInfo, Health,
    KubeAccess, Outcome, Result, SshAccess, StatusReport,
};

/// An attack: its name and what it tries.
type Attack = (&'static str, fn(&Context) -> Result<Outcome>);

/// Every attack, by name.
const ATTACKS: &[Attack] = &[
    ("rewrite-own-spec", files::rewrite_own_spec),
    ("write-other-cluster", files::write_other_cluster),
    ("plant-project", files::plant_project),
    ("read-other-kubeconfig", files::read_other_kubeconfig),
    (
        "overwrite-other-kubeconfig",
        files::overwrite_other_kubeconfig,
    ),
    ("kubeconfig-link-out", files::kubeconfig_link_out),
    (
        "kubeconfig-exec-published",
        files::kubeconfig_exec_published,
    ),
    ("kubeconfig-elsewhere", files::kubeconfig_elsewhere),
    (
        "kubeconfig-unreported-balancer",
        other::kubeconfig_unreported_balancer,
    ),
    ("fifo-open", files::fifo_open),
    ("kube-exec-plugin", kube::exec_plugin),
    ("kube-token-file", kube::token_file),
    ("kube-auth-provider", kube::auth_provider),
    ("kube-proxy-url", kube::proxy_url),
    ("kube-cert-paths", kube::cert_paths),
    ("kube-ca-path", kube::ca_path),
    ("kube-server-elsewhere", kube::server_elsewhere),
    ("kube-other-kubeconfig-path", kube::other_kubeconfig_path),
    ("kube-ungranted-domain", kube::ungranted_domain),
    ("kube-swap-after-use", kube::swap_after_use),
    (
        "kube-foreign-namespace-object",
        kube::foreign_namespace_object,
    ),
    ("http-beside-named-origin", other::http_beside_named_origin),
    ("docker-bind-project", docker::bind_project),
    ("docker-bind-around-project", docker::bind_around_project),
    ("docker-bind-swap", docker::bind_swap),
    ("docker-restart-bind", docker::restart_bind),
    ("docker-writable-suid-mount", docker::writable_suid_mount),
    ("docker-mknod", docker::mknod),
    ("docker-readonly-write", docker::readonly_write),
    ("docker-net-container-mode", docker::net_container_mode),
    ("docker-net-host-name", docker::net_host_name),
    ("docker-net-duplicate", docker::net_duplicate),
    ("docker-net-route", docker::net_route),
    ("docker-net-metadata", docker::net_metadata),
    ("docker-net-options", docker::net_options),
    ("docker-net-bridge-reuse", docker::net_bridge_reuse),
    ("docker-default-bridge", docker::default_bridge),
    ("docker-port-all", docker::port_all),
    ("docker-port-low", docker::port_low),
    ("docker-tag-foreign", docker::tag_foreign),
    ("docker-pull-loopback", docker::pull_loopback),
    ("docker-path-injection", docker::path_injection),
    (
        "docker-connect-foreign-network",
        docker::connect_foreign_network,
    ),
    ("tls-malformed-names", other::tls_malformed_names),
    ("tls-public-name", other::tls_public_name),
    ("ssh-host-case", other::ssh_host_case),
    ("ssh-key-probe", other::ssh_key_probe),
    ("ssh-outlive", other::ssh_outlive),
    ("ssh-outlive-all", other::ssh_outlive_all),
    ("ssh-terminal-echo", other::ssh_terminal_echo),
    ("ssh-unreported-host", other::ssh_unreported_host),
    ("format-spoof", other::format_spoof),
    ("env-leak", other::env_leak),
    ("cpu-waits-not-charged", other::cpu_waits_not_charged),
];

/// A value under `attempt:` in the spec (`key: value` lines).
pub fn param(ctx: &Context, key: &str) -> String {
    ctx.spec
        .lines()
        .find_map(|l| l.trim().strip_prefix(&format!("{key}:")))
        .map(|v| v.trim().to_string())
        .unwrap_or_default()
}

pub fn escaped(what: impl std::fmt::Display) -> Result<Outcome> {
    Err(DriverError::Failed(format!("ESCAPED: {what}")))
}

/// Turns "the call worked" into an escape report and passes refusals through.
pub fn attempt<T>(what: &str, r: Result<T>) -> Result<Outcome> {
    match r {
        Ok(_) => escaped(what),
        Err(e) => Err(e),
    }
}

pub fn io<T>(r: std::io::Result<T>) -> Result<T> {
    r.map_err(|e| DriverError::Failed(e.to_string()))
}

struct Attacker;

impl lok8s_driver_sdk::Driver for Attacker {
    fn describe() -> DriverInfo {
        let names: Vec<&str> = ATTACKS.iter().map(|(n, _)| *n).collect();
        let request = |capability, reason: &str| CapabilityRequest {
            capability,
            reason: reason.into(),
        };
        DriverInfo {
            name: "hostile-attacker".into(),
            version: "0.1.0".into(),
            contract: lok8s_driver_sdk::CONTRACT_VERSION.into(),
            kinds: vec!["Hostile".into()],
            summary: format!("attacks: {}", names.join(" ")),
            capabilities: vec![
                request(
                    Capability::Docker(DockerAccess {
                        privileged: false,
                        shared_networks: vec![],
                        host_paths: vec!["/".into()],
                    }),
                    "the docker attacks",
                ),
                request(
                    Capability::Kube(KubeAccess {
                        namespaces: vec!["*".into()],
                        kinds: vec!["*".into()],
                        clusters: vec![],
                    }),
                    "the kube attacks",
                ),
                request(Capability::Http(vec![]), "linked"),
                request(
                    Capability::Ssh(SshAccess {
                        hosts: vec![],
                        keys: vec![],
                    }),
                    "the ssh attacks",
                ),
                request(Capability::Tls(vec!["*".into()]), "the tls attacks"),
                request(
                    Capability::Env(vec!["ATTACKER_SECRET".into()]),
                    "the env attack",
                ),
            ],
        }
    }

    fn provision(ctx: Context) -> Result<Outcome> {
        let name = param(&ctx, "attack");
        match ATTACKS.iter().find(|(n, _)| *n == name) {
            Some((_, run)) => run(&ctx),
            None => Err(DriverError::Failed(format!("unknown attack {name:?}"))),
        }
    }

    fn destroy(_: Context) -> Result<()> {
        Ok(())
    }

    fn status(_: Context) -> Result<StatusReport> {
        Ok(lok8s_driver_sdk::status("Running", Health::Running, ""))
    }

    fn kubeconfig(ctx: Context) -> Result<String> {
        Ok(ctx.kubeconfig)
    }
}

lok8s_driver_sdk::export_driver!(Attacker);
