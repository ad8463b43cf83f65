//! `lo drivers …` as library calls: what each kind runs, pinning components by sha256 in
//! `drivers.lock`, and what a driver asks for versus what it is granted.

use std::sync::Arc;

use anyhow::{Context as _, bail};
use serde::Serialize;

use crate::contract::types;
use crate::drivers::builtin;
use crate::engine::Runtime;
use crate::engine::contract::Shape;
use crate::engine::instance::{DriverId, DriverInstance};
use crate::engine::instance::{Interrupted, interrupted};
use crate::engine::limits::RunLimits;
use crate::host::grants::Grants;
use crate::host::limits::StoreLimits;
use crate::host::{HostBuilder, Logger, Verbosity};
use crate::lock::{LOCK_VERSION, Limits, LockEntry, Lockfile, Source, Verified};
use crate::project::{Project, SpecFile};
use crate::settings::Settings;

/// A driver as `describe` and its type show it, before it is given anything.
pub struct Inspected {
    pub info: types::DriverInfo,
    pub shape: Shape,
    /// The JSON Schema its `spec-schema` export returned (contract 1.1), or why it could not
    /// be had.
    pub schema: Result<Option<String>, String>,
}

/// Instantiates with no files, no env and no grants, and asks the driver who it is.
pub async fn inspect(
    runtime: &Runtime,
    kind: &str,
    component: &Verified,
) -> anyhow::Result<Inspected> {
    let id = DriverId {
        kind: kind.to_string(),
        name: None,
        version: None,
        digest: component.digest().clone(),
    };
    let (prepared, shape, _) = runtime
        .prepare(component, None, "")
        .with_context(|| format!("loading {id}"))?;
    let limits = RunLimits::resolve(&Limits::default(), &Limits::default());
    let host = HostBuilder::new(
        Logger::stderr(kind, Verbosity::Normal, true),
        StoreLimits::new(limits.memory_bytes, limits.cpu),
    )
    .build();
    let mut instance = DriverInstance::start(&prepared, host, id, limits)
        .await
        .map_err(interrupted)?;
    let info = instance.describe().await.map_err(interrupted)?;
    crate::engine::contract::check_described(&shape, &info.contract)?;
    let schema = instance
        .spec_schema()
        .await
        .map_err(|e| format!("{:#}", interrupted(e)));
    Ok(Inspected {
        info,
        shape,
        schema,
    })
}

/// What a driver's describe asks for, in the lock's shape.
pub fn requested(info: &types::DriverInfo) -> Grants {
    Grants::requested(info)
}

/// Each capability `describe` requests as one grant line, with the driver's reason.
pub fn requested_lines(info: &types::DriverInfo) -> Vec<(String, String)> {
    info.capabilities
        .iter()
        .map(|r| {
            let one = Grants::from_request(&r.capability);
            (one.lines().join("; "), r.reason.clone())
        })
        .collect()
}

/// One line of `lo drivers list`.
#[derive(Debug, Serialize)]
pub struct Listed {
    pub kind: String,
    pub source: String,
    pub driver: String,
    pub sha256: String,
    pub pinned: bool,
    /// `ok`, or why the pinned component cannot be used.
    pub state: String,
}

/// Under `locked`, unpinned built-ins are listed with their hash but not run.
pub async fn list(project: Option<&Project>, settings: &Settings) -> anyhow::Result<Vec<Listed>> {
    let locked = settings.locked;
    let lock = match project {
        Some(p) => Lockfile::load(&p.lock_path())?,
        None => Lockfile::default(),
    };
    let runtime = Runtime::new(settings.cache())?;
    let mut rows = Vec::new();
    for (kind, entry) in &lock.drivers {
        let state = match project.map(|p| crate::drivers::resolve::from_entry(p, kind, entry)) {
            Some(Ok(_)) => "ok".to_string(),
            Some(Err(e)) => e.to_string(),
            None => "ok".into(),
        };
        rows.push(Listed {
            kind: kind.clone(),
            source: entry.source.clone(),
            driver: entry.driver.clone().unwrap_or_default(),
            sha256: entry.sha256.clone(),
            pinned: true,
            state,
        });
    }
    for b in builtin::all() {
        if lock.drivers.contains_key(b.kind) {
            continue;
        }
        let component = Verified::unpinned(Arc::from(b.component));
        let driver = if locked {
            "(not run: unpinned under --locked)".to_string()
        } else {
            match inspect(&runtime, b.kind, &component).await {
                Ok(i) => format!("{} {}", i.info.name, i.info.version),
                Err(e) if e.downcast_ref::<Interrupted>().is_some() => return Err(e),
                Err(e) => format!("unusable: {e:#}"),
            }
        };
        rows.push(Listed {
            kind: b.kind.to_string(),
            source: "builtin".into(),
            driver,
            sha256: component.digest().to_string(),
            pinned: false,
            state: "ok".into(),
        });
    }
    rows.sort_by(|a, b| a.kind.cmp(&b.kind));
    Ok(rows)
}

/// What `lo drivers add` did.
#[derive(Debug, Serialize)]
pub struct Added {
    pub kind: String,
    pub source: String,
    pub sha256: String,
    pub driver: String,
    pub replaced: Option<String>,
    pub granted: Vec<String>,
}

/// Pins the component at `path` for `kind`, granting what it requests.
pub async fn add(
    project: &Project,
    kind: &str,
    path: &std::path::Path,
    settings: &Settings,
) -> anyhow::Result<Added> {
    add_granting(project, kind, path, None, settings).await
}

/// Pins the component at `path` for `kind`, granting `grants` (None: what it requests).
pub async fn add_granting(
    project: &Project,
    kind: &str,
    path: &std::path::Path,
    grants: Option<Grants>,
    settings: &Settings,
) -> anyhow::Result<Added> {
    let key = kind.to_ascii_lowercase();
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let source_path = project.relative(path).unwrap_or_else(|| {
        std::path::absolute(path)
            .unwrap_or_else(|_| path.to_path_buf())
            .display()
            .to_string()
    });
    let component = Verified::unpinned(Arc::from(bytes));
    let runtime = Runtime::new(settings.cache())?;
    let inspected = inspect(&runtime, &key, &component).await?;
    let info = &inspected.info;
    if !info.kinds.iter().any(|k| k.eq_ignore_ascii_case(kind)) {
        bail!(
            "{} {} provisions kinds [{}], not {kind:?}; pin it under one of those",
            info.name,
            info.version,
            info.kinds.join(", ")
        );
    }
    let lock_path = project.lock_path();
    let mut lock = Lockfile::load(&lock_path)?;
    lock.version = LOCK_VERSION;
    let requests = requested(info);
    let entry = LockEntry {
        source: Source::Path(source_path.clone()).to_string(),
        requested: Some(path.display().to_string()),
        sha256: component.digest().to_string(),
        driver: Some(format!("{} {}", info.name, info.version)),
        contract: Some(info.contract.clone()),
        grants: grants.unwrap_or_else(|| requests.clone()),
        requests,
        limits: lock
            .drivers
            .get(&key)
            .map(|e| e.limits.clone())
            .unwrap_or_default(),
    };
    let replaced = lock
        .drivers
        .insert(key.clone(), entry.clone())
        .map(|old| old.sha256);
    lock.save(&lock_path)?;
    Ok(Added {
        kind: key,
        source: entry.source,
        sha256: entry.sha256,
        driver: entry.driver.unwrap_or_default(),
        replaced,
        granted: entry.grants.lines(),
    })
}

/// `lo drivers lock`: brings every pin up to date with the bytes on disk and pins the built-in
/// drivers the project's specs use. Returns the changes; under `locked` any change is an error
/// and nothing is written.
pub async fn relock(project: &Project, settings: &Settings) -> anyhow::Result<Vec<String>> {
    let locked = settings.locked;
    let lock_path = project.lock_path();
    let mut lock = Lockfile::load(&lock_path)?;
    lock.version = LOCK_VERSION;

    // First find what would change, compiling nothing: under --locked that is all we do.
    let mut updates: Vec<(String, Verified)> = Vec::new();
    for (kind, entry) in &lock.drivers {
        let bytes: Arc<[u8]> = match entry.source() {
            Some(Source::Builtin) => match builtin::find(kind) {
                Some(b) => Arc::from(b.component),
                None => bail!(
                    "drivers.{kind}: source \"builtin\", but this lo has no built-in {kind} driver"
                ),
            },
            Some(Source::Path(p)) => Arc::from(
                std::fs::read(project.root().join(&p))
                    .with_context(|| format!("drivers.{kind}: reading {p}"))?,
            ),
            None => bail!("drivers.{kind}: unknown source {:?}", entry.source),
        };
        let component = Verified::unpinned(bytes);
        if component.digest().to_string() != entry.sha256 {
            updates.push((kind.clone(), component));
        }
    }
    let mut additions: Vec<(String, Verified)> = Vec::new();
    for (domain, spec) in project.domains() {
        let Ok(SpecFile::Cluster(spec)) = spec else {
            continue;
        };
        let key = spec.kind.to_ascii_lowercase();
        if lock.drivers.contains_key(&key) || additions.iter().any(|(k, _)| *k == key) {
            continue;
        }
        let Some(b) = builtin::find(&key) else {
            bail!(
                "clusters/{domain}: kind {} has no driver; pin one with 'lo drivers add {key} <component.wasm>'",
                spec.kind
            );
        };
        additions.push((key, Verified::unpinned(Arc::from(b.component))));
    }
    let mut changes: Vec<String> = updates
        .iter()
        .map(|(kind, c)| format!("{kind}: {} -> {}", lock.drivers[kind].sha256, c.digest()))
        .collect();
    changes.extend(
        additions
            .iter()
            .map(|(kind, c)| format!("{kind}: pin built-in {}", c.digest())),
    );
    let needs_write = !changes.is_empty() || !lock_path.exists();
    if needs_write && locked {
        let list = if changes.is_empty() {
            "  - create drivers.lock".to_string()
        } else {
            changes
                .iter()
                .map(|c| format!("  - {c}"))
                .collect::<Vec<_>>()
                .join("\n")
        };
        bail!(
            "drivers.lock needs changes, and --locked (or LO_LOCKED / CI) refuses them:\n{list}\n\
             run 'lo drivers lock' without --locked, review the diff and commit it"
        );
    }
    if !needs_write {
        return Ok(changes);
    }

    let runtime = Runtime::new(settings.cache())?;
    for (kind, component) in updates {
        let inspected = inspect(&runtime, &kind, &component).await?;
        if let Some(entry) = lock.drivers.get_mut(&kind) {
            entry.sha256 = component.digest().to_string();
            entry.driver = Some(format!(
                "{} {}",
                inspected.info.name, inspected.info.version
            ));
            entry.contract = Some(inspected.info.contract.clone());
            entry.requests = requested(&inspected.info);
        }
    }
    for (kind, component) in additions {
        let inspected = inspect(&runtime, &kind, &component).await?;
        let entry = LockEntry {
            source: Source::Builtin.to_string(),
            requested: None,
            sha256: component.digest().to_string(),
            driver: Some(format!(
                "{} {}",
                inspected.info.name, inspected.info.version
            )),
            contract: Some(inspected.info.contract.clone()),
            requests: requested(&inspected.info),
            grants: Grants::default(),
            limits: Limits::default(),
        };
        lock.drivers.insert(kind, entry);
    }
    lock.save(&lock_path)?;
    Ok(changes)
}

/// One line of `lo drivers verify`.
#[derive(Debug, Serialize)]
pub struct VerifiedRow {
    pub kind: String,
    pub ok: bool,
    pub detail: String,
}

/// Checks every pin against the bytes on disk, without compiling anything.
pub fn verify(project: &Project) -> anyhow::Result<Vec<VerifiedRow>> {
    let lock = Lockfile::load(&project.lock_path())?;
    Ok(lock
        .drivers
        .iter()
        .map(
            |(kind, entry)| match crate::drivers::resolve::from_entry(project, kind, entry) {
                Ok(r) => VerifiedRow {
                    kind: kind.clone(),
                    ok: true,
                    detail: r.component.digest().to_string(),
                },
                Err(e) => VerifiedRow {
                    kind: kind.clone(),
                    ok: false,
                    detail: e.to_string(),
                },
            },
        )
        .collect())
}

/// `lo drivers show`: identity, requested capabilities with reasons, and what is granted.
#[derive(Debug, Serialize)]
pub struct Shown {
    pub kind: String,
    pub source: String,
    pub sha256: String,
    pub pinned: bool,
    pub name: String,
    pub version: String,
    pub contract: String,
    pub summary: String,
    pub kinds: Vec<String>,
    pub hooks: bool,
    /// Whether it publishes a spec schema (`lo schema <kind>`).
    pub schema: bool,
    pub imports: Vec<String>,
    pub requested: Vec<(String, String)>,
    pub granted: Vec<String>,
    pub files: Vec<String>,
}

/// The driver for `kind` as `show` and `schema` see it: pinned in the project's lock, or
/// built in (outside a project, built-ins only).
fn resolve_for(
    project: Option<&Project>,
    kind: &str,
    settings: &Settings,
) -> anyhow::Result<(Lockfile, crate::drivers::resolve::Resolved)> {
    let locked = settings.locked;
    let lock = match project {
        Some(p) => Lockfile::load(&p.lock_path())?,
        None => Lockfile::default(),
    };
    let resolved = match project {
        Some(p) => crate::drivers::resolve::resolve(p, &lock, kind, locked)?,
        None if locked => anyhow::bail!(
            "outside a project nothing is pinned, and --locked (or LO_LOCKED / CI) runs only pinned drivers"
        ),
        None => {
            let b = builtin::find(kind).ok_or_else(|| anyhow::anyhow!("no built-in driver for kind {kind:?} (outside a project only built-in drivers are known)"))?;
            crate::drivers::resolve::Resolved {
                kind: b.kind.to_string(),
                source: Source::Builtin,
                component: Verified::unpinned(Arc::from(b.component)),
                grants: b.grants(),
                limits: Limits::default(),
            }
        }
    };
    Ok((lock, resolved))
}

/// The JSON Schema of `kind`'s cluster spec: shipped with a built-in driver, or what a
/// pinned component's `spec-schema` returns (None when it publishes none).
pub async fn spec_schema(
    project: Option<&Project>,
    kind: &str,
    settings: &Settings,
) -> anyhow::Result<Option<String>> {
    let (_, resolved) = resolve_for(project, kind, settings)?;
    if resolved.source == Source::Builtin
        && let Some(b) = builtin::find(&resolved.kind)
    {
        return Ok(Some(b.schema.to_string()));
    }
    let runtime = Runtime::new(settings.cache())?;
    let inspected = inspect(&runtime, &resolved.kind, &resolved.component).await?;
    let schema = inspected.schema.map_err(anyhow::Error::msg)?;
    if let Some(text) = &schema {
        crate::drivers::schema::compile(text)
            .map_err(|e| anyhow::anyhow!("the {} driver's spec-schema: {e}", resolved.kind))?;
    }
    Ok(schema)
}

pub async fn show(
    project: Option<&Project>,
    kind: &str,
    settings: &Settings,
) -> anyhow::Result<Shown> {
    let (lock, resolved) = resolve_for(project, kind, settings)?;
    let runtime = Runtime::new(settings.cache())?;
    let inspected = inspect(&runtime, &resolved.kind, &resolved.component).await?;
    let info = inspected.info;
    let requested = requested_lines(&info);
    let mut files = vec![
        "clusters/<domain>/ (read-only: the spec and the user's inputs)".to_string(),
        "clusters/<domain>/.state/ (read-write: its own files)".to_string(),
        ".kubeconfig/ (read-write: its own cluster's only, published by lo after vetting)"
            .to_string(),
    ];
    files.extend(resolved.grants.files.iter().map(|f| {
        format!(
            "{} ({})",
            f.path,
            if f.writable {
                "read-write"
            } else {
                "read-only"
            }
        )
    }));
    Ok(Shown {
        kind: resolved.kind.clone(),
        source: resolved.source.to_string(),
        sha256: resolved.component.digest().to_string(),
        pinned: lock.entry(&resolved.kind).is_some(),
        name: info.name.clone(),
        version: info.version.clone(),
        contract: info.contract.clone(),
        summary: info.summary.clone(),
        kinds: info.kinds.clone(),
        hooks: inspected.shape.has_hooks,
        schema: resolved.source == Source::Builtin || matches!(inspected.schema, Ok(Some(_))),
        imports: inspected.shape.imports.clone(),
        requested,
        granted: resolved.grants.lines(),
        files,
    })
}
