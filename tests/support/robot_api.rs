//! A Hetzner Robot webservice double: stands in for `https://robot-ws.your-server.de` (which
//! tests must never reach), from its public reference: HTTP basic auth (401 `UNAUTHORIZED`
//! otherwise), `GET /server` as a list of `{"server": {…}}`, `POST /server/{number}` with the
//! form field `server_name` (404 `SERVER_NOT_FOUND` for an unknown number). Served over HTTPS
//! on 127.0.0.1 with a CA of its own; records requests with their form bodies.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::json;

use crate::kube_api::{spawn_tls, tls_acceptor};

#[derive(Default)]
struct Inner {
    basic: String,
    /// Number → (IP, name).
    servers: BTreeMap<u64, (String, String)>,
    seen: Vec<String>,
}

type Shared = Arc<Mutex<Inner>>;

#[derive(Clone)]
pub struct RobotApi {
    pub port: u16,
    pub ca_pem: String,
    inner: Shared,
}

impl RobotApi {
    pub fn start(user: &str, password: &str) -> RobotApi {
        let (ca_pem, acceptor) = tls_acceptor();
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        let inner: Shared = Arc::new(Mutex::new(Inner {
            basic: format!("Basic {basic}"),
            ..Default::default()
        }));
        let app = axum::Router::new()
            .route("/server", axum::routing::get(list))
            .route("/server/{number}", axum::routing::post(rename))
            .with_state(inner.clone());
        let port = spawn_tls(acceptor, app);
        RobotApi {
            port,
            ca_pem,
            inner,
        }
    }

    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    pub fn seed(&self, number: u64, ip: &str, name: &str) {
        self.inner
            .lock()
            .unwrap()
            .servers
            .insert(number, (ip.into(), name.into()));
    }

    /// Number → name.
    pub fn names(&self) -> BTreeMap<u64, String> {
        let inner = self.inner.lock().unwrap();
        inner
            .servers
            .iter()
            .map(|(n, (_, name))| (*n, name.clone()))
            .collect()
    }

    pub fn seen(&self) -> Vec<String> {
        self.inner.lock().unwrap().seen.clone()
    }
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": {"status": status.as_u16(), "code": code, "message": message}})),
    )
        .into_response()
}

fn authorized(inner: &Inner, headers: &HeaderMap) -> bool {
    headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(inner.basic.as_str())
}

async fn list(State(inner): State<Shared>, headers: HeaderMap) -> Response {
    let mut inner = inner.lock().unwrap();
    inner.seen.push("GET /server".into());
    if !authorized(&inner, &headers) {
        return error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "Unauthorized");
    }
    let list: Vec<_> = inner
        .servers
        .iter()
        .map(|(n, (ip, name))| {
            json!({"server": {"server_number": n, "server_ip": ip,
            "server_name": name, "product": "EX44", "dc": "FSN1-DC1", "status": "ready"}})
        })
        .collect();
    axum::Json(list).into_response()
}

async fn rename(
    State(inner): State<Shared>,
    Path(number): Path<u64>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let mut inner = inner.lock().unwrap();
    inner.seen.push(format!("POST /server/{number} {body}"));
    if !authorized(&inner, &headers) {
        return error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "Unauthorized");
    }
    let form: BTreeMap<String, String> = serde_urlencoded_pairs(&body);
    let Some(name) = form.get("server_name").cloned() else {
        return error(
            StatusCode::BAD_REQUEST,
            "INVALID_INPUT",
            "server_name is missing",
        );
    };
    let Some(server) = inner.servers.get_mut(&number) else {
        return error(
            StatusCode::NOT_FOUND,
            "SERVER_NOT_FOUND",
            "Server not found",
        );
    };
    server.1 = name;
    let (ip, name) = server.clone();
    axum::Json(json!({"server": {"server_number": number, "server_ip": ip, "server_name": name}}))
        .into_response()
}

/// `a=b&c=d`, percent-decoded (through axum's form extractor's decoder).
fn serde_urlencoded_pairs(body: &str) -> BTreeMap<String, String> {
    axum::extract::Query::<BTreeMap<String, String>>::try_from_uri(
        &format!("/?{body}").parse().unwrap(),
    )
    .map(|q| q.0)
    .unwrap_or_default()
}
