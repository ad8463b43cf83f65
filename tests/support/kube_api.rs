//! A Kubernetes API double for the tests, in the test process. It stands in for
//! kube-apiserver, which cannot run here; the store and the wire protocol it speaks are
//! [`crate::kube_core`]'s. Served over plain HTTP on 127.0.0.1; product code only sees a
//! kubeconfig. Every request is recorded so tests can assert on what reached the "cluster".

use serde_json::Value;

use crate::kube_core::{SharedStore, Store, router};

/// A running double; stops with the test process.
#[derive(Clone)]
pub struct KubeApi {
    pub port: u16,
    store: SharedStore,
}

impl KubeApi {
    pub fn start() -> KubeApi {
        let store = Store::shared();
        let (tx, rx) = std::sync::mpsc::channel();
        let shared = store.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(listener.local_addr().unwrap().port()).unwrap();
                axum::serve(listener, router(shared)).await.unwrap();
            });
        });
        let port = rx.recv().unwrap();
        KubeApi { port, store }
    }

    /// A kubeconfig pointing at the double.
    pub fn kubeconfig(&self) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: double\n  cluster:\n    server: http://127.0.0.1:{}\n\
             contexts:\n- name: double\n  context:\n    cluster: double\n    user: double\ncurrent-context: double\n\
             users:\n- name: double\n  user: {{}}\n",
            self.port
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

    /// Stores an object as if another client had applied it with `manager`.
    pub fn seed(&self, group: &str, plural: &str, namespace: &str, object: Value, manager: &str) {
        self.store
            .lock()
            .unwrap()
            .seed(group, plural, namespace, object, manager);
    }
}
