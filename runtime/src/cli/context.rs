//! What every command that works on a project needs: the project, the domain, the options.

use crate::cli::args::Cli;
use crate::cli::error::CliError;
use crate::cluster::{self, Options};
use crate::host::Verbosity;
use crate::lock::Limits;
use crate::project::{ActiveDomain, Project};

pub fn project(cli: &Cli) -> anyhow::Result<Project> {
    Ok(match &cli.global.project {
        Some(dir) => Project::at(dir)?,
        None => Project::discover(&std::env::current_dir()?)?,
    })
}

pub fn options(cli: &Cli, project: Project) -> Options {
    Options {
        project,
        force: cli.global.force,
        verbosity: Verbosity::from_count(cli.global.verbose),
        remote: cli.global.remote,
        limits: Limits {
            memory_mib: cli.global.memory_mib,
            cpu_seconds: cli.global.cpu_seconds,
            timeout_seconds: cli.global.timeout,
            timeouts: Default::default(),
        },
        env: cluster::Environment::Process,
        settings: cli.settings(),
    }
}

/// The positional domain or `--domain` (they must agree), else the active domain.
pub fn active_domain(
    cli: &Cli,
    project: &Project,
    positional: Option<String>,
) -> Result<String, CliError> {
    let argument = match (positional, cli.global.domain.clone()) {
        (Some(a), Some(b)) if a != b => {
            return Err(CliError::usage(format!(
                "two domains given: {a:?} and --domain {b:?}; pass one"
            )));
        }
        (a, b) => a.or(b),
    };
    let default = cli.global.default_domain.clone();
    let (domain, warning) =
        ActiveDomain::resolve(project, argument.as_deref(), default.as_deref())?;
    if let Some(w) = warning {
        eprintln!("warning: {w}");
    }
    Ok(domain.name)
}
