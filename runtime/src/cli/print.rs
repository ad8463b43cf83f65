//! Printing data: one JSON document with `-o json`, readable text otherwise.

use super::args::Cli;
use crate::cluster::Session;
use crate::contract::types;

/// Prints `value` as JSON, or the text `text` builds.
pub fn data(cli: &Cli, value: serde_json::Value, text: impl FnOnce() -> String) {
    if cli.json() {
        println!(
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        );
    } else {
        // Text may carry what drivers said about themselves.
        println!("{}", crate::sanitize::strip(&text()));
    }
}

pub fn status(cli: &Cli, domain: &str, s: &Session, report: &types::StatusReport) {
    let phase = crate::sanitize::clean(&report.phase);
    let message = crate::sanitize::clean(&report.message);
    let value = serde_json::json!({
        "domain": domain,
        "cluster": s.spec.name,
        "cluster_domain": s.spec.domain,
        "kind": s.spec.kind,
        "driver": { "name": s.info.name, "version": s.info.version, "sha256": s.instance.id.digest.to_string() },
        "phase": phase,
        "health": crate::contract::health_word(report.health),
        "message": message,
        "engine": s.remote_engine.as_ref().map(|h| serde_json::json!({"docker_host": h, "remote": true,
            "tunnel": h.starts_with("ssh://")})),
    });
    data(cli, value, || {
        let mut text = format!(
            "domain   {domain}\ncluster  {} (kind {})\ndriver   {} {} ({})\nphase    {phase}\nhealth   {}",
            s.spec.name,
            s.spec.kind,
            s.info.name,
            s.info.version,
            s.instance.id.digest.short(),
            crate::contract::health_word(report.health)
        );
        if !message.is_empty() {
            text.push_str(&format!("\nmessage  {message}"));
        }
        if let Some(host) = &s.remote_engine {
            let reach = if host.starts_with("ssh://") {
                format!("run `lo tunnel {domain}` to use the kubeconfig from here")
            } else {
                "forward the API port to use the kubeconfig from here".to_string()
            };
            text.push_str(&format!(
                "\nengine   {} (remote: ports published on 127.0.0.1 are that machine's; {reach})",
                crate::sanitize::clean(host)
            ));
        }
        text
    });
}

pub fn version(cli: &Cli) {
    let (major, minor, patch) = crate::CONTRACT;
    let value = serde_json::json!({
        "lo": crate::VERSION,
        "contract": format!("lok8s:driver@{major}.{minor}.{patch}"),
        "runs_contracts": format!("{major}.0.0 to {major}.{minor}.x"),
    });
    data(cli, value, || {
        format!(
            "lo {}\ncontract lok8s:driver@{major}.{minor}.{patch} (runs drivers built against {major}.0 to {major}.{minor})",
            crate::VERSION
        )
    });
}
