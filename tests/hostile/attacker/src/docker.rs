//! Docker: binds of the project and around it, a bind source swapped after the check, device
//! nodes and setuid files on host paths, network names and options Docker interprets, the
//! default bridge, ports, tags, pulls, names that would travel into the engine's URLs.

use lok8s_driver_sdk::docker as d;
use lok8s_driver_sdk::{Context, DriverError, Outcome, Result};

use crate::{attempt, escaped, param};

fn name(ctx: &Context, suffix: &str) -> String {
    format!("{}-{suffix}", param(ctx, "prefix"))
}

fn container(ctx: &Context, suffix: &str, cmd: &[&str]) -> d::ContainerSpec {
    let mut spec = lok8s_driver_sdk::container_spec(&name(ctx, suffix), &param(ctx, "image"));
    spec.cmd = Some(cmd.iter().map(|s| s.to_string()).collect());
    spec
}

fn mount(source: &str, target: &str, read_only: bool) -> d::Mount {
    d::Mount {
        kind: d::MountKind::Bind,
        source: source.into(),
        target: target.into(),
        read_only,
        options: None,
    }
}

fn create_with(ctx: &Context, what: &str, mounts: Vec<d::Mount>) -> Result<Outcome> {
    let mut spec = container(ctx, "bind", &["sleep", "60"]);
    spec.mounts = mounts;
    attempt(what, d::create_container(&spec))
}

/// Starts a container, waits (bounded) until it exits, and returns its exit code and output;
/// the container is removed.
fn run_to_end(container_name: &str) -> Result<(i64, String)> {
    d::start_container(container_name)?;
    let mut code = None;
    for _ in 0..300 {
        match d::inspect_container(container_name)? {
            Some(c) if !c.running => {
                code = c.exit_code;
                break;
            }
            _ => std::thread::sleep(std::time::Duration::from_millis(100)),
        }
    }
    let logs = d::logs(container_name, Some(50)).unwrap_or_default();
    let _ = d::remove_container(container_name, true);
    Ok((code.unwrap_or(-1), logs))
}

pub fn bind_project(ctx: &Context) -> Result<Outcome> {
    create_with(
        ctx,
        "bind the project",
        vec![mount(&ctx.cluster_dir, "/x", false)],
    )
}

pub fn bind_around_project(ctx: &Context) -> Result<Outcome> {
    create_with(
        ctx,
        "bind a folder around the project",
        vec![mount(&param(ctx, "around"), "/x", true)],
    )
}

/// Creates B binding `<swap>/d`, lets A replace that folder with a link to `/`, then starts B.
pub fn bind_swap(ctx: &Context) -> Result<Outcome> {
    let swap = param(ctx, "swap");
    let mut b = container(ctx, "swapped", &["sleep", "60"]);
    b.mounts = vec![mount(&format!("{swap}/d"), "/x", true)];
    d::create_container(&b)?;
    let mut a = container(ctx, "swapper", &["sh", "-c", "rm -rf /w/d && ln -s / /w/d"]);
    a.mounts = vec![mount(&swap, "/w", false)];
    d::create_container(&a)?;
    let (code, logs) = run_to_end(&a.name)?;
    if code != 0 {
        return Err(DriverError::Failed(format!(
            "the swap did not happen: {logs}"
        )));
    }
    let started = d::start_container(&b.name);
    let _ = d::remove_container(&b.name, true);
    attempt("start a container whose bind source became /", started)
}

/// A container the engine restarts on its own, binding a folder inside a writable host path:
/// a later swap of that folder for a link would be mounted at a restart lo never sees.
pub fn restart_bind(ctx: &Context) -> Result<Outcome> {
    let swap = param(ctx, "swap");
    let mut spec = container(ctx, "restarting", &["sleep", "60"]);
    spec.restart = d::RestartPolicy::Always;
    spec.mounts = vec![mount(&format!("{swap}/d"), "/x", true)];
    attempt(
        "an engine-restarted container over a swappable bind source",
        d::create_container(&spec),
    )
}

pub fn writable_suid_mount(ctx: &Context) -> Result<Outcome> {
    create_with(
        ctx,
        "bind a writable path on a suid mount",
        vec![mount(&param(ctx, "plain"), "/w", false)],
    )
}

pub fn mknod(ctx: &Context) -> Result<Outcome> {
    let mut spec = container(ctx, "mknod", &["mknod", "/w/disk", "b", "8", "0"]);
    spec.mounts = vec![mount(&param(ctx, "writable"), "/w", false)];
    d::create_container(&spec)?;
    let (code, logs) = run_to_end(&spec.name)?;
    if code == 0 {
        return escaped("made a device node on a host path");
    }
    Err(DriverError::Failed(format!("mknod exited {code}: {logs}")))
}

pub fn readonly_write(ctx: &Context) -> Result<Outcome> {
    let mut spec = container(
        ctx,
        "readonly",
        &[
            "sh",
            "-c",
            "grep ' /r ' /proc/self/mountinfo; touch /r/written",
        ],
    );
    spec.mounts = vec![mount(&param(ctx, "readable"), "/r", true)];
    d::create_container(&spec)?;
    let (code, logs) = run_to_end(&spec.name)?;
    if code == 0 {
        return escaped("wrote to a read-only host path");
    }
    Err(DriverError::Failed(format!("write exited {code}: {logs}")))
}

fn network(name: &str, cidr: Option<&str>, options: &[(&str, &str)]) -> d::NetworkSpec {
    d::NetworkSpec {
        name: name.into(),
        subnets: cidr
            .map(|c| {
                vec![d::Subnet {
                    cidr: c.into(),
                    gateway: None,
                }]
            })
            .unwrap_or_default(),
        labels: vec![],
        options: options
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        mtu: None,
        internal: false,
    }
}

pub fn net_container_mode(ctx: &Context) -> Result<Outcome> {
    let spec = network(&format!("container:{}", param(ctx, "target")), None, &[]);
    attempt(
        "a network named container:<foreign>",
        d::create_network(&spec),
    )
}

pub fn net_host_name(ctx: &Context) -> Result<Outcome> {
    let mut spec = container(ctx, "host", &["sleep", "60"]);
    spec.network = Some(d::Endpoint {
        network: "host".into(),
        ipv4: None,
        aliases: vec![],
    });
    attempt("join the host network", d::create_container(&spec))
}

pub fn net_duplicate(ctx: &Context) -> Result<Outcome> {
    let spec = network(&param(ctx, "foreign_net"), None, &[]);
    attempt(
        "a second network of a foreign name",
        d::create_network(&spec),
    )
}

pub fn net_route(ctx: &Context) -> Result<Outcome> {
    let spec = network(&name(ctx, "route"), Some(&param(ctx, "route")), &[]);
    attempt("a network over a host route", d::create_network(&spec))
}

pub fn net_metadata(ctx: &Context) -> Result<Outcome> {
    let spec = network(&name(ctx, "meta"), Some("169.254.0.0/16"), &[]);
    attempt("a network over link-local", d::create_network(&spec))
}

pub fn net_options(ctx: &Context) -> Result<Outcome> {
    let spec = network(
        &name(ctx, "opts"),
        Some("10.199.77.0/24"),
        &[("com.docker.network.bridge.enable_ip_masquerade", "false")],
    );
    attempt("masquerading off", d::create_network(&spec))
}

pub fn net_bridge_reuse(_: &Context) -> Result<Outcome> {
    let spec = network(
        "docker0",
        Some("10.199.78.0/24"),
        &[("com.docker.network.bridge.name", "docker0")],
    );
    attempt("reuse the host's docker0 bridge", d::create_network(&spec))
}

pub fn default_bridge(ctx: &Context) -> Result<Outcome> {
    let spec = container(ctx, "nonet", &["sleep", "60"]);
    let info = d::create_container(&spec)?;
    let _ = d::remove_container(&spec.name, true);
    let joined: Vec<String> = info
        .networks
        .iter()
        .map(|e| e.network.clone())
        .filter(|n| n != "none")
        .collect();
    if !joined.is_empty() {
        return escaped(format!("joined {}", joined.join(", ")));
    }
    Err(DriverError::Denied(
        "a container without a network joined none".into(),
    ))
}

fn port(ctx: &Context, host_ip: &str, host_port: Option<u16>) -> Result<Outcome> {
    let net = name(ctx, "ports");
    d::create_network(&network(&net, None, &[]))?;
    let mut spec = container(ctx, "ports", &["sleep", "60"]);
    spec.network = Some(d::Endpoint {
        network: net.clone(),
        ipv4: None,
        aliases: vec![],
    });
    spec.ports = vec![d::PortBinding {
        container_port: 80,
        protocol: "tcp".into(),
        host_ip: host_ip.into(),
        host_port,
    }];
    let created = d::create_container(&spec);
    let _ = d::remove_container(&spec.name, true);
    let _ = d::remove_network(&net);
    attempt("publish a port", created)
}

pub fn port_all(ctx: &Context) -> Result<Outcome> {
    port(ctx, "0.0.0.0", None)
}

pub fn port_low(ctx: &Context) -> Result<Outcome> {
    port(ctx, "127.0.0.1", Some(80))
}

pub fn tag_foreign(ctx: &Context) -> Result<Outcome> {
    attempt(
        "move a tag it does not own",
        d::tag_image(&param(ctx, "image"), &param(ctx, "victim_tag")),
    )
}

pub fn pull_loopback(ctx: &Context) -> Result<Outcome> {
    let reference = format!("{}/attacker/probe:1", param(ctx, "listener"));
    attempt("pull from a loopback service", d::pull_image(&reference))
}

pub fn path_injection(ctx: &Context) -> Result<Outcome> {
    let target = param(ctx, "target");
    let tries: Vec<Result<()>> = vec![
        d::inspect_container(&format!("../containers/{target}")).map(|_| ()),
        d::stop_container(&format!("{target}/../{target}"), Some(1)),
        d::remove_volume("../../containers/x").map(|_| ()),
        d::inspect_image(&format!("../../containers/{target}/json")).map(|_| ()),
        d::inspect_network(&format!("../containers/{target}")).map(|_| ()),
    ];
    let mut first = None;
    for (i, t) in tries.into_iter().enumerate() {
        match t {
            Ok(()) => return escaped(format!("path injection {i} answered")),
            Err(e) => {
                first.get_or_insert(e);
            }
        }
    }
    Err(first.unwrap_or_else(|| DriverError::Failed("no attempt".into())))
}

pub fn connect_foreign_network(ctx: &Context) -> Result<Outcome> {
    let spec = container(ctx, "connect", &["sleep", "60"]);
    d::create_container(&spec)?;
    let endpoint = d::Endpoint {
        network: param(ctx, "foreign_net"),
        ipv4: None,
        aliases: vec![],
    };
    let joined = d::connect_network(&spec.name, &endpoint);
    let _ = d::remove_container(&spec.name, true);
    attempt("join a foreign network", joined)
}
