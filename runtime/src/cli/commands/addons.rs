//! `lo addons`: what `spec.bootstrap` can name by bare name, from the project's
//! `.lok8s/addons/` first and lo's catalogue second.

use serde_json::json;

use crate::cli::args::Cli;
use crate::cli::context::{active_domain, project};
use crate::cli::error::CliError;
use crate::cli::print;
use crate::framework::bootstrap::addons::{Addon, Addons, Source, catalogue_files};

fn describe(addon: &Addon) -> serde_json::Value {
    let charts: Vec<_> = addon
        .charts()
        .into_iter()
        .map(|(name, version, repo)| json!({"name": name, "version": version, "repo": repo}))
        .collect();
    json!({
        "type": if addon.is_chart { "chart" } else { "manifests" },
        "source": addon.shown,
        "charts": charts,
    })
}

pub fn run(cli: &Cli, names: &[String]) -> Result<(), CliError> {
    // Outside a project: the catalogue alone (an empty stand-in project has no addons).
    let empty =
        tempfile::tempdir().map_err(|e| CliError::failed(format!("temporary folder: {e}")))?;
    let project = match project(cli) {
        Ok(p) => p,
        Err(_) if cli.global.project.is_none() => {
            std::fs::create_dir(empty.path().join("clusters"))
                .map_err(|e| CliError::failed(format!("temporary folder: {e}")))?;
            crate::project::Project::at(empty.path())
                .map_err(|e| CliError::failed(e.to_string()))?
        }
        Err(e) => return Err(e.into()),
    };
    // `./` references resolve against a domain; bare names do not need one.
    let domain = active_domain(cli, &project, None).unwrap_or_else(|_| "lok8s.dev".into());
    let addons = Addons::new(&project, &domain);
    if names.is_empty() {
        let listed = addons.list();
        let value = json!(
            listed
                .iter()
                .map(|(name, a)| match a {
                    Ok(a) => {
                        let mut v = describe(a);
                        v["name"] = json!(name);
                        v
                    }
                    Err(e) => json!({"name": name, "error": e.to_string()}),
                })
                .collect::<Vec<_>>()
        );
        print::data(cli, value, || {
            let mut text = format!("{:<24} {:<10} {:<10} SOURCE", "NAME", "TYPE", "VERSION");
            for (name, a) in &listed {
                match a {
                    Ok(a) => {
                        let version = a
                            .charts()
                            .first()
                            .map(|(_, v, _)| v.clone())
                            .unwrap_or_else(|| "-".into());
                        let kind = if a.is_chart { "chart" } else { "manifests" };
                        text.push_str(&format!(
                            "\n{name:<24} {kind:<10} {version:<10} {}",
                            a.shown
                        ));
                    }
                    Err(e) => text.push_str(&format!("\n{name:<24} broken: {e}")),
                }
            }
            text
        });
        return Ok(());
    }
    let mut shown = Vec::new();
    for name in names {
        let addon = addons
            .resolve(name)
            .map_err(|e| CliError::failed(format!("{name}: {e}")))?;
        let files: Vec<String> = match &addon.source {
            Source::Catalogue(n) => catalogue_files(n).into_iter().map(|(f, _)| f).collect(),
            Source::Project(rel) => std::fs::read_dir(project.root().join(rel))
                .map(|entries| {
                    let mut f: Vec<String> = entries
                        .flatten()
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .collect();
                    f.sort();
                    f
                })
                .unwrap_or_default(),
        };
        let mut v = describe(&addon);
        v["name"] = json!(name);
        v["files"] = json!(files);
        shown.push(v);
    }
    print::data(cli, json!(shown), || {
        let blocks: Vec<String> = shown
            .iter()
            .map(|v| {
                let mut text = format!(
                    "name:   {}\ntype:   {}\nsource: {}",
                    v["name"].as_str().unwrap_or_default(),
                    v["type"].as_str().unwrap_or_default(),
                    v["source"].as_str().unwrap_or_default()
                );
                for c in v["charts"].as_array().into_iter().flatten() {
                    text.push_str(&format!(
                        "\nchart:  {} {} from {}",
                        c["name"].as_str().unwrap_or_default(),
                        c["version"].as_str().unwrap_or_default(),
                        c["repo"].as_str().unwrap_or_default()
                    ));
                }
                text.push_str("\nfiles:");
                for f in v["files"].as_array().into_iter().flatten() {
                    text.push_str(&format!("\n  - {}", f.as_str().unwrap_or_default()));
                }
                text
            })
            .collect();
        blocks.join("\n---\n")
    });
    Ok(())
}
