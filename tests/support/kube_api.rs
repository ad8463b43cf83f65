//! A Kubernetes API double for the tests, in the test process. It stands in for
//! kube-apiserver, which cannot run here; the store and the wire protocol it speaks are
//! [`crate::kube_core`]'s. Served over TLS on 127.0.0.1 with a certificate from a CA of its
//! own; product code only sees a kubeconfig (inline CA and a token). Every request is recorded
//! so tests can assert on what reached the "cluster".

use std::sync::Arc;

use serde_json::Value;

use crate::kube_core::{SharedStore, Store, router, serve_tls};

/// Serves `app` over TLS on 127.0.0.1 from a thread of its own; returns the port.
pub fn spawn_tls(acceptor: tokio_rustls::TlsAcceptor, app: axum::Router) -> u16 {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap().port()).unwrap();
            let _ = serve_tls(listener, acceptor, app).await;
        });
    });
    rx.recv().unwrap()
}

/// A running double; stops with the test process.
#[derive(Clone)]
pub struct KubeApi {
    pub port: u16,
    /// The CA the double's serving certificate chains to.
    pub ca_pem: String,
    store: SharedStore,
}

impl KubeApi {
    pub fn start() -> KubeApi {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let (ca_pem, acceptor) = tls_acceptor();
        let store = Store::shared();
        let port = spawn_tls(acceptor, router(store.clone()));
        KubeApi {
            port,
            ca_pem,
            store,
        }
    }

    pub fn server(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// A kubeconfig pointing at the double: its CA inline, a bearer token.
    pub fn kubeconfig(&self) -> String {
        use base64::Engine as _;
        let ca = base64::engine::general_purpose::STANDARD.encode(&self.ca_pem);
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: double\n  cluster:\n    server: {}\n    \
             certificate-authority-data: {ca}\ncontexts:\n- name: double\n  context:\n    cluster: double\n    \
             user: double\ncurrent-context: double\nusers:\n- name: double\n  user:\n    token: double\n",
            self.server()
        )
    }

    /// Requests received, as "METHOD path?query".
    pub fn requests(&self) -> Vec<String> {
        self.store.lock().unwrap().requests().to_vec()
    }

    /// The stored object, if any.
    pub fn object(&self, group: &str, plural: &str, namespace: &str, name: &str) -> Option<Value> {
        self.store
            .lock()
            .unwrap()
            .object(group, plural, namespace, name)
    }

    /// Installs the Cluster API kinds and the stand-in for its controllers.
    pub fn stand_in_for_capi(&self, controllers: crate::kube_capi::CapiControllers) {
        self.store.lock().unwrap().stand_in_for_capi(controllers);
    }

    /// The next `n` applies of this object fail as an admission webhook that does not answer.
    pub fn fail_applies(&self, group: &str, plural: &str, namespace: &str, name: &str, n: u32) {
        let key = crate::kube_core::key(group, plural, namespace, name);
        self.store.lock().unwrap().webhook_failures.insert(key, n);
    }

    /// Changes the stand-in controllers' behaviour.
    pub fn capi_controllers(&self, change: impl FnOnce(&mut crate::kube_capi::CapiControllers)) {
        if let Some(c) = self.store.lock().unwrap().capi.as_mut() {
            change(c);
        }
    }

    /// Stores an object as if another client had applied it with `manager`.
    pub fn seed(&self, group: &str, plural: &str, namespace: &str, object: Value, manager: &str) {
        self.store
            .lock()
            .unwrap()
            .seed(group, plural, namespace, object, manager);
    }
}

/// A CA of the double's own and a serving certificate for 127.0.0.1 and localhost.
pub fn tls_acceptor() -> (String, tokio_rustls::TlsAcceptor) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::from_ca_cert_pem(&ca_cert.pem(), ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap(),
        )
        .unwrap();
    (
        ca_cert.pem(),
        tokio_rustls::TlsAcceptor::from(Arc::new(config)),
    )
}
