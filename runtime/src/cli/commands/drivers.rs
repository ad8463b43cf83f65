//! `lo drivers …`.

use serde_json::json;

use crate::cli::args::{Cli, DriversCommand};
use crate::cli::{context::project, print};
use crate::drivers::pinning;

/// `lo drivers …`.
pub async fn run(cli: &Cli, command: Option<DriversCommand>) -> anyhow::Result<()> {
    match command.unwrap_or(DriversCommand::List) {
        DriversCommand::List => {
            let project = project(cli).ok();
            let rows = pinning::list(project.as_ref(), &cli.settings()).await?;
            print::data(cli, json!(rows), || {
                let mut text = format!(
                    "{:<10} {:<24} {:<22} {:<7} {}",
                    "KIND", "SOURCE", "DRIVER", "PINNED", "SHA256"
                );
                for r in &rows {
                    let state = if r.state == "ok" {
                        String::new()
                    } else {
                        format!("\n           ! {}", r.state)
                    };
                    text.push_str(&format!(
                        "\n{:<10} {:<24} {:<22} {:<7} {}{state}",
                        r.kind,
                        r.source,
                        r.driver,
                        if r.pinned { "yes" } else { "no" },
                        r.sha256
                    ));
                }
                text
            });
        }
        DriversCommand::Add { kind, path } => {
            if cli.settings().locked {
                anyhow::bail!(
                    "--locked (or LO_LOCKED / CI) refuses changes to drivers.lock; run 'lo drivers add' without it"
                );
            }
            let project = project(cli)?;
            let added = pinning::add(&project, &kind, &path, &cli.settings()).await?;
            print::data(cli, json!(added), || {
                let mut text = format!(
                    "pinned {} -> {} ({}) {}",
                    added.kind, added.driver, added.source, added.sha256
                );
                if let Some(old) = &added.replaced {
                    text.push_str(&format!("\n  replaces {old}"));
                }
                text.push_str(
                    "\n  granted (what it requests; review drivers.lock before committing):",
                );
                if added.granted.is_empty() {
                    text.push_str("\n    nothing beyond its cluster folder and .kubeconfig/");
                }
                for g in &added.granted {
                    text.push_str(&format!("\n    {g}"));
                }
                text
            });
        }
        DriversCommand::Lock => {
            let project = project(cli)?;
            let changes = pinning::relock(&project, &cli.settings()).await?;
            print::data(cli, json!({ "changes": changes }), || {
                if changes.is_empty() {
                    "drivers.lock is up to date".to_string()
                } else {
                    format!(
                        "updated drivers.lock:\n{}",
                        changes
                            .iter()
                            .map(|c| format!("  {c}"))
                            .collect::<Vec<_>>()
                            .join("\n")
                    )
                }
            });
        }
        DriversCommand::Verify => {
            let project = project(cli)?;
            let rows = pinning::verify(&project)?;
            let failed = rows.iter().filter(|r| !r.ok).count();
            print::data(cli, json!(rows), || {
                if rows.is_empty() {
                    return "drivers.lock pins nothing".to_string();
                }
                rows.iter()
                    .map(|r| {
                        format!(
                            "{} {}: {}",
                            if r.ok { "ok  " } else { "FAIL" },
                            r.kind,
                            r.detail
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
            if failed > 0 {
                anyhow::bail!("{failed} pinned driver(s) failed verification");
            }
        }
        DriversCommand::Show { kind } => {
            let project = project(cli).ok();
            let shown = pinning::show(project.as_ref(), &kind, &cli.settings()).await?;
            print::data(cli, json!(shown), || {
                let mut text = format!(
                    "kind      {}\ndriver    {} {} — {}\nsource    {}{}\nsha256    {}\ncontract  lok8s:driver@{}\nkinds     {}\nhooks     {}\nschema    {}\n",
                    shown.kind,
                    shown.name,
                    shown.version,
                    shown.summary,
                    shown.source,
                    if shown.pinned {
                        " (pinned in drivers.lock)"
                    } else {
                        " (not pinned)"
                    },
                    shown.sha256,
                    shown.contract,
                    shown.kinds.join(", "),
                    if shown.hooks {
                        "post-provision, export"
                    } else {
                        "none"
                    },
                    if shown.schema {
                        format!("lo schema {}", shown.kind)
                    } else {
                        "none".to_string()
                    },
                );
                text.push_str("\nrequests:");
                if shown.requested.is_empty() {
                    text.push_str("\n  nothing");
                }
                for (what, why) in &shown.requested {
                    text.push_str(&format!("\n  {what}\n    why: {why}"));
                }
                text.push_str("\ngranted:");
                if shown.granted.is_empty() {
                    text.push_str("\n  nothing beyond files and log");
                }
                for g in &shown.granted {
                    text.push_str(&format!("\n  {g}"));
                }
                text.push_str("\nfiles:");
                for f in &shown.files {
                    text.push_str(&format!("\n  {f}"));
                }
                text.push_str("\nimports:");
                for i in &shown.imports {
                    text.push_str(&format!("\n  {i}"));
                }
                text
            });
        }
    }
    Ok(())
}
