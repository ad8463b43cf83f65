//! `lo schema <kind>`: the JSON Schema of a kind's cluster spec, for editors and scripts. A
//! kind pinned in the project's `drivers.lock` answers with its component's schema (contract
//! 1.1 `spec-schema`); a built-in kind with the schema shipped in `lo`.

use crate::cli::args::Cli;
use crate::cli::context::project;
use crate::cli::error::CliError;
use crate::drivers::{builtin, pinning};
use crate::lock::Lockfile;

pub async fn run(cli: &Cli, kind: &str) -> Result<(), CliError> {
    let project = project(cli).ok();
    let pinned = match &project {
        Some(p) => Lockfile::load(&p.lock_path())
            .map_err(anyhow::Error::from)?
            .entry(kind)
            .is_some(),
        None => false,
    };
    let schema = if pinned {
        // A component's schema is its author's text: format and control characters (which
        // would reach the terminal as they are) are removed; a schema never needs them.
        pinning::spec_schema(project.as_ref(), kind, &cli.settings())
            .await?
            .map(|text| crate::sanitize::strip(&text))
            .ok_or_else(|| {
                CliError::usage(format!(
                    "the {kind} driver pinned in drivers.lock publishes no schema (it is built against \
                     contract 1.0, or its spec-schema returns none); its author can export \
                     `spec-schema` (contract 1.1)"
                ))
            })?
    } else {
        let Some(driver) = builtin::find(kind) else {
            let known: Vec<&str> = builtin::all().map(|b| b.kind).collect();
            return Err(CliError::usage(format!(
                "no driver for kind {kind:?}: not built in ({}) and not pinned in this project's \
                 drivers.lock (`lo drivers add {} <component.wasm>`)",
                known.join(", "),
                kind.to_ascii_lowercase()
            )));
        };
        // Printed as shipped: the file is the published schema, byte for byte.
        driver.schema.to_string()
    };
    print!("{schema}");
    if !schema.ends_with('\n') {
        println!();
    }
    Ok(())
}
