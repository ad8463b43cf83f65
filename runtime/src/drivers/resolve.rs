//! From a spec's `kind:` to verified component bytes: a `drivers.lock` entry if there is one
//! (its sha256 checked on the bytes before anything compiles them), else a built-in driver,
//! which `--locked` refuses unless it is pinned too.

use std::sync::Arc;

use crate::drivers::builtin;
use crate::host::grants::Grants;
use crate::lock::{Digest, DigestError, Limits, LockEntry, Lockfile, Source, Verified};
use crate::project::Project;

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error(
        "unknown cluster kind {kind:?}: no built-in driver and no drivers.lock entry (known kinds: {known}); pin a driver with 'lo drivers add {lower} <component.wasm>'"
    )]
    UnknownKind {
        kind: String,
        lower: String,
        known: String,
    },
    #[error(
        "kind {kind:?} is not pinned in drivers.lock and --locked (or LO_LOCKED / CI) refuses unpinned drivers; run 'lo drivers lock' and commit drivers.lock"
    )]
    NotPinned { kind: String },
    #[error("drivers.{kind}: reading {path}: {message}")]
    Read {
        kind: String,
        path: String,
        message: String,
    },
    #[error("drivers.{kind}: source \"builtin\", but this lo has no built-in {kind} driver")]
    NoSuchBuiltin { kind: String },
    #[error(transparent)]
    Digest(#[from] DigestError),
}

/// A driver ready to compile: verified bytes plus what it may do.
pub struct Resolved {
    /// The lower-case kind, the key in drivers.lock.
    pub kind: String,
    pub source: Source,
    pub component: Verified,
    pub grants: Grants,
    pub limits: Limits,
}

/// Resolves `kind` for this project.
pub fn resolve(
    project: &Project,
    lock: &Lockfile,
    kind: &str,
    locked: bool,
) -> Result<Resolved, ResolveError> {
    let key = kind.to_ascii_lowercase();
    if let Some(entry) = lock.entry(&key) {
        return from_entry(project, &key, entry);
    }
    let Some(builtin) = builtin::find(&key) else {
        let mut known: Vec<String> = builtin::all().map(|b| b.kind.to_string()).collect();
        known.extend(lock.drivers.keys().cloned());
        known.sort();
        known.dedup();
        return Err(ResolveError::UnknownKind {
            kind: kind.into(),
            lower: key,
            known: known.join(", "),
        });
    };
    if locked {
        return Err(ResolveError::NotPinned { kind: kind.into() });
    }
    Ok(Resolved {
        kind: key,
        source: Source::Builtin,
        component: Verified::unpinned(Arc::from(builtin.component)),
        grants: builtin.grants(),
        limits: Limits::default(),
    })
}

/// Reads and verifies the component a lock entry pins.
pub fn from_entry(
    project: &Project,
    key: &str,
    entry: &LockEntry,
) -> Result<Resolved, ResolveError> {
    let expected = Digest::parse(&entry.sha256)?;
    let source = entry.source().ok_or_else(|| ResolveError::Read {
        kind: key.into(),
        path: entry.source.clone(),
        message: "not a source".into(),
    })?;
    let (bytes, grants): (Arc<[u8]>, Grants) = match &source {
        Source::Builtin => {
            let builtin = builtin::find(key)
                .ok_or_else(|| ResolveError::NoSuchBuiltin { kind: key.into() })?;
            // The shipped grant, extended by what the operator added under
            // [drivers.<kind>.grants] of the pinned entry (host paths for extraMounts, images).
            let mut grants = builtin.grants();
            grants.merge(entry.grants.clone());
            (Arc::from(builtin.component), grants)
        }
        Source::Path(path) => {
            let bytes =
                std::fs::read(project.root().join(path)).map_err(|e| ResolveError::Read {
                    kind: key.into(),
                    path: path.clone(),
                    message: e.to_string(),
                })?;
            (Arc::from(bytes), entry.grants.clone())
        }
    };
    let component = Verified::against(bytes, &expected, &format!("kind {key} ({source})"))?;
    Ok(Resolved {
        kind: key.into(),
        source,
        component,
        grants,
        limits: entry.limits.clone(),
    })
}

/// Where a missing grant for this kind goes.
pub fn grant_hint(resolved_kind: &str, source: &Source) -> String {
    match source {
        Source::Builtin => format!(
            "the built-in {resolved_kind} driver's grant does not include it: pin it with `lo drivers lock`, then add it under [drivers.{resolved_kind}.grants] in drivers.lock"
        ),
        Source::Path(_) => {
            format!("grant it under [drivers.{resolved_kind}.grants] in drivers.lock")
        }
    }
}
