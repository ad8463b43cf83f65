//! What `lo` itself runs around a driver: publishing its kubeconfig ([`kubeconfig`]) and,
//! after a provision answered `continue`, carrying the driver's exported environment to the
//! bootstrap step.

pub mod kubeconfig;

use std::path::PathBuf;

use anyhow::bail;

use crate::project::ClusterSpec;

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

/// `kubeconfig`: what [`kubeconfig::publish`] published after the driver's calls.
pub fn after_provision(
    spec: &ClusterSpec,
    exported: Vec<(String, String)>,
    kubeconfig: Option<PathBuf>,
) -> anyhow::Result<AfterProvision> {
    for (name, _) in &exported {
        let ok = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            bail!(
                "export returned {name:?}, which is not an environment variable name (letters, digits, '_')"
            );
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bootstrap_entries_are_read_as_written() {
        let spec = "kind: Lo\nspec:\n  bootstrap:\n    - cilium\n    - name: x\n";
        assert_eq!(bootstrap_entries(spec), ["cilium", "name: x"]);
        assert!(bootstrap_entries("kind: Lo\n").is_empty());
    }
}
