//! `just bench`: what loading and calling a driver costs.
//! - cold compile vs cached load per built-in driver (goal: cached >= 20x faster);
//! - whole-process `lo status` with a warm cache (goal: <= 20 ms of process time on top of the
//!   driver's own work);
//! - the cost of one guest -> host import call and one host -> guest export call.
//! Prints a table; exits non-zero when a goal is missed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use lok8s::engine::Runtime;
use lok8s::engine::cache::{CacheOutcome, CompiledCache};
use lok8s::engine::instance::{DriverId, DriverInstance};
use lok8s::engine::limits::{RunLimits, StoreLimits};
use lok8s::host::{HostBuilder, Logger, Verbosity};
use lok8s::lock::{Limits, Verified};
use lok8s_tests::{Project, fixture};

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

fn main() {
    let mut missed = Vec::new();
    let cache_dir = tempfile::tempdir().unwrap();
    let runtime = Runtime::new(CompiledCache::at(cache_dir.path())).unwrap();

    println!(
        "{:<10} {:>12} {:>14} {:>8}",
        "driver", "cold compile", "cached load", "ratio"
    );
    for builtin in lok8s::builtin::all() {
        let component = Verified::unpinned(Arc::from(builtin.component));
        let cold = median(
            (0..5)
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
        println!(
            "{:<10} {:>12.2?} {:>14.2?} {:>7.0}x",
            builtin.kind, cold, warm, ratio
        );
        if ratio < 20.0 {
            missed.push(format!(
                "{}: cached load only {ratio:.1}x faster than cold",
                builtin.kind
            ));
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
            StoreLimits::new(&limits),
        )
        .build();
        let mut instance = DriverInstance::start(&prepared, host, id, limits)
            .await
            .unwrap();
        let ctx = |behaviour: &str| lok8s::engine::bindings::types::Context {
            domain: "a.dev".into(),
            cluster_name: "dev".into(),
            kind: "Corners".into(),
            spec: format!("spec:\n  fixture:\n    behaviour: {behaviour}\n"),
            flags: lok8s::engine::bindings::types::RunFlags::empty(),
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

    if missed.is_empty() {
        println!("\nall goals met");
    } else {
        println!("\ngoals missed:\n  {}", missed.join("\n  "));
        std::process::exit(1);
    }
}
