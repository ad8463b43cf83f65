//! The `fs` capability: WASI preopens. By default the driver sees `clusters/<domain>/` and
//! `.kubeconfig/` read-write and nothing else. Guards against a spec folder that is a symlink
//! out of the project and granted paths that climb out of it; inside a preopen, wasmtime-wasi
//! (cap-std) refuses `..` and symlink escapes.

use std::path::{Component, Path, PathBuf};

use crate::lock::PathGrant;
use crate::project::Project;

#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    #[error(
        "{guest}: resolves to {host}, outside the project {root}; refusing to give it to a driver"
    )]
    Escapes {
        guest: String,
        host: PathBuf,
        root: PathBuf,
    },
    #[error(
        "files grant {path:?}: {reason} (grant a directory inside the project, relative to its root, without '..')"
    )]
    BadGrant { path: String, reason: String },
    #[error("preparing {guest}: {message}")]
    Preopen { guest: String, message: String },
}

/// A host directory the guest sees under a project-relative name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preopen {
    pub host: PathBuf,
    pub guest: String,
    pub writable: bool,
}

/// Removes `.kubeconfig/` on drop if this run created it and left it empty, so a failed run
/// leaves the project as it found it.
#[derive(Debug, Default)]
pub struct CreatedDir(Option<PathBuf>);

impl Drop for CreatedDir {
    fn drop(&mut self) {
        if let Some(dir) = self.0.take() {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// `clusters/<domain>/` and `.kubeconfig/` (created if missing, see [`CreatedDir`]), then
/// granted paths.
pub fn preopens(
    project: &Project,
    domain: &str,
    granted: &[PathGrant],
) -> Result<(Vec<Preopen>, CreatedDir), FilesError> {
    let root = canonical(project.root(), ".")?;
    let kubeconfig = project.kubeconfig_dir();
    let created = if kubeconfig.is_dir() {
        CreatedDir::default()
    } else {
        std::fs::create_dir_all(&kubeconfig).map_err(|e| FilesError::Preopen {
            guest: ".kubeconfig".into(),
            message: e.to_string(),
        })?;
        CreatedDir(Some(kubeconfig.clone()))
    };
    let mut out = vec![
        inside(
            &root,
            &project.clusters_dir().join(domain),
            format!("clusters/{domain}"),
            true,
        )?,
        inside(&root, &kubeconfig, ".kubeconfig".into(), true)?,
    ];
    for grant in granted {
        let rel = Path::new(&grant.path);
        let bad = |reason: &str| FilesError::BadGrant {
            path: grant.path.clone(),
            reason: reason.into(),
        };
        if rel.is_absolute() || rel.components().any(|c| !matches!(c, Component::Normal(_))) {
            return Err(bad("not a plain project-relative path"));
        }
        let host = project.root().join(rel);
        if !host.is_dir() {
            return Err(bad("is not a directory in the project"));
        }
        out.push(inside(
            &root,
            &host,
            grant.path.trim_end_matches('/').to_string(),
            grant.writable,
        )?);
    }
    Ok((out, created))
}

fn canonical(path: &Path, guest: &str) -> Result<PathBuf, FilesError> {
    path.canonicalize().map_err(|e| FilesError::Preopen {
        guest: guest.into(),
        message: e.to_string(),
    })
}

fn inside(root: &Path, host: &Path, guest: String, writable: bool) -> Result<Preopen, FilesError> {
    let real = canonical(host, &guest)?;
    if !real.starts_with(root) {
        return Err(FilesError::Escapes {
            guest,
            host: real,
            root: root.to_path_buf(),
        });
    }
    Ok(Preopen {
        host: real,
        guest,
        writable,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project() -> (tempfile::TempDir, Project) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("clusters/a.dev")).unwrap();
        let p = Project::at(dir.path()).unwrap();
        (dir, p)
    }

    #[test]
    fn defaults_are_cluster_dir_and_kubeconfig() {
        let (dir, p) = project();
        let (opens, created) = preopens(&p, "a.dev", &[]).unwrap();
        let guests: Vec<_> = opens.iter().map(|o| o.guest.as_str()).collect();
        assert_eq!(guests, ["clusters/a.dev", ".kubeconfig"]);
        assert!(dir.path().join(".kubeconfig").is_dir());
        drop(created);
        assert!(
            !dir.path().join(".kubeconfig").exists(),
            "an empty .kubeconfig/ this run made is removed"
        );
    }

    #[test]
    fn symlinked_cluster_dir_out_of_project_is_refused() {
        let (dir, p) = project();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("clusters/evil.dev")).unwrap();
        let err = preopens(&p, "evil.dev", &[]).unwrap_err();
        assert!(matches!(err, FilesError::Escapes { .. }), "{err}");
    }

    #[test]
    fn grants_must_stay_inside() {
        let (_dir, p) = project();
        for path in ["../x", "/etc", "clusters/../.."] {
            let grant = PathGrant {
                path: path.into(),
                writable: false,
            };
            assert!(
                matches!(
                    preopens(&p, "a.dev", &[grant]),
                    Err(FilesError::BadGrant { .. })
                ),
                "{path}"
            );
        }
    }
}
