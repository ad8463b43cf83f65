//! One entry from render to ready: render, apply in dependency order (Namespaces, then CRDs,
//! waited to `Established`, then the rest, admission webhooks last), retry while the failure
//! is a race a little time fixes, recreate blocked objects only when asked, then wait for the
//! entry's workloads when something depends on it.

use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use super::apply::{Applier, ApplyError, ObjectRef};
use super::entries::Entry;
use super::progress::Progress;
use super::render::{RenderContext, Rendered, render};
use super::wait;

/// Pauses between race retries: six retries, about a minute in all.
const RACE_DELAYS: [u64; 6] = [3, 6, 9, 12, 15, 15];
const CRD_TIMEOUT: Duration = Duration::from_secs(60);
const GONE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the first race retry waits for the entry's workloads (a webhook's server).
const RACE_SETTLE_TIMEOUT: Duration = Duration::from_secs(120);

/// How an entry runs.
#[derive(Debug, Clone)]
pub struct EntrySettings {
    /// Wait for its workloads (something depends on it, or it is a gate).
    pub wait: bool,
    pub ready_timeout: Duration,
    /// Delete and recreate objects an apply cannot change (immutable fields, stuck deletions).
    pub force_recreate: bool,
}

/// What an entry applied: each object and its resourceVersion afterwards.
#[derive(Debug, Clone)]
pub struct Applied {
    pub objects: Vec<(ObjectRef, String)>,
    pub digest: String,
    /// How long the render took, and the whole entry (render, apply, waits).
    pub rendered_in: Duration,
    pub took: Duration,
}

pub async fn run_entry(
    entry: &Entry,
    settings: &EntrySettings,
    render_cx: &RenderContext<'_>,
    applier: &Applier,
    progress: &Progress,
) -> Result<Applied, String> {
    progress.step(&entry.name, "rendering");
    let started = Instant::now();
    let Rendered { objects, digest } = render(entry, render_cx)
        .await
        .map_err(|e| format!("render failed: {e}"))?;
    let rendered_in = started.elapsed();
    progress.step(&entry.name, &format!("applying {} objects", objects.len()));
    let ordered = in_apply_order(objects);
    let applied = apply_with_retries(entry, settings, &ordered, applier, progress).await?;
    if settings.wait {
        ready(entry, settings, &ordered, applier, progress).await?;
    }
    Ok(Applied {
        objects: applied,
        digest,
        rendered_in,
        took: started.elapsed(),
    })
}

fn rank(object: &Value) -> u8 {
    match object
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default()
    {
        "Namespace" => 0,
        "CustomResourceDefinition" => 1,
        "MutatingWebhookConfiguration" | "ValidatingWebhookConfiguration" => 3,
        _ => 2,
    }
}

/// Namespaces, CRDs, everything else in render order, webhooks last.
fn in_apply_order(mut objects: Vec<Value>) -> Vec<Value> {
    objects.sort_by_key(rank);
    objects
}

async fn apply_with_retries(
    entry: &Entry,
    settings: &EntrySettings,
    objects: &[Value],
    applier: &Applier,
    progress: &Progress,
) -> Result<Vec<(ObjectRef, String)>, String> {
    let mut healed = false;
    let mut retries = RACE_DELAYS.iter();
    loop {
        let (applied, errors) = apply_pass(objects, applier).await;
        if errors.is_empty() {
            return Ok(applied);
        }
        let blocked: Vec<&ApplyError> = errors
            .iter()
            .filter(|e| matches!(e, ApplyError::Immutable(..) | ApplyError::Terminating(..)))
            .collect();
        if let Some(failed) = errors.iter().find(|e| matches!(e, ApplyError::Failed(_))) {
            return Err(format!("apply failed: {failed}{}", more(errors.len())));
        }
        if !blocked.is_empty() {
            if !settings.force_recreate {
                return Err(format!(
                    "{}{}; lo can delete and recreate it: re-run with --force-recreate (its pods restart; a Terminating namespace loses what is left in it)",
                    blocked[0],
                    more(blocked.len())
                ));
            }
            if healed {
                return Err(format!("still blocked after recreating: {}", blocked[0]));
            }
            healed = true;
            for e in blocked {
                heal(e, applier, progress, &entry.name).await?;
            }
            continue;
        }
        // Only races are left: a kind whose CRD is not served yet, a webhook not answering.
        let Some(delay) = retries.next() else {
            return Err(format!(
                "still failing after {} retries: {}{}",
                RACE_DELAYS.len(),
                errors[0],
                more(errors.len())
            ));
        };
        let attempt = RACE_DELAYS.len() - retries.len();
        progress.step(
            &entry.name,
            &format!("retry {attempt}/{}: {}", RACE_DELAYS.len(), errors[0]),
        );
        wait_for_crds(objects, applier).await;
        if attempt == 1 {
            settle_workloads(objects, applier).await;
        }
        tokio::time::sleep(Duration::from_secs(*delay)).await;
    }
}

fn more(count: usize) -> String {
    if count > 1 {
        format!(" (and {} more)", count - 1)
    } else {
        String::new()
    }
}

/// Applies every object; CRDs are waited to `Established` before the objects after them (or
/// at the end).
async fn apply_pass(
    objects: &[Value],
    applier: &Applier,
) -> (Vec<(ObjectRef, String)>, Vec<ApplyError>) {
    let mut applied = Vec::new();
    let mut errors = Vec::new();
    let mut crds_waited = false;
    for object in objects {
        if rank(object) >= 2 && !crds_waited {
            crds_waited = true;
            wait_for_crds(objects, applier).await;
        }
        match applier.apply(object).await {
            Ok(done) => applied.push(done),
            Err(e) => errors.push(e),
        }
    }
    // An entry of CRDs only is done when they are served (its dependents use them).
    if !crds_waited {
        wait_for_crds(objects, applier).await;
    }
    (applied, errors)
}

/// Waits (bounded) for the CRDs among `objects` to be served; a CRD that is not is reported
/// by the apply of its custom resources.
async fn wait_for_crds(objects: &[Value], applier: &Applier) {
    let deadline = Instant::now() + CRD_TIMEOUT;
    for crd in objects.iter().filter(|o| rank(o) == 1) {
        let id = ObjectRef::of(crd);
        if let Ok((api, _)) = applier.api(&id).await {
            let _ = wait::until(&api, &id.name, deadline, |o| {
                o.is_some_and(|o| wait::established(&wait::full(o)))
            })
            .await;
        }
    }
}

/// The Deployments, DaemonSets and StatefulSets among an entry's objects.
fn workloads(objects: &[Value]) -> Vec<ObjectRef> {
    objects
        .iter()
        .map(ObjectRef::of)
        .filter(|o| matches!(o.kind.as_str(), "Deployment" | "DaemonSet" | "StatefulSet"))
        .collect()
}

/// Waits until `deadline` for each workload to roll out; returns those that did not, with
/// their progress (`1/3 available`).
async fn not_rolled_out(
    targets: &[ObjectRef],
    applier: &Applier,
    deadline: Instant,
) -> Result<Vec<String>, String> {
    let mut waiting = Vec::new();
    for target in targets {
        let (api, _) = applier.api(target).await.map_err(|e| e.to_string())?;
        let kind = target.kind.clone();
        let done = wait::until(&api, &target.name, deadline, |o| {
            o.is_some_and(|o| wait::rolled_out(&kind, &wait::full(o)) == Some(true))
        })
        .await
        .map_err(|e| format!("waiting for {target}: {e}"))?;
        if !done {
            let live = api.get_opt(&target.name).await.ok().flatten();
            let live = live.as_ref().map(wait::full);
            waiting.push(format!(
                "{target} ({})",
                wait::progress(&target.kind, live.as_ref())
            ));
        }
    }
    Ok(waiting)
}

/// Before the first race retry: the entry's own workloads that exist (a webhook's server is
/// usually one of them) get up to [`RACE_SETTLE_TIMEOUT`] to roll out. Failures are ignored:
/// the retries say what is still wrong.
async fn settle_workloads(objects: &[Value], applier: &Applier) {
    let mut present = Vec::new();
    for target in workloads(objects) {
        if let Ok((api, _)) = applier.api(&target).await
            && let Ok(Some(_)) = api.get_opt(&target.name).await
        {
            present.push(target);
        }
    }
    let _ = not_rolled_out(&present, applier, Instant::now() + RACE_SETTLE_TIMEOUT).await;
}

/// Deletes a blocked object (or finalizes a stuck one) and waits for it to be gone.
async fn heal(
    error: &ApplyError,
    applier: &Applier,
    progress: &Progress,
    entry: &str,
) -> Result<(), String> {
    let (object, terminating) = match error {
        ApplyError::Immutable(o, _) => (o, false),
        ApplyError::Terminating(o, _) => (o, true),
        _ => return Ok(()),
    };
    let namespace_stuck = terminating
        && error.to_string().contains("because it is being terminated")
        && object.namespace.is_some();
    if namespace_stuck {
        let ns = object.namespace.clone().unwrap_or_default();
        progress.step(entry, &format!("finalizing the Terminating namespace {ns}"));
        applier
            .finalize_namespace(&ns)
            .await
            .map_err(|e| format!("finalizing namespace {ns}: {e}"))?;
        return wait_gone(
            applier,
            &ObjectRef {
                api_version: "v1".into(),
                kind: "Namespace".into(),
                namespace: None,
                name: ns,
            },
        )
        .await;
    }
    if terminating {
        progress.step(entry, &format!("clearing the finalizers of {object}"));
        applier
            .clear_finalizers(object)
            .await
            .map_err(|e| format!("clearing finalizers: {e}"))?;
    } else {
        progress.step(entry, &format!("recreating {object}"));
        applier
            .delete(object)
            .await
            .map_err(|e| format!("deleting {object}: {e}"))?;
    }
    wait_gone(applier, object).await
}

async fn wait_gone(applier: &Applier, object: &ObjectRef) -> Result<(), String> {
    let (api, _) = applier.api(object).await.map_err(|e| e.to_string())?;
    let gone = wait::until(&api, &object.name, Instant::now() + GONE_TIMEOUT, |o| {
        o.is_none()
    })
    .await
    .map_err(|e| format!("waiting for {object} to go: {e}"))?;
    if gone {
        Ok(())
    } else {
        Err(format!(
            "{object} was still there {}s after deleting it",
            GONE_TIMEOUT.as_secs()
        ))
    }
}

/// Waits for the entry's Deployments, DaemonSets and StatefulSets to roll out.
async fn ready(
    entry: &Entry,
    settings: &EntrySettings,
    objects: &[Value],
    applier: &Applier,
    progress: &Progress,
) -> Result<(), String> {
    let targets = workloads(objects);
    if targets.is_empty() {
        return Ok(());
    }
    progress.step(
        &entry.name,
        &format!("waiting for {} workloads to be ready", targets.len()),
    );
    let waiting =
        not_rolled_out(&targets, applier, Instant::now() + settings.ready_timeout).await?;
    if waiting.is_empty() {
        return Ok(());
    }
    Err(format!(
        "not ready after {}s: {}; entries that depend on it were not started",
        settings.ready_timeout.as_secs(),
        waiting.join(", ")
    ))
}
