//! `lo driver check <component.wasm>`: what a component is and whether this lo would run it,
//! with no project: the contract it targets, its exports and optional hooks, the imports it
//! uses against the capabilities its `describe` requests, whether the spec schema it publishes
//! compiles, its sha256 and size. Everything that
//! would be refused at load (or when pinned with what it requests) is a problem; any problem
//! fails the check.

use anyhow::Context as _;
use std::path::Path;
use std::sync::Arc;

use serde::Serialize;

use crate::drivers::pinning;
use crate::engine::contract::{self, ContractError};
use crate::engine::{LoadError, Runtime};
use crate::lock::Verified;

#[derive(Debug, Default, Serialize)]
pub struct Checked {
    pub path: String,
    pub sha256: String,
    pub size: usize,
    /// The `lok8s:driver` version in its type, such as `1.0.0`.
    pub contract: Option<String>,
    pub name: String,
    pub version: String,
    pub kinds: Vec<String>,
    pub exports: Vec<String>,
    pub hooks: bool,
    /// Whether it publishes a spec schema (contract 1.1 `spec-schema`) that compiles.
    pub schema: bool,
    pub imports: Vec<String>,
    /// What `describe` requests, one line per capability, with its reason.
    pub requested: Vec<(String, String)>,
    /// Why this lo would refuse it; empty when it would run.
    pub problems: Vec<String>,
    /// The requests as grants (what `lo drivers add` would grant).
    #[serde(skip)]
    pub requests: crate::host::grants::Grants,
}

pub async fn check(path: &Path, settings: &crate::settings::Settings) -> anyhow::Result<Checked> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let component = Verified::unpinned(Arc::from(bytes));
    let mut out = Checked {
        path: path.display().to_string(),
        sha256: component.digest().to_string(),
        size: component.bytes().len(),
        ..Default::default()
    };
    let runtime = Runtime::new(settings.cache())?;
    let shape = match runtime.prepare(&component, None, "") {
        Ok((_, shape, _)) => shape,
        Err(LoadError::Contract(ContractError::Imports(list))) => {
            out.problems.extend(list);
            return Ok(out);
        }
        Err(e) => {
            out.problems.push(format!("{e}"));
            return Ok(out);
        }
    };
    out.contract = Some(format!(
        "{}.{}.{}",
        shape.contract.0, shape.contract.1, shape.contract.2
    ));
    out.exports = shape.exports.clone();
    out.hooks = shape.has_hooks;
    out.imports = shape.imports.clone();
    let inspected = match pinning::inspect(&runtime, "check", &component).await {
        Ok(i) => i,
        Err(e) => {
            out.problems.push(format!("describe(): {e:#}"));
            return Ok(out);
        }
    };
    match &inspected.schema {
        Ok(Some(text)) => match crate::drivers::schema::compile(text) {
            Ok(_) => out.schema = true,
            Err(e) => out.problems.push(format!("spec-schema: {e}")),
        },
        Ok(None) => {}
        Err(e) => out.problems.push(format!("spec-schema: {e}")),
    }
    let info = inspected.info;
    out.name = info.name.clone();
    out.version = info.version.clone();
    out.kinds = info.kinds.clone();
    out.requested = pinning::requested_lines(&info);
    if info.kinds.is_empty() {
        out.problems
            .push("describe() lists no kinds: no spec could select it".into());
    }
    let requested = pinning::requested(&info);
    out.requests = requested.clone();
    if let Err(ContractError::Imports(list)) = contract::check_imports(
        &shape,
        &requested,
        "request the capability in describe() (what `lo drivers add` grants)",
    ) {
        out.problems.extend(list);
    }
    Ok(out)
}
