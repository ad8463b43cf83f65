//! `lo provision`, `destroy`, `status` and `kubeconfig`: a driver session on one cluster.

use serde_json::json;

use std::time::Duration;

use crate::cli::args::{BootstrapArgs, Cli};
use crate::cli::context::{active_domain, options, project};
use crate::cli::error::CliError;
use crate::cli::print;
use crate::cluster::{self, BootstrapRequest, Options, Provisioned};
use crate::framework::bootstrap::RunOptions;

/// The domain a command names and the options to run its driver with.
fn prepare(cli: &Cli, target: Option<String>) -> Result<(String, Options), CliError> {
    let project = project(cli)?;
    let domain = active_domain(cli, &project, target)?;
    Ok((domain, options(cli, project)))
}

/// `lo provision` (with `only`: `lo provision --bootstrap`, `lo bootstrap`).
pub async fn provision(
    cli: &Cli,
    target: Option<String>,
    only: bool,
    args: &BootstrapArgs,
) -> Result<(), CliError> {
    let (domain, opts) = prepare(cli, target)?;
    let request = BootstrapRequest {
        only,
        dry_run: args.dry_run,
        run: RunOptions {
            parallel: args.parallel.into(),
            force_recreate: args.force_recreate,
            only: args.only.clone(),
            skip: args.skip.clone(),
            prune: !args.no_prune,
            ready_timeout: Duration::from_secs(args.ready_timeout),
            caroot: Some(cli.settings().caroot()),
        },
        quiet: cli.json(),
        skip: false,
    };
    let result = cluster::provision(&opts, &domain, &request).await?;
    let failed = match &result {
        Provisioned::Continued(after) => after.bootstrap.as_ref().filter(|r| !r.ok()).map(|r| {
            let code = if r.interrupted { 130 } else { 1 };
            (code, r.summary())
        }),
        _ => None,
    };
    provisioned(cli, &domain, result);
    match failed {
        Some((code, summary)) => Err(CliError {
            error: anyhow::anyhow!("bootstrap of {domain}: {summary}"),
            code,
        }),
        None => Ok(()),
    }
}

pub async fn destroy(cli: &Cli, target: Option<String>) -> Result<(), CliError> {
    let (domain, opts) = prepare(cli, target)?;
    cluster::destroy(&opts, &domain).await?;
    print::data(cli, json!({ "domain": domain, "destroyed": true }), || {
        format!("destroyed {domain}")
    });
    Ok(())
}

pub async fn status(cli: &Cli, target: Option<String>) -> Result<(), CliError> {
    let (domain, opts) = prepare(cli, target)?;
    let (session, report) = cluster::status(&opts, &domain).await?;
    print::status(cli, &domain, &session, &report);
    Ok(())
}

pub async fn kubeconfig(cli: &Cli, target: Option<String>) -> Result<(), CliError> {
    let (domain, opts) = prepare(cli, target)?;
    let path = cluster::kubeconfig(&opts, &domain).await?;
    print::data(cli, json!({ "domain": domain, "path": path }), || {
        path.display().to_string()
    });
    Ok(())
}

/// `lo tunnel`: the kubeconfig first (so it is fresh), then the forward until Ctrl-C or SIGTERM.
pub async fn tunnel(cli: &Cli, target: Option<String>, port: u16) -> Result<(), CliError> {
    let (domain, opts) = prepare(cli, target)?;
    let published = cluster::kubeconfig(&opts, &domain).await?;
    let file = published
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let engine = opts.settings.docker_engine();
    let tunnel =
        crate::framework::tunnel::open(&opts.project, &domain, &file, &engine, port).await?;
    let value = json!({ "domain": domain, "kubeconfig": tunnel.kubeconfig,
        "local_port": tunnel.local_port, "remote_port": tunnel.remote_port, "via": tunnel.via });
    if cli.json() {
        // One line, so a script can read it and leave the tunnel running.
        println!("{value}");
    } else {
        println!(
            "forwarding 127.0.0.1:{} to port {} on {} over ssh; stop with Ctrl-C\nexport KUBECONFIG={}",
            tunnel.local_port,
            tunnel.remote_port,
            tunnel.via,
            tunnel.kubeconfig.display()
        );
    }
    tunnel.serve(stopped()).await?;
    Ok(())
}

/// Ctrl-C or SIGTERM.
async fn stopped() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

fn provisioned(cli: &Cli, domain: &str, result: Provisioned) {
    match result {
        Provisioned::Handled => print::data(
            cli,
            json!({ "domain": domain, "outcome": "handled" }),
            || {
                format!(
                    "provisioned {domain}: the driver handled the whole lifecycle; framework steps skipped"
                )
            },
        ),
        Provisioned::Planned { exported, entries } => {
            let value = json!({ "domain": domain, "outcome": "planned", "exported": exported,
                "bootstrap": entries.iter().map(|e| json!({
                    "name": e.name, "addon": e.addon, "wave": e.wave, "gate": e.gate,
                    "dependsOn": e.depends_on, "selected": e.selected,
                    "objects": e.objects.as_ref().ok(),
                    "error": e.objects.as_ref().err(),
                })).collect::<Vec<_>>() });
            print::data(cli, value, || {
                let mut text = format!("plan for {domain} (nothing changed)");
                if entries.is_empty() {
                    text.push_str("\n  bootstrap: nothing to apply");
                }
                for e in &entries {
                    let gate = if e.gate { ", gate" } else { "" };
                    let after = if e.depends_on.is_empty() {
                        String::new()
                    } else {
                        format!(", after {}", e.depends_on.join(", "))
                    };
                    text.push_str(&format!(
                        "\n  wave {}: {} ({}{gate}{after})",
                        e.wave, e.name, e.addon
                    ));
                    match &e.objects {
                        _ if !e.selected => {
                            text.push_str("\n      not selected (--only/--skip): not rendered")
                        }
                        Ok(objects) => {
                            for o in objects {
                                text.push_str(&format!("\n      {o}"));
                            }
                        }
                        Err(why) => text.push_str(&format!("\n      does not render: {why}")),
                    }
                }
                text
            });
        }
        Provisioned::Continued(after) => {
            let names: Vec<&str> = after.exported.iter().map(|(k, _)| k.as_str()).collect();
            let value = json!({
                "domain": domain,
                "outcome": "continue",
                "kubeconfig": after.kubeconfig,
                "exported": names,
                "bootstrap": after.bootstrap,
                "phases": after.phases,
                "driver_call": after.driver_call,
            });
            print::data(cli, value, || {
                let mut text = format!("provisioned {domain}");
                match &after.kubeconfig {
                    Some(path) => text.push_str(&format!("\n  kubeconfig: {}", path.display())),
                    None => text.push_str("\n  kubeconfig: none written by the driver"),
                }
                if !names.is_empty() {
                    text.push_str(&format!(
                        "\n  exported: {} variables (`lo env {domain}` prints them)",
                        names.len()
                    ));
                }
                match &after.bootstrap {
                    None => text.push_str("\n  bootstrap: nothing to apply"),
                    Some(report) => {
                        text.push_str(&format!("\n  bootstrap: {}", report.summary()));
                        for e in report.entries.iter().filter(|e| e.message.is_some()) {
                            text.push_str(&format!(
                                "\n    {} {}: {}",
                                e.outcome,
                                e.name,
                                e.message.as_deref().unwrap_or_default()
                            ));
                        }
                        for p in &report.pruned {
                            text.push_str(&format!("\n    pruned {p}"));
                        }
                        for k in &report.kept {
                            text.push_str(&format!(
                                "\n    kept {k} (no entry renders it; delete it yourself if unused)"
                            ));
                        }
                    }
                }
                text
            });
        }
    }
}
