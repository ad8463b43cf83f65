//! `lo`: provisions Kubernetes clusters through driver components that run sandboxed in
//! wasmtime. `lo provision` reads top-down in [`cluster::provision`]: load spec -> resolve
//! driver -> verify -> instantiate -> provision -> framework steps. The layers, from the bottom
//! (each may use only those below it; `tests/layers.rs` checks it): `contract`; `sanitize`,
//! `project`; `host`; `lock`; `engine`; `framework`; `settings`, `drivers`, `cluster`,
//! `authoring`; `cli`. See docs/architecture.md.

pub mod authoring;
pub mod cli;
pub mod cluster;
pub mod contract;
pub mod drivers;
pub mod engine;
pub mod framework;
pub mod host;
pub mod lock;
pub mod project;
pub mod sanitize;
pub mod settings;

pub use contract::CONTRACT;

/// `lo`'s own version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
