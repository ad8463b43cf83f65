//! The `fs` capability: WASI preopens. A driver sees its cluster's folder read-only (the spec
//! `lo` dispatches on and the user's inputs: no driver may rewrite them), its own folder inside
//! it read-write (`clusters/<domain>/.state`, which `ctx.cluster-dir` names), its own
//! kubeconfig folder as `.kubeconfig/` (never another cluster's: `lo` publishes from it after
//! vetting), and granted project paths, never `lo`'s own. Every folder is opened through the
//! project's handle without following links; inside a preopen, wasmtime-wasi (cap-std) refuses
//! `..` and symlink escapes.

pub mod grant;

use std::path::{Component, Path};

use crate::project::{DRIVER_KUBECONFIGS, Entry, Inside, InsideError, Project, STATE_DIR};
use grant::PathGrant;

#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    #[error("{0}; refusing to give it to a driver")]
    Unsafe(#[from] InsideError),
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
    pub host: std::path::PathBuf,
    pub guest: String,
    pub writable: bool,
}

/// Folders this run made, removed again when the run ends if they are still empty, so a failed
/// run leaves the project as it found it.
#[derive(Debug, Default)]
pub struct CreatedDirs {
    root: Option<Inside>,
    dirs: Vec<String>,
}

impl Drop for CreatedDirs {
    fn drop(&mut self) {
        if let Some(root) = &self.root {
            for dir in self.dirs.iter().rev() {
                root.remove_empty_dir(dir);
            }
        }
    }
}

/// What a driver run may touch on disk.
#[derive(Debug)]
pub struct DriverFolders {
    pub preopens: Vec<Preopen>,
    /// `clusters/<domain>/.state`: the guest path `ctx.cluster-dir` carries.
    pub cluster_dir: String,
    /// The driver's kubeconfig folder (its `.kubeconfig/`).
    pub kubeconfigs: Inside,
    /// `<cluster name>.yaml`: the kubeconfig the driver writes there (`ctx.kubeconfig`).
    pub kubeconfig_file: String,
    pub created: CreatedDirs,
}

/// Project paths no files grant may reach: `lo`'s own, and every cluster's folders.
const RESERVED: &[&str] = &[".lok8s", ".kubeconfig", "clusters", "drivers.lock"];

/// Prepares the folders for `domain`'s driver: created if missing (without following links),
/// then preopened.
pub fn driver_folders(
    project: &Project,
    domain: &str,
    cluster_name: &str,
    granted: &[PathGrant],
) -> Result<DriverFolders, FilesError> {
    let root = project.inside()?;
    let mut created = CreatedDirs::default();
    let cluster_rel = format!("clusters/{domain}");
    let cluster = root.subdir(&cluster_rel, false)?;
    let state_rel = format!("{cluster_rel}/{STATE_DIR}");
    let state = ensure(&root, &state_rel, &mut created)?;
    let kube_rel = format!(".kubeconfig/{DRIVER_KUBECONFIGS}/{domain}");
    let kubeconfigs = ensure(&root, &kube_rel, &mut created)?;
    created.root = Some(root);
    let host = |dir: &Inside| dir.shown().to_path_buf();
    // The driver's own folder first: guest runtimes that take the first matching preopen
    // (rather than the longest) then write into it, not into the read-only one around it.
    let mut preopens = vec![
        Preopen {
            host: host(&state),
            guest: state_rel.clone(),
            writable: true,
        },
        Preopen {
            host: host(&cluster),
            guest: cluster_rel,
            writable: false,
        },
        Preopen {
            host: host(&kubeconfigs),
            guest: ".kubeconfig".into(),
            writable: true,
        },
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
        let first = rel
            .components()
            .next()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .unwrap_or_default();
        if RESERVED.contains(&first.as_str()) || (grant.writable && first == "drivers") {
            return Err(bad(
                "lo's own files and the clusters' folders are never granted (drivers get their cluster's folder already)",
            ));
        }
        let dir = project
            .inside()?
            .subdir(&grant.path, false)
            .map_err(|e| bad(&format!("is not a directory in the project ({e})")))?;
        preopens.push(Preopen {
            host: host(&dir),
            guest: grant.path.trim_end_matches('/').to_string(),
            writable: grant.writable,
        });
    }
    Ok(DriverFolders {
        preopens,
        cluster_dir: state_rel,
        kubeconfigs,
        kubeconfig_file: format!("{cluster_name}.yaml"),
        created,
    })
}

/// Opens `rel` under `root`, creating what is missing and remembering what it created.
fn ensure(root: &Inside, rel: &str, created: &mut CreatedDirs) -> Result<Inside, FilesError> {
    let mut so_far = String::new();
    for part in rel.split('/') {
        if !so_far.is_empty() {
            so_far.push('/');
        }
        so_far.push_str(part);
        match root.kind(&so_far)? {
            None => created.dirs.push(so_far.clone()),
            Some(Entry::Dir) => {}
            Some(Entry::Link) => {
                return Err(InsideError::Link {
                    shown: root.shown().join(&so_far).display().to_string(),
                }
                .into());
            }
            Some(_) => {
                return Err(FilesError::Preopen {
                    guest: rel.into(),
                    message: format!("{so_far} exists and is not a folder; remove it"),
                });
            }
        }
    }
    Ok(root.subdir(rel, true)?)
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
    fn the_spec_folder_is_read_only_and_the_drivers_own_are_not() {
        let (dir, p) = project();
        let folders = driver_folders(&p, "a.dev", "dev", &[]).unwrap();
        let seen: Vec<(&str, bool)> = folders
            .preopens
            .iter()
            .map(|o| (o.guest.as_str(), o.writable))
            .collect();
        assert_eq!(
            seen,
            [
                ("clusters/a.dev/.state", true),
                ("clusters/a.dev", false),
                (".kubeconfig", true)
            ]
        );
        assert_eq!(folders.cluster_dir, "clusters/a.dev/.state");
        assert_eq!(
            folders.preopens[2].host.canonicalize().unwrap(),
            dir.path()
                .join(".kubeconfig/.drivers/a.dev")
                .canonicalize()
                .unwrap()
        );
        drop(folders);
        assert!(
            !dir.path().join(".kubeconfig").exists()
                && !dir.path().join("clusters/a.dev/.state").exists(),
            "empty folders this run made are removed"
        );
    }

    #[test]
    fn planted_links_for_the_drivers_folders_are_refused() {
        let (dir, p) = project();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("clusters/a.dev/.state"))
            .unwrap();
        let err = driver_folders(&p, "a.dev", "dev", &[]).unwrap_err();
        assert!(err.to_string().contains("is a link"), "{err}");
        let (dir, p) = project();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("clusters/evil.dev")).unwrap();
        assert!(driver_folders(&p, "evil.dev", "dev", &[]).is_err());
    }

    #[test]
    fn grants_stay_inside_and_away_from_los_own_files() {
        let (dir, p) = project();
        std::fs::create_dir_all(dir.path().join("shared")).unwrap();
        std::fs::create_dir_all(dir.path().join(".lok8s")).unwrap();
        let grant = |path: &str, writable: bool| PathGrant {
            path: path.into(),
            writable,
        };
        assert!(driver_folders(&p, "a.dev", "dev", &[grant("shared", true)]).is_ok());
        for (path, writable) in [
            ("../x", false),
            ("/etc", false),
            ("clusters/../..", false),
            (".lok8s", false),
            ("clusters", false),
            (".kubeconfig", false),
            ("drivers", true),
        ] {
            assert!(
                matches!(
                    driver_folders(&p, "a.dev", "dev", &[grant(path, writable)]),
                    Err(FilesError::BadGrant { .. })
                ),
                "{path}"
            );
        }
    }
}
