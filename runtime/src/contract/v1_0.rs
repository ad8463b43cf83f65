//! Host-side bindings of `lok8s:driver@1.0.*`, generated from the frozen `wit/1.0.0`. Resources
//! are plain handles here; the host keeps what stands behind them (an ssh session) itself.

wasmtime::component::bindgen!({
    path: "../wit/1.0.0",
    world: "driver-with-hooks",
    imports: { default: async | trappable },
    exports: { default: async },
});

pub use self::exports::lok8s::driver::{hooks, lifecycle};
pub use self::lok8s::driver::{docker, http, kubectl_apply, log, ssh, tls, types};
