//! `lo driver test <component.wasm>`: the sequence every driver must pass, on a throwaway
//! project: check → provision → status → kubeconfig → provision again (converges) → destroy →
//! status NotFound, then a malformed spec, which must come back as an error (never a trap):
//! the driver's own, or its schema's before it runs.
//! Each step runs the real lifecycle code `lo provision` runs. Nothing is granted but what the
//! author passes (`--grant-requests`, `--grants`), and granted environment variables take only
//! the values passed with `--env`, never the caller's environment.

use std::path::Path;
use std::time::Instant;

use serde::Serialize;

use crate::cluster::{self, DriverFailed, Environment, Options, SchemaRefused};
use crate::contract::health_word;
use crate::contract::types::Health;
use crate::host::Verbosity;
use crate::host::grants::Grants;
use crate::lock::Limits;
use crate::project::Project;
use crate::settings::Settings;

/// The throwaway cluster's domain.
pub const DOMAIN: &str = "conformance.test";

#[derive(Debug, Serialize)]
pub struct Step {
    pub name: String,
    pub ok: bool,
    pub detail: String,
    pub seconds: f64,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub component: String,
    pub kind: String,
    pub project: String,
    pub steps: Vec<Step>,
}

impl Report {
    pub fn passed(&self) -> bool {
        self.steps.iter().all(|s| s.ok)
    }
}

fn spec_text(kind: &str, body: &str) -> String {
    let mut text = format!("kind: {kind}\nmetadata:\n  name: conformance\nspec:\n");
    if body.trim().is_empty() {
        text.push_str("  {}\n");
    }
    for line in body.lines() {
        text.push_str(&format!("  {line}\n"));
    }
    text
}

/// What the throwaway project grants the component.
#[derive(Debug, Clone)]
pub enum TestGrants {
    Nothing,
    /// What it requests, but paths on this machine and in the project.
    Requests,
    File(Box<Grants>),
}

impl TestGrants {
    fn resolve(&self, requested: Grants) -> Grants {
        match self {
            TestGrants::Nothing => Grants::default(),
            TestGrants::File(g) => (**g).clone(),
            TestGrants::Requests => {
                let mut g = requested;
                if let Some(d) = &mut g.docker {
                    d.host_paths.clear();
                    d.writable_host_paths.clear();
                }
                if let Some(s) = &mut g.ssh {
                    s.keys.clear();
                }
                g.files.clear();
                g
            }
        }
    }
}

/// Runs the sequence in `workdir` (a fresh folder the caller owns). `spec_body` is what goes
/// under `spec:` (a driver may need real settings, such as an image).
pub async fn run(
    component: &Path,
    spec_body: &str,
    workdir: &Path,
    verbosity: Verbosity,
    grants: TestGrants,
    env: std::collections::BTreeMap<String, String>,
    settings: &Settings,
) -> anyhow::Result<Report> {
    let checked = crate::authoring::check::check(component, settings).await?;
    let mut report = Report {
        component: component.display().to_string(),
        kind: checked.kinds.first().cloned().unwrap_or_default(),
        project: workdir.display().to_string(),
        steps: Vec::new(),
    };
    let ok = checked.problems.is_empty() && !report.kind.is_empty();
    report.steps.push(Step {
        name: "check".into(),
        ok,
        detail: if ok {
            format!("{} {} for {}", checked.name, checked.version, report.kind)
        } else {
            checked.problems.join("; ")
        },
        seconds: 0.0,
    });
    if !ok {
        return Ok(report);
    }
    let kind = report.kind.clone();
    std::fs::create_dir_all(workdir.join(format!("clusters/{DOMAIN}")))?;
    std::fs::write(
        workdir.join(format!("clusters/{DOMAIN}/cluster.lok8s.yaml")),
        spec_text(&kind, spec_body),
    )?;
    let project = Project::at(workdir)?;
    let drivers = workdir.join("drivers");
    std::fs::create_dir_all(&drivers)?;
    let copy = drivers.join("driver.wasm");
    std::fs::copy(component, &copy)?;
    let requested = checked.requests.clone();
    let granted = grants.resolve(requested.clone());
    crate::drivers::pinning::add_granting(&project, &kind, &copy, Some(granted.clone()), settings)
        .await?;
    let withheld = granted.missing(&requested);
    if let Some(first) = report.steps.first_mut()
        && !withheld.is_empty()
    {
        first.detail.push_str(&format!(
            "; not granted in this run: {} (pass --grant-requests or --grants FILE)",
            withheld.join("; ")
        ));
    }
    let opts = Options {
        project: project.clone(),
        force: false,
        verbosity,
        remote: false,
        limits: Limits::default(),
        env: Environment::Given(env),
        settings: Settings {
            locked: true,
            ..settings.clone()
        },
    };

    let mut step = |name: &str, start: Instant, result: anyhow::Result<String>| {
        let (ok, detail) = match result {
            Ok(d) => (true, d),
            Err(e) => (false, format!("{e:#}")),
        };
        report.steps.push(Step {
            name: name.into(),
            ok,
            detail,
            seconds: start.elapsed().as_secs_f64(),
        });
        ok
    };

    let driver_only = cluster::BootstrapRequest {
        skip: true,
        ..Default::default()
    };
    let t = Instant::now();
    let provisioned = cluster::provision(&opts, DOMAIN, &driver_only)
        .await
        .map(|p| match p {
            cluster::Provisioned::Handled => "handled".to_string(),
            cluster::Provisioned::Continued(after) if after.exported.is_empty() => {
                "continue".to_string()
            }
            // The hooks ran; name what `export` gave the framework.
            cluster::Provisioned::Continued(after) => {
                let names: Vec<&str> = after.exported.iter().map(|(k, _)| k.as_str()).collect();
                format!("continue; export: {}", names.join(", "))
            }
            cluster::Provisioned::Planned { .. } => "planned".to_string(),
        });
    if !step("provision", t, provisioned) {
        return Ok(report);
    }
    let t = Instant::now();
    let status = cluster::status(&opts, DOMAIN).await.and_then(|(_, r)| {
        if matches!(r.health, Health::NotFound | Health::Failed) {
            anyhow::bail!(
                "after provision, status says {} ({:?}): {}",
                r.phase,
                r.health,
                r.message
            )
        }
        Ok(format!("{} ({})", r.phase, health_word(r.health)))
    });
    step("status after provision", t, status);
    let t = Instant::now();
    let kubeconfig = cluster::kubeconfig(&opts, DOMAIN)
        .await
        .map(|p| p.display().to_string());
    step("kubeconfig", t, kubeconfig);
    let t = Instant::now();
    let again = cluster::provision(&opts, DOMAIN, &driver_only)
        .await
        .map(|_| "converged".to_string());
    step("provision again", t, again);
    let t = Instant::now();
    let destroyed = cluster::destroy(&opts, DOMAIN)
        .await
        .map(|_| "destroyed".to_string());
    step("destroy", t, destroyed);
    let t = Instant::now();
    let gone = cluster::status(&opts, DOMAIN).await.and_then(|(_, r)| {
        if r.health != Health::NotFound {
            anyhow::bail!(
                "after destroy, status says {} ({:?}), not not-found",
                r.phase,
                r.health
            )
        }
        Ok(r.phase)
    });
    step("status after destroy", t, gone);

    // A malformed spec must be answered with an error the user can read, not a trap.
    std::fs::write(
        workdir.join(format!("clusters/{DOMAIN}/cluster.lok8s.yaml")),
        format!("kind: {kind}\nmetadata:\n  name: conformance\nspec:\n  - not\n  - a mapping\n"),
    )?;
    let t = Instant::now();
    let malformed = match cluster::provision(&opts, DOMAIN, &driver_only).await {
        Ok(_) => Ok("accepted (the driver reads nothing from spec)".to_string()),
        Err(e) if e.downcast_ref::<DriverFailed>().is_some() => Ok(format!("refused: {e:#}")),
        Err(e) if e.downcast_ref::<SchemaRefused>().is_some() => {
            Ok(format!("refused by its schema: {e:#}"))
        }
        Err(e) => Err(anyhow::anyhow!("did not answer with a driver error: {e:#}")),
    };
    step("malformed spec", t, malformed);
    let _ = cluster::destroy(&opts, DOMAIN).await;
    Ok(report)
}
