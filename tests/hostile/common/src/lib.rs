//! The hostile-driver suite's escape attempts. Each component under `tests/hostile/` exports
//! one of them through [`hostile_driver!`], so its imports are exactly what that one attempt
//! uses. An attempt that succeeds returns `failed("ESCAPED: …")`; the suite requires a clear
//! `denied` or limit error instead, and no trace on the host.

use std::fs;

pub use lok8s_driver_sdk;
use lok8s_driver_sdk::docker as d;
use lok8s_driver_sdk::kubectl_apply as k;
use lok8s_driver_sdk::{Context, DriverError, Outcome, Result};

fn param(ctx: &Context, key: &str) -> String {
    ctx.spec
        .lines()
        .find_map(|l| l.trim().strip_prefix(&format!("{key}:")))
        .map(|v| v.trim().to_string())
        .unwrap_or_default()
}

fn escaped(what: impl std::fmt::Display) -> Result<Outcome> {
    Err(DriverError::Failed(format!("ESCAPED: {what}")))
}

/// Turns "the call worked" into an escape report and passes refusals through.
fn attempt<T>(what: &str, r: Result<T>) -> Result<Outcome> {
    match r {
        Ok(_) => escaped(what),
        Err(e) => Err(e),
    }
}

fn container(ctx: &Context, name: &str) -> d::ContainerSpec {
    let mut spec = lok8s_driver_sdk::container_spec(
        &format!("{}-{name}", param(ctx, "prefix")),
        &param(ctx, "image"),
    );
    spec.cmd = Some(vec!["sleep".into(), "60".into()]);
    spec
}

fn bind(ctx: &Context, source: &str) -> Result<Outcome> {
    let mut spec = container(ctx, "bind");
    spec.mounts = vec![d::Mount {
        kind: d::MountKind::Bind,
        source: source.into(),
        target: "/x".into(),
        read_only: false,
        options: None,
    }];
    attempt(&format!("bind mount {source}"), d::create_container(&spec))
}

fn kube_apply(ctx: &Context, manifest: &str) -> Result<Outcome> {
    let opts = k::ApplyOptions {
        field_manager: "hostile".into(),
        force: true,
    };
    attempt(
        "kube write",
        k::apply(
            &k::Cluster::Kubeconfig(ctx.kubeconfig.clone()),
            manifest,
            &opts,
        ),
    )
}

/// Runs the named escape attempt.
pub fn run(escape: &str, ctx: &Context) -> Result<Outcome> {
    let dir = &ctx.cluster_dir;
    match escape {
        "read-host-file" => attempt(
            "read /etc/shadow",
            fs::read("/etc/shadow").map_err(|e| DriverError::Failed(e.to_string())),
        ),
        "write-outside-project" => attempt(
            "write outside",
            fs::write(format!("{dir}/../../../escaped.txt"), "x")
                .map_err(|e| DriverError::Failed(e.to_string())),
        ),
        "symlink-escape" => attempt(
            "read through a symlink",
            fs::read(format!("{dir}/link/secret.txt"))
                .map_err(|e| DriverError::Failed(e.to_string())),
        ),
        "read-other-domain" => attempt(
            "read another domain",
            fs::read("clusters/victim.dev/cluster.lok8s.yaml")
                .map_err(|e| DriverError::Failed(e.to_string())),
        ),
        "read-lock-file" => attempt(
            "read drivers.lock",
            fs::read(".kubeconfig/../drivers.lock").map_err(|e| DriverError::Failed(e.to_string())),
        ),
        "env-ungranted" => match std::env::var("HOSTILE_SECRET") {
            Ok(v) => escaped(format!("env {v}")),
            Err(_) => Err(DriverError::Denied("HOSTILE_SECRET is not visible".into())),
        },
        "memory-bomb" => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(vec![1u8; 4 << 20]);
                std::hint::black_box(&hoard);
            }
        }
        "endless-loop" => {
            let mut x = 0u64;
            loop {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
            }
        }
        "endless-host-waits" => loop {
            // Outside guest code: a host call that never returns keeps the CPU budget intact;
            // only the wall clock stops it.
            std::thread::sleep(std::time::Duration::from_secs(3600));
        },
        "log-flood" => {
            let line = "x".repeat(1024);
            for _ in 0..12_000 {
                lok8s_driver_sdk::log::write(lok8s_driver_sdk::log::Level::Info, &line);
            }
            // What counts is that lo capped the output; the driver then simply fails.
            Err(DriverError::Failed("log flood finished".into()))
        }
        "terminal-takeover" => {
            lok8s_driver_sdk::log::write(
                lok8s_driver_sdk::log::Level::Info,
                "\x1b]0;owned\x07\x1b[2J\x1b[H",
            );
            print!("\x1b[31mred\r");
            Err(DriverError::Denied("terminal sequences sent".into()))
        }
        "raw-socket" => attempt(
            "raw TCP",
            std::net::TcpStream::connect(param(ctx, "address"))
                .map_err(|e| DriverError::Failed(e.to_string())),
        ),
        "http-ungranted-import" | "http-unlisted-origin" | "http-loopback-by-name" => {
            let url = param(ctx, "url");
            let request = lok8s_driver_sdk::http::Request {
                method: "GET".into(),
                url: url.clone(),
                headers: vec![],
                body: None,
                timeout_ms: Some(2000),
            };
            attempt(
                &format!("GET {url}"),
                lok8s_driver_sdk::http::send(&request),
            )
        }
        "docker-ungranted-import" => attempt("docker inspect", d::inspect_network("bridge")),
        "docker-privileged" => {
            let mut spec = container(ctx, "priv");
            spec.privileged = true;
            attempt("privileged container", d::create_container(&spec))
        }
        "docker-socket-mount" => bind(ctx, "/var/run/docker.sock"),
        "docker-host-path" => bind(ctx, "/etc"),
        "docker-foreign-container" => attempt(
            "stop a foreign container",
            d::stop_container(&param(ctx, "target"), Some(1)),
        ),
        "docker-foreign-exec" => {
            let spec = d::ExecSpec {
                container: param(ctx, "target"),
                cmd: vec!["id".into()],
                env: vec![],
                user: None,
                working_dir: None,
                stdin: None,
            };
            attempt("exec in a foreign container", d::exec(&spec))
        }
        "docker-forged-labels" => {
            let mut spec = container(ctx, "forged");
            spec.labels = vec![("dev.lok8s.project".into(), "/somewhere/else".into())];
            attempt("forged scope labels", d::create_container(&spec))
        }
        "ssh-unlisted-host" | "ssh-ungranted-key" => {
            let options = lok8s_driver_sdk::ssh::ConnectOptions {
                host: param(ctx, "host"),
                port: param(ctx, "port").parse().unwrap_or(22),
                user: "root".into(),
                key: param(ctx, "key"),
                timeout_ms: Some(2000),
            };
            attempt(
                "ssh connect",
                lok8s_driver_sdk::ssh::Session::connect(&options),
            )
        }
        "kube-other-namespace" => kube_apply(
            ctx,
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  namespace: default\ndata: {}\n",
        ),
        "kube-other-kind" => kube_apply(
            ctx,
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\n  namespace: kube-system\n",
        ),
        "kube-foreign-kubeconfig" => attempt(
            "use a kubeconfig outside .kubeconfig/",
            k::list(
                &k::Cluster::Kubeconfig("clusters/victim.dev/admin.yaml".into()),
                "v1",
                "ConfigMap",
                None,
                None,
            ),
        ),
        "tls-ungranted-name" => attempt(
            "issue for bank.example.com",
            lok8s_driver_sdk::tls::issue(&["bank.example.com".into()], None),
        ),
        other => Err(DriverError::Failed(format!("unknown escape {other}"))),
    }
}

/// Defines and exports a driver that makes one escape attempt in `provision`.
#[macro_export]
macro_rules! hostile_driver {
    ($escape:literal, [$($cap:expr),* $(,)?]) => {
        struct Hostile;
        impl $crate::lok8s_driver_sdk::Driver for Hostile {
            fn describe() -> $crate::lok8s_driver_sdk::DriverInfo {
                $crate::lok8s_driver_sdk::DriverInfo {
                    name: concat!("hostile-", $escape).into(),
                    version: "0.1.0".into(),
                    contract: $crate::lok8s_driver_sdk::CONTRACT_VERSION.into(),
                    kinds: vec!["Hostile".into()],
                    summary: concat!("tries: ", $escape).into(),
                    capabilities: vec![$($crate::lok8s_driver_sdk::CapabilityRequest { capability: $cap, reason: "the attempt".into() }),*],
                }
            }
            fn provision(ctx: $crate::lok8s_driver_sdk::Context) -> $crate::lok8s_driver_sdk::Result<$crate::lok8s_driver_sdk::Outcome> {
                $crate::run($escape, &ctx)
            }
            fn destroy(_: $crate::lok8s_driver_sdk::Context) -> $crate::lok8s_driver_sdk::Result<()> {
                Ok(())
            }
            fn status(_: $crate::lok8s_driver_sdk::Context) -> $crate::lok8s_driver_sdk::Result<$crate::lok8s_driver_sdk::StatusReport> {
                Ok($crate::lok8s_driver_sdk::status("Running", $crate::lok8s_driver_sdk::Health::Running, ""))
            }
            fn kubeconfig(ctx: $crate::lok8s_driver_sdk::Context) -> $crate::lok8s_driver_sdk::Result<String> {
                Ok(ctx.kubeconfig)
            }
        }
        $crate::lok8s_driver_sdk::export_driver!(Hostile);
    };
}
