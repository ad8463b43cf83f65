//! `lo schema <kind>`: the JSON Schema of a kind's cluster spec, for editors and scripts.

use crate::cli::args::Cli;
use crate::cli::error::CliError;
use crate::drivers::builtin;

pub fn run(_cli: &Cli, kind: &str) -> Result<(), CliError> {
    let Some(driver) = builtin::find(kind) else {
        let known: Vec<&str> = builtin::all().map(|b| b.kind).collect();
        return Err(CliError::usage(format!(
            "no built-in driver for kind {kind:?} (built-in kinds: {}); a driver pinned from a component \
             publishes no schema under the 1.0 contract",
            known.join(", ")
        )));
    };
    // Printed as shipped: the file is the published schema, byte for byte.
    print!("{}", driver.schema);
    if !driver.schema.ends_with('\n') {
        println!();
    }
    Ok(())
}
