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
