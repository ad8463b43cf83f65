//! A KKP API double: stands in for the Kubermatic Kubernetes Platform's v2 REST API (the
//! cluster, health, machine-deployment and kubeconfig endpoints of
//! `/api/v2/projects/{project}/clusters`), which cannot run here. Served over HTTPS on
//! 127.0.0.1 with a CA of its own; checks the bearer token; records every request (method,
//! path, the headers that matter, the JSON body). Scripted: answers 429 to the next N
//! requests, reports the control plane up only after N health calls, keeps a deleted cluster
//! for N more reads, fails cluster reads with a status.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use crate::kube_api::{spawn_tls, tls_acceptor};

/// One request as the double saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
    /// `DeleteVolumes` / `DeleteLoadBalancers` headers, when sent.
    pub delete_flags: Vec<String>,
    pub body: Option<Value>,
}

impl Seen {
    /// `"METHOD path"`.
    pub fn line(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// What the double answers; tests change it between runs.
#[derive(Debug, Default)]
pub struct Script {
    /// Answer 429 (with `Retry-After: 1`) to this many requests first.
    pub rate_limited: u32,
    /// Health calls per cluster before every component is up; None: never.
    pub healthy_after: Option<u32>,
    /// Reads that still find a cluster after its deletion.
    pub reads_after_delete: u32,
    /// Answer cluster reads (GET …/clusters/{id}) with this status.
    pub cluster_read_status: Option<u16>,
}

#[derive(Debug, Default)]
struct Cluster {
    body: Value,
    health_calls: u32,
    deployments: Vec<Value>,
    deleted: Option<u32>,
}

#[derive(Default)]
struct Inner {
    token: String,
    server: String,
    ca_pem: String,
    script: Script,
    seen: Vec<Seen>,
    clusters: BTreeMap<String, Cluster>,
    created: u32,
}

type Shared = Arc<Mutex<Inner>>;

/// A running double; stops with the test process.
#[derive(Clone)]
pub struct KkpApi {
    pub port: u16,
    pub ca_pem: String,
    inner: Shared,
}

impl KkpApi {
    /// Serves with `token` as the only accepted bearer token.
    pub fn start(token: &str) -> KkpApi {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let (ca_pem, acceptor) = tls_acceptor();
        let inner: Shared = Arc::new(Mutex::new(Inner {
            token: token.into(),
            ca_pem: ca_pem.clone(),
            script: Script {
                healthy_after: Some(0),
                ..Default::default()
            },
            ..Default::default()
        }));
        let port = spawn_tls(acceptor, router(inner.clone()));
        inner.lock().unwrap().server = format!("https://127.0.0.1:{port}");
        KkpApi {
            port,
            ca_pem,
            inner,
        }
    }

    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// Changes what the double answers from now on.
    pub fn script(&self, change: impl FnOnce(&mut Script)) {
        change(&mut self.inner.lock().unwrap().script);
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.inner.lock().unwrap().seen.clone()
    }

    /// `"METHOD path"` of every request so far, consecutive repeats (polls) folded into one.
    pub fn sequence(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for line in self.seen().iter().map(Seen::line) {
            if out.last() != Some(&line) {
                out.push(line);
            }
        }
        out
    }

    pub fn forget_requests(&self) {
        self.inner.lock().unwrap().seen.clear();
    }

    /// IDs of the clusters that exist (not deleted).
    pub fn clusters(&self) -> Vec<String> {
        let inner = self.inner.lock().unwrap();
        inner
            .clusters
            .iter()
            .filter(|(_, c)| c.deleted.is_none())
            .map(|(id, _)| id.clone())
            .collect()
    }
}

fn router(inner: Shared) -> axum::Router {
    let base = "/api/v2/projects/{project}/clusters";
    axum::Router::new()
        .route(base, get(unsupported).post(create_cluster))
        .route(
            &format!("{base}/{{id}}"),
            get(read_cluster).delete(delete_cluster),
        )
        .route(&format!("{base}/{{id}}/health"), get(health))
        .route(
            &format!("{base}/{{id}}/machinedeployments"),
            get(list_deployments).post(create_deployment),
        )
        .route(&format!("{base}/{{id}}/kubeconfig"), get(kubeconfig))
        .layer(axum::middleware::from_fn_with_state(inner.clone(), gate))
        .with_state(inner)
}

/// Records the request, checks the token and answers the scripted 429s.
async fn gate(
    State(inner): State<Shared>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    {
        let mut state = inner.lock().unwrap();
        state.seen.push(Seen {
            method: parts.method.to_string(),
            path: parts.uri.path().to_string(),
            authorization: header("authorization"),
            delete_flags: ["DeleteVolumes", "DeleteLoadBalancers"]
                .iter()
                .filter(|h| header(h).as_deref() == Some("true"))
                .map(|h| h.to_string())
                .collect(),
            body: serde_json::from_slice(&bytes).ok(),
        });
        if header("authorization") != Some(format!("Bearer {}", state.token)) {
            return (
                StatusCode::UNAUTHORIZED,
                json_error(401, "invalid bearer token"),
            )
                .into_response();
        }
        if state.script.rate_limited > 0 {
            state.script.rate_limited -= 1;
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", "1")],
                json_error(429, "rate limited"),
            )
                .into_response();
        }
    }
    next.run(axum::extract::Request::from_parts(
        parts,
        axum::body::Body::from(bytes),
    ))
    .await
}

fn json_error(code: u16, message: &str) -> String {
    json!({"error": {"code": code, "message": message}}).to_string()
}

async fn unsupported() -> StatusCode {
    StatusCode::METHOD_NOT_ALLOWED
}

async fn create_cluster(State(inner): State<Shared>, body: String) -> Response {
    let Ok(body) = serde_json::from_str::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, json_error(400, "body is not JSON")).into_response();
    };
    let mut state = inner.lock().unwrap();
    state.created += 1;
    let id = format!("kkp{:04}", state.created);
    let name = body["cluster"]["name"].clone();
    state.clusters.insert(
        id.clone(),
        Cluster {
            body,
            ..Default::default()
        },
    );
    (
        StatusCode::CREATED,
        json!({"id": id, "name": name}).to_string(),
    )
        .into_response()
}

/// The cluster if it is there, counting a read of a deleted one.
fn found(state: &mut Inner, id: &str) -> bool {
    let grace = state.script.reads_after_delete;
    match state.clusters.get_mut(id) {
        None => false,
        Some(Cluster { deleted: None, .. }) => true,
        Some(Cluster {
            deleted: Some(reads),
            ..
        }) if *reads < grace => {
            *reads += 1;
            true
        }
        Some(_) => false,
    }
}

async fn read_cluster(
    State(inner): State<Shared>,
    Path((_, id)): Path<(String, String)>,
) -> Response {
    let mut state = inner.lock().unwrap();
    if let Some(status) = state.script.cluster_read_status {
        let code = StatusCode::from_u16(status).unwrap();
        return (code, json_error(status, "scripted failure")).into_response();
    }
    if !found(&mut state, &id) {
        return (StatusCode::NOT_FOUND, json_error(404, "cluster not found")).into_response();
    }
    let body = state.clusters[&id].body["cluster"].clone();
    (
        StatusCode::OK,
        json!({"id": id, "name": body["name"]}).to_string(),
    )
        .into_response()
}

async fn delete_cluster(
    State(inner): State<Shared>,
    Path((_, id)): Path<(String, String)>,
) -> Response {
    let mut state = inner.lock().unwrap();
    match state.clusters.get_mut(&id) {
        Some(c) if c.deleted.is_none() => {
            c.deleted = Some(0);
            StatusCode::OK.into_response()
        }
        _ => (StatusCode::NOT_FOUND, json_error(404, "cluster not found")).into_response(),
    }
}

async fn health(State(inner): State<Shared>, Path((_, id)): Path<(String, String)>) -> Response {
    let mut state = inner.lock().unwrap();
    let after = state.script.healthy_after;
    let Some(cluster) = state.clusters.get_mut(&id) else {
        return (StatusCode::NOT_FOUND, json_error(404, "cluster not found")).into_response();
    };
    let up = after.is_some_and(|n| cluster.health_calls >= n);
    cluster.health_calls += 1;
    let word = if up {
        "HealthStatusUp"
    } else {
        "HealthStatusProvisioning"
    };
    let components = [
        "apiserver",
        "etcd",
        "controller",
        "scheduler",
        "machineController",
        "operatingSystemManager",
        "cloudProviderInfrastructure",
    ];
    let body: serde_json::Map<String, Value> = components
        .iter()
        .map(|c| (c.to_string(), json!(word)))
        .collect();
    (StatusCode::OK, Value::Object(body).to_string()).into_response()
}

async fn list_deployments(
    State(inner): State<Shared>,
    Path((_, id)): Path<(String, String)>,
) -> Response {
    let state = inner.lock().unwrap();
    match state.clusters.get(&id) {
        Some(c) => (
            StatusCode::OK,
            Value::Array(c.deployments.clone()).to_string(),
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, json_error(404, "cluster not found")).into_response(),
    }
}

async fn create_deployment(
    State(inner): State<Shared>,
    Path((_, id)): Path<(String, String)>,
    body: String,
) -> Response {
    let mut state = inner.lock().unwrap();
    let Ok(body) = serde_json::from_str::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, json_error(400, "body is not JSON")).into_response();
    };
    let Some(cluster) = state.clusters.get_mut(&id) else {
        return (StatusCode::NOT_FOUND, json_error(404, "cluster not found")).into_response();
    };
    let md_id = format!(
        "{}-{}",
        body["name"].as_str().unwrap_or("md"),
        cluster.deployments.len()
    );
    let mut stored = body.clone();
    stored["id"] = json!(md_id);
    cluster.deployments.push(stored.clone());
    (StatusCode::CREATED, stored.to_string()).into_response()
}

/// An admin kubeconfig for the cluster: its API server is this double's address.
async fn kubeconfig(
    State(inner): State<Shared>,
    Path((_, id)): Path<(String, String)>,
) -> Response {
    let state = inner.lock().unwrap();
    if !state.clusters.contains_key(&id) {
        return (StatusCode::NOT_FOUND, json_error(404, "cluster not found")).into_response();
    }
    use base64::Engine as _;
    let ca = base64::engine::general_purpose::STANDARD.encode(&state.ca_pem);
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: {id}\n  cluster:\n    server: {}\n    \
         certificate-authority-data: {ca}\ncontexts:\n- name: {id}\n  context:\n    cluster: {id}\n    \
         user: admin\ncurrent-context: {id}\nusers:\n- name: admin\n  user:\n    token: kkp-admin\n\n\n",
        state.server
    );
    (StatusCode::OK, text).into_response()
}
