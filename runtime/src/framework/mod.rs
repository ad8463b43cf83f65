//! What `lo` itself runs around a driver: publishing its kubeconfig ([`kubeconfig`]) and,
//! after a provision answered `continue`, the bootstrap ([`bootstrap`]) with the driver's
//! exported environment; before a provision, the clusters its driver reaches by domain
//! ([`dependencies`]); and [`tunnel`], a remote engine's cluster used from this machine.

pub mod bootstrap;
pub mod dependencies;
pub mod kubeconfig;
pub mod tunnel;

use std::path::PathBuf;

use anyhow::bail;

/// The result of the framework steps.
#[derive(Debug, Default)]
pub struct AfterProvision {
    /// `LOK8S_SPEC_*` and friends from the driver's `export` hook.
    pub exported: Vec<(String, String)>,
    /// `.kubeconfig/<name>.yaml`, when the driver wrote it.
    pub kubeconfig: Option<PathBuf>,
    /// What the bootstrap did; None when `spec.bootstrap` selects nothing.
    pub bootstrap: Option<bootstrap::Report>,
    /// How long each of the driver's phases took.
    pub phases: Vec<crate::host::PhaseTiming>,
    /// The driver's provision call: its wall time and where it went (None with --bootstrap).
    pub driver_call: Option<DriverCall>,
}

/// The driver's provision call, timed: its wall time, the guest's CPU time, and the wall time
/// in host functions (the engine and API calls it made, and lo's checks).
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct DriverCall {
    pub seconds: f64,
    pub guest_cpu_seconds: f64,
    pub host_seconds: f64,
}

/// Checks the names the driver exported: environment variable names only.
pub fn check_exported(exported: &[(String, String)]) -> anyhow::Result<()> {
    for (name, _) in exported {
        if !bootstrap::entries::is_variable_name(name) {
            bail!(
                "export returned {name:?}, which is not an environment variable name (letters, digits, '_', not starting with a digit)"
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exported_names_are_variable_names() {
        assert!(check_exported(&[("LOK8S_SPEC_A".into(), "x\ny".into())]).is_ok());
        assert!(check_exported(&[("A=B".into(), String::new())]).is_err());
        assert!(check_exported(&[("1A".into(), String::new())]).is_err());
    }
}
