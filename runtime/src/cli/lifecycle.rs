//! `provision`, `destroy`, `status`, `kubeconfig` and `use`.

use serde_json::json;

use super::args::{Cli, Command};
use super::{UsageError, print};
use crate::host::Verbosity;
use crate::lifecycle::{self, Options, Provisioned};
use crate::lock::Limits;
use crate::project::{ActiveDomain, Project, validate_domain};

pub async fn run(cli: &Cli, command: Command) -> anyhow::Result<()> {
    let project = project(cli)?;
    match command {
        Command::Use { target } => return use_domain(cli, &project, target),
        Command::Provision { ref target }
        | Command::Destroy { ref target }
        | Command::Status { ref target }
        | Command::Kubeconfig { ref target } => {
            let domain = active_domain(cli, &project, target.clone())?;
            let opts = options(cli, project);
            match command {
                Command::Provision { .. } => {
                    provisioned(cli, &domain, lifecycle::provision(&opts, &domain).await?)
                }
                Command::Destroy { .. } => {
                    lifecycle::destroy(&opts, &domain).await?;
                    print::data(cli, json!({ "domain": domain, "destroyed": true }), || {
                        format!("destroyed {domain}")
                    });
                }
                Command::Status { .. } => {
                    let (session, report) = lifecycle::status(&opts, &domain).await?;
                    print::status(cli, &domain, &session, &report);
                }
                Command::Kubeconfig { .. } => {
                    let path = lifecycle::kubeconfig(&opts, &domain).await?;
                    print::data(cli, json!({ "domain": domain, "path": path }), || {
                        path.display().to_string()
                    });
                }
                _ => unreachable!("matched above"),
            }
        }
        Command::Drivers { .. } | Command::Driver { .. } | Command::Version => {
            unreachable!("dispatched in cli::run")
        }
    }
    Ok(())
}

pub fn project(cli: &Cli) -> anyhow::Result<Project> {
    Ok(match &cli.global.project {
        Some(dir) => Project::at(dir)?,
        None => Project::discover(&std::env::current_dir()?)?,
    })
}

fn options(cli: &Cli, project: Project) -> Options {
    Options {
        project,
        force: cli.global.force,
        verbosity: Verbosity::from_count(cli.global.verbose),
        remote: cli.global.remote,
        locked: cli.locked(),
        limits: Limits {
            memory_mib: cli.global.memory_mib,
            cpu_seconds: cli.global.cpu_seconds,
            timeout_seconds: cli.global.timeout,
            timeouts: Default::default(),
        },
        env: lifecycle::Environment::Process,
    }
}

/// The positional domain or `--domain` (they must agree), else the active domain.
fn active_domain(
    cli: &Cli,
    project: &Project,
    positional: Option<String>,
) -> anyhow::Result<String> {
    let argument = match (positional, cli.global.domain.clone()) {
        (Some(a), Some(b)) if a != b => {
            return Err(UsageError(format!(
                "two domains given: {a:?} and --domain {b:?}; pass one"
            ))
            .into());
        }
        (a, b) => a.or(b),
    };
    let env = std::env::var("DOMAIN_NAME").ok();
    let (domain, warning) = ActiveDomain::resolve(project, argument.as_deref(), env.as_deref())?;
    if let Some(w) = warning {
        eprintln!("warning: {w}");
    }
    Ok(domain.name)
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
        Provisioned::Continued(after) => {
            let names: Vec<&str> = after.exported.iter().map(|(k, _)| k.as_str()).collect();
            let value = json!({
                "domain": domain,
                "outcome": "continue",
                "kubeconfig": after.kubeconfig,
                "exported": names,
                "bootstrap_pending": after.bootstrap_pending,
                "phases": after.phases,
            });
            print::data(cli, value, || {
                let mut text = format!("provisioned {domain}");
                match &after.kubeconfig {
                    Some(path) => text.push_str(&format!("\n  kubeconfig: {}", path.display())),
                    None => text.push_str("\n  kubeconfig: none written by the driver"),
                }
                if !names.is_empty() {
                    text.push_str(&format!("\n  exported for bootstrap: {}", names.join(", ")));
                }
                if !after.bootstrap_pending.is_empty() {
                    text.push_str(&format!(
                        "\n  bootstrap: not applied by this build of lo (listed: {})",
                        after.bootstrap_pending.join(", ")
                    ));
                }
                text
            });
        }
    }
}

fn use_domain(cli: &Cli, project: &Project, target: Option<String>) -> anyhow::Result<()> {
    if let Some(domain) = target.or(cli.global.domain.clone()) {
        validate_domain(&domain)?;
        ActiveDomain::set(project, &domain)?;
        print::data(cli, json!({ "active": domain }), || {
            format!("Active domain: {domain}")
        });
        return Ok(());
    }
    let active = crate::project::read_active_domain(project);
    let domains: Vec<_> = project
        .domains()
        .into_iter()
        .map(|(d, spec)| (d, spec.kind_label()))
        .collect();
    let value = json!({
        "active": active,
        "domains": domains.iter().map(|(d, k)| json!({ "domain": d, "kind": k })).collect::<Vec<_>>(),
    });
    print::data(cli, value, || {
        let mut text = match &active {
            Some(a) => format!("Active: {a}\n"),
            None => "No active domain set.\n".to_string(),
        };
        text.push_str("\nAvailable domains:");
        if domains.is_empty() {
            text.push_str("\n  (none: create clusters/<domain>/cluster.lok8s.yaml)");
        }
        for (d, k) in &domains {
            text.push_str(&format!("\n  {d} ({k})"));
        }
        text
    });
    Ok(())
}
