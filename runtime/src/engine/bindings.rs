//! Host-side bindings of the contract, generated from `wit/1.0.0`.

wasmtime::component::bindgen!({
    path: "../wit/1.0.0",
    world: "driver-with-hooks",
    imports: { default: async | trappable },
    exports: { default: async },
    with: { "lok8s:driver/ssh.session": crate::host::ssh::SshSession },
});

pub use self::exports::lok8s::driver::{hooks, lifecycle};
pub use self::lok8s::driver::types;

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
