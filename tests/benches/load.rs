//! `just bench`: what loading and calling a driver costs.
//!
//! - cold compile vs cached load per driver and per language (goals: cached >= 20x faster;
//!   the Python and JavaScript examples under 50 ms cached);
//! - whole-process `lo status` with a warm cache (goal: <= 20 ms of process time on top of the
//!   driver's own work);
//! - the cost of one guest -> host import call and one host -> guest export call;
//! - the bootstrap scheduler, parallelism 8 against 1 (`bootstrap_phase`);
//! - the Lo registry phase through the component vs direct bollard calls (`registry_phase`);
//! - an HA Lo provision: the driver call against its host calls (`ha_phase`);
//! - a KubeOne provision over ssh: host steps in parallel against one host at a time
//!   (`kubeone_phase`).
//!
//! Prints a table; exits non-zero when a goal is missed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use lok8s::engine::Runtime;
use lok8s::engine::cache::{CacheOutcome, CompiledCache};
use lok8s::engine::instance::{DriverId, DriverInstance};
use lok8s::engine::limits::RunLimits;
use lok8s::host::limits::StoreLimits;
use lok8s::host::{HostBuilder, Logger, Verbosity};
use lok8s::lock::{Limits, Verified};
use lok8s_tests::{Project, fixture};

mod bootstrap_phase;
mod ha_phase;
mod kubeone_phase;
mod registry_phase;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn time<T>(f: impl FnOnce() -> T) -> (Duration, T) {
    let start = Instant::now();
    let out = f();
    (start.elapsed(), out)
}

fn children_cpu() -> Duration {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes into the struct we own.
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// Median per-call times of `n` direct calls and of a provision making `n` calls through the
/// import, in alternating rounds so that engine drift hits both alike.
async fn alternate<F, Fut>(
    rounds: usize,
    n: u32,
    instance: &mut DriverInstance,
    through_ctx: &lok8s::contract::types::Context,
    mut direct_call: F,
) -> (Duration, Duration)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let (mut direct, mut through) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let s = Instant::now();
        for _ in 0..n {
            direct_call().await;
        }
        direct.push(s.elapsed() / n);
        let s = Instant::now();
        instance.provision(through_ctx).await.unwrap().unwrap();
        through.push(s.elapsed() / n);
    }
    (median(direct), median(through))
}

/// A driver instance of `fixture` with docker and kube grants.
async fn probe_instance(
    runtime: &Runtime,
    fixture_name: &str,
    project: &std::path::Path,
) -> DriverInstance {
    let bytes = std::fs::read(fixture(fixture_name)).unwrap();
    let component = Verified::unpinned(Arc::from(bytes));
    let (prepared, _, _) = runtime.prepare(&component, None, "").unwrap();
    let limits = RunLimits::resolve(&Limits::default(), &Limits::default());
    let id = DriverId {
        kind: "bench".into(),
        name: None,
        version: None,
        digest: component.digest().clone(),
    };
    let root = project.canonicalize().unwrap();
    let scope = lok8s::host::docker::policy::Scope {
        project: root.display().to_string(),
        cluster: "bench.dev".into(),
        driver: "bench".into(),
    };
    let docker = lok8s::host::docker::DockerCtx::new(
        lok8s::host::docker::grant::DockerGrant::default(),
        scope,
        vec![root.clone()],
        lok8s::host::docker::PrivilegedMode::Privileged,
        lok8s::host::docker::Engine::default(),
        String::new(),
    )
    .unwrap();
    let kube_grant = lok8s::host::kube::grant::KubeGrant {
        namespaces: vec!["kube-system".into()],
        kinds: vec!["ConfigMap".into()],
        ..Default::default()
    };
    let own = lok8s::host::kube::OwnKubeconfig {
        guest: ".kubeconfig/bench.yaml".into(),
        folder: lok8s::project::Inside::open(&root.join(".kubeconfig")).unwrap(),
        file: "bench.yaml".into(),
    };
    let kube = lok8s::host::kube::KubeCtx::new(
        kube_grant,
        own,
        lok8s::project::Project::at(&root).unwrap(),
        String::new(),
    )
    .unwrap();
    let host = HostBuilder::new(
        Logger::to("bench", Verbosity::Normal, Box::new(std::io::sink())),
        StoreLimits::new(limits.memory_bytes, limits.cpu),
    )
    .docker(docker)
    .kube(kube)
    .build();
    DriverInstance::start(&prepared, host, id, limits)
        .await
        .unwrap()
}

fn bench_ctx(action: &str) -> lok8s::contract::types::Context {
    lok8s::contract::types::Context {
        domain: "bench.dev".into(),
        cluster_name: "bench".into(),
        kind: "Probe".into(),
        spec: format!("spec:\n  probe:\n    action: {action}\n"),
        flags: lok8s::contract::types::RunFlags::empty(),
        cluster_dir: "clusters/bench.dev".into(),
        kubeconfig: ".kubeconfig/bench.yaml".into(),
        project: "bench".into(),
    }
}

async fn capability_overheads(runtime: &Runtime) -> (Duration, Duration) {
    let n = 200u32;
    let project = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(project.path().join("clusters/bench.dev")).unwrap();
    std::fs::create_dir_all(project.path().join(".kubeconfig")).unwrap();
    let api = lok8s_tests::kube_api::KubeApi::start();
    std::fs::write(
        project.path().join(".kubeconfig/bench.yaml"),
        api.kubeconfig(),
    )
    .unwrap();
    api.seed(
        "",
        "configmaps",
        "kube-system",
        serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "bench", "namespace": "kube-system"}, "data": {"k": "v"}}),
        "bench",
    );

    let rounds = 9;
    let many = bench_ctx(&format!("calls-{n}"));

    // docker: direct bollard vs through the import.
    let docker = bollard::Docker::connect_with_defaults()
        .unwrap()
        .negotiate_version()
        .await
        .unwrap();
    let mut instance = probe_instance(runtime, "docker-probe", project.path()).await;
    instance
        .provision(&bench_ctx("calls-1"))
        .await
        .unwrap()
        .unwrap();
    let (direct, through) = alternate(rounds, n, &mut instance, &many, || {
        let docker = docker.clone();
        async move {
            // What the import does for a network name: find it by its exact name.
            let options = bollard::query_parameters::ListNetworksOptions {
                filters: Some(std::collections::HashMap::from([(
                    "name".to_string(),
                    vec!["lok8s-bench-none".to_string()],
                )])),
            };
            docker.list_networks(Some(options)).await.unwrap();
        }
    })
    .await;
    println!(
        "\ndocker inspect-network: direct bollard {direct:.2?}/call, through the import {through:.2?}/call"
    );
    let docker_overhead = through.saturating_sub(direct);

    // kube: direct kube-rs get vs through the import (discovery cached on both sides).
    let kubeconfig =
        kube::config::Kubeconfig::read_from(project.path().join(".kubeconfig/bench.yaml")).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .unwrap();
    let client = kube::Client::try_from(config).unwrap();
    let ar = kube::discovery::ApiResource::erase::<k8s_openapi::api::core::v1::ConfigMap>(&());
    let cms: kube::Api<kube::api::DynamicObject> =
        kube::Api::namespaced_with(client, "kube-system", &ar);
    let mut instance = probe_instance(runtime, "kube-probe", project.path()).await;
    instance
        .provision(&bench_ctx("calls-1"))
        .await
        .unwrap()
        .unwrap();
    let (direct, through) = alternate(rounds, n, &mut instance, &many, || {
        let cms = cms.clone();
        async move {
            cms.get_opt("bench").await.unwrap();
        }
    })
    .await;
    println!(
        "kubectl-apply get: direct kube-rs {direct:.2?}/call, through the import {through:.2?}/call"
    );
    let kube_overhead = through.saturating_sub(direct);
    (docker_overhead, kube_overhead)
}

/// Reports missed goals and exits non-zero when there are any.
fn finish(missed: &[String]) {
    if missed.is_empty() {
        println!("\nall goals met");
    } else {
        println!("\ngoals missed:\n  {}", missed.join("\n  "));
        std::process::exit(1);
    }
}

fn main() {
    let mut missed = Vec::new();
    let standin = std::path::Path::new(env!("CARGO_BIN_EXE_lok8s-node-standin"));
    // LO_BENCH_ONLY=bootstrap|registry|ha runs one phase bench alone.
    if let Ok(only) = std::env::var("LO_BENCH_ONLY") {
        match only.as_str() {
            "bootstrap" => bootstrap_phase::run(&mut missed),
            "registry" => registry_phase::run(standin, &mut missed),
            "ha" => ha_phase::run(standin, &mut missed),
            "kubeone" => kubeone_phase::run(standin, &mut missed),
            other => panic!("LO_BENCH_ONLY={other:?}: one of bootstrap, registry, ha, kubeone"),
        }
        return finish(&missed);
    }
    let cache_dir = tempfile::tempdir().unwrap();
    let runtime = Runtime::new(CompiledCache::at(cache_dir.path())).unwrap();

    println!(
        "{:<10} {:>12} {:>14} {:>8}",
        "driver", "cold compile", "cached load", "ratio"
    );
    // Built-in drivers, then the example drivers in other languages (`just build-examples`).
    let mut drivers: Vec<(String, Arc<[u8]>)> = lok8s::drivers::builtin::all()
        .map(|b| (b.kind.to_string(), Arc::from(b.component)))
        .collect();
    for (name, file) in [("python", "k3s_python.wasm"), ("javascript", "k3s_js.wasm")] {
        let path = lok8s_tests::workspace().join("target/examples").join(file);
        match std::fs::read(&path) {
            Ok(bytes) => drivers.push((name.to_string(), Arc::from(bytes))),
            Err(e) => missed.push(format!("{}: {e} (run just build-examples)", path.display())),
        }
    }
    for (kind, bytes) in drivers {
        let component = Verified::unpinned(bytes);
        // Large guests (an embedded interpreter) take seconds to compile: fewer rounds.
        let rounds = if component.bytes().len() > 4 << 20 {
            1
        } else {
            5
        };
        let cold = median(
            (0..rounds)
                .map(|_| {
                    time(|| {
                        wasmtime::component::Component::new(runtime.engine(), component.bytes())
                            .unwrap()
                    })
                    .0
                })
                .collect(),
        );
        let (_, (_, outcome)) =
            time(|| runtime.cache().load(runtime.engine(), &component).unwrap());
        assert!(
            matches!(outcome, CacheOutcome::Compiled | CacheOutcome::Hit),
            "{outcome:?}"
        );
        let warm = median(
            (0..30)
                .map(|_| {
                    let (d, (_, outcome)) =
                        time(|| runtime.cache().load(runtime.engine(), &component).unwrap());
                    assert_eq!(outcome, CacheOutcome::Hit);
                    d
                })
                .collect(),
        );
        let ratio = cold.as_secs_f64() / warm.as_secs_f64();
        println!("{kind:<10} {cold:>12.2?} {warm:>14.2?} {ratio:>7.0}x");
        if ratio < 20.0 {
            missed.push(format!(
                "{kind}: cached load only {ratio:.1}x faster than cold"
            ));
        }
        // The examples in other languages (built-ins are Rust): goal under 50 ms warm.
        if ["python", "javascript"].contains(&kind.as_str()) && warm > Duration::from_millis(50) {
            missed.push(format!("{kind} example: warm load {warm:?} (goal < 50 ms)"));
        }
    }

    // Call overheads, in process, on the corners fixture.
    let bytes = std::fs::read(fixture("corners")).unwrap();
    let component = Verified::unpinned(Arc::from(bytes));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (import_call, export_call) = rt.block_on(async {
        let (prepared, _, _) = runtime.prepare(&component, None, "").unwrap();
        let limits = RunLimits::resolve(&Limits::default(), &Limits::default());
        let id = DriverId {
            kind: "corners".into(),
            name: None,
            version: None,
            digest: component.digest().clone(),
        };
        let host = HostBuilder::new(
            Logger::to("corners", Verbosity::Normal, Box::new(std::io::sink())),
            StoreLimits::new(limits.memory_bytes, limits.cpu),
        )
        .build();
        let mut instance = DriverInstance::start(&prepared, host, id, limits)
            .await
            .unwrap();
        let ctx = |behaviour: &str| lok8s::contract::types::Context {
            domain: "a.dev".into(),
            cluster_name: "dev".into(),
            kind: "Corners".into(),
            spec: format!("spec:\n  fixture:\n    behaviour: {behaviour}\n"),
            flags: lok8s::contract::types::RunFlags::empty(),
            cluster_dir: "clusters/a.dev".into(),
            kubeconfig: ".kubeconfig/dev.yaml".into(),
            project: "bench".into(),
        };
        let n = 200_000u32;
        let base = ctx("calls-0");
        let many = ctx(&format!("calls-{n}"));
        let empty = median({
            let mut v = Vec::new();
            for _ in 0..20 {
                let s = Instant::now();
                let _ = instance.provision(&base).await.unwrap();
                v.push(s.elapsed());
            }
            v
        });
        let full = median({
            let mut v = Vec::new();
            for _ in 0..5 {
                let s = Instant::now();
                let _ = instance.provision(&many).await.unwrap();
                v.push(s.elapsed());
            }
            v
        });
        (full.saturating_sub(empty) / n, empty)
    });
    println!("\nguest -> host import call (log.enabled): {import_call:.2?} per call");
    println!("host -> guest export call (provision, trivial body): {export_call:.2?} per call");
    if import_call > Duration::from_micros(50) {
        missed.push(format!("import call overhead {import_call:?} > 50 µs"));
    }

    // docker and kube imports: a call through the import against the same call made directly.
    let (docker_overhead, kube_overhead) = rt.block_on(capability_overheads(&runtime));
    println!(
        "overhead (0 when within the noise of the engine call): docker {docker_overhead:.2?}, kube {kube_overhead:.2?}"
    );
    for (what, d) in [("docker", docker_overhead), ("kube", kube_overhead)] {
        if d > Duration::from_micros(50) {
            missed.push(format!("{what} call overhead {d:?} > 50 µs"));
        }
    }

    // Whole-process `lo status` with a warm cache.
    let p = Project::new();
    p.corners("a.dev", "continue");
    p.pin("Corners", "corners").code(0);
    p.lo(&["status", "a.dev"]).code(0);
    let runs = 20u32;
    let before = children_cpu();
    let wall = median(
        (0..runs)
            .map(|_| time(|| p.lo(&["status", "a.dev"]).code(0).code).0)
            .collect(),
    );
    let cpu = (children_cpu() - before) / runs;
    println!(
        "\nlo status, warm cache (binary {}): wall {wall:.2?} median, process CPU {cpu:.2?} mean over {runs} runs",
        lok8s_tests::lo_bin().display()
    );
    if cpu > Duration::from_millis(20) {
        missed.push(format!(
            "lo status used {cpu:?} of process time (goal <= 20 ms)"
        ));
    }

    bootstrap_phase::run(&mut missed);

    registry_phase::run(standin, &mut missed);
    ha_phase::run(standin, &mut missed);
    kubeone_phase::run(standin, &mut missed);
    finish(&missed);
}
