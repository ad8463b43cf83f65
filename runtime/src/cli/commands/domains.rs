//! `lo use`: the active domain, or the list of domains.

use serde_json::json;

use crate::cli::args::Cli;
use crate::cli::context::project;
use crate::cli::error::CliError;
use crate::cli::print;
use crate::project::{ActiveDomain, validate_domain};

pub fn run(cli: &Cli, target: Option<String>) -> Result<(), CliError> {
    let project = &project(cli)?;
    if let Some(domain) = target.or(cli.global.domain.clone()) {
        validate_domain(&domain)?;
        let not_ready = ActiveDomain::set(project, &domain)?;
        if let Some(note) = &not_ready {
            eprintln!("note: {note}");
        }
        print::data(
            cli,
            json!({ "active": domain, "specProblem": not_ready }),
            || format!("Active domain: {domain}"),
        );
        return Ok(());
    }
    let active = crate::project::read_active_domain(project);
    // (domain, kind, why the spec cannot be read yet)
    let domains: Vec<(String, Option<String>, Option<String>)> = project
        .domains()
        .into_iter()
        .map(|(d, spec)| match spec {
            Ok(spec) => (d, Some(spec.kind_label()), None),
            Err(e) => (d, None, Some(e.to_string())),
        })
        .collect();
    let value = json!({
        "active": active,
        "domains": domains
            .iter()
            .map(|(d, k, problem)| json!({ "domain": d, "kind": k, "specProblem": problem }))
            .collect::<Vec<_>>(),
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
        for (d, k, _) in &domains {
            let kind = k.as_deref().unwrap_or("spec not ready");
            text.push_str(&format!("\n  {d} ({kind})"));
        }
        text
    });
    Ok(())
}
