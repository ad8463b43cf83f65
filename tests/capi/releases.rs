//! The providers' release files as `clusterctl init` fetches them, served on 127.0.0.1.

/// Stands in for the providers' GitHub release downloads: an HTTPS server on 127.0.0.1 with a
/// CA of its own, serving small component files at the release paths, counting requests.
pub struct Releases {
    pub url: String,
    ca_file: tempfile::NamedTempFile,
    hits: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

fn deployment_doc(namespace: &str, name: &str, arg: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {namespace}\n---\napiVersion: apps/v1\nkind: Deployment\n\
         metadata:\n  name: {name}\n  namespace: {namespace}\nspec:\n  selector:\n    matchLabels: {{app: {name}}}\n  \
         template:\n    metadata:\n      labels: {{app: {name}}}\n    spec:\n      containers:\n      - name: manager\n        \
         image: registry.test/{name}:v1\n        args: [\"{arg}\"]\n"
    )
}

/// The CustomResourceDefinitions of the kinds a Capi cluster is made of (the real component
/// files carry them, each provider its own; here the core file carries all six).
fn crds() -> String {
    lok8s_tests::kube_capi::KINDS
        .iter()
        .map(|(group, version, plural, kind)| {
            format!(
                "---\napiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: {plural}.{group}\n\
                 spec:\n  group: {group}\n  scope: Namespaced\n  names: {{plural: {plural}, kind: {kind}}}\n  \
                 versions: [{{name: {version}, served: true, storage: true}}]\n"
            )
        })
        .collect()
}

impl Releases {
    pub fn start(core_arg: &str) -> Releases {
        use axum::extract::{Path, State};
        let files: std::collections::HashMap<String, String> = [
            ("cert-manager/cert-manager/releases/download/v1.18.2/cert-manager.yaml", deployment_doc("cert-manager", "cert-manager-webhook", "--v=2")),
            ("kubernetes-sigs/cluster-api/releases/download/v1.13.2/core-components.yaml", deployment_doc("capi-system", "capi-controller-manager", core_arg) + &crds()),
            ("kubernetes-sigs/cluster-api/releases/download/v1.13.2/bootstrap-components.yaml", deployment_doc("capi-kubeadm-bootstrap-system", "capi-kubeadm-bootstrap-controller-manager", "--v=2")),
            ("kubernetes-sigs/cluster-api/releases/download/v1.13.2/control-plane-components.yaml", deployment_doc("capi-kubeadm-control-plane-system", "capi-kubeadm-control-plane-controller-manager", "--v=2")),
            ("syself/cluster-api-provider-hetzner/releases/download/v1.1.7/infrastructure-components.yaml", deployment_doc("caph-system", "caph-controller-manager", "--leader-elect=${ENABLE_LEADER_ELECTION:-true}")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let hits = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        type Shared = (
            std::collections::HashMap<String, String>,
            std::sync::Arc<std::sync::Mutex<Vec<String>>>,
        );
        let state: std::sync::Arc<Shared> = std::sync::Arc::new((files, hits.clone()));
        let app = axum::Router::new()
            .route(
                "/{*path}",
                axum::routing::get(
                    |State(s): State<std::sync::Arc<Shared>>, Path(path): Path<String>| async move {
                        s.1.lock().unwrap().push(path.clone());
                        match s.0.get(&path) {
                            Some(text) => (axum::http::StatusCode::OK, text.clone()),
                            None => (
                                axum::http::StatusCode::NOT_FOUND,
                                "no such release file".into(),
                            ),
                        }
                    },
                ),
            )
            .with_state(state);
        let (ca_pem, acceptor) = lok8s_tests::kube_api::tls_acceptor();
        let port = lok8s_tests::kube_api::spawn_tls(acceptor, app);
        let ca_file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(ca_file.path(), ca_pem).unwrap();
        Releases {
            url: format!("https://127.0.0.1:{port}"),
            ca_file,
            hits,
        }
    }

    pub fn hits(&self) -> Vec<String> {
        self.hits.lock().unwrap().clone()
    }

    /// The test environment with this server as the providers' mirror, trusted by its CA.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let mut out: Vec<(&'static str, String)> = super::env()
            .into_iter()
            .map(|(k, v)| (k, v.to_string()))
            .collect();
        out.push(("CAPI_PROVIDER_MIRROR", self.url.clone()));
        out.push((
            "CAPI_PROVIDER_CA",
            self.ca_file.path().display().to_string(),
        ));
        out
    }
}
