//! `lo`: provisions Kubernetes clusters through driver components that run sandboxed in
//! wasmtime. `lo provision` reads top-down in [`lifecycle::provision`]: load spec -> resolve driver ->
//! verify -> instantiate -> provision -> framework steps.

pub mod builtin;
pub mod check;
pub mod cli;
pub mod conformance;
pub mod engine;
pub mod framework;
pub mod host;
pub mod lifecycle;
pub mod lock;
pub mod pinning;
pub mod project;
pub mod resolve;
pub mod sanitize;
pub mod scaffold;

/// The contract version this `lo` implements: `lok8s:driver@1.0.0` and every 1.0.x.
pub const CONTRACT: (u64, u64, u64) = (1, 0, 0);

/// `lo`'s own version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
