//! The driver's world. A store starts from an empty WASI context (no files, no env, no
//! network, stdin closed) and gains each capability by a builder call that takes its grant:
//! reading `HostBuilder`'s calls tells exactly what a driver can reach.

pub mod docker;
pub mod files;
pub mod grants;
pub mod http;
pub mod kube;
pub mod limits;
pub mod log;
pub mod operator;
pub mod refusal;
pub mod reported;
pub mod ssh;
pub mod stdio;
pub mod tls;

use wasmtime::component::{Linker, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use crate::contract;
pub use files::{FilesError, Preopen};
use limits::StoreLimits;
pub use log::{Logger, PhaseTiming, Verbosity};

/// Per-run state of one driver instance.
pub struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limits: StoreLimits,
    pub(crate) log: Logger,
    /// When the running call's wall-clock budget ends: host work that would outlive it (a
    /// remote command) is stopped before.
    pub(crate) call_deadline: Option<std::time::Instant>,
    pub(crate) docker: Option<docker::DockerCtx>,
    pub(crate) tls: Option<tls::TlsCtx>,
    pub(crate) http: Option<http::HttpCtx>,
    pub(crate) ssh: Option<ssh::SshCtx>,
    pub(crate) kube: Option<kube::KubeCtx>,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Import interfaces of `lok8s:driver` this `lo` implements and links for every driver.
pub const ALWAYS_LINKED: &[&str] = &["types", "log"];
/// Import interfaces of `lok8s:driver` this `lo` implements behind a grant.
pub const IMPLEMENTED_BY_GRANT: &[&str] = &["docker", "tls", "http", "ssh", "kubectl-apply"];
/// Import interfaces the contract designs but this build does not implement yet.
pub const NOT_YET_IMPLEMENTED: &[&str] = &[];
/// WASI packages a driver may import (what every guest language's standard library uses).
/// `wasi:sockets` is linked because language runtimes such as CPython import it, but every
/// use is refused (no TCP, no UDP, no name lookups: see [`HostBuilder::new`]); `wasi:http` is
/// not linked. Network access goes through the contract's `http` import.
pub const WASI_ALLOWED: &[&str] = &[
    "wasi:sockets/",
    "wasi:cli/",
    "wasi:io/",
    "wasi:clocks/",
    "wasi:random/",
    "wasi:filesystem/",
];

/// Where a driver runs: what its capabilities are made from besides its grants.
pub struct Site<'a> {
    pub project: &'a crate::project::Project,
    /// The cluster's domain.
    pub domain: &'a str,
    /// The lower-case kind the driver runs for (its label on Docker objects).
    pub driver: &'a str,
    /// Where a missing grant goes, for denials.
    pub hint: &'a str,
    /// The user's CA folder (the tls capability signs with it; no container may bind it).
    pub caroot: &'a std::path::Path,
    /// How privileged containers are run (an operator setting).
    pub privileged_mode: docker::PrivilegedMode,
    /// How many commands one `ssh.exec-all` runs at once (an operator setting).
    pub ssh_parallel: usize,
    /// The Docker engine lo talks to (an operator setting).
    pub engine: docker::Engine,
    /// The spec's `spec:` section: fields the grant says the operator names (a network, a
    /// host folder, an API's address) are read from it.
    pub spec: &'a serde_yaml::Value,
    /// The spec's folder, where relative file names in it start.
    pub spec_dir: &'a std::path::Path,
}

/// A grant `lo` cannot build a capability from (a bad pattern, a reserved name).
#[derive(Debug, thiserror::Error)]
#[error("drivers.{driver}.grants: {message}")]
pub struct GrantError {
    pub driver: String,
    pub message: String,
}

/// Builds a [`HostState`] capability by capability.
pub struct HostBuilder {
    wasi: WasiCtxBuilder,
    log: Logger,
    limits: StoreLimits,
    docker: Option<docker::DockerCtx>,
    tls: Option<tls::TlsCtx>,
    http: Option<http::HttpCtx>,
    ssh: Option<ssh::SshCtx>,
    kube: Option<kube::KubeCtx>,
}

impl HostBuilder {
    /// Nothing granted: guest stdout/stderr go through the sanitising logger, everything else
    /// is closed.
    pub fn new(log: Logger, limits: StoreLimits) -> Self {
        let mut wasi = WasiCtxBuilder::new();
        wasi.stdout(stdio::GuestOutput::new(log.clone(), "stdout"));
        wasi.stderr(stdio::GuestOutput::new(log.clone(), "stderr"));
        wasi.allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        HostBuilder {
            wasi,
            log,
            limits,
            docker: None,
            tls: None,
            http: None,
            ssh: None,
            kube: None,
        }
    }

    /// Every capability `grants` name, each built by its own module from its grant and the
    /// site: the one call that decides what a driver can reach (with its folders, which
    /// [`files::driver_folders`] prepared).
    /// `reported` records what the driver's provider APIs report ([`reported`]).
    pub fn granted(
        self,
        grants: &grants::Grants,
        site: &Site,
        folders: &files::DriverFolders,
        env: impl Fn(&str) -> Option<String>,
        reported: &reported::ReportedHosts,
    ) -> Result<Self, GrantError> {
        let fail = |message: String| GrantError {
            driver: site.driver.to_string(),
            message,
        };
        let mut builder = self
            .files(&folders.preopens)
            .map_err(|e| fail(e.to_string()))?
            .env(&grants.env, &env);
        if let Some(grant) = &grants.docker {
            builder = builder.docker(docker::DockerCtx::from_grant(grant, site).map_err(fail)?);
        }
        if let Some(patterns) = &grants.tls {
            builder = builder.tls(tls::TlsCtx::from_grant(patterns, site));
        }
        if let Some(origins) = &grants.http {
            let ctx = http::HttpCtx::from_grant(origins, &grants.http_trust, site, &env);
            builder = builder.http(ctx.map_err(fail)?.report_to(reported.clone()));
        }
        if let Some(grant) = &grants.ssh {
            builder =
                builder.ssh(ssh::SshCtx::from_grant(grant, site).with_reported(reported.clone()));
        }
        if let Some(grant) = &grants.kube {
            let ctx = kube::KubeCtx::from_grant(grant, site, folders, &env).map_err(fail)?;
            builder = builder.kube(ctx);
        }
        Ok(builder)
    }

    /// Directories the driver may open, each with its permission.
    pub fn files(mut self, preopens: &[Preopen]) -> Result<Self, FilesError> {
        for p in preopens {
            let perms = if p.writable {
                wasmtime_wasi::FsPerms::ReadWrite
            } else {
                wasmtime_wasi::FsPerms::ReadOnly
            };
            self.wasi
                .preopened_dir(&p.host, &p.guest, perms)
                .map_err(|e| FilesError::Preopen {
                    guest: p.guest.clone(),
                    message: e.to_string(),
                })?;
        }
        Ok(self)
    }

    /// Environment variables granted by name, with their values from `lookup`; ungranted
    /// names are simply absent in the guest.
    pub fn env(mut self, granted: &[String], lookup: impl Fn(&str) -> Option<String>) -> Self {
        for name in granted {
            if let Some(value) = lookup(name) {
                self.wasi.env(name, value);
            }
        }
        self
    }

    /// Docker, limited to the scope's objects and what the grant allows.
    pub fn docker(mut self, ctx: docker::DockerCtx) -> Self {
        self.docker = Some(ctx);
        self
    }

    /// Leaf certificates for the granted SAN patterns.
    pub fn tls(mut self, ctx: tls::TlsCtx) -> Self {
        self.tls = Some(ctx);
        self
    }

    /// Outbound HTTP(S) to the granted origins.
    pub fn http(mut self, ctx: http::HttpCtx) -> Self {
        self.http = Some(ctx);
        self
    }

    /// SSH sessions to granted hosts with granted keys.
    pub fn ssh(mut self, ctx: ssh::SshCtx) -> Self {
        self.ssh = Some(ctx);
        self
    }

    /// Kubernetes objects in granted namespaces and kinds, on granted clusters.
    pub fn kube(mut self, ctx: kube::KubeCtx) -> Self {
        self.kube = Some(ctx);
        self
    }

    pub fn build(mut self) -> HostState {
        HostState {
            wasi: self.wasi.build(),
            table: ResourceTable::new(),
            limits: self.limits,
            log: self.log,
            call_deadline: None,
            docker: self.docker,
            tls: self.tls,
            http: self.http,
            ssh: self.ssh,
            kube: self.kube,
        }
    }
}

/// The linker every driver instance is created from: WASI plus the contract's imports. Every
/// import is linked for every driver: a component importing one it is not granted is refused
/// at load, and a call without its capability's context traps.
pub fn linker(engine: &wasmtime::Engine) -> wasmtime::Result<Linker<HostState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    contract::add_to_linker(&mut linker)?;
    Ok(linker)
}

impl contract::types::Host for HostState {}

impl HostState {
    /// When a command started now must be stopped: a little before the call's own deadline, so
    /// the driver hears why.
    pub(crate) fn command_deadline(&self) -> Option<std::time::Instant> {
        let margin = std::time::Duration::from_secs(3);
        self.call_deadline.map(|d| {
            d.checked_sub(margin)
                .filter(|at| *at > std::time::Instant::now())
                .unwrap_or(d)
        })
    }
}
