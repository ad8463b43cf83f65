//! `lo env`: the variables the cluster's driver exports, as shell `export` lines for `eval`
//! or as JSON. The names and values are the driver's, so only `LOK8S_*` and `KIND_*` names
//! are printed (never `PATH`, `LD_PRELOAD` or anything else a shell would act on), each value
//! single-quoted, and a value with control characters is left out.

use serde_json::json;

use crate::cli::args::Cli;
use crate::cli::context::{active_domain, options, project};
use crate::cli::error::CliError;
use crate::cli::print;
use crate::cluster;

/// Whether `lo env` prints this name.
fn printable_name(name: &str) -> bool {
    name.starts_with("LOK8S_") || name.starts_with("KIND_")
}

/// Newlines and tabs are kept (quoted); escape sequences, other control characters and
/// invisible format characters are not.
fn printable_value(value: &str) -> bool {
    crate::sanitize::strip(value) == value
}

/// `'value'`, with each `'` written as `'\''`.
pub fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

pub async fn run(cli: &Cli, target: Option<String>) -> Result<(), CliError> {
    let project = project(cli)?;
    let domain = active_domain(cli, &project, target)?;
    let opts = options(cli, project);
    let exported = cluster::exported(&opts, &domain).await?;
    let (kept, left_out): (Vec<_>, Vec<_>) = exported
        .into_iter()
        .partition(|(k, v)| printable_name(k) && printable_value(v));
    for (name, _) in &left_out {
        let why = if printable_name(name) {
            "its value holds control characters"
        } else {
            "lo env prints LOK8S_* and KIND_* names only"
        };
        eprintln!("lo env: left out {}: {why}", crate::sanitize::clean(name));
    }
    let map: serde_json::Map<String, serde_json::Value> =
        kept.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    print::data(cli, json!({ "domain": domain, "variables": map }), || {
        kept.iter()
            .map(|(k, v)| format!("export {k}={}", shell_quote(v)))
            .collect::<Vec<_>>()
            .join("\n")
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_survives_a_shell() {
        for value in [
            "plain",
            "it's",
            "'; touch /tmp/x #",
            "$(id) `id` \"q\"",
            "a\nb",
            "",
        ] {
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(format!("V={}; printf %s \"$V\"", shell_quote(value)))
                .output()
                .unwrap();
            assert_eq!(String::from_utf8(out.stdout).unwrap(), value);
        }
    }

    #[test]
    fn only_lok8s_and_kind_names_with_clean_values() {
        assert!(
            printable_name("LOK8S_SPEC_X") && printable_name("KIND_EXPERIMENTAL_DOCKER_NETWORK")
        );
        assert!(
            !printable_name("PATH") && !printable_name("LD_PRELOAD") && !printable_name("BASH_ENV")
        );
        assert!(printable_value("a\nb\tc"));
        assert!(
            !printable_value("a\x1b[2Jb")
                && !printable_value("a\rb")
                && !printable_value("a\u{202e}b")
        );
    }
}
