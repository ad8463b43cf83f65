//! `lok8s-node-standin`: inside the test node image (`lok8s-test/node`, built by
//! `lok8s_tests::images::node_image`) it stands in for what a `kindest/node` image gives kind:
//! - `kubeadm <args>`: real kubeadm. `init` checks `/kind/kubeadm.conf` and writes the PKI and
//!   `/etc/kubernetes/admin.conf` kubeadm writes; `join` checks its config; the rest succeed.
//! - `kubectl <args>`: real kubectl, for the calls kind makes. Manifests fed with `-f -` are kept
//!   as `/kind/kubectl-stdin-<n>.yaml`; `get nodes` answers `'True'` (every node Ready).
//! - `serve`: kube-apiserver (with what kubeadm's addon phase created), i.e. the Kubernetes API
//!   double of `lok8s_tests::kube_core` over TLS on 0.0.0.0:6443.
//!
//! Every kubeadm and kubectl call is appended to `/kind/calls.log` and every API request to
//! `/kind/api-requests.log`, for the tests' assertions.
//! - `k3s server`: the `rancher/k3s` server, for the K3s example drivers (see k3s.rs).

mod k3s;
mod kubeadm;
mod serve;

use std::io::{Read, Write};

const CALLS_LOG: &str = "/kind/calls.log";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match args.split_first() {
        Some((tool, rest)) if tool == "kubeadm" => kubeadm::run(rest),
        Some((tool, rest)) if tool == "kubectl" => kubectl(rest),
        Some((cmd, _)) if cmd == "serve" => serve::run(),
        Some((tool, rest)) if tool == "k3s" => k3s::run(rest),
        _ => {
            eprintln!("usage: lok8s-node-standin kubeadm|kubectl <args...> | serve");
            2
        }
    };
    std::process::exit(code);
}

/// Appends `<tool> <args joined by space>` to the calls log.
fn record(tool: &str, args: &[String]) {
    let line = std::iter::once(tool.to_string())
        .chain(args.iter().cloned())
        .collect::<Vec<_>>()
        .join(" ");
    let appended = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(CALLS_LOG)
        .and_then(|mut f| writeln!(f, "{line}"));
    if let Err(e) = appended {
        eprintln!("lok8s-node-standin: cannot append to {CALLS_LOG}: {e}");
    }
}

fn kubectl(args: &[String]) -> i32 {
    record("kubectl", args);
    let from_stdin = args
        .iter()
        .enumerate()
        .any(|(i, a)| a == "-f=-" || (a == "-f" && args.get(i + 1).is_some_and(|n| n == "-")));
    if from_stdin {
        let mut manifest = Vec::new();
        if let Err(e) = std::io::stdin().read_to_end(&mut manifest) {
            eprintln!("kubectl (lok8s stand-in): reading stdin: {e}");
            return 1;
        }
        if let Err(e) = keep_stdin(&manifest) {
            eprintln!("kubectl (lok8s stand-in): keeping stdin: {e}");
            return 1;
        }
    }
    if args.iter().any(|a| a == "get") && args.iter().any(|a| a == "nodes") {
        println!("'True'");
    }
    if args.iter().any(|a| a.starts_with("--raw=/readyz")) {
        return readyz(args.iter().any(|a| a.contains("verbose")));
    }
    0
}

/// `kubectl get --raw=/readyz[?verbose]` against this node's API server: ready when it listens.
fn readyz(verbose: bool) -> i32 {
    if std::net::TcpStream::connect("127.0.0.1:6443").is_err() {
        eprintln!("The connection to the server 127.0.0.1:6443 was refused");
        return 1;
    }
    if verbose {
        println!("[+]ping ok\n[+]log ok\n[+]etcd ok\nreadyz check passed");
    } else {
        println!("ok");
    }
    0
}

/// Saves a manifest as the next free `/kind/kubectl-stdin-<n>.yaml`, n = 1, 2, ...
fn keep_stdin(manifest: &[u8]) -> std::io::Result<()> {
    for n in 1.. {
        let path = format!("/kind/kubectl-stdin-{n}.yaml");
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(mut f) => return f.write_all(manifest),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    unreachable!()
}
