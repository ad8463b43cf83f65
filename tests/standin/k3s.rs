//! `k3s server`, standing in for the `rancher/k3s` image's server: it writes its PKI and the
//! admin kubeconfig where k3s does (`/etc/rancher/k3s/k3s.yaml`, server
//! `https://127.0.0.1:6443`, cluster, user and context `default`), then serves the Kubernetes
//! API double on 6443 over TLS. Used by the example drivers' tests (the K3s kind).

use crate::{kubeadm, record, serve};

const KUBECONFIG: &str = "/etc/rancher/k3s/k3s.yaml";

pub fn run(args: &[String]) -> i32 {
    record("k3s", args);
    if args.first().map(String::as_str) != Some("server") {
        eprintln!("k3s (lok8s stand-in): only `k3s server` is served");
        return 2;
    }
    let hostname = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
    let sans: Vec<String> = [
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
        "localhost",
        "127.0.0.1",
        "10.43.0.1",
        hostname.trim(),
    ]
    .iter()
    .filter(|s| !s.is_empty())
    .map(|s| s.to_string())
    .collect();
    let written = kubeadm::write_pki(&sans).and_then(|admin| {
        kubeadm::write_admin_conf(&admin, "default", "127.0.0.1:6443")?;
        std::fs::create_dir_all("/etc/rancher/k3s")?;
        let text = std::fs::read_to_string("/etc/kubernetes/admin.conf")?
            .replace("kubernetes-admin@default", "default")
            .replace("kubernetes-admin", "default");
        std::fs::write(KUBECONFIG, text)
    });
    if let Err(e) = written {
        eprintln!("k3s (lok8s stand-in): writing the PKI and {KUBECONFIG}: {e}");
        return 1;
    }
    eprintln!("level=info msg=\"Wrote kubeconfig {KUBECONFIG}\" (lok8s stand-in)");
    serve::run()
}
