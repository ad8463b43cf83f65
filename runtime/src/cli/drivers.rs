//! `lo drivers …`.

use serde_json::json;

use super::args::{Cli, DriverCommand, DriversCommand};
use super::{lifecycle::project, print};
use crate::pinning;

pub async fn run(cli: &Cli, command: Option<DriversCommand>) -> anyhow::Result<()> {
    match command.unwrap_or(DriversCommand::List) {
        DriversCommand::List => {
            let project = project(cli).ok();
            let rows = pinning::list(project.as_ref(), cli.locked()).await?;
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
            if cli.locked() {
                anyhow::bail!(
                    "--locked (or LO_LOCKED / CI) refuses changes to drivers.lock; run 'lo drivers add' without it"
                );
            }
            let project = project(cli)?;
            let added = pinning::add(&project, &kind, &path).await?;
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
            let changes = pinning::relock(&project, cli.locked()).await?;
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
            let shown = pinning::show(project.as_ref(), &kind, cli.locked()).await?;
            print::data(cli, json!(shown), || {
                let mut text = format!(
                    "kind      {}\ndriver    {} {} — {}\nsource    {}{}\nsha256    {}\ncontract  lok8s:driver@{}\nkinds     {}\nhooks     {}\n",
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

/// `lo driver …`: tools for driver authors.
pub async fn author(cli: &Cli, command: DriverCommand) -> anyhow::Result<()> {
    match command {
        DriverCommand::Test {
            path,
            spec,
            grant_requests,
            grants,
            env,
            keep,
        } => {
            let body = match &spec {
                Some(f) => std::fs::read_to_string(f)
                    .map_err(|e| anyhow::anyhow!("reading {}: {e}", f.display()))?,
                None => String::new(),
            };
            let grants = match (grants, grant_requests) {
                (Some(file), _) => {
                    let text = std::fs::read_to_string(&file)
                        .map_err(|e| anyhow::anyhow!("reading {}: {e}", file.display()))?;
                    let parsed = toml::from_str(&text)
                        .map_err(|e| anyhow::anyhow!("--grants {}: {e}", file.display()))?;
                    crate::conformance::TestGrants::File(Box::new(parsed))
                }
                (None, true) => crate::conformance::TestGrants::Requests,
                (None, false) => crate::conformance::TestGrants::Nothing,
            };
            let mut values = std::collections::BTreeMap::new();
            for pair in &env {
                let (name, value) = pair.split_once('=').ok_or_else(|| {
                    super::UsageError(format!("--env {pair:?}: write NAME=VALUE"))
                })?;
                values.insert(name.to_string(), value.to_string());
            }
            let dir = tempfile::Builder::new()
                .prefix("lo-driver-test-")
                .tempdir()?;
            let verbosity = crate::host::Verbosity::from_count(cli.global.verbose);
            let report =
                crate::conformance::run(&path, &body, dir.path(), verbosity, grants, values)
                    .await?;
            if keep {
                let _ = dir.keep();
            }
            print::data(cli, json!(report), || {
                let mut text = format!("{} (kind {})", report.component, report.kind);
                for s in &report.steps {
                    text.push_str(&format!(
                        "\n  {} {:<24} {:>6.2}s  {}",
                        if s.ok { "ok  " } else { "FAIL" },
                        s.name,
                        s.seconds,
                        s.detail.lines().next().unwrap_or_default()
                    ));
                }
                if keep {
                    text.push_str(&format!("\n  project kept at {}", report.project));
                }
                text
            });
            if !report.passed() {
                let failed: Vec<&str> = report
                    .steps
                    .iter()
                    .filter(|s| !s.ok)
                    .map(|s| s.name.as_str())
                    .collect();
                anyhow::bail!(
                    "{} failed conformance: {}",
                    report.component,
                    failed.join(", ")
                );
            }
            Ok(())
        }
        DriverCommand::New {
            name,
            lang,
            kind,
            dir,
        } => {
            let dir = dir.unwrap_or_else(|| std::path::PathBuf::from("."));
            let (root, files) = crate::scaffold::new_driver(&dir, &name, kind.as_deref(), &lang)?;
            print::data(
                cli,
                json!({ "path": root, "lang": lang, "files": files }),
                || {
                    format!(
                        "created {} ({lang}): {}\nnext: cd {} && just check",
                        root.display(),
                        files.join(", "),
                        root.display()
                    )
                },
            );
            Ok(())
        }
        DriverCommand::Check { path } => {
            let checked = crate::check::check(&path).await?;
            print::data(cli, json!(checked), || {
                let mut text = format!(
                    "{}\n  sha256    {}\n  size      {} bytes",
                    checked.path, checked.sha256, checked.size
                );
                if let Some(c) = &checked.contract {
                    text.push_str(&format!(
                        "\n  contract  lok8s:driver@{c}\n  driver    {} {} (kinds: {})\n  hooks     {}",
                        checked.name,
                        checked.version,
                        checked.kinds.join(", "),
                        if checked.hooks { "post-provision, export" } else { "none" }
                    ));
                }
                for i in &checked.imports {
                    text.push_str(&format!("\n  imports   {i}"));
                }
                for (grant, reason) in &checked.requested {
                    text.push_str(&format!("\n  requests  {grant}  ({reason})"));
                }
                if checked.problems.is_empty() {
                    text.push_str("\n  ok: this lo runs it when pinned with what it requests");
                }
                text
            });
            if !checked.problems.is_empty() {
                anyhow::bail!(
                    "{} would be refused:\n{}",
                    checked.path,
                    checked
                        .problems
                        .iter()
                        .map(|p| format!("  - {p}"))
                        .collect::<Vec<_>>()
                        .join("\n")
                );
            }
            Ok(())
        }
    }
}
