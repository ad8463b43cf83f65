//! `drivers.lock`: which component runs each kind, pinned by sha256, and what it is granted.
//! Reviewed in pull requests like Cargo.lock; under `--locked` nothing unpinned runs and the
//! file is never rewritten.

mod digest;
mod limits;

pub use digest::{Digest, DigestError, Verified, sha256_of};
pub use limits::Limits;

use crate::host::grants::Grants;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The lock file format version this `lo` reads and writes.
pub const LOCK_VERSION: u32 = 1;

const HEADER: &str = "# drivers.lock: written by `lo drivers`. Review changes like Cargo.lock.\n\
# Each kind runs the component whose sha256 is pinned here, with only the grants listed.\n\n";

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("reading {path}: {message}")]
    Read { path: PathBuf, message: String },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error(
        "{path}: version {found} is newer than this lo understands ({LOCK_VERSION}); upgrade lo"
    )]
    Version { path: PathBuf, found: u32 },
    #[error("writing {path}: {message}")]
    Write { path: PathBuf, message: String },
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Lockfile {
    pub version: u32,
    #[serde(default)]
    pub drivers: BTreeMap<String, LockEntry>,
}

/// Where a pinned component comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Embedded in the `lo` binary.
    Builtin,
    /// A file, relative to the project root (or absolute).
    Path(String),
}

impl Source {
    pub fn parse(text: &str) -> Option<Source> {
        if text == "builtin" {
            Some(Source::Builtin)
        } else {
            text.strip_prefix("path+")
                .filter(|p| !p.is_empty())
                .map(|p| Source::Path(p.to_string()))
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Builtin => f.write_str("builtin"),
            Source::Path(p) => write!(f, "path+{p}"),
        }
    }
}

/// One pinned kind.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct LockEntry {
    /// `builtin` or `path+<path>`: where the bytes were resolved from.
    pub source: String,
    /// What the user asked for (`lo drivers add <kind> <requested>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested: Option<String>,
    /// `sha256:<hex>` of the component's bytes.
    pub sha256: String,
    /// `name version` from the component's describe, for reviewers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    /// Contract version the component was built against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract: Option<String>,
    /// What the component asks for in describe.
    #[serde(default, skip_serializing_if = "Grants::is_empty")]
    pub requests: Grants,
    /// What it may use. For a built-in driver: additions to its shipped grant.
    #[serde(default, skip_serializing_if = "Grants::is_empty")]
    pub grants: Grants,
    #[serde(default, skip_serializing_if = "Limits::is_default")]
    pub limits: Limits,
}

impl LockEntry {
    pub fn source(&self) -> Option<Source> {
        Source::parse(&self.source)
    }
}

impl Lockfile {
    /// Reads `drivers.lock`; a missing file is an empty lock.
    pub fn load(path: &Path) -> Result<Lockfile, LockError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Lockfile {
                    version: LOCK_VERSION,
                    drivers: BTreeMap::new(),
                });
            }
            Err(e) => {
                return Err(LockError::Read {
                    path: path.into(),
                    message: e.to_string(),
                });
            }
        };
        let lock: Lockfile = toml::from_str(&text).map_err(|e| LockError::Parse {
            path: path.into(),
            message: e.to_string(),
        })?;
        if lock.version > LOCK_VERSION {
            return Err(LockError::Version {
                path: path.into(),
                found: lock.version,
            });
        }
        for (kind, entry) in &lock.drivers {
            if entry.source().is_none() {
                return Err(LockError::Parse {
                    path: path.into(),
                    message: format!(
                        "drivers.{kind}.source: {:?} is not a source (use \"builtin\" or \"path+<file>\")",
                        entry.source
                    ),
                });
            }
            for op in entry.limits.timeouts.keys() {
                if !crate::contract::Operation::ALL
                    .iter()
                    .any(|o| o.name() == op)
                {
                    return Err(LockError::Parse {
                        path: path.into(),
                        message: format!(
                            "drivers.{kind}.limits.timeouts.{op}: not an operation (describe, provision, destroy, status, kubeconfig, post-provision, export)"
                        ),
                    });
                }
            }
            if Digest::parse(&entry.sha256).is_err() {
                return Err(LockError::Parse {
                    path: path.into(),
                    message: format!(
                        "drivers.{kind}.sha256: {:?} is not a digest (expected sha256:<64 hex digits>)",
                        entry.sha256
                    ),
                });
            }
        }
        Ok(lock)
    }

    pub fn render(&self) -> String {
        let body = toml::to_string_pretty(self).unwrap_or_default();
        format!("{HEADER}{body}")
    }

    /// Writes atomically, so a crash never leaves half a lock.
    pub fn save(&self, path: &Path) -> Result<(), LockError> {
        let werr = |e: &dyn std::fmt::Display| LockError::Write {
            path: path.into(),
            message: e.to_string(),
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| werr(&e))?;
        std::io::Write::write_all(&mut tmp, self.render().as_bytes()).map_err(|e| werr(&e))?;
        // A reviewed, committed file: readable like any other source file.
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(|e| werr(&e))?;
        tmp.as_file().sync_all().map_err(|e| werr(&e))?;
        tmp.persist(path).map_err(|e| werr(&e.error))?;
        Ok(())
    }

    /// The entry for a kind, matched case-insensitively.
    pub fn entry(&self, kind: &str) -> Option<&LockEntry> {
        self.drivers.get(&kind.to_ascii_lowercase())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_unknown_fields() {
        let mut lock = Lockfile {
            version: LOCK_VERSION,
            ..Default::default()
        };
        let grants = Grants {
            env: vec!["K3S_TOKEN".into()],
            ..Default::default()
        };
        lock.drivers.insert(
            "k3s".into(),
            LockEntry {
                source: "path+drivers/k3s.wasm".into(),
                requested: Some("drivers/k3s.wasm".into()),
                sha256: format!("sha256:{}", "a".repeat(64)),
                driver: Some("k3s 0.1.0".into()),
                contract: Some("1.0.0".into()),
                requests: grants.clone(),
                grants,
                limits: Limits::default(),
            },
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("drivers.lock");
        lock.save(&path).unwrap();
        assert_eq!(Lockfile::load(&path).unwrap(), lock);
        std::fs::write(
            &path,
            lock.render()
                .replace("version = 1", "version = 1\ntypo = 2"),
        )
        .unwrap();
        let err = Lockfile::load(&path).unwrap_err().to_string();
        assert!(err.contains("typo"), "{err}");
    }

    #[test]
    fn unknown_timeout_operations_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("drivers.lock");
        let digest = format!("sha256:{}", "a".repeat(64));
        std::fs::write(&path, format!("version = 1\n[drivers.k3s]\nsource = \"builtin\"\nsha256 = \"{digest}\"\n[drivers.k3s.limits.timeouts]\nprovison = 5\n")).unwrap();
        let err = Lockfile::load(&path).unwrap_err().to_string();
        assert!(
            err.contains("drivers.k3s.limits.timeouts.provison: not an operation"),
            "{err}"
        );
    }

    #[test]
    fn bad_digest_names_the_field() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("drivers.lock");
        std::fs::write(
            &path,
            "version = 1\n[drivers.k3s]\nsource = \"builtin\"\nsha256 = \"md5:x\"\n",
        )
        .unwrap();
        let err = Lockfile::load(&path).unwrap_err().to_string();
        assert!(err.contains("drivers.k3s.sha256"), "{err}");
    }
}
