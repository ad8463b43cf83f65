//! `lo driver …`: tools for driver authors.

use anyhow::Context as _;
use serde_json::json;

use crate::cli::args::{Cli, DriverCommand};
use crate::cli::error::CliError;
use crate::cli::print;

/// `lo driver …`: tools for driver authors.
pub async fn run(cli: &Cli, command: DriverCommand) -> Result<(), CliError> {
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
                    .with_context(|| format!("reading {}", f.display()))?,
                None => String::new(),
            };
            let grants = match (grants, grant_requests) {
                (Some(file), _) => {
                    let text = std::fs::read_to_string(&file)
                        .with_context(|| format!("reading {}", file.display()))?;
                    let parsed = toml::from_str(&text)
                        .with_context(|| format!("--grants {}", file.display()))?;
                    crate::authoring::conformance::TestGrants::File(Box::new(parsed))
                }
                (None, true) => crate::authoring::conformance::TestGrants::Requests,
                (None, false) => crate::authoring::conformance::TestGrants::Nothing,
            };
            let mut values = std::collections::BTreeMap::new();
            for pair in &env {
                let (name, value) = pair
                    .split_once('=')
                    .ok_or_else(|| CliError::usage(format!("--env {pair:?}: write NAME=VALUE")))?;
                values.insert(name.to_string(), value.to_string());
            }
            let dir = tempfile::Builder::new()
                .prefix("lo-driver-test-")
                .tempdir()?;
            let verbosity = crate::host::Verbosity::from_count(cli.global.verbose);
            let report = crate::authoring::conformance::run(
                &path,
                &body,
                dir.path(),
                verbosity,
                grants,
                values,
                &cli.settings(),
            )
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
                return Err(CliError::failed(format!(
                    "{} failed conformance: {}",
                    report.component,
                    failed.join(", ")
                )));
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
            let (root, files) =
                crate::authoring::scaffold::new_driver(&dir, &name, kind.as_deref(), &lang)?;
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
            let checked = crate::authoring::check::check(&path, &cli.settings()).await?;
            print::data(cli, json!(checked), || {
                let mut text = format!(
                    "{}\n  sha256    {}\n  size      {} bytes",
                    checked.path, checked.sha256, checked.size
                );
                if let Some(c) = &checked.contract {
                    text.push_str(&format!(
                        "\n  contract  lok8s:driver@{c}\n  driver    {} {} (kinds: {})\n  hooks     {}\n  schema    {}",
                        checked.name,
                        checked.version,
                        checked.kinds.join(", "),
                        if checked.hooks { "post-provision, export" } else { "none" },
                        if checked.schema { "published (lo schema <kind>)" } else { "none" }
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
                return Err(CliError::failed(format!(
                    "{} would be refused:\n{}",
                    checked.path,
                    checked
                        .problems
                        .iter()
                        .map(|p| format!("  - {p}"))
                        .collect::<Vec<_>>()
                        .join("\n")
                )));
            }
            Ok(())
        }
    }
}
