//! One driver run: a fresh store with limits, and the contract's calls, each bounded by the CPU
//! budget (epoch ticks), the memory cap, a wall-clock timeout and Ctrl-C. Every failure names
//! the driver, its version and its hash.

use std::future::Future;
use std::time::Duration;

use wasmtime::component::{InstancePre, TypedFunc};
use wasmtime::{Store, UpdateDeadline};

use super::limits::RunLimits;
use crate::contract::Operation;
use crate::contract::v1_1::SpecSchemaIndices;
use crate::contract::{hooks, lifecycle, types};
use crate::host::HostState;
use crate::host::limits::{CpuExceeded, MemoryExceeded};
use crate::lock::Digest;

/// Who is running, for every message about it.
#[derive(Debug, Clone)]
pub struct DriverId {
    /// Lower-case kind it was resolved for.
    pub kind: String,
    pub name: Option<String>,
    pub version: Option<String>,
    pub digest: Digest,
}

impl std::fmt::Display for DriverId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.name, &self.version) {
            (Some(name), Some(version)) => {
                write!(f, "driver {name} {version} ({})", self.digest.short())
            }
            _ => write!(f, "driver for kind {} ({})", self.kind, self.digest.short()),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RunFailure {
    #[error("trapped: {0}")]
    Trap(String),
    #[error(
        "ran out of CPU time: {0} (raise it with --cpu-seconds or limits.cpu-seconds in drivers.lock)"
    )]
    Cpu(CpuExceeded),
    #[error(
        "hit the memory limit: {0} (raise it with --memory-mib or limits.memory-mib in drivers.lock)"
    )]
    Memory(MemoryExceeded),
    #[error(
        "timed out after {0:?} of wall-clock time (raise it with --timeout or limits.timeout-seconds in drivers.lock)"
    )]
    WallClock(Duration),
    #[error("interrupted (Ctrl-C)")]
    Interrupted,
}

/// A driver call that did not return a value: the driver is stopped and its store dropped.
#[derive(Debug, thiserror::Error)]
#[error("{driver}: {op}: {failure}")]
pub struct RunError {
    pub driver: DriverId,
    pub op: &'static str,
    pub failure: RunFailure,
}

/// Where a call's time went (`lo provision -o json`: `driver_call`).
#[derive(Debug, Clone, Copy, Default)]
pub struct CallTimes {
    /// CPU time of guest code.
    pub guest_cpu_seconds: f64,
    /// Wall time in host functions: the engine and API calls the driver made, and lo's checks.
    pub host_seconds: f64,
}

/// The user pressed Ctrl-C while the driver ran (the command exits 130).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Interrupted(pub String);

/// Turns a Ctrl-C into [`Interrupted`]; other run errors pass through.
pub fn interrupted(e: RunError) -> anyhow::Error {
    if matches!(e.failure, RunFailure::Interrupted) {
        return Interrupted(format!("{}: {}: stopped by Ctrl-C", e.driver, e.op)).into();
    }
    e.into()
}

/// A compiled, checked component ready to be instantiated.
pub struct Prepared {
    pub pre: InstancePre<HostState>,
    pub lifecycle: lifecycle::GuestIndices,
    pub hooks: Option<hooks::GuestIndices>,
    pub spec_schema: Option<SpecSchemaIndices>,
}

pub struct DriverInstance {
    store: Store<HostState>,
    lifecycle: lifecycle::Guest,
    hooks: Option<hooks::Guest>,
    spec_schema: Option<TypedFunc<(), (Option<String>,)>>,
    pub id: DriverId,
    limits: RunLimits,
}

impl DriverInstance {
    /// Instantiates in a fresh store; start-up code runs under the describe budget.
    pub async fn start(
        prepared: &Prepared,
        host: HostState,
        id: DriverId,
        limits: RunLimits,
    ) -> Result<Self, RunError> {
        let mut store = Store::new(prepared.pre.engine(), host);
        store.limiter(|s| &mut s.limits);
        // Guest CPU is the thread's CPU time while guest code runs: the hook opens and closes
        // each stretch, the epoch callback checks the running one every tick.
        store.call_hook(|mut ctx, hook| {
            ctx.data_mut().limits.guest_running(hook.exiting_host());
            Ok(())
        });
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|mut ctx| {
            ctx.data_mut()
                .limits
                .check_cpu()
                .map_err(wasmtime::Error::new)?;
            Ok(UpdateDeadline::Yield(1))
        });
        let timeout = limits.timeout(Operation::Describe);
        let instance = guard(
            &id,
            "instantiate",
            timeout,
            prepared.pre.instantiate_async(&mut store),
        )
        .await?;
        let fail = |e: wasmtime::Error| RunError {
            driver: id.clone(),
            op: "instantiate",
            failure: classify(e),
        };
        let lifecycle = prepared
            .lifecycle
            .load(&mut store, &instance)
            .map_err(fail)?;
        let hooks = match &prepared.hooks {
            Some(indices) => Some(indices.load(&mut store, &instance).map_err(fail)?),
            None => None,
        };
        let spec_schema = match &prepared.spec_schema {
            Some(indices) => Some(indices.load(&mut store, &instance).map_err(fail)?),
            None => None,
        };
        Ok(DriverInstance {
            store,
            lifecycle,
            hooks,
            spec_schema,
            id,
            limits,
        })
    }

    pub fn has_hooks(&self) -> bool {
        self.hooks.is_some()
    }

    /// Where the last call's time went: guest CPU, and wall time in host functions.
    pub fn last_call(&self) -> CallTimes {
        let limits = &self.store.data().limits;
        CallTimes {
            guest_cpu_seconds: limits.cpu_used.as_secs_f64(),
            host_seconds: limits.host_wall.as_secs_f64(),
        }
    }

    fn begin(&mut self, op: Operation) -> (Duration, &'static str) {
        let timeout = self.limits.timeout(op);
        let host = self.store.data_mut();
        host.limits.reset_cpu();
        host.call_deadline = std::time::Instant::now().checked_add(timeout);
        (timeout, op.name())
    }

    fn finish(&mut self) {
        self.store.data().log.end_open_phase();
    }

    /// Who the driver says it is; every string is sanitised, since `lo` prints them.
    pub async fn describe(&mut self) -> Result<types::DriverInfo, RunError> {
        let (t, op) = self.begin(Operation::Describe);
        let r = guard(
            &self.id,
            op,
            t,
            self.lifecycle.call_describe(&mut self.store),
        )
        .await;
        self.finish();
        r.map(clean_info)
    }

    /// The JSON Schema of the driver's spec (contract 1.1), None when it publishes none. Runs
    /// under the describe budget: like describe, it has no side effects.
    pub async fn spec_schema(&mut self) -> Result<Option<String>, RunError> {
        let Some(func) = self.spec_schema else {
            return Ok(None);
        };
        let (t, _) = self.begin(Operation::Describe);
        let r = guard(&self.id, "spec-schema", t, async {
            func.call_async(&mut self.store, ()).await.map(|(s,)| s)
        })
        .await;
        self.finish();
        r
    }

    pub async fn provision(
        &mut self,
        ctx: &types::Context,
    ) -> Result<Result<types::Outcome, types::DriverError>, RunError> {
        let (t, op) = self.begin(Operation::Provision);
        let r = guard(
            &self.id,
            op,
            t,
            self.lifecycle.call_provision(&mut self.store, ctx),
        )
        .await;
        self.finish();
        r
    }

    pub async fn destroy(
        &mut self,
        ctx: &types::Context,
    ) -> Result<Result<(), types::DriverError>, RunError> {
        let (t, op) = self.begin(Operation::Destroy);
        let r = guard(
            &self.id,
            op,
            t,
            self.lifecycle.call_destroy(&mut self.store, ctx),
        )
        .await;
        self.finish();
        r
    }

    pub async fn status(
        &mut self,
        ctx: &types::Context,
    ) -> Result<Result<types::StatusReport, types::DriverError>, RunError> {
        let (t, op) = self.begin(Operation::Status);
        let r = guard(
            &self.id,
            op,
            t,
            self.lifecycle.call_status(&mut self.store, ctx),
        )
        .await;
        self.finish();
        r
    }

    pub async fn kubeconfig(
        &mut self,
        ctx: &types::Context,
    ) -> Result<Result<String, types::DriverError>, RunError> {
        let (t, op) = self.begin(Operation::Kubeconfig);
        let r = guard(
            &self.id,
            op,
            t,
            self.lifecycle.call_kubeconfig(&mut self.store, ctx),
        )
        .await;
        self.finish();
        r
    }

    /// None when the component does not export the hooks.
    pub async fn post_provision(
        &mut self,
        ctx: &types::Context,
    ) -> Option<Result<Result<(), types::DriverError>, RunError>> {
        let hooks = self.hooks.clone()?;
        let (t, op) = self.begin(Operation::PostProvision);
        let r = guard(
            &self.id,
            op,
            t,
            hooks.call_post_provision(&mut self.store, ctx),
        )
        .await;
        self.finish();
        Some(r)
    }

    /// None when the component does not export the hooks.
    #[allow(clippy::type_complexity)]
    pub async fn export(
        &mut self,
        ctx: &types::Context,
    ) -> Option<Result<Result<Vec<(String, String)>, types::DriverError>, RunError>> {
        let hooks = self.hooks.clone()?;
        let (t, op) = self.begin(Operation::Export);
        let r = guard(&self.id, op, t, hooks.call_export(&mut self.store, ctx)).await;
        self.finish();
        Some(r)
    }

    /// Once describe has run, messages name the driver rather than the kind.
    pub fn set_identity(&mut self, name: &str, version: &str) {
        self.id.name = Some(name.to_string());
        self.id.version = Some(version.to_string());
    }
}

/// Runs one call under its wall-clock budget and Ctrl-C, and names any failure.
async fn guard<R>(
    id: &DriverId,
    op: &'static str,
    timeout: Duration,
    call: impl Future<Output = wasmtime::Result<R>>,
) -> Result<R, RunError> {
    let failure = tokio::select! {
        result = tokio::time::timeout(timeout, call) => match result {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(e)) => classify(e),
            Err(_) => RunFailure::WallClock(timeout),
        },
        _ = tokio::signal::ctrl_c() => RunFailure::Interrupted,
    };
    Err(RunError {
        driver: id.clone(),
        op,
        failure,
    })
}

fn clean_info(mut info: types::DriverInfo) -> types::DriverInfo {
    use crate::sanitize::clean;
    let one_line = |s: &str| clean(s).replace(['\n', '\t'], " ");
    info.name = one_line(&info.name);
    info.version = one_line(&info.version);
    info.contract = one_line(&info.contract);
    info.summary = one_line(&info.summary);
    info.kinds = info.kinds.iter().map(|k| one_line(k)).collect();
    for request in &mut info.capabilities {
        request.reason = one_line(&request.reason);
    }
    info
}

fn classify(e: wasmtime::Error) -> RunFailure {
    if let Some(cpu) = e.downcast_ref::<CpuExceeded>() {
        return RunFailure::Cpu(CpuExceeded(cpu.0));
    }
    if let Some(mem) = e.downcast_ref::<MemoryExceeded>() {
        return RunFailure::Memory(MemoryExceeded {
            desired: mem.desired,
            limit: mem.limit,
        });
    }
    let mut parts: Vec<String> = Vec::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
    }
    RunFailure::Trap(parts.join(": "))
}
