//! The bootstrap: after a driver answered `continue`, `lo` applies the cluster's addons
//! itself, the same way for every driver. [`plan`] reads `spec.bootstrap` (grammar, addon
//! folders, dependency graph, tools) before the driver runs, so a broken entry creates
//! nothing; [`run`] renders and applies each entry on the schedule the graph allows, with the
//! variables the driver exported, and keeps a record in the cluster to prune from next time.
//!
//! What the driver influences here is data only: its exported values and the API address in
//! its kubeconfig fill `$LOK8S_*` references inside string values (never YAML structure), and
//! the cluster is reached with the kubeconfig `lo` vetted and published, at an address its
//! grant allows.

pub mod addons;
pub mod apply;
pub mod certs;
pub mod entries;
pub mod graph;
mod pipeline;
pub mod progress;
mod record;
pub mod render;
mod schedule;
pub mod secrets;
pub mod substitute;
#[cfg(test)]
mod tests;
mod wait;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::Serialize;

use addons::Addons;
use apply::{Applier, ObjectRef};
use graph::Graph;
use pipeline::{EntrySettings, run_entry};
use progress::Progress;
use record::{EntryRecord, Record, RecordedObject, never_pruned};
use render::{RenderContext, Renderer, on_path};
use schedule::State;

use crate::project::Project;

/// A problem with `spec.bootstrap` or an addon: the field, what is wrong, and the fix.
#[derive(Debug, Clone, thiserror::Error)]
pub struct BootstrapError {
    pub field: Option<String>,
    pub problem: String,
    pub fix: String,
}

impl std::fmt::Display for BootstrapError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(field) = &self.field {
            write!(f, "{field}: ")?;
        }
        write!(f, "{}", self.problem)?;
        if !self.fix.is_empty() {
            write!(f, "; {}", self.fix)?;
        }
        Ok(())
    }
}

impl BootstrapError {
    pub fn field(field: &str, problem: String, fix: &str) -> BootstrapError {
        BootstrapError {
            field: Some(field.to_string()),
            problem,
            fix: fix.to_string(),
        }
    }

    pub fn problem(problem: String, fix: &str) -> BootstrapError {
        BootstrapError {
            field: None,
            problem,
            fix: fix.to_string(),
        }
    }

    /// Names the field when the error did not.
    pub fn at(mut self, field: &str) -> BootstrapError {
        if self.field.is_none() {
            self.field = Some(field.to_string());
        }
        self
    }
}

/// The bootstrap of one cluster, planned before anything runs.
#[derive(Debug, Clone)]
pub struct Plan {
    pub graph: Graph,
    pub renderer: Renderer,
    /// The cluster's kind, lower-cased (`values.<kind>.yaml`).
    pub kind: String,
    /// `spec.provider.name`.
    pub provider: Option<String>,
    /// The entries are Lo's default (`spec.bootstrap` is absent).
    pub defaulted: bool,
    /// The cluster's domain (where generated certificates are cached).
    pub domain: String,
}

/// Reads and checks `spec.bootstrap`; None when there is nothing to apply.
/// `granted_writable`: project folders some driver may write (its `files` grants), never
/// rendered.
pub fn plan(
    project: &Project,
    domain: &str,
    kind: &str,
    spec_text: &str,
    granted_writable: &[String],
) -> Result<Option<Plan>, BootstrapError> {
    let spec: serde_yaml::Value = serde_yaml::from_str(spec_text)
        .map_err(|e| BootstrapError::problem(format!("the spec: {e}"), "fix the YAML"))?;
    let items = entries::selected(&spec, kind)?;
    if items.is_empty() {
        return Ok(None);
    }
    let defaulted = spec.get("spec").and_then(|s| s.get("bootstrap")).is_none();
    let addons = Addons::new(project, domain).refusing_writable(granted_writable);
    let graph = Graph::plan(entries::parse_all(&items, &addons)?)?;
    let renderer = Renderer::find()?;
    if on_path("helm").is_none()
        && let Some(chart) = graph.entries.iter().find(|e| e.addon.is_chart)
    {
        let charts: Vec<String> = chart
            .addon
            .charts()
            .iter()
            .map(|(name, version, repo)| format!("{name} {version} from {repo}"))
            .collect();
        let (field, fix) = if defaulted {
            (
                format!(
                    "spec.bootstrap (absent, so kind {kind} gets {:?})",
                    chart.name
                ),
                "install Helm 3 (https://helm.sh/docs/intro/install/), or set `spec.bootstrap: []` for none (a Lo cluster then keeps kind's default CNI)",
            )
        } else {
            (
                format!("spec.bootstrap[{}] ({})", chart.index, chart.reference),
                "install Helm 3 (https://helm.sh/docs/intro/install/), or leave the entry out",
            )
        };
        return Err(BootstrapError::field(
            &field,
            format!(
                "{} renders the Helm chart {} and helm is not on PATH",
                chart.addon.shown,
                charts.join(", ")
            ),
            fix,
        ));
    }
    let provider = spec
        .get("spec")
        .and_then(|s| s.get("provider"))
        .and_then(|p| p.get("name"))
        .and_then(serde_yaml::Value::as_str)
        .filter(|p| !p.is_empty())
        .map(str::to_string);
    Ok(Some(Plan {
        graph,
        renderer,
        kind: kind.to_ascii_lowercase(),
        provider,
        defaulted,
        domain: domain.to_string(),
    }))
}

impl Plan {
    fn render_context<'a>(
        &'a self,
        project: &'a Project,
        vars: &'a BTreeMap<String, String>,
        certs: certs::Certs<'a>,
    ) -> RenderContext<'a> {
        RenderContext {
            project,
            renderer: &self.renderer,
            kind: &self.kind,
            provider: self.provider.as_deref(),
            vars,
            certs,
        }
    }
}

/// How a run goes.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Entries running at once (`LOK8S_BOOTSTRAP_PARALLEL`).
    pub parallel: usize,
    pub force_recreate: bool,
    /// Run only these entries (by name); empty: all.
    pub only: Vec<String>,
    pub skip: Vec<String>,
    /// Delete what entries no longer render and the objects of entries no longer listed.
    pub prune: bool,
    pub ready_timeout: Duration,
    /// The user's CA folder (`CAROOT`), for certificate generators; None: they fail.
    pub caroot: Option<std::path::PathBuf>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            parallel: 8,
            force_recreate: false,
            only: Vec::new(),
            skip: Vec::new(),
            prune: true,
            ready_timeout: Duration::from_secs(180),
            caroot: None,
        }
    }
}

/// One entry's result.
#[derive(Debug, Clone, Serialize)]
pub struct EntryReport {
    pub name: String,
    pub addon: String,
    /// applied | failed | skipped | not-selected | interrupted
    pub outcome: &'static str,
    pub objects: usize,
    /// Objects new or changed by this run.
    pub changed: usize,
    /// Milliseconds rendering, and in all (render, apply, waits).
    pub render_ms: u64,
    pub total_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Report {
    pub entries: Vec<EntryReport>,
    /// Objects deleted because nothing renders them any more.
    pub pruned: Vec<String>,
    /// Namespaces and CRDs nothing renders any more, left in place.
    pub kept: Vec<String>,
    pub interrupted: bool,
}

impl Report {
    pub fn ok(&self) -> bool {
        !self.interrupted
            && self
                .entries
                .iter()
                .all(|e| matches!(e.outcome, "applied" | "not-selected"))
    }

    /// The one-line summary: `3 applied (40 objects, 2 new or changed), 1 of them unchanged,
    /// 1 failed, 1 skipped`.
    pub fn summary(&self) -> String {
        let count = |o: &str| self.entries.iter().filter(|e| e.outcome == o).count();
        let objects: usize = self.entries.iter().map(|e| e.objects).sum();
        let changed: usize = self.entries.iter().map(|e| e.changed).sum();
        let unchanged = self
            .entries
            .iter()
            .filter(|e| e.outcome == "applied" && e.changed == 0)
            .count();
        let mut parts = vec![format!(
            "{} applied ({objects} objects, {changed} new or changed)",
            count("applied")
        )];
        if unchanged > 0 {
            parts.push(format!("{unchanged} of them unchanged"));
        }
        for (outcome, word) in [
            ("failed", "failed"),
            ("skipped", "skipped"),
            ("not-selected", "not selected"),
            ("interrupted", "interrupted"),
        ] {
            let n = count(outcome);
            if n > 0 {
                parts.push(format!("{n} {word}"));
            }
        }
        if !self.pruned.is_empty() {
            parts.push(format!("{} pruned", self.pruned.len()));
        }
        parts.join(", ")
    }
}

/// `LOK8S_USER_API_HOST` / `_PORT` from the API server URL (IPv6 without brackets; the
/// scheme's port when none is written).
pub fn api_endpoint(server: &str) -> Option<(String, String)> {
    let uri: http::Uri = server.parse().ok()?;
    let host = uri.host()?.trim_start_matches('[').trim_end_matches(']');
    let port = uri.port_u16().unwrap_or(match uri.scheme_str() {
        Some("http") => 80,
        _ => 443,
    });
    Some((host.to_string(), port.to_string()))
}

/// The variables renders substitute: the driver's exports and the API endpoint. Only
/// `LOK8S_SPEC_*` / `LOK8S_USER_*` names are ever substituted.
pub fn variables(exported: &[(String, String)], server: Option<&str>) -> BTreeMap<String, String> {
    let mut vars: BTreeMap<String, String> = exported
        .iter()
        .filter(|(k, _)| substitute::whitelisted(k))
        .cloned()
        .collect();
    if let Some((host, port)) = server.and_then(api_endpoint) {
        vars.insert("LOK8S_USER_API_HOST".into(), host);
        vars.insert("LOK8S_USER_API_PORT".into(), port);
    }
    vars
}

/// Refuses `--only`/`--skip` names that are not entries of the plan (checked before the
/// driver runs).
pub fn check_selection(plan: Option<&Plan>, opts: &RunOptions) -> Result<(), BootstrapError> {
    let entries = plan.map(|p| p.graph.entries.as_slice()).unwrap_or_default();
    for (flag, names) in [("--only", &opts.only), ("--skip", &opts.skip)] {
        for name in names {
            if !entries.iter().any(|e| &e.name == name) {
                let known: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
                let fix = if known.is_empty() {
                    "spec.bootstrap selects no entries; drop the flag".to_string()
                } else {
                    format!("name one of: {}", known.join(", "))
                };
                return Err(BootstrapError::problem(
                    format!("{flag} {name}: no such entry in spec.bootstrap"),
                    &fix,
                ));
            }
        }
    }
    Ok(())
}

/// CNI entries that `--only`/`--skip` leave out of this run: a new cluster whose driver leaves
/// the CNI to the bootstrap (Lo, when `spec.bootstrap` names one) then has none until they run.
pub fn cni_left_out(plan: Option<&Plan>, opts: &RunOptions) -> Vec<String> {
    let Some(plan) = plan else {
        return Vec::new();
    };
    let Ok(selected) = selection(plan, opts) else {
        return Vec::new();
    };
    plan.graph
        .entries
        .iter()
        .zip(selected)
        .filter(|(e, on)| {
            !on && lok8s_bootstrap_refs::is_cni(&e.reference, e.explicit_name.then_some(&*e.name))
        })
        .map(|(e, _)| e.name.clone())
        .collect()
}

fn selection(plan: &Plan, opts: &RunOptions) -> Result<Vec<bool>, BootstrapError> {
    check_selection(Some(plan), opts)?;
    Ok(plan
        .graph
        .entries
        .iter()
        .map(|e| {
            (opts.only.is_empty() || opts.only.contains(&e.name)) && !opts.skip.contains(&e.name)
        })
        .collect())
}

/// Renders, applies and records every selected entry; Ctrl-C stops every worker.
pub async fn run(
    plan: &Plan,
    project: &Project,
    client: kube::Client,
    vars: &BTreeMap<String, String>,
    opts: &RunOptions,
    progress: &Progress,
) -> Result<Report, BootstrapError> {
    let selected = selection(plan, opts)?;
    for w in &plan.graph.warnings {
        progress.note(w);
    }
    let applier = Applier::new(client);
    let (previous, record_readable) = match Record::load(&applier).await {
        Ok(r) => (r, true),
        Err(e) => {
            progress.note(&format!("{e}; nothing is pruned this run"));
            (Record::default(), false)
        }
    };
    let certs = opts
        .caroot
        .as_deref()
        .map(|caroot| certs::CertSource::new(project, &plan.domain, caroot));
    let render_cx = plan.render_context(
        project,
        vars,
        certs
            .as_ref()
            .map_or(certs::Certs::NoCa, certs::Certs::Issue),
    );
    let start = |k: usize| {
        let entry = &plan.graph.entries[k];
        let settings = EntrySettings {
            wait: plan.graph.is_target[k] || entry.wait,
            ready_timeout: opts.ready_timeout,
            force_recreate: opts.force_recreate,
        };
        let (render_cx, applier) = (&render_cx, &applier);
        async move {
            progress.start(&entry.name);
            let result = run_entry(entry, &settings, render_cx, applier, progress).await;
            match &result {
                Ok(a) => progress.finish(
                    &entry.name,
                    true,
                    &format!("applied {} objects", a.objects.len()),
                ),
                Err(why) => progress.finish(&entry.name, false, why),
            }
            result
        }
    };
    let stop = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let (states, interrupted) =
        match schedule::run(&plan.graph, &selected, opts.parallel, start, stop).await {
            Ok(states) => (states, false),
            Err(states) => (states, true),
        };
    let mut report = Report {
        interrupted,
        ..Report::default()
    };
    // What some entry applied this run is never pruned, though another entry (or a renamed
    // one) recorded it before: objects move between entries.
    let applied_now: BTreeSet<ObjectRef> = states
        .iter()
        .filter_map(|s| match s {
            State::Done(a) => Some(a.objects.iter().map(|(o, _)| o.clone())),
            _ => None,
        })
        .flatten()
        .collect();
    let mut next = previous.clone();
    for (entry, state) in plan.graph.entries.iter().zip(&states) {
        let mut line = EntryReport {
            name: entry.name.clone(),
            addon: entry.addon.shown.clone(),
            outcome: "applied",
            objects: 0,
            changed: 0,
            render_ms: 0,
            total_ms: 0,
            message: None,
        };
        match state {
            State::Done(applied) => {
                line.objects = applied.objects.len();
                line.render_ms = applied.rendered_in.as_millis() as u64;
                line.total_ms = applied.took.as_millis() as u64;
                line.changed = previous.changed(&entry.name, &applied.objects);
                let now: Vec<ObjectRef> = applied.objects.iter().map(|(o, _)| o.clone()).collect();
                let mut dropped = previous.dropped(&entry.name, &now);
                dropped.retain(|o| !applied_now.contains(o));
                let mut objects: Vec<RecordedObject> = applied
                    .objects
                    .iter()
                    .map(|(o, v)| RecordedObject {
                        object: o.clone(),
                        resource_version: v.clone(),
                    })
                    .collect();
                if opts.prune && record_readable {
                    prune(&applier, dropped, &mut report).await;
                } else {
                    // Not pruned now: still this entry's, so a later run prunes them.
                    objects.extend(previous.recorded(&entry.name, &dropped));
                }
                next.entries.insert(
                    entry.name.clone(),
                    EntryRecord {
                        addon: entry.addon.shown.clone(),
                        digest: applied.digest.clone(),
                        objects,
                    },
                );
            }
            State::Failed(why) => {
                line.outcome = "failed";
                line.message = Some(why.clone());
            }
            State::Skipped(cause) => {
                line.outcome = "skipped";
                line.message = Some(format!("{cause} failed, and this entry waits for it"));
                progress.note(&format!("skipped {}: {cause} failed", entry.name));
            }
            State::NotSelected => line.outcome = "not-selected",
            State::Pending | State::Running => line.outcome = "interrupted",
        }
        report.entries.push(line);
    }
    // Entries no longer listed: pruned once everything else went well.
    let whole_run = opts.only.is_empty() && opts.skip.is_empty();
    if opts.prune && record_readable && whole_run && report.ok() {
        let listed: Vec<&str> = plan.graph.entries.iter().map(|e| e.name.as_str()).collect();
        let removed: Vec<String> = previous
            .entries
            .keys()
            .filter(|name| !listed.contains(&name.as_str()))
            .cloned()
            .collect();
        for name in &removed {
            next.entries.remove(name);
        }
        // Still recorded by a listed entry (one that did not run this time, say): kept.
        let claimed: BTreeSet<ObjectRef> = next
            .entries
            .values()
            .flat_map(|e| e.objects.iter().map(|o| o.object.clone()))
            .chain(applied_now.iter().cloned())
            .collect();
        for name in removed {
            let mut objects = previous.dropped(&name, &[]);
            objects.retain(|o| !claimed.contains(o));
            prune(&applier, objects, &mut report).await;
        }
    }
    if next != previous
        && let Err(e) = next.save(&applier).await
    {
        progress.note(&e);
    }
    Ok(report)
}

async fn prune(applier: &Applier, objects: Vec<ObjectRef>, report: &mut Report) {
    for object in objects {
        if never_pruned(&object) {
            report.kept.push(object.to_string());
            continue;
        }
        match applier.delete(&object).await {
            Ok(_) => report.pruned.push(object.to_string()),
            Err(e) => report.kept.push(format!("{object} (pruning failed: {e})")),
        }
    }
}

/// What `--dry-run` shows of one entry.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedEntry {
    pub name: String,
    pub addon: String,
    pub wave: usize,
    pub gate: bool,
    #[serde(rename = "dependsOn")]
    pub depends_on: Vec<String>,
    /// Whether `--only`/`--skip` select it (an entry left out is shown, not rendered).
    pub selected: bool,
    /// Its objects as `Kind namespace/name`, or why it did not render.
    pub objects: Result<Vec<String>, String>,
}

/// The plan with each entry `--only`/`--skip` select rendered (nothing is applied).
pub async fn dry_run(
    plan: &Plan,
    project: &Project,
    vars: &BTreeMap<String, String>,
    opts: &RunOptions,
) -> Result<Vec<PlannedEntry>, BootstrapError> {
    let selected = selection(plan, opts)?;
    // Nothing is issued or written in a dry run: certificate data is left empty.
    let render_cx = plan.render_context(project, vars, certs::Certs::DryRun);
    let mut planned = Vec::new();
    for (wave, members) in plan.graph.waves().into_iter().enumerate() {
        for k in members {
            let entry = &plan.graph.entries[k];
            let objects = if selected[k] {
                render::render(entry, &render_cx)
                    .await
                    .map(|r| {
                        r.objects
                            .iter()
                            .map(|o| ObjectRef::of(o).to_string())
                            .collect()
                    })
                    .map_err(|e| e.to_string())
            } else {
                Ok(Vec::new())
            };
            planned.push(PlannedEntry {
                name: entry.name.clone(),
                addon: entry.addon.shown.clone(),
                wave: wave + 1,
                gate: entry.wait,
                depends_on: plan.graph.parents[k]
                    .iter()
                    .map(|&p| plan.graph.entries[p].name.clone())
                    .collect(),
                selected: selected[k],
                objects,
            });
        }
    }
    Ok(planned)
}
