//! The project on disk: its root (the nearest ancestor holding `clusters/`), the active domain,
//! the cluster specs under `clusters/<domain>/`, and where each cluster's driver may write.
//!
//! ```text
//! clusters/<domain>/              the user's: spec and inputs        driver: read-only
//! clusters/<domain>/.state/       the driver's own files             driver: read-write
//! .kubeconfig/.drivers/<domain>/  the driver's kubeconfig folder     driver: read-write
//! .kubeconfig/<name>.yaml         what lo published from it, vetted  driver: none
//! .lok8s/, drivers.lock           lo's own (locks/, project-ca/)     driver: none
//! ```

mod busy;
mod domain;
mod inside;
mod spec;

pub use busy::DomainLock;
pub use domain::{
    ActiveDomain, DEFAULT_DOMAIN, DomainError, DomainSource, read_active as read_active_domain,
    validate_domain,
};
pub use inside::{Entry, Inside, InsideError, overlaps, relative};
pub use spec::{ClusterSpec, SpecError, SpecFile};

/// The driver's own folder inside its cluster's folder.
pub const STATE_DIR: &str = ".state";
/// Under `.kubeconfig/`: one folder per domain, each a driver's view of `.kubeconfig/`.
pub const DRIVER_KUBECONFIGS: &str = ".drivers";

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error(
        "no lok8s project here: neither {start} nor any parent holds a clusters/ folder \
         (create clusters/<domain>/cluster.lok8s.yaml, or pass --project <dir>)"
    )]
    NotFound { start: PathBuf },
    #[error("--project {path}: {reason}")]
    BadRoot { path: PathBuf, reason: String },
    #[error(
        "{found} holds a clusters/ folder but lies inside the project {outer}, where drivers write; \
         lo does not take it for a project (it may have been planted). Run lo from {outer}, or pass \
         --project {found} if you mean it"
    )]
    Nested { found: PathBuf, outer: PathBuf },
}

/// A lok8s project: the folder holding `clusters/`, `.kubeconfig/` and `drivers.lock`.
#[derive(Debug, Clone)]
pub struct Project {
    root: PathBuf,
}

impl Project {
    /// The nearest ancestor of `start` (itself included) that holds `clusters/`, unless that
    /// lies inside another project: a driver could have written it there.
    pub fn discover(start: &Path) -> Result<Self, ProjectError> {
        let start = std::path::absolute(start).unwrap_or_else(|_| start.to_path_buf());
        let holds_clusters = |dir: &Path| dir.join("clusters").is_dir();
        let root =
            start
                .ancestors()
                .find(|dir| holds_clusters(dir))
                .ok_or(ProjectError::NotFound {
                    start: start.clone(),
                })?;
        if let Some(outer) = root.ancestors().skip(1).find(|dir| holds_clusters(dir)) {
            return Err(ProjectError::Nested {
                found: root.to_path_buf(),
                outer: outer.to_path_buf(),
            });
        }
        Ok(Project {
            root: root.to_path_buf(),
        })
    }

    /// The project rooted at `root`, as given by `--project`.
    pub fn at(root: &Path) -> Result<Self, ProjectError> {
        let bad = |reason: &str| ProjectError::BadRoot {
            path: root.to_path_buf(),
            reason: reason.into(),
        };
        let root = std::path::absolute(root).map_err(|e| bad(&e.to_string()))?;
        if !root.is_dir() {
            return Err(bad("is not a directory"));
        }
        if !root.join("clusters").is_dir() {
            return Err(bad(
                "has no clusters/ folder (create clusters/<domain>/cluster.lok8s.yaml)",
            ));
        }
        Ok(Project { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn clusters_dir(&self) -> PathBuf {
        self.root.join("clusters")
    }

    pub fn kubeconfig_dir(&self) -> PathBuf {
        self.root.join(".kubeconfig")
    }

    pub fn lock_path(&self) -> PathBuf {
        self.root.join("drivers.lock")
    }

    /// The project root as a handle.
    pub fn inside(&self) -> Result<Inside, InsideError> {
        Inside::open(&self.root)
    }

    /// `.kubeconfig/`, where lo publishes vetted kubeconfigs.
    pub fn kubeconfigs(&self) -> Result<Inside, InsideError> {
        self.inside()?.subdir(".kubeconfig", false)
    }

    /// The kubeconfig published for `domain` (at most `max` bytes) and its file name under
    /// `.kubeconfig/`: `secret.<domain>.yaml` (written by the user) or `<metadata.name>.yaml`
    /// (published by lo from its driver). Err says what is missing.
    pub fn published_kubeconfig(
        &self,
        domain: &str,
        max: u64,
    ) -> Result<(Vec<u8>, String), String> {
        let published = self.kubeconfigs().map_err(|e| e.to_string())?;
        let secret = format!("secret.{domain}.yaml");
        match published.read(&secret, max) {
            Ok(bytes) => Ok((bytes, secret)),
            Err(e) if e.is_not_found() => match SpecFile::load(self, domain) {
                Ok(SpecFile::Cluster(spec)) => {
                    let file = format!("{}.yaml", spec.name);
                    published
                        .read(&file, max)
                        .map(|b| (b, file))
                        .map_err(|e| e.to_string())
                }
                _ => Err("no cluster spec".to_string()),
            },
            Err(e) => Err(e.to_string()),
        }
    }

    /// The root folder's name; drivers label what they create with it.
    pub fn name(&self) -> String {
        self.root
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "project".into())
    }

    /// `path` relative to the root, with `/` separators, when it lies inside the project.
    pub fn relative(&self, path: &Path) -> Option<String> {
        let abs = std::path::absolute(path).ok()?;
        let rel = abs.strip_prefix(&self.root).ok()?;
        Some(
            rel.components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/"),
        )
    }

    /// Domains with a spec, sorted: (domain, spec file).
    /// Every domain folder holding a spec file, with the spec or why it cannot be read yet
    /// (an empty or half-written spec is still a domain).
    pub fn domains(&self) -> Vec<(String, Result<SpecFile, spec::SpecError>)> {
        let mut found = Vec::new();
        let Ok(entries) = std::fs::read_dir(self.clusters_dir()) else {
            return found;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || !entry.path().is_dir() || validate_domain(&name).is_err() {
                continue;
            }
            match SpecFile::load(self, &name) {
                Err(spec::SpecError::Missing(_)) => {}
                loaded => found.push((name, loaded)),
            }
        }
        found.sort_by(|a, b| a.0.cmp(&b.0));
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovers_nearest_ancestor_with_clusters() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("clusters/a.dev")).unwrap();
        std::fs::create_dir_all(dir.path().join("sub/deeper")).unwrap();
        let project = Project::discover(&dir.path().join("sub/deeper")).unwrap();
        assert_eq!(project.root(), dir.path());
        assert_eq!(
            project
                .relative(&dir.path().join("clusters/a.dev"))
                .unwrap(),
            "clusters/a.dev"
        );
    }

    #[test]
    fn a_project_inside_another_is_not_discovered() {
        let dir = tempfile::tempdir().unwrap();
        let planted = dir.path().join("clusters/a.dev/.state/x");
        std::fs::create_dir_all(planted.join("clusters")).unwrap();
        let err = Project::discover(&planted).unwrap_err();
        assert!(matches!(err, ProjectError::Nested { .. }), "{err}");
        assert!(err.to_string().contains("--project"), "{err}");
        // Named explicitly, it is taken.
        assert!(Project::at(&planted).is_ok());
    }

    #[test]
    fn no_clusters_folder_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = Project::at(dir.path()).unwrap_err().to_string();
        assert!(err.contains("has no clusters/ folder"), "{err}");
    }
}
