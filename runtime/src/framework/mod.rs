//! What `lo` itself runs after a driver's provision answered `continue`: checks that the admin
//! kubeconfig is where the framework expects it, and carries the driver's exported
//! environment to the bootstrap step.

use std::path::{Component, Path, PathBuf};

use anyhow::bail;

use crate::project::{ClusterSpec, Project};

/// The result of the framework steps.
#[derive(Debug, Default)]
pub struct AfterProvision {
    /// `LOK8S_SPEC_*` and friends from the driver's `export` hook.
    pub exported: Vec<(String, String)>,
    /// `.kubeconfig/<name>.yaml`, when the driver wrote it.
    pub kubeconfig: Option<PathBuf>,
    /// Addons `spec.bootstrap` lists, which this build does not apply yet.
    pub bootstrap_pending: Vec<String>,
    /// How long each of the driver's phases took.
    pub phases: Vec<crate::host::PhaseTiming>,
}

pub fn after_provision(
    project: &Project,
    spec: &ClusterSpec,
    exported: Vec<(String, String)>,
) -> anyhow::Result<AfterProvision> {
    for (name, _) in &exported {
        let ok = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            bail!(
                "export returned {name:?}, which is not an environment variable name (letters, digits, '_')"
            );
        }
    }
    let path = project.kubeconfig_dir().join(format!("{}.yaml", spec.name));
    let kubeconfig = path.is_file().then_some(path);
    if let Some(path) = &kubeconfig {
        owner_only(path)?;
    }
    let mut bootstrap = bootstrap_entries(&spec.text);
    if bootstrap.is_empty() && !has_bootstrap_key(&spec.text) {
        bootstrap = default_bootstrap(&spec.kind);
    }
    Ok(AfterProvision {
        exported,
        kubeconfig,
        bootstrap_pending: bootstrap,
        phases: Vec::new(),
    })
}

/// The addons a kind gets when its spec has no `spec.bootstrap`: Lo clusters come up without
/// a CNI (nodes stay NotReady until one is installed), so Cilium.
pub fn default_bootstrap(kind: &str) -> Vec<String> {
    match kind.to_ascii_lowercase().as_str() {
        "lo" => vec!["cilium".into()],
        _ => Vec::new(),
    }
}

fn has_bootstrap_key(spec_text: &str) -> bool {
    serde_yaml::from_str::<serde_yaml::Value>(spec_text)
        .ok()
        .and_then(|d| d.get("spec").map(|s| s.get("bootstrap").is_some()))
        .unwrap_or(false)
}

/// An admin kubeconfig holds cluster-admin credentials: readable by its owner only, whatever
/// mode the driver's file API created it with.
pub fn owner_only(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// The entries of `spec.bootstrap`, as written.
pub fn bootstrap_entries(spec_text: &str) -> Vec<String> {
    let Ok(doc) = serde_yaml::from_str::<serde_yaml::Value>(spec_text) else {
        return Vec::new();
    };
    let Some(list) = doc
        .get("spec")
        .and_then(|s| s.get("bootstrap"))
        .and_then(|b| b.as_sequence())
    else {
        return Vec::new();
    };
    list.iter()
        .map(|entry| match entry {
            serde_yaml::Value::String(s) => s.clone(),
            other => serde_yaml::to_string(other)
                .unwrap_or_default()
                .trim()
                .to_string(),
        })
        .collect()
}

/// A kubeconfig path a driver returned: project-relative, no `..`, an existing file.
pub fn check_kubeconfig_path(project: &Project, rel: &str) -> anyhow::Result<PathBuf> {
    let path = Path::new(rel);
    if path.is_absolute()
        || path
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        bail!("not a project-relative path without '..'");
    }
    let full = project.root().join(path);
    if !full.is_file() {
        bail!("{} does not exist", full.display());
    }
    // A driver can plant symlinks in its folders: the file itself must stay in the project.
    let real = full.canonicalize()?;
    if !real.starts_with(project.root().canonicalize()?) {
        bail!(
            "{} resolves to {}, outside the project",
            full.display(),
            real.display()
        );
    }
    Ok(full)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bootstrap_entries_are_read_as_written() {
        let spec = "kind: Lo\nspec:\n  bootstrap:\n    - cilium\n    - name: x\n";
        assert_eq!(bootstrap_entries(spec), ["cilium", "name: x"]);
        assert!(bootstrap_entries("kind: Lo\n").is_empty());
    }

    #[test]
    fn kubeconfig_paths_stay_in_the_project() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("clusters")).unwrap();
        std::fs::create_dir_all(dir.path().join(".kubeconfig")).unwrap();
        std::fs::write(dir.path().join(".kubeconfig/dev.yaml"), "x").unwrap();
        let p = Project::at(dir.path()).unwrap();
        assert!(check_kubeconfig_path(&p, ".kubeconfig/dev.yaml").is_ok());
        assert!(check_kubeconfig_path(&p, "../etc/passwd").is_err());
        assert!(check_kubeconfig_path(&p, "/etc/passwd").is_err());
        assert!(check_kubeconfig_path(&p, ".kubeconfig/none.yaml").is_err());
    }
}
