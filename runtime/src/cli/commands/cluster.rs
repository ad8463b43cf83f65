//! `lo provision`, `destroy`, `status` and `kubeconfig`: a driver session on one cluster.

use serde_json::json;

use crate::cli::args::Cli;
use crate::cli::context::{active_domain, options, project};
use crate::cli::error::CliError;
use crate::cli::print;
use crate::cluster::{self, Options, Provisioned};

/// The domain a command names and the options to run its driver with.
fn prepare(cli: &Cli, target: Option<String>) -> Result<(String, Options), CliError> {
    let project = project(cli)?;
    let domain = active_domain(cli, &project, target)?;
    Ok((domain, options(cli, project)))
}

pub async fn provision(cli: &Cli, target: Option<String>) -> Result<(), CliError> {
    let (domain, opts) = prepare(cli, target)?;
    provisioned(cli, &domain, cluster::provision(&opts, &domain).await?);
    Ok(())
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
