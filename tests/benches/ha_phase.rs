//! An HA Lo provision (3 control planes behind kind's load balancer, 1 worker) through the
//! component, split by where its time goes: the driver call's wall time against the wall time
//! it spent in host functions (`lo provision -o json`: `driver_call.host_seconds`). Host time
//! is the Docker calls themselves plus `lo`'s checks around them, so it is what the same calls
//! made directly would take at least; the rest is the sandbox (guest code, instantiation,
//! copying across the boundary). Goal: component within 1.3x of its host calls.

use std::path::Path;

use lok8s_tests::Project;
use lok8s_tests::docker::{Cleanup, docker};
use lok8s_tests::images::{haproxy_image, node_image, registry_image};

const DOMAIN: &str = "ha.bench.test";

fn spec(node: &str, net: &str, n: u8) -> String {
    format!(
        "cluster: {{domain: {DOMAIN}}}\nnetwork: {{name: {net}, cidr: 10.215.{n}.0/24}}\n\
         kubernetes: {{version: v1.35.0, image: {node}, loadBalancerImage: {}}}\n\
         nodes: {{controlPlane: 3, workers: 1}}\nbootstrap: []\n\
         registries:\n  image: {}\n  shared: {{enabled: false}}\n  mirrors: []\n",
        haproxy_image(),
        registry_image()
    )
}

pub fn run(standin: &Path, missed: &mut Vec<String>) {
    let node = node_image(standin);
    let caroot = tempfile::tempdir().unwrap();
    let caroot_s = caroot.path().display().to_string();
    let env = [
        ("LO_PRIVILEGED_MODE", "capabilities"),
        ("CAROOT", caroot_s.as_str()),
    ];
    let rounds = 3;
    let mut samples = Vec::new();
    for round in 0..rounds {
        let p = Project::new();
        let _cleanup = Cleanup::new(p.root());
        let net = format!("lohabench{round}");
        p.cluster(DOMAIN, "Lo", &net, &spec(node, &net, 90 + round));
        let out = p.lo_env(&["provision", DOMAIN, "-o", "json"], &env);
        out.success();
        let call = &out.json()["driver_call"];
        let (wall, host, guest) = (
            call["seconds"].as_f64().unwrap(),
            call["host_seconds"].as_f64().unwrap(),
            call["guest_cpu_seconds"].as_f64().unwrap(),
        );
        samples.push((wall / host, wall, host, guest));
        p.lo_env(&["destroy", DOMAIN], &env).success();
        docker(&["network", "rm", &net]);
    }
    samples.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (ratio, wall, host, guest) = samples[samples.len() / 2];
    println!(
        "\nLo HA provision (3 control planes, 1 worker, load balancer): driver call {wall:.2}s, \
         of which host calls {host:.2}s and guest CPU {guest:.3}s ({ratio:.2}x its host calls; \
         median of {rounds})"
    );
    if ratio > 1.3 {
        missed.push(format!(
            "Lo HA provision {ratio:.2}x its host calls (goal <= 1.3x)"
        ));
    }
}
