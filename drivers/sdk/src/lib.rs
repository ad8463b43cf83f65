//! The Rust SDK for lok8s drivers: the contract's generated bindings plus small helpers.
//! Guest code only: nothing here knows about the host.
//!
//! A driver implements [`Driver`] on a unit struct and calls [`export_driver!`]. The optional
//! hooks (`post-provision`, `export`) have defaults that do nothing, and `spec_schema` (the
//! JSON Schema `lo` checks the spec against, contract 1.1) defaults to none.

pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit/1.2.0",
        world: "driver-with-hooks-and-schema",
        pub_export_macro: true,
        default_bindings_module: "lok8s_driver_sdk::bindings",
        generate_all,
    });
}

pub mod env;
pub mod log;
pub mod spec;
pub mod wait;

pub use bindings::exports::lok8s::driver::hooks::Guest as HookExports;
pub use bindings::exports::lok8s::driver::lifecycle::Guest as DriverExports;
pub use bindings::exports::lok8s::driver::spec_schema::Guest as SchemaExports;
/// The docker import.
pub use bindings::lok8s::driver::docker;
/// The http import.
pub use bindings::lok8s::driver::http;
/// The kubectl-apply import.
pub use bindings::lok8s::driver::kubectl_apply;
/// The ssh import.
pub use bindings::lok8s::driver::ssh;
/// The tls import.
pub use bindings::lok8s::driver::tls;
pub use bindings::lok8s::driver::types::{
    Capability, CapabilityRequest, Context, DockerAccess, DriverError, DriverInfo, FieldError,
    Health, KubeAccess, Outcome, PathAccess, RunFlags, SshAccess, StatusReport,
};

/// The contract version this SDK builds drivers against.
pub const CONTRACT_VERSION: &str = "1.2.0";

/// Result type of every driver operation.
pub type Result<T, E = DriverError> = core::result::Result<T, E>;

/// What a driver implements. `post_provision` and `export` default to doing nothing.
pub trait Driver {
    fn describe() -> DriverInfo;
    fn provision(ctx: Context) -> Result<Outcome>;
    fn destroy(ctx: Context) -> Result<()>;
    fn status(ctx: Context) -> Result<StatusReport>;
    fn kubeconfig(ctx: Context) -> Result<String>;
    fn post_provision(_ctx: Context) -> Result<()> {
        Ok(())
    }
    fn export(_ctx: Context) -> Result<Vec<(String, String)>> {
        Ok(Vec::new())
    }
    /// The JSON Schema (JSON text) the whole `cluster.lok8s.yaml` must match; `lo` checks the
    /// spec with it before `provision` and prints it with `lo schema <kind>`.
    fn spec_schema() -> Option<String> {
        None
    }
}

/// Exports a [`Driver`] implementation as the component's `lifecycle`, `hooks` and
/// `spec-schema` interfaces.
#[macro_export]
macro_rules! export_driver {
    ($ty:ident) => {
        impl $crate::DriverExports for $ty {
            fn describe() -> $crate::DriverInfo {
                <$ty as $crate::Driver>::describe()
            }
            fn provision(ctx: $crate::Context) -> $crate::Result<$crate::Outcome> {
                <$ty as $crate::Driver>::provision(ctx)
            }
            fn destroy(ctx: $crate::Context) -> $crate::Result<()> {
                <$ty as $crate::Driver>::destroy(ctx)
            }
            fn status(ctx: $crate::Context) -> $crate::Result<$crate::StatusReport> {
                <$ty as $crate::Driver>::status(ctx)
            }
            fn kubeconfig(ctx: $crate::Context) -> $crate::Result<String> {
                <$ty as $crate::Driver>::kubeconfig(ctx)
            }
        }
        impl $crate::HookExports for $ty {
            fn post_provision(ctx: $crate::Context) -> $crate::Result<()> {
                <$ty as $crate::Driver>::post_provision(ctx)
            }
            fn export(ctx: $crate::Context) -> $crate::Result<Vec<(String, String)>> {
                <$ty as $crate::Driver>::export(ctx)
            }
        }
        impl $crate::SchemaExports for $ty {
            fn schema() -> Option<String> {
                <$ty as $crate::Driver>::spec_schema()
            }
        }
        $crate::bindings::export!($ty with_types_in $crate::bindings);
    };
}

/// A status report from its parts.
pub fn status(phase: &str, health: Health, message: impl Into<String>) -> StatusReport {
    StatusReport {
        phase: phase.to_string(),
        health,
        message: message.into(),
    }
}

/// Runs `f` as one named progress phase: a line (or a bar on a terminal) while it runs, and
/// its outcome and duration when it ends, whichever way it ends.
pub fn phase<T>(title: &str, steps: Option<u32>, f: impl FnOnce() -> Result<T>) -> Result<T> {
    log::phase_begin(title, steps);
    let result = f();
    log::phase_end(result.is_ok(), "");
    result
}

/// An error's text as a person reads it (a spec error: its field, then what is wrong).
pub fn message(e: &DriverError) -> String {
    match e {
        DriverError::InvalidSpec(f) => format!("{}: {}", f.field, f.message),
        DriverError::Failed(m)
        | DriverError::Denied(m)
        | DriverError::NotFound(m)
        | DriverError::Unavailable(m)
        | DriverError::Timeout(m) => m.clone(),
    }
}

/// `ctx.kubeconfig` once the driver has written it; not-found with the fix before that.
pub fn written_kubeconfig(ctx: Context) -> Result<String> {
    if std::path::Path::new(&ctx.kubeconfig).is_file() {
        return Ok(ctx.kubeconfig);
    }
    Err(DriverError::NotFound(format!(
        "{} is not there: run lo provision first",
        ctx.kubeconfig
    )))
}

/// A `failed` error with this message.
pub fn failed(message: impl Into<String>) -> DriverError {
    DriverError::Failed(message.into())
}

/// A container spec with only its name and image set: no mounts, ports, privileges or
/// network, restart `no`. Set the fields a driver needs on the result.
pub fn container_spec(name: &str, image: &str) -> docker::ContainerSpec {
    docker::ContainerSpec {
        name: name.into(),
        image: image.into(),
        hostname: None,
        labels: vec![],
        env: vec![],
        entrypoint: None,
        cmd: None,
        user: None,
        working_dir: None,
        mounts: vec![],
        ports: vec![],
        privileged: false,
        security_opts: vec![],
        restart: docker::RestartPolicy::No,
        network: None,
        cgroupns: None,
        init: false,
    }
}
