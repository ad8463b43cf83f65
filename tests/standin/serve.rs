//! The `serve` stand-in: kube-apiserver on a kind node. Serves the Kubernetes API double
//! (`lok8s_tests::kube_core`) over TLS on 0.0.0.0:6443 with the serving certificate
//! `kubeadm init` wrote. Client certificates are NOT verified (the real API server checks them
//! against the cluster CA): any client is the cluster admin. At start it holds what a fresh
//! kubeadm cluster has: the four system namespaces, the `kubernetes` Service, and the CoreDNS
//! ConfigMap, Deployment and Service that kubeadm's addon phase applies (field manager
//! `kubeadm`).

use std::sync::Arc;

use lok8s_tests::kube_core::{Store, router, serve_tls};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{Value, json};

const CERT: &str = "/etc/kubernetes/pki/apiserver.crt";
const KEY: &str = "/etc/kubernetes/pki/apiserver.key";
const LISTEN: &str = "0.0.0.0:6443";
const REQUEST_LOG: &str = "/kind/api-requests.log";

pub fn run() -> i32 {
    // rustls is built with ring only; say so rather than rely on feature detection.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    match runtime.block_on(serve()) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("lok8s-node-standin serve: {e}");
            1
        }
    }
}

async fn serve() -> Result<(), String> {
    if let Ok(upstream) = std::fs::read_to_string(crate::kubeadm::API_UPSTREAM) {
        return forward(upstream.trim()).await;
    }
    let certs = CertificateDer::pem_file_iter(CERT)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("reading {CERT}: {e}"))?;
    let key = PrivateKeyDer::from_pem_file(KEY).map_err(|e| format!("reading {KEY}: {e}"))?;
    let tls = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("the serving certificate: {e}"))?;
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));

    let store = Store::shared();
    {
        let mut s = store.lock().unwrap();
        if let Ok(version) = std::fs::read_to_string("/kind/version") {
            s.set_git_version(version.trim());
        }
        s.log_requests_to(REQUEST_LOG.into());
        seed(&mut s);
    }
    let app = router(store);

    let listener = tokio::net::TcpListener::bind(LISTEN)
        .await
        .map_err(|e| format!("listening on {LISTEN}: {e}"))?;
    eprintln!("lok8s-node-standin: the Kubernetes API double is serving on https://{LISTEN}");
    serve_tls(listener, acceptor, app)
        .await
        .map_err(|e| format!("accepting on {LISTEN}: {e}"))
}

/// A control plane that joined: its API server shares the bootstrap one's store (one etcd),
/// so connections go there as they are (TLS included).
async fn forward(upstream: &str) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(LISTEN)
        .await
        .map_err(|e| format!("listening on {LISTEN}: {e}"))?;
    eprintln!("lok8s-node-standin: API connections on {LISTEN} go to {upstream}");
    loop {
        let (mut client, _) = listener
            .accept()
            .await
            .map_err(|e| format!("accepting on {LISTEN}: {e}"))?;
        let upstream = upstream.to_string();
        tokio::spawn(async move {
            if let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await {
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            }
        });
    }
}

/// kubeadm's default Corefile.
const COREFILE: &str = ".:53 {
    errors
    health {
       lameduck 5s
    }
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    prometheus :9153
    forward . /etc/resolv.conf {
       max_concurrent 1000
    }
    cache 30 {
       disable success cluster.local
       disable denial cluster.local
    }
    loop
    reload
    loadbalance
}
";

fn seed(s: &mut Store) {
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        let namespace = json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns}}});
        s.seed("", "namespaces", "", namespace, "kube-apiserver");
    }
    let kubernetes = json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "kubernetes", "namespace": "default",
            "labels": {"component": "apiserver", "provider": "kubernetes"}},
        "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.1",
            "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}]}});
    s.seed("", "services", "default", kubernetes, "kube-apiserver");
    s.seed(
        "",
        "configmaps",
        "kube-system",
        coredns_configmap(),
        "kubeadm",
    );
    s.seed(
        "apps",
        "deployments",
        "kube-system",
        coredns_deployment(),
        "kubeadm",
    );
    s.seed("", "services", "kube-system", kube_dns_service(), "kubeadm");
}

fn coredns_configmap() -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "coredns", "namespace": "kube-system"},
        "data": {"Corefile": COREFILE}})
}

fn coredns_deployment() -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "coredns", "namespace": "kube-system", "labels": {"k8s-app": "kube-dns"}},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"k8s-app": "kube-dns"}},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
        "template": {
            "metadata": {"labels": {"k8s-app": "kube-dns"}},
            "spec": {
                "priorityClassName": "system-cluster-critical",
                "serviceAccountName": "coredns",
                "nodeSelector": {"kubernetes.io/os": "linux"},
                "tolerations": [
                    {"key": "CriticalAddonsOnly", "operator": "Exists"},
                    {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}
                ],
                "containers": [{
                    "name": "coredns",
                    "image": "registry.k8s.io/coredns/coredns:v1.11.3",
                    "imagePullPolicy": "IfNotPresent",
                    "args": ["-conf", "/etc/coredns/Corefile"],
                    "ports": [
                        {"name": "dns", "containerPort": 53, "protocol": "UDP"},
                        {"name": "dns-tcp", "containerPort": 53, "protocol": "TCP"},
                        {"name": "metrics", "containerPort": 9153, "protocol": "TCP"}
                    ],
                    "volumeMounts": [
                        {"name": "config-volume", "mountPath": "/etc/coredns", "readOnly": true}
                    ]
                }],
                "dnsPolicy": "Default",
                "volumes": [{"name": "config-volume", "configMap": {"name": "coredns",
                    "items": [{"key": "Corefile", "path": "Corefile"}]}}]
            }
        }
    }})
}

fn kube_dns_service() -> Value {
    json!({"apiVersion": "v1", "kind": "Service",
    "metadata": {"name": "kube-dns", "namespace": "kube-system",
        "labels": {"k8s-app": "kube-dns", "kubernetes.io/name": "CoreDNS"}},
    "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.10", "selector": {"k8s-app": "kube-dns"},
        "ports": [
            {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
            {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
            {"name": "metrics", "port": 9153, "protocol": "TCP", "targetPort": 9153}
        ]}})
}
