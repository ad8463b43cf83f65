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
