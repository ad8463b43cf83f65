//! What the driver keeps between runs in its own folder: the KKP project and cluster IDs of
//! the cluster it made (`cluster_id`, `project_id`, one line each).

use std::path::{Path, PathBuf};

use lok8s_driver_sdk::{Result, failed};

pub struct Saved {
    dir: PathBuf,
}

impl Saved {
    pub fn at(cluster_dir: &str) -> Saved {
        Saved {
            dir: PathBuf::from(cluster_dir),
        }
    }

    pub fn cluster_id_path(&self) -> String {
        self.dir.join("cluster_id").display().to_string()
    }

    /// `(project, cluster)` when both files are there.
    pub fn load(&self) -> Result<Option<(String, String)>> {
        let (Some(project), Some(cluster)) = (
            read(&self.dir.join("project_id"))?,
            read(&self.dir.join("cluster_id"))?,
        ) else {
            return Ok(None);
        };
        check_id(&project)?;
        check_id(&cluster)?;
        Ok(Some((project, cluster)))
    }

    pub fn save(&self, project: &str, cluster: &str) -> Result<()> {
        for (file, value) in [("project_id", project), ("cluster_id", cluster)] {
            let path = self.dir.join(file);
            std::fs::write(&path, format!("{value}\n"))
                .map_err(|e| failed(format!("writing {}: {e}", path.display())))?;
        }
        Ok(())
    }

    pub fn remove(&self) -> Result<()> {
        for file in ["cluster_id", "project_id"] {
            let path = self.dir.join(file);
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(failed(format!("removing {}: {e}", path.display())));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

fn read(path: &Path) -> Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text.trim().to_string()).filter(|t| !t.is_empty())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(failed(format!("reading {}: {e}", path.display()))),
    }
}

/// An ID goes into URL paths: letters, digits, `-` and `_` only.
pub fn check_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(failed(format!(
            "{id:?} is not a KKP ID (letters, digits, - and _); remove the saved ID files if they were edited"
        )))
    }
}
