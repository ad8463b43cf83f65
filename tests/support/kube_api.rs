//! A Kubernetes API double for the tests. It stands in for kube-apiserver, which cannot run
//! here, and speaks the real wire protocol for what lok8s uses, from the public API
//! documentation: `/version`, discovery (`/api`, `/api/v1`, `/apis`, `/apis/<g>/<v>`), get,
//! list (with equality label selectors), delete, and server-side apply
//! (`PATCH` with `application/apply-patch+yaml`, `fieldManager`, `force`, field ownership and
//! 409 conflicts). Errors are `Status` objects. Objects live in memory; every request is
//! recorded so tests can assert on what reached the "cluster".
//! Served over plain HTTP on 127.0.0.1; product code only sees a kubeconfig.

use std::collections::{BTreeMap, HashMap};
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
    ("", "v1", "namespaces", "Namespace", false),
    ("", "v1", "nodes", "Node", false),
    ("apps", "v1", "deployments", "Deployment", true),
];

#[derive(Default)]
struct Store {
    /// (group, plural, namespace, name) -> object.
    objects: BTreeMap<(String, String, String, String), Value>,
    /// Per object: field path -> owning field manager.
    owners: HashMap<(String, String, String, String), BTreeMap<String, String>>,
    requests: Vec<String>,
    version: u64,
}

/// A running double; stops with the test process.
#[derive(Clone)]
pub struct KubeApi {
    pub port: u16,
    store: Arc<Mutex<Store>>,
}

impl KubeApi {
    pub fn start() -> KubeApi {
        let store = Arc::new(Mutex::new(Store::default()));
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
                let app = axum::Router::new().fallback(handle).with_state(shared);
                axum::serve(listener, app).await.unwrap();
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
        self.store.lock().unwrap().requests.clone()
    }

    /// The stored object, if any.
    pub fn object(&self, group: &str, plural: &str, namespace: &str, name: &str) -> Option<Value> {
        let key = (
            group.to_string(),
            plural.to_string(),
            namespace.to_string(),
            name.to_string(),
        );
        self.store.lock().unwrap().objects.get(&key).cloned()
    }

    /// Stores an object as if another client had applied it with `manager`.
    pub fn seed(&self, group: &str, plural: &str, namespace: &str, object: Value, manager: &str) {
        let mut store = self.store.lock().unwrap();
        let name = object["metadata"]["name"].as_str().unwrap().to_string();
        let key = (
            group.to_string(),
            plural.to_string(),
            namespace.to_string(),
            name,
        );
        let owners = leaf_paths(&object)
            .into_iter()
            .map(|(p, _)| (p, manager.to_string()))
            .collect();
        store.owners.insert(key.clone(), owners);
        store.objects.insert(key, object);
    }
}

fn status(code: StatusCode, reason: &str, message: String) -> Response {
    let body = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code.as_u16()});
    (code, axum::Json(body)).into_response()
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

/// Field paths of an object's leaves, except identity fields.
fn leaf_paths(v: &Value) -> Vec<(String, Value)> {
    fn walk(prefix: String, v: &Value, out: &mut Vec<(String, Value)>) {
        match v {
            Value::Object(map) if !map.is_empty() => {
                for (k, child) in map {
                    walk(format!("{prefix}.{k}"), child, out);
                }
            }
            _ => out.push((prefix, v.clone())),
        }
    }
    let mut out = Vec::new();
    walk(String::new(), v, &mut out);
    out.retain(|(p, _)| {
        !matches!(
            p.as_str(),
            ".apiVersion" | ".kind" | ".metadata.name" | ".metadata.namespace"
        )
    });
    out
}

fn merge(into: &mut Value, from: &Value) {
    match (into, from) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (slot, v) => *slot = v.clone(),
    }
}

fn pointer_get<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    v.pointer(&path.replace('.', "/"))
}

async fn handle(
    State(store): State<Arc<Mutex<Store>>>,
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
    store.lock().unwrap().requests.push(format!(
        "{method} {}",
        uri.path_and_query().map(|p| p.as_str()).unwrap_or("")
    ));
    let parts: Vec<&str> = uri.path().trim_matches('/').split('/').collect();
    match parts.as_slice() {
        ["version"] => {
            return axum::Json(
                json!({"major": "1", "minor": "31", "gitVersion": "v1.31.0-lok8s-double"}),
            )
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
        _ => {
            return status(
                StatusCode::NOT_FOUND,
                "NotFound",
                format!("the server could not find {}", uri.path()),
            );
        }
    };
    let (namespace, plural, name) = match rest {
        ["namespaces", ns, plural] => (ns.to_string(), *plural, None),
        ["namespaces", ns, plural, name] => (ns.to_string(), *plural, Some(*name)),
        [plural] => (String::new(), *plural, None),
        [plural, name] => (String::new(), *plural, Some(*name)),
        _ => {
            return status(
                StatusCode::NOT_FOUND,
                "NotFound",
                format!("the server could not find {}", uri.path()),
            );
        }
    };
    let Some(&(_, version, _, kind, _)) = RESOURCES.iter().find(|r| r.0 == group && r.2 == plural)
    else {
        return status(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("the server doesn't have a resource type {plural:?}"),
        );
    };
    let api_version = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    let mut s = store.lock().unwrap();
    match (method.clone(), name) {
        (Method::GET, Some(name)) => {
            let key = (
                group.to_string(),
                plural.to_string(),
                namespace,
                name.to_string(),
            );
            match s.objects.get(&key) {
                Some(obj) => axum::Json(obj.clone()).into_response(),
                None => status(
                    StatusCode::NOT_FOUND,
                    "NotFound",
                    format!("{plural} {name:?} not found"),
                ),
            }
        }
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
            let key = (
                group.to_string(),
                plural.to_string(),
                namespace,
                name.to_string(),
            );
            s.owners.remove(&key);
            match s.objects.remove(&key) {
                Some(obj) => axum::Json(obj).into_response(),
                None => status(
                    StatusCode::NOT_FOUND,
                    "NotFound",
                    format!("{plural} {name:?} not found"),
                ),
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
            let key = (
                group.to_string(),
                plural.to_string(),
                namespace.clone(),
                name.to_string(),
            );
            let owners = s.owners.get(&key).cloned().unwrap_or_default();
            let existing = s.objects.get(&key).cloned();
            let mut conflicts = Vec::new();
            for (path, value) in leaf_paths(&applied) {
                if let (Some(owner), Some(current)) = (
                    owners.get(&path),
                    existing.as_ref().and_then(|e| pointer_get(e, &path)),
                ) {
                    if owner != &manager && current != &value {
                        conflicts.push(format!("conflict with {owner:?}: {path}"));
                    }
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
            for (path, _) in leaf_paths(&applied) {
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
