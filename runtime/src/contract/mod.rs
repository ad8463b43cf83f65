//! The driver contract as `lo` sees it: the bindings generated from each released `wit/`
//! version (one module per version: `v1_0` is `lok8s:driver@1.0.*`), the version this `lo`
//! implements, the calls a driver answers, and the one place the contract's imports are linked.
//! Depends on nothing else in `lo`. `v1_1` holds only what 1.1 adds (the optional
//! `spec-schema` export), `v1_2` only what 1.2 adds (`ssh.exec-all`); everything else is
//! served by `v1_0`'s bindings.

mod frozen;
pub mod v1_0;
pub mod v1_1;
pub mod v1_2;

pub use v1_0::{docker, hooks, http, kubectl_apply, lifecycle, log, ssh, tls, types};

/// The newest contract version this `lo` implements: `lok8s:driver@1.2.0`, and every older 1.x.
pub const CONTRACT: (u64, u64, u64) = (1, 2, 0);

/// The calls a driver answers; each has its own wall-clock budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Describe,
    Provision,
    Destroy,
    Status,
    Kubeconfig,
    PostProvision,
    Export,
}

impl Operation {
    pub const ALL: [Operation; 7] = [
        Operation::Describe,
        Operation::Provision,
        Operation::Destroy,
        Operation::Status,
        Operation::Kubeconfig,
        Operation::PostProvision,
        Operation::Export,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Operation::Describe => "describe",
            Operation::Provision => "provision",
            Operation::Destroy => "destroy",
            Operation::Status => "status",
            Operation::Kubeconfig => "kubeconfig",
            Operation::PostProvision => "post-provision",
            Operation::Export => "export",
        }
    }

    /// Whether the call does long work (creating or removing a cluster), which gets the long
    /// default wall-clock budget.
    pub fn is_long(self) -> bool {
        matches!(
            self,
            Operation::Provision | Operation::Destroy | Operation::PostProvision
        )
    }
}

/// The machine word for a health, as `-o json` and reports print it.
pub fn health_word(h: types::Health) -> &'static str {
    match h {
        types::Health::Running => "running",
        types::Health::Provisioning => "provisioning",
        types::Health::Degraded => "degraded",
        types::Health::NotFound => "not-found",
        types::Health::Failed => "failed",
        types::Health::Unknown => "unknown",
    }
}

/// Links every import of the contract (`types`, `log`, `docker`, `kubectl-apply`, `http`,
/// `ssh`, `tls`) to `T`'s implementations. Which of them a driver may use is decided per
/// driver when it is loaded and on every call, not here.
pub fn add_to_linker<T>(linker: &mut wasmtime::component::Linker<T>) -> wasmtime::Result<()>
where
    T: types::Host
        + log::Host
        + docker::Host
        + kubectl_apply::Host
        + http::Host
        + ssh::Host
        + v1_2::ssh::Host
        + tls::Host
        + Send
        + 'static,
{
    v1_0::DriverWithHooks::add_to_linker::<T, wasmtime::component::HasSelf<T>>(linker, |s| s)?;
    v1_2::ssh::add_to_linker::<T, wasmtime::component::HasSelf<T>>(linker, |s| s)
}
