//! The lifecycle commands as library calls: load spec -> resolve driver -> verify -> compile
//! -> instantiate with grants and limits -> call the driver -> framework steps. The CLI only
//! parses and prints.

mod dependencies;

use anyhow::{Context as _, anyhow};

use crate::contract::types;
use crate::drivers::resolve;
use crate::engine::Runtime;
use crate::engine::cache::CacheOutcome;
use crate::engine::contract;
use crate::engine::instance::{
    DriverId, DriverInstance, Interrupted, RunError, RunFailure, interrupted,
};
use crate::engine::limits::RunLimits;
use crate::framework::{self, bootstrap, bootstrap::progress::Progress};
use crate::host::kube::vetted::{self, Vetted};
use crate::host::limits::StoreLimits;
use crate::host::{self, HostBuilder, Logger, Verbosity};
use crate::lock::{Limits, Lockfile};
use crate::project::{ClusterSpec, DomainLock, Project, SpecFile};
use crate::settings::Settings;

/// Everything a lifecycle command needs besides the domain.
#[derive(Debug, Clone)]
pub struct Options {
    pub project: Project,
    pub force: bool,
    pub verbosity: Verbosity,
    pub remote: bool,
    pub limits: Limits,
    pub settings: Settings,
    /// Where granted environment variables get their values: the caller's environment for
    /// `lo` commands, only what the author passed for `lo driver test`.
    pub env: Environment,
}

/// The values granted environment variables take.
#[derive(Debug, Clone)]
pub enum Environment {
    /// `lo`'s own environment.
    Process,
    /// These values only.
    Given(std::collections::BTreeMap<String, String>),
}

impl Environment {
    pub fn get(&self, name: &str) -> Option<String> {
        match self {
            Environment::Process => std::env::var(name).ok(),
            Environment::Given(values) => values.get(name).cloned(),
        }
    }
}

/// What `provision` ended with.
#[derive(Debug)]
pub enum Provisioned {
    /// The driver did the whole lifecycle; framework steps were skipped.
    Handled,
    /// The driver answered `continue`; the framework steps ran.
    Continued(framework::AfterProvision),
    /// `--dry-run`: the bootstrap plan, each entry rendered; nothing changed.
    Planned {
        exported: Vec<String>,
        entries: Vec<bootstrap::PlannedEntry>,
    },
}

/// How `lo provision` and `lo bootstrap` treat `spec.bootstrap`.
#[derive(Debug, Clone, Default)]
pub struct BootstrapRequest {
    /// Skip the driver's provision: its export, then the bootstrap (`--bootstrap`,
    /// `lo bootstrap`).
    pub only: bool,
    /// Plan and render, change nothing.
    pub dry_run: bool,
    pub run: bootstrap::RunOptions,
    /// No progress output (`-o json`).
    pub quiet: bool,
    /// Leave `spec.bootstrap` alone (`lo driver test` checks the driver by itself).
    pub skip: bool,
}

/// A driver error, printed as the driver wrote it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DriverFailed(pub String);

/// A spec the driver's schema refuses (before the driver runs), each field named.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SchemaRefused(pub String);

/// A driver instance bound to one cluster.
pub struct Session {
    pub spec: ClusterSpec,
    pub instance: DriverInstance,
    pub info: types::DriverInfo,
    pub ctx: types::Context,
    pub cache: CacheOutcome,
    pub log: Logger,
    /// The driver's kubeconfig folder, which lo publishes from after each call.
    kubeconfigs: crate::project::Inside,
    /// The API servers its grant lets it reach (`kube.servers`), which bounds lo's own
    /// connections to the cluster it made.
    kube_servers: Vec<String>,
    /// What the driver's provider APIs reported in this session (`host::reported`): load
    /// balancers its kubeconfig may name.
    reported: host::reported::ReportedHosts,
    project: Project,
    /// The schema of the built-in driver that runs the spec (a pinned component is asked for
    /// its own, contract 1.1), and the host folders the spec names with the grant they must
    /// fit: [`Session::check_spec_against_grant`] refuses a provision on either.
    schema: Option<&'static str>,
    spec_host_paths: Option<SpecHostPaths>,
    /// `DOCKER_HOST` when it names an engine on another machine and the driver uses Docker.
    pub remote_engine: Option<String>,
    /// Where a missing grant for this driver goes.
    grant_hint: String,
    /// The clusters its driver reaches by domain, which a provision makes sure exist first.
    needs: framework::dependencies::Needs,
    /// Removes the folders this session made when it ends, if nothing was written into them.
    _created: host::files::CreatedDirs,
}

impl Session {
    /// Refuses a provision whose spec breaks the driver's schema or names what the driver's
    /// grant does not allow, before the driver creates anything; destroy, status and
    /// kubeconfig never depend on it.
    pub async fn check_spec_against_grant(&mut self) -> anyhow::Result<()> {
        // Asked for here, for provision only: status and destroy never pay for it, and a
        // driver whose schema export fails can still be torn down.
        let schema = match self.schema {
            Some(builtin) => Some(builtin.to_string()),
            None => self.instance.spec_schema().await.map_err(interrupted)?,
        };
        if let Some(Err(errors)) = schema
            .as_deref()
            .map(|schema| crate::drivers::schema::validate(schema, &self.spec.text))
        {
            let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
            return Err(SchemaRefused(format!(
                "{} does not match the {} driver's schema (`lo schema {}`), so nothing was created:\n  {}",
                self.spec.file,
                self.spec.kind,
                self.spec.kind.to_ascii_lowercase(),
                shown.join("\n  ")
            ))
            .into());
        }
        let refusals = self
            .spec_host_paths
            .as_ref()
            .map(SpecHostPaths::refusals)
            .unwrap_or_default();
        if refusals.is_empty() {
            return Ok(());
        }
        Err(anyhow!(
            "{}: the spec names what the driver's grant does not allow, so nothing was created:\n  {}\nfix: change the spec, or grant it ({})",
            self.spec.file,
            refusals.join("\n  "),
            self.grant_hint
        ))
    }

    /// The API servers the driver's kubeconfig may name: its grant's, the load balancers its
    /// provider's API reported to it in this session, and the one lo published for this
    /// domain before (so `lo bootstrap` or `lo kubeconfig` need no provider answer again).
    fn servers_rule(&self) -> anyhow::Result<crate::host::http::allowlist::Allowlist> {
        let mut extra = self.reported.balancer_origins();
        extra.extend(framework::kubeconfig::published_origin(
            &self.project,
            &self.spec.domain,
            &kubeconfig_file(&self.spec),
        ));
        vetted::servers_rule(&self.kube_servers, &extra).map_err(|e| anyhow!("kube.servers: {e}"))
    }

    /// Publishes what the driver left in its kubeconfig folder (see [`framework::kubeconfig`]).
    pub fn publish_kubeconfig(&self) -> anyhow::Result<Option<std::path::PathBuf>> {
        let servers = self.servers_rule()?;
        framework::kubeconfig::publish(
            &self.project,
            &self.kubeconfigs,
            &self.spec.domain,
            &kubeconfig_file(&self.spec),
            &servers,
        )
    }
}

impl Session {
    /// A client for the cluster, from the kubeconfig lo published, vetted, at an address the
    /// driver's grant allows; and the API server URL it names.
    pub async fn cluster_client(&self) -> anyhow::Result<(kube::Client, Option<String>)> {
        let file = kubeconfig_file(&self.spec);
        let bytes = self
            .project
            .kubeconfigs()
            .and_then(|dir| dir.read(&file, vetted::MAX_BYTES))
            .map_err(|e| {
                if e.is_not_found() {
                    anyhow!(
                        "no .kubeconfig/{file}: the cluster has not been provisioned; run 'lo provision {}' first",
                        self.spec.domain
                    )
                } else {
                    anyhow!(".kubeconfig/{file}: {e}")
                }
            })?;
        let vetted = Vetted::parse(&bytes).map_err(|e| anyhow!(".kubeconfig/{file}: {e}"))?;
        let servers = self.servers_rule()?;
        let client = vetted
            .client(&servers)
            .await
            .map_err(|e| anyhow!(".kubeconfig/{file}: {e}"))?;
        Ok((client, vetted.server()))
    }
}

fn kubeconfig_file(spec: &ClusterSpec) -> String {
    format!("{}.yaml", spec.name)
}

/// Loads the domain's cluster spec, refusing deployment domains for `action`.
pub fn load_cluster(
    project: &Project,
    domain: &str,
    action: &'static str,
) -> anyhow::Result<ClusterSpec> {
    Ok(SpecFile::load(project, domain)?.into_cluster(action)?)
}

/// Resolves, verifies, compiles and starts the driver for `spec`, then asks who it is.
pub async fn open(opts: &Options, spec: ClusterSpec) -> anyhow::Result<Session> {
    let project = &opts.project;
    let lock = Lockfile::load(&project.lock_path())?;
    let mut resolved = resolve::resolve(project, &lock, &spec.kind, opts.settings.locked)?;
    let caroot = opts.settings.caroot();
    let engine = opts.settings.docker_engine();
    let engine_remote = engine.is_remote();
    let spec_section = host::docker::spec_fields::spec_section(&spec.text);
    let spec_host_paths = complete_from_spec(
        &mut resolved.grants,
        &spec_section,
        project,
        &caroot,
        engine_remote,
    );
    let schema = builtin_schema(&resolved);
    let remote_engine = engine
        .address
        .clone()
        .filter(|_| engine_remote)
        .filter(|_| resolved.grants.docker.is_some());
    let runtime = Runtime::new(opts.settings.cache())?;
    let hint = resolve::grant_hint(&resolved.kind, &resolved.source);
    let id = DriverId {
        kind: resolved.kind.clone(),
        name: None,
        version: None,
        digest: resolved.component.digest().clone(),
    };
    let (prepared, shape, cache) = runtime
        .prepare(&resolved.component, Some(&resolved.grants), &hint)
        .with_context(|| format!("loading {id}"))?;
    let limits = RunLimits::resolve(&opts.limits, &resolved.limits);
    let folders =
        host::files::driver_folders(project, &spec.domain, &spec.name, &resolved.grants.files)?;
    framework::kubeconfig::seed(
        project,
        &folders.kubeconfigs,
        &spec.domain,
        &folders.kubeconfig_file,
    )?;
    let log = Logger::stderr(&resolved.kind, opts.verbosity, opts.settings.plain);
    log_cache(&log, &cache);
    let session_log = log.clone();
    let site = host::Site {
        project,
        domain: &spec.domain,
        driver: &resolved.kind,
        hint: &hint,
        caroot: &caroot,
        privileged_mode: opts.settings.privileged_mode,
        ssh_parallel: opts.settings.ssh_parallel,
        engine,
        spec: &spec_section,
        spec_dir: spec.path.parent().unwrap_or(project.root()),
    };
    let values = host::operator::OperatorValues {
        spec: site.spec,
        spec_dir: site.spec_dir,
        env: &|name| opts.env.get(name),
    };
    let needs = framework::dependencies::needs(&resolved.grants, &values, &spec.domain)
        .with_context(|| format!("the grant of the {} driver", resolved.kind))?;
    let reported = host::reported::ReportedHosts::from_grants(&resolved.grants, &values).map_err(
        |message| host::GrantError {
            driver: resolved.kind.clone(),
            message,
        },
    )?;
    let host = HostBuilder::new(log, StoreLimits::new(limits.memory_bytes, limits.cpu))
        .granted(
            &resolved.grants,
            &site,
            &folders,
            |name| opts.env.get(name),
            &reported,
        )?
        .build();
    let mut instance = DriverInstance::start(&prepared, host, id, limits)
        .await
        .map_err(interrupted)?;
    let info = instance.describe().await.map_err(interrupted)?;
    contract::check_described(&shape, &info.contract)
        .with_context(|| format!("loading {}", instance.id))?;
    instance.set_identity(&info.name, &info.version);
    let ctx = context(opts, &spec, &folders.cluster_dir);
    let kube_servers = resolved
        .grants
        .kube
        .as_ref()
        .map(|k| k.servers.clone())
        .unwrap_or_default();
    Ok(Session {
        kube_servers,
        reported,
        spec,
        instance,
        info,
        ctx,
        cache,
        log: session_log,
        kubeconfigs: folders.kubeconfigs,
        project: project.clone(),
        schema,
        spec_host_paths,
        remote_engine,
        grant_hint: hint,
        needs,
        _created: folders.created,
    })
}

/// The spec schema of the built-in driver that runs the spec, shipped with `lo` (a pinned
/// component publishes its own through `spec-schema`).
fn builtin_schema(resolved: &resolve::Resolved) -> Option<&'static str> {
    match resolved.source {
        crate::lock::Source::Builtin => {
            crate::drivers::builtin::find(&resolved.kind).map(|b| b.schema)
        }
        _ => None,
    }
}

/// Completes the docker grant with what the spec names in the fields the grant lists (see
/// `host::docker::spec_fields`); the host folders the spec names are checked against it only
/// when a provision asks ([`SpecHostPaths::refusals`]).
fn complete_from_spec(
    grants: &mut host::grants::Grants,
    spec_section: &serde_yaml::Value,
    project: &Project,
    caroot: &std::path::Path,
    engine_remote: bool,
) -> Option<SpecHostPaths> {
    use host::docker::spec_fields;
    let docker = grants.docker.as_mut()?;
    let values = spec_section.clone();
    spec_fields::complete(docker, &values);
    let root = project.root();
    Some(SpecHostPaths {
        grant: docker.clone(),
        values,
        protected: vec![
            root.canonicalize().unwrap_or_else(|_| root.to_path_buf()),
            caroot.to_path_buf(),
        ],
        remote: engine_remote,
    })
}

/// The spec's host folders and the docker grant they must fit.
struct SpecHostPaths {
    grant: host::docker::grant::DockerGrant,
    values: serde_yaml::Value,
    protected: Vec<std::path::PathBuf>,
    remote: bool,
}

impl SpecHostPaths {
    /// Each folder the grant refuses, with its field.
    fn refusals(&self) -> Vec<String> {
        host::docker::spec_fields::check_host_paths(
            &self.grant,
            &self.values,
            &self.protected,
            self.remote,
        )
    }
}

/// Project folders that some driver's `files` grant may write: the pinned drivers' grants in
/// drivers.lock and the built-in drivers' own.
fn writable_by_drivers(project: &Project) -> anyhow::Result<Vec<String>> {
    let lock = Lockfile::load(&project.lock_path())?;
    let pinned = lock.drivers.values().map(|e| e.grants.clone());
    let builtin = crate::drivers::builtin::all().map(|b| b.grants());
    Ok(pinned
        .chain(builtin)
        .flat_map(|g| g.files)
        .filter(|f| f.writable)
        .map(|f| f.path)
        .collect())
}

/// `lo provision`: the driver verified and `spec.bootstrap` planned first (a broken entry
/// creates nothing), then the driver's provision, post-provision and export, then the bootstrap, unless the driver
/// answered `handled`. With `request.only`, the driver's export and the bootstrap only.
pub async fn provision(
    opts: &Options,
    domain: &str,
    request: &BootstrapRequest,
) -> anyhow::Result<Provisioned> {
    provision_after(opts, domain, request, &[]).await
}

/// [`provision`] of `domain` as a dependency of the clusters in `chain` (outermost first).
async fn provision_after(
    opts: &Options,
    domain: &str,
    request: &BootstrapRequest,
    chain: &[String],
) -> anyhow::Result<Provisioned> {
    let spec = load_cluster(&opts.project, domain, "provision")?;
    // The driver is resolved and verified first (an unpinned driver is refused before
    // anything else is said), then the bootstrap is planned, then the driver runs.
    let (kind, text) = (spec.kind.clone(), spec.text.clone());
    let mut session = open(opts, spec).await?;
    session.check_spec_against_grant().await?;
    let plan = if request.skip {
        None
    } else {
        bootstrap::plan(
            &opts.project,
            domain,
            &kind,
            &text,
            &writable_by_drivers(&opts.project)?,
        )?
    };
    bootstrap::check_selection(plan.as_ref(), &request.run)?;
    if !request.only {
        for name in bootstrap::cni_left_out(plan.as_ref(), &request.run) {
            session.log.host_note(&format!(
                "{name} (a CNI) is left out of this run: a new cluster's nodes stay \
                 NotReady until `lo bootstrap --only {name}` applies it"
            ));
        }
    }
    let _busy = if request.dry_run {
        None
    } else {
        Some(DomainLock::acquire(&opts.project, domain)?)
    };
    if !request.only {
        dependencies::provide(opts, &session, request, chain).await?;
    }
    let s = &mut session;
    if request.dry_run {
        let exported = export(s).await?;
        let server = s.cluster_client().await.ok().and_then(|(_, server)| server);
        let vars = bootstrap::variables(&exported, server.as_deref());
        let entries = match &plan {
            Some(plan) => bootstrap::dry_run(plan, &opts.project, &vars, &request.run).await?,
            None => Vec::new(),
        };
        return Ok(Provisioned::Planned {
            exported: exported.into_iter().map(|(k, _)| k).collect(),
            entries,
        });
    }
    let mut driver_call = None;
    if !request.only {
        let started = std::time::Instant::now();
        let outcome = s
            .instance
            .provision(&s.ctx)
            .await
            .map_err(|e| left_behind(e, domain))?;
        // What a successful call left is published; a failed one publishes nothing.
        let times = s.instance.last_call();
        driver_call = Some(framework::DriverCall {
            seconds: started.elapsed().as_secs_f64(),
            guest_cpu_seconds: times.guest_cpu_seconds,
            host_seconds: times.host_seconds,
        });
        let outcome = outcome.map_err(|e| driver_failed(&s.instance.id, "provision", e))?;
        s.publish_kubeconfig()?;
        if matches!(outcome, types::Outcome::Handled) {
            return Ok(Provisioned::Handled);
        }
        if let Some(result) = s.instance.post_provision(&s.ctx).await {
            result
                .map_err(|e| left_behind(e, domain))?
                .map_err(|e| driver_failed(&s.instance.id, "post-provision", e))?;
        }
    }
    let kubeconfig = s.publish_kubeconfig()?;
    let exported = export(s).await?;
    let mut after = framework::AfterProvision {
        exported,
        kubeconfig,
        bootstrap: None,
        phases: s.log.timings(),
        driver_call,
    };
    if let Some(plan) = plan {
        let (client, server) = s.cluster_client().await?;
        let vars = bootstrap::variables(&after.exported, server.as_deref());
        let progress = if request.quiet {
            Progress::quiet()
        } else {
            Progress::stderr(opts.settings.plain)
        };
        let report =
            bootstrap::run(&plan, &opts.project, client, &vars, &request.run, &progress).await?;
        after.bootstrap = Some(report);
    }
    Ok(Provisioned::Continued(after))
}

/// `lo env`: the driver's `export` values for the domain's cluster (nothing is changed).
pub async fn exported(opts: &Options, domain: &str) -> anyhow::Result<Vec<(String, String)>> {
    let spec = load_cluster(&opts.project, domain, "export the variables of")?;
    let mut session = open(opts, spec).await?;
    export(&mut session).await
}

/// The driver's `export` values, names checked.
async fn export(s: &mut Session) -> anyhow::Result<Vec<(String, String)>> {
    let exported = match s.instance.export(&s.ctx).await {
        Some(result) => result
            .map_err(interrupted)?
            .map_err(|e| driver_failed(&s.instance.id, "export", e))?,
        None => Vec::new(),
    };
    framework::check_exported(&exported)?;
    Ok(exported)
}

/// `lo destroy`.
pub async fn destroy(opts: &Options, domain: &str) -> anyhow::Result<()> {
    let spec = load_cluster(&opts.project, domain, "destroy")?;
    let _busy = DomainLock::acquire(&opts.project, domain)?;
    dependencies::check_unneeded(opts, domain)?;
    let mut s = open(opts, spec).await?;
    dependencies::refresh(opts, &s).await;
    let result = s
        .instance
        .destroy(&s.ctx)
        .await
        .map_err(|e| left_behind(e, domain))?;
    result.map_err(|e| driver_failed(&s.instance.id, "destroy", e))?;
    s.publish_kubeconfig()?;
    dependencies::forget(opts, domain)?;
    dependencies::release(opts, &s).await
}

/// `lo status`: follows a deployment domain to the cluster it references.
pub async fn status(
    opts: &Options,
    domain: &str,
) -> anyhow::Result<(Session, types::StatusReport)> {
    let spec = match SpecFile::load(&opts.project, domain)? {
        SpecFile::Cluster(spec) => spec,
        SpecFile::Deploy {
            cluster_ref: Some(target),
            ..
        } => load_cluster(&opts.project, &target, "report the status of")
            .with_context(|| format!("{domain} is a deployment domain referencing {target}"))?,
        SpecFile::Deploy {
            cluster_ref: None, ..
        } => {
            return Err(anyhow!(
                "{domain} is a deployment domain without spec.clusterRef.domain; set it to the cluster's domain"
            ));
        }
    };
    let mut s = open(opts, spec).await?;
    let report = s.instance.status(&s.ctx).await.map_err(interrupted)?;
    let report = report.map_err(|e| driver_failed(&s.instance.id, "status", e))?;
    Ok((s, report))
}

/// `lo kubeconfig`: the driver writes its kubeconfig; lo publishes it and returns the path.
pub async fn kubeconfig(opts: &Options, domain: &str) -> anyhow::Result<std::path::PathBuf> {
    let spec = load_cluster(&opts.project, domain, "write a kubeconfig for")?;
    let mut s = open(opts, spec).await?;
    let result = s.instance.kubeconfig(&s.ctx).await.map_err(interrupted)?;
    let rel = result.map_err(|e| driver_failed(&s.instance.id, "kubeconfig", e))?;
    if rel != s.ctx.kubeconfig {
        anyhow::bail!(
            "{} returned {rel:?}: a driver writes its kubeconfig at {} (ctx.kubeconfig), which lo publishes",
            s.instance.id,
            s.ctx.kubeconfig
        );
    }
    s.publish_kubeconfig()?
        .ok_or_else(|| anyhow!("{} returned {rel:?} but wrote no file there", s.instance.id))
}

fn context(opts: &Options, spec: &ClusterSpec, cluster_dir: &str) -> types::Context {
    let mut flags = types::RunFlags::empty();
    if opts.force {
        flags |= types::RunFlags::FORCE;
    }
    if opts.verbosity > Verbosity::Normal {
        flags |= types::RunFlags::VERBOSE;
    }
    if opts.remote {
        flags |= types::RunFlags::REMOTE;
    }
    types::Context {
        domain: spec.domain.clone(),
        cluster_name: spec.name.clone(),
        kind: spec.kind.clone(),
        spec: spec.text.clone(),
        flags,
        cluster_dir: cluster_dir.to_string(),
        kubeconfig: format!(".kubeconfig/{}", kubeconfig_file(spec)),
        project: opts.project.name(),
    }
}

/// With `-v`, says where the compiled code came from (and why a cache entry was not used).
fn log_cache(log: &Logger, outcome: &CacheOutcome) {
    use crate::contract::log::Level;
    let text = match outcome {
        CacheOutcome::Hit => "compiled code loaded from the cache".to_string(),
        CacheOutcome::Compiled => "compiled and cached".to_string(),
        CacheOutcome::Recompiled(why) => format!("recompiled: {why}"),
        CacheOutcome::Uncached(why) => format!("compiled without caching: {why}"),
    };
    let level = if matches!(outcome, CacheOutcome::Uncached(_)) {
        Level::Warn
    } else {
        Level::Debug
    };
    log.write(level, &text);
}

/// Formats a driver's error variant as the CLI prints it.
pub fn describe_error(e: &types::DriverError) -> String {
    match e {
        types::DriverError::InvalidSpec(f) => format!("invalid spec: {}: {}", f.field, f.message),
        types::DriverError::NotFound(m) => format!("not found: {m}"),
        types::DriverError::Denied(m) => format!("denied: {m}"),
        types::DriverError::Unavailable(m) => format!("unavailable: {m}"),
        types::DriverError::Timeout(m) => format!("timed out: {m}"),
        types::DriverError::Failed(m) => m.clone(),
    }
}

fn driver_failed(id: &DriverId, op: &str, e: types::DriverError) -> anyhow::Error {
    let message = crate::sanitize::clean(&describe_error(&e));
    DriverFailed(format!("{id}: {op}: {message}")).into()
}

/// A run that stopped midway: say what may be left and how to converge.
fn left_behind(e: RunError, domain: &str) -> anyhow::Error {
    let advice = format!(
        "anything it created so far is left in place: run 'lo provision {domain}' again to converge, \
         or 'lo destroy {domain}' to remove it"
    );
    if matches!(e.failure, RunFailure::Interrupted) {
        return Interrupted(format!(
            "{}: {}: stopped by Ctrl-C; {advice}",
            e.driver, e.op
        ))
        .into();
    }
    anyhow::Error::new(e).context(advice)
}
