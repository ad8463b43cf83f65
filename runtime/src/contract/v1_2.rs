//! What `lok8s:driver@1.2.*` adds: `ssh.exec-all` (commands on several sessions at once). Only
//! the `ssh` interface gets new bindings; every other interface is 1.0's (`with` below), so
//! the host implements each function once. Components built against 1.0 link `ssh@1.0.0`
//! exactly; 1.1 and 1.2 components resolve to this, the newest `ssh` of the 1.x line.

wasmtime::component::bindgen!({
    path: "../wit/1.2.0",
    world: "driver",
    imports: { default: async | trappable },
    exports: { default: async },
    with: {
        "lok8s:driver/types": super::v1_0::types,
        "lok8s:driver/log": super::v1_0::log,
        "lok8s:driver/docker": super::v1_0::docker,
        "lok8s:driver/http": super::v1_0::http,
        "lok8s:driver/kubectl-apply": super::v1_0::kubectl_apply,
        "lok8s:driver/tls": super::v1_0::tls,
    },
});

pub use self::lok8s::driver::ssh;
