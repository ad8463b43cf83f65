//! `lo`: provisions Kubernetes clusters through driver components that run sandboxed in
//! wasmtime. `lo provision` reads top-down in [`lifecycle::provision`]: load spec -> resolve driver ->
//! verify -> instantiate -> provision -> framework steps.

pub mod builtin;
pub mod check;
pub mod cli;
pub mod conformance;
pub mod contract;
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

pub use contract::CONTRACT;

/// `lo`'s own version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
