//! The core of the Kubernetes API double: an in-memory object store and the axum router that
//! serves it. It stands in for kube-apiserver (with its etcd), which cannot run here, and speaks
//! the real wire protocol for what lok8s and its drivers use, from the public API documentation:
//! `/version`, discovery (`/api`, `/api/v1`, `/apis`, `/apis/<g>/<v>`), get, list (with equality
//! label selectors), delete, and server-side apply (`PATCH` with `application/apply-patch+yaml`,
//! `fieldManager`, `force`, field ownership and 409 conflicts). Errors are `Status` objects.
//!
//! Apply merges like Kubernetes does for the lists lok8s touches: an array whose items are all
//! objects with a `name` key (containers, volumes, volumeMounts, ports, env) merges item by
//! item by `name`, and ownership is tracked per item field; any other array is replaced whole.
//!
//! Two servers use it, both over TLS through [`serve_tls`]: [`crate::kube_api::KubeApi`] (in
//! the test process) and the `lok8s-node-standin serve` binary (inside a stand-in node).

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// A resource the double serves: (group, version, plural, kind, namespaced).
const RESOURCES: &[(&str, &str, &str, &str, bool)] = &[
    ("", "v1", "configmaps", "ConfigMap", true),
    ("", "v1", "secrets", "Secret", true),
    ("", "v1", "services", "Service", true),
    ("", "v1", "namespaces", "Namespace", false),
    ("", "v1", "nodes", "Node", false),
    ("apps", "v1", "deployments", "Deployment", true),
];

/// (group, plural, namespace, name); namespace is empty for cluster-scoped objects.
type ObjectKey = (String, String, String, String);

/// One step of a field path: an object key, or the item of a named list with that `name`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Seg {
    Key(String),
    Named(String),
}

type FieldPath = Vec<Seg>;

/// The objects, their field owners, and what was asked of the double.
#[derive(Default)]
pub struct Store {
    objects: BTreeMap<ObjectKey, Value>,
    /// Per object: field path -> owning field manager.
    owners: HashMap<ObjectKey, BTreeMap<FieldPath, String>>,
    requests: Vec<String>,
    version: u64,
    git_version: Option<String>,
    request_log: Option<PathBuf>,
}

/// A store shared between the server and whoever inspects it.
pub type SharedStore = Arc<Mutex<Store>>;

fn key(group: &str, plural: &str, namespace: &str, name: &str) -> ObjectKey {
    (
        group.to_string(),
        plural.to_string(),
        namespace.to_string(),
        name.to_string(),
    )
}

impl Store {
    /// An empty store, ready to share with [`router`].
    pub fn shared() -> SharedStore {
        Arc::new(Mutex::new(Store::default()))
    }

    /// The `gitVersion` `/version` reports (default `v1.31.0-lok8s-double`).
    pub fn set_git_version(&mut self, git_version: &str) {
        self.git_version = Some(git_version.to_string());
    }

    /// Also append every request line to this file, as it arrives.
    pub fn log_requests_to(&mut self, path: PathBuf) {
        self.request_log = Some(path);
    }

    /// Requests received, as "METHOD path?query".
    pub fn requests(&self) -> &[String] {
        &self.requests
    }

    /// The stored object, if any.
    pub fn object(&self, group: &str, plural: &str, namespace: &str, name: &str) -> Option<Value> {
        self.objects
            .get(&key(group, plural, namespace, name))
            .cloned()
    }

    /// Stores an object as if another client had applied it with `manager`.
    pub fn seed(
        &mut self,
        group: &str,
        plural: &str,
        namespace: &str,
        object: Value,
        manager: &str,
    ) {
        let name = object["metadata"]["name"].as_str().unwrap().to_string();
        let key = key(group, plural, namespace, &name);
        let owners = leaf_paths(&object)
            .into_iter()
            .map(|(p, _)| (p, manager.to_string()))
            .collect();
        self.owners.insert(key.clone(), owners);
        self.objects.insert(key, object);
    }

    fn record(&mut self, line: String) {
        if let Some(path) = &self.request_log {
            let appended = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .and_then(|mut f| writeln!(f, "{line}"));
            if let Err(e) = appended {
                eprintln!("kube double: cannot append to {}: {e}", path.display());
            }
        }
        self.requests.push(line);
    }
}

/// The API served from `store`, for `axum::serve` or any hyper connection.
pub fn router(store: SharedStore) -> axum::Router {
    axum::Router::new().fallback(handle).with_state(store)
}

/// Serves `app` over TLS on `listener` until the listener fails.
pub async fn serve_tls(
    listener: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    app: axum::Router,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use hyper_util::service::TowerToHyperService;
    loop {
        let (tcp, _) = listener.accept().await?;
        let acceptor = acceptor.clone();
        let service = TowerToHyperService::new(app.clone());
        tokio::spawn(async move {
            let Ok(stream) = acceptor.accept(tcp).await else {
                return;
            };
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn status(code: StatusCode, reason: &str, message: String) -> Response {
    let body = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code.as_u16()});
    (code, axum::Json(body)).into_response()
}

fn not_found(what: String) -> Response {
    status(StatusCode::NOT_FOUND, "NotFound", what)
}

fn discovery(group: &str, version: &str) -> Value {
    let resources: Vec<Value> = RESOURCES
        .iter()
        .filter(|r| r.0 == group && r.1 == version)
        .map(|(_, _, plural, kind, namespaced)| {
            json!({"name": plural, "singularName": kind.to_lowercase(), "namespaced": namespaced, "kind": kind,
                "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]})
        })
        .collect();
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources})
}

/// Whether an array merges by item `name` (a Kubernetes list-map keyed by name).
fn is_named_list(items: &[Value]) -> bool {
    !items.is_empty()
        && items
            .iter()
            .all(|i| i.get("name").is_some_and(Value::is_string))
}

/// Field paths of an object's leaves, except identity fields. Named lists are descended into.
fn leaf_paths(v: &Value) -> Vec<(FieldPath, Value)> {
    fn walk(prefix: &mut FieldPath, v: &Value, out: &mut Vec<(FieldPath, Value)>) {
        match v {
            Value::Object(map) if !map.is_empty() => {
                for (k, child) in map {
                    prefix.push(Seg::Key(k.clone()));
                    walk(prefix, child, out);
                    prefix.pop();
                }
            }
            Value::Array(items) if is_named_list(items) => {
                for item in items {
                    prefix.push(Seg::Named(item["name"].as_str().unwrap().to_string()));
                    walk(prefix, item, out);
                    prefix.pop();
                }
            }
            _ => out.push((prefix.clone(), v.clone())),
        }
    }
    let mut out = Vec::new();
    walk(&mut Vec::new(), v, &mut out);
    let identity = |p: &FieldPath| {
        let keys: Vec<&str> = p
            .iter()
            .map(|s| match s {
                Seg::Key(k) => k.as_str(),
                Seg::Named(_) => "",
            })
            .collect();
        matches!(
            keys.as_slice(),
            ["apiVersion"] | ["kind"] | ["metadata", "name"] | ["metadata", "namespace"]
        )
    };
    out.retain(|(p, _)| !identity(p));
    out
}

fn path_get<'a>(v: &'a Value, path: &FieldPath) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, seg| match seg {
        Seg::Key(k) => v.get(k),
        Seg::Named(n) => v.as_array()?.iter().find(|i| i["name"] == n.as_str()),
    })
}

fn merge(into: &mut Value, from: &Value) {
    match (into, from) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (Value::Array(a), Value::Array(b)) if is_named_list(a) && is_named_list(b) => {
            for item in b {
                match a.iter_mut().find(|x| x["name"] == item["name"]) {
                    Some(existing) => merge(existing, item),
                    None => a.push(item.clone()),
                }
            }
        }
        (slot, v) => *slot = v.clone(),
    }
}

async fn handle(
    State(store): State<SharedStore>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let query: HashMap<String, String> = uri
        .query()
        .unwrap_or_default()
        .split('&')
        .filter_map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_string(), v.replace("%3D", "=").replace("%2C", ",")))
        })
        .collect();
    let git_version = {
        let mut s = store.lock().unwrap();
        s.record(format!(
            "{method} {}",
            uri.path_and_query().map(|p| p.as_str()).unwrap_or("")
        ));
        s.git_version.clone()
    };
    let parts: Vec<&str> = uri.path().trim_matches('/').split('/').collect();
    match parts.as_slice() {
        ["version"] => {
            let git = git_version.unwrap_or_else(|| "v1.31.0-lok8s-double".into());
            let mut numbers = git.trim_start_matches('v').split('.');
            let major = numbers.next().unwrap_or("1").to_string();
            let minor = numbers.next().unwrap_or("0").to_string();
            return axum::Json(json!({"major": major, "minor": minor, "gitVersion": git}))
                .into_response();
        }
        ["api"] => return axum::Json(
            json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}),
        )
        .into_response(),
        ["api", "v1"] => return axum::Json(discovery("", "v1")).into_response(),
        ["apis"] => {
            return axum::Json(
                json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": [{"name": "apps",
                "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
                "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"}}]}),
            )
            .into_response();
        }
        ["apis", g, v] => return axum::Json(discovery(g, v)).into_response(),
        _ => {}
    }
    // /api/v1/... or /apis/<g>/<v>/...; then [namespaces/<ns>/]<plural>[/<name>]
    let (group, rest) = match parts.as_slice() {
        ["api", "v1", rest @ ..] => ("", rest),
        ["apis", g, _v, rest @ ..] => (*g, rest),
        _ => return not_found(format!("the server could not find {}", uri.path())),
    };
    let (namespace, plural, name) = match rest {
        ["namespaces", ns, plural] => (ns.to_string(), *plural, None),
        ["namespaces", ns, plural, name] => (ns.to_string(), *plural, Some(*name)),
        [plural] => (String::new(), *plural, None),
        [plural, name] => (String::new(), *plural, Some(*name)),
        _ => return not_found(format!("the server could not find {}", uri.path())),
    };
    let Some(&(_, version, _, kind, _)) = RESOURCES.iter().find(|r| r.0 == group && r.2 == plural)
    else {
        return not_found(format!(
            "the server doesn't have a resource type {plural:?}"
        ));
    };
    let api_version = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    let mut s = store.lock().unwrap();
    match (method.clone(), name) {
        (Method::GET, Some(name)) => match s.objects.get(&key(group, plural, &namespace, name)) {
            Some(obj) => axum::Json(obj.clone()).into_response(),
            None => not_found(format!("{plural} {name:?} not found")),
        },
        (Method::GET, None) => {
            let selector: Vec<(String, String)> = query
                .get("labelSelector")
                .map(|sel| {
                    sel.split(',')
                        .filter_map(|kv| kv.split_once('='))
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect()
                })
                .unwrap_or_default();
            let items: Vec<Value> = s
                .objects
                .iter()
                .filter(|((g, p, ns, _), _)| {
                    g == group && p == plural && (namespace.is_empty() || *ns == namespace)
                })
                .map(|(_, o)| o.clone())
                .filter(|o| {
                    selector
                        .iter()
                        .all(|(k, v)| o["metadata"]["labels"][k] == v.as_str())
                })
                .collect();
            axum::Json(
                json!({"kind": format!("{kind}List"), "apiVersion": api_version,
                "metadata": {"resourceVersion": s.version.to_string()}, "items": items}),
            )
            .into_response()
        }
        (Method::DELETE, Some(name)) => {
            let key = key(group, plural, &namespace, name);
            s.owners.remove(&key);
            match s.objects.remove(&key) {
                Some(obj) => axum::Json(obj).into_response(),
                None => not_found(format!("{plural} {name:?} not found")),
            }
        }
        (Method::PATCH, Some(name)) => {
            let content_type = headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if content_type != "application/apply-patch+yaml" {
                return status(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "UnsupportedMediaType",
                    format!("only server-side apply is served, not {content_type}"),
                );
            }
            let Some(manager) = query.get("fieldManager").filter(|m| !m.is_empty()).cloned() else {
                return status(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Invalid",
                    "fieldManager is required for apply patch".into(),
                );
            };
            let force = query.get("force").is_some_and(|f| f == "true");
            let Ok(applied) = serde_json::from_slice::<Value>(&body) else {
                return status(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    "the body is not JSON".into(),
                );
            };
            let key = key(group, plural, &namespace, name);
            let owners = s.owners.get(&key).cloned().unwrap_or_default();
            let existing = s.objects.get(&key).cloned();
            let applied_paths = leaf_paths(&applied);
            let mut conflicts = Vec::new();
            for (path, value) in &applied_paths {
                if let (Some(owner), Some(current)) = (
                    owners.get(path),
                    existing.as_ref().and_then(|e| path_get(e, path)),
                ) && owner != &manager
                    && current != value
                {
                    conflicts.push(format!("conflict with {owner:?}: {}", show(path)));
                }
            }
            if !conflicts.is_empty() && !force {
                return status(
                    StatusCode::CONFLICT,
                    "Conflict",
                    format!(
                        "Apply failed with {} conflict(s): {}",
                        conflicts.len(),
                        conflicts.join("; ")
                    ),
                );
            }
            let created = existing.is_none();
            let mut object = existing.unwrap_or_else(|| json!({}));
            merge(&mut object, &applied);
            s.version += 1;
            let rv = s.version.to_string();
            object["apiVersion"] = json!(api_version);
            object["kind"] = json!(kind);
            object["metadata"]["name"] = json!(name);
            if !namespace.is_empty() {
                object["metadata"]["namespace"] = json!(namespace);
            }
            object["metadata"]["resourceVersion"] = json!(rv);
            if created {
                object["metadata"]["uid"] = json!(format!("uid-{rv}"));
            }
            let entry = s.owners.entry(key.clone()).or_default();
            for (path, _) in applied_paths {
                entry.insert(path, manager.clone());
            }
            s.objects.insert(key, object.clone());
            let code = if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            (code, axum::Json(object)).into_response()
        }
        _ => status(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            format!("{method} is not served here"),
        ),
    }
}

/// A field path as Kubernetes conflict messages write it: `.spec.containers[name="x"].image`.
fn show(path: &FieldPath) -> String {
    path.iter()
        .map(|s| match s {
            Seg::Key(k) => format!(".{k}"),
            Seg::Named(n) => format!("[name={n:?}]"),
        })
        .collect()
}
