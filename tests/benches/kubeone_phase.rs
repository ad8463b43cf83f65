//! A KubeOne provision of 3 control planes and 2 workers against the doubles (the Cloud API
//! double, five stand-in machines over real sshd; `support/kubeone_site.rs`): wall time with
//! the host steps that concern one host alone (probes, prerequisites, files, worker joins) run
//! on every host at once through `ssh.exec-all`, against the same provision one host at a
//! time (`LO_SSH_PARALLEL=1`). Each system tool on the machines takes `STUB_DELAY` seconds,
//! standing in for the work a real host does (modprobe, sysctl, restarting containerd); the
//! stand-in kubeadm answers at once. Goal: at least 1.5x faster in parallel.

use std::path::Path;

use lok8s_tests::kubeone_site::{Addresses, DOMAIN, Machines, Setup, descriptor, exec, free_port};

const STUB_DELAY: &str = "0.25";
const ROUNDS: u32 = 2;

/// One fresh provision's `lo provision` wall time, in seconds.
fn provision(standin: &Path, n: u32, parallel: &str) -> f64 {
    let a = Addresses::new(20 + n);
    let ssh_port = free_port(&a);
    let mut s = Setup::new(&descriptor(&a, ssh_port));
    s.env.push(("LO_SSH_PARALLEL", parallel.to_string()));
    let m = Machines::start(&s, a, ssh_port, standin);
    for container in &m.containers {
        exec(container, &format!("echo {STUB_DELAY} > /kind/stub-delay"));
    }
    let started = std::time::Instant::now();
    s.lo(&["provision", DOMAIN]).success();
    let wall = started.elapsed().as_secs_f64();
    s.lo(&["destroy", DOMAIN]).success();
    wall
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

pub fn run(standin: &Path, missed: &mut Vec<String>) {
    let mut together = Vec::new();
    let mut alone = Vec::new();
    for round in 0..ROUNDS {
        together.push(provision(standin, 2 * round, "16"));
        alone.push(provision(standin, 2 * round + 1, "1"));
    }
    let (together, alone) = (median(together), median(alone));
    let speedup = alone / together;
    println!(
        "\nKubeOne provision (3 control planes, 2 workers, over ssh; tools take {STUB_DELAY}s): \
         {together:.1}s with host steps in parallel, {alone:.1}s one host at a time: \
         {speedup:.2}x (median of {ROUNDS})"
    );
    if speedup < 1.5 {
        missed.push(format!(
            "KubeOne provision only {speedup:.2}x faster in parallel (goal >= 1.5x)"
        ));
    }
}
