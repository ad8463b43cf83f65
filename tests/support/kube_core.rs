//! The core of the Kubernetes API double: an in-memory object store and the axum router that
//! serves it. It stands in for kube-apiserver (with its etcd and the controllers lok8s relies
//! on), which cannot run here, and speaks the real wire protocol for what lok8s and its drivers
//! use, from the public API documentation: `/version`, `/healthz` (`/livez`, `/readyz`),
//! discovery (`/api`, `/api/v1`, `/apis`,
//! `/apis/<g>/<v>`), get, list (with equality label selectors), watch ([`crate::kube_watch`]),
//! delete, JSON merge patch, server-side apply (`PATCH` with `application/apply-patch+yaml`,
//! `fieldManager`, `force`, field ownership and 409 conflicts) and a namespace's `finalize`
//! ([`crate::kube_writes`]). Errors are `Status` objects. Custom resources are served once their
//! CustomResourceDefinition is `Established` ([`crate::kube_kinds`]).
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

use crate::kube_kinds::{Kind, built_in, group_list, resource_list};

/// (group, plural, namespace, name); namespace is empty for cluster-scoped objects.
pub(crate) type ObjectKey = (String, String, String, String);

/// One step of a field path: an object key, or the item of a named list with that `name`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Seg {
    Key(String),
    Named(String),
}

pub(crate) type FieldPath = Vec<Seg>;

/// The objects, their field owners, and what was asked of the double.
#[derive(Default)]
pub struct Store {
    pub(crate) objects: BTreeMap<ObjectKey, Value>,
    /// Per object: field path -> owning field manager.
    pub(crate) owners: HashMap<ObjectKey, BTreeMap<FieldPath, String>>,
    requests: Vec<String>,
    pub(crate) version: u64,
    git_version: Option<String>,
    request_log: Option<PathBuf>,
    /// Kinds defined by CRDs: the kind, the request count from which it is served, the CRD.
    pub(crate) custom: Vec<(Kind, usize, ObjectKey)>,
    /// Applies of an object still to fail as if its admission webhook did not answer.
    pub(crate) webhook_failures: HashMap<ObjectKey, u32>,
    /// The Cluster API controllers' stand-in, when a test installs it.
    pub(crate) capi: Option<crate::kube_capi::CapiControllers>,
}

/// A store shared between the server and whoever inspects it.
pub type SharedStore = Arc<Mutex<Store>>;

pub(crate) fn key(group: &str, plural: &str, namespace: &str, name: &str) -> ObjectKey {
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

    /// Requests received so far (the double's clock).
    pub(crate) fn request_count(&self) -> usize {
        self.requests.len()
    }

    /// The kinds served now: the built-in ones and established custom ones.
    pub fn kinds(&self) -> Vec<Kind> {
        let mut kinds = built_in();
        kinds.extend(
            self.custom
                .iter()
                .filter(|(_, from, _)| self.requests.len() >= *from)
                .map(|(k, _, _)| k.clone()),
        );
        kinds
    }

    /// Every object, for tests that check what reached the "cluster".
    pub fn all_objects(&self) -> Vec<Value> {
        self.objects.values().cloned().collect()
    }

    /// A client watches CRDs: the apiextensions controller gets there while it waits, so
    /// every pending CRD is `Established` now (without this, a watch that makes no request
    /// would wait out its timeout).
    pub(crate) fn settle_crds(&mut self) {
        let count = self.requests.len();
        for (_, from, _) in &mut self.custom {
            *from = (*from).min(count);
        }
        self.establish_due();
    }

    /// Marks CRDs whose time has come `Established`, as the apiextensions controller does.
    fn establish_due(&mut self) {
        let count = self.requests.len();
        let due: Vec<ObjectKey> = self
            .custom
            .iter()
            .filter(|(_, from, _)| count >= *from)
            .map(|(_, _, crd)| crd.clone())
            .collect();
        for crd in due {
            let established = self
                .objects
                .get(&crd)
                .is_some_and(|o| o["status"]["conditions"][0]["type"] == "Established");
            if established {
                continue;
            }
            self.version += 1;
            let rv = self.version.to_string();
            if let Some(o) = self.objects.get_mut(&crd) {
                o["status"] = json!({"conditions": [
                    {"type": "Established", "status": "True", "reason": "InitialNamesAccepted"},
                    {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts"}]});
                o["metadata"]["resourceVersion"] = json!(rv);
            }
        }
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
    // The health endpoints load balancers probe (kind's haproxy: GET /healthz), unlogged.
    let healthy = axum::routing::get(|| async { "ok" });
    axum::Router::new()
        .route("/healthz", healthy.clone())
        .route("/livez", healthy.clone())
        .route("/readyz", healthy)
        .fallback(handle)
        .with_state(store)
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

pub(crate) fn status(code: StatusCode, reason: &str, message: String) -> Response {
    let body = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code.as_u16()});
    (code, axum::Json(body)).into_response()
}

pub(crate) fn not_found(what: String) -> Response {
    status(StatusCode::NOT_FOUND, "NotFound", what)
}

/// Whether an array merges by item `name` (a Kubernetes list-map keyed by name).
pub(crate) fn is_named_list(items: &[Value]) -> bool {
    !items.is_empty()
        && items
            .iter()
            .all(|i| i.get("name").is_some_and(Value::is_string))
}

/// Field paths of an object's leaves, except identity fields. Named lists are descended into.
pub(crate) fn leaf_paths(v: &Value) -> Vec<(FieldPath, Value)> {
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

pub(crate) fn path_get<'a>(v: &'a Value, path: &FieldPath) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, seg| match seg {
        Seg::Key(k) => v.get(k),
        Seg::Named(n) => v.as_array()?.iter().find(|i| i["name"] == n.as_str()),
    })
}

pub(crate) fn merge(into: &mut Value, from: &Value) {
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
            kv.split_once('=').map(|(k, v)| {
                let v = v
                    .replace("%3D", "=")
                    .replace("%2C", ",")
                    .replace("%2F", "/");
                (k.to_string(), v)
            })
        })
        .collect();
    let (git_version, kinds) = {
        let mut s = store.lock().unwrap();
        s.record(format!(
            "{method} {}",
            uri.path_and_query().map(|p| p.as_str()).unwrap_or("")
        ));
        s.establish_due();
        s.run_capi_controllers();
        (s.git_version.clone(), s.kinds())
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
        ["api", "v1"] => {
            return axum::Json(resource_list(&kinds, "", "v1").unwrap_or_default()).into_response();
        }
        ["apis"] => return axum::Json(group_list(&kinds)).into_response(),
        ["apis", g, v] => {
            return match resource_list(&kinds, g, v) {
                Some(list) => axum::Json(list).into_response(),
                None => not_found(format!(
                    "the server could not find the requested resource ({g}/{v})"
                )),
            };
        }
        _ => {}
    }
    // /api/v1/... or /apis/<g>/<v>/...; then [namespaces/<ns>/]<plural>[/<name>]
    let (group, version, rest) = match parts.as_slice() {
        ["api", "v1", rest @ ..] => ("", "v1", rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return not_found(format!("the server could not find {}", uri.path())),
    };
    if let (&Method::PUT, ["namespaces", ns, "finalize"]) = (&method, rest) {
        return store.lock().unwrap().finalize_namespace(ns, &body);
    }
    let (namespace, plural, name) = match rest {
        ["namespaces", ns, plural] => (ns.to_string(), *plural, None),
        ["namespaces", ns, plural, name] => (ns.to_string(), *plural, Some(*name)),
        [plural] => (String::new(), *plural, None),
        [plural, name] => (String::new(), *plural, Some(*name)),
        _ => return not_found(format!("the server could not find {}", uri.path())),
    };
    let Some(kind) = kinds
        .iter()
        .find(|k| k.group == group && k.version == version && k.plural == plural)
        .cloned()
    else {
        return not_found(format!(
            "the server doesn't have a resource type {plural:?}"
        ));
    };
    let watching = query.get("watch").is_some_and(|w| w == "true" || w == "1");
    if method == Method::GET && name.is_none() && watching {
        return crate::kube_watch::watch(store.clone(), kind, namespace, &query);
    }
    let mut s = store.lock().unwrap();
    match (method.clone(), name) {
        (Method::GET, Some(name)) => match s.objects.get(&key(group, plural, &namespace, name)) {
            Some(obj) => axum::Json(obj.clone()).into_response(),
            None => not_found(format!("{plural} {name:?} not found")),
        },
        (Method::GET, None) => {
            let items = s.matching(&kind, &namespace, &query);
            axum::Json(
                json!({"kind": format!("{}List", kind.kind), "apiVersion": kind.api_version(),
                "metadata": {"resourceVersion": s.version.to_string()}, "items": items}),
            )
            .into_response()
        }
        (Method::DELETE, Some(name)) => s.delete(&kind, &namespace, name),
        (Method::PATCH, Some(name)) => {
            let content_type = headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            match content_type {
                "application/apply-patch+yaml" => s.apply(&kind, &namespace, name, &query, &body),
                "application/merge-patch+json" => s.merge_patch(&kind, &namespace, name, &body),
                other => status(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "UnsupportedMediaType",
                    format!("only server-side apply and merge patches are served, not {other}"),
                ),
            }
        }
        _ => status(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            format!("{method} is not served here"),
        ),
    }
}

impl Store {
    /// Objects of `kind` in `namespace` (all namespaces when empty) matching the list's
    /// equality label selector and `metadata.name` field selector.
    pub(crate) fn matching(
        &self,
        kind: &Kind,
        namespace: &str,
        query: &HashMap<String, String>,
    ) -> Vec<Value> {
        let selector: Vec<(String, String)> = query
            .get("labelSelector")
            .map(|sel| {
                sel.split(',')
                    .filter_map(|kv| kv.split_once('='))
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect()
            })
            .unwrap_or_default();
        let named = query
            .get("fieldSelector")
            .and_then(|f| f.strip_prefix("metadata.name="));
        self.objects
            .iter()
            .filter(|((g, p, ns, n), _)| {
                *g == kind.group
                    && *p == kind.plural
                    && (namespace.is_empty() || *ns == namespace)
                    && named.is_none_or(|want| n == want)
            })
            .map(|(_, o)| o.clone())
            .filter(|o| {
                selector
                    .iter()
                    .all(|(k, v)| o["metadata"]["labels"][k] == v.as_str())
            })
            .collect()
    }
}

/// A field path as Kubernetes conflict messages write it: `.spec.containers[name="x"].image`.
pub(crate) fn show(path: &FieldPath) -> String {
    path.iter()
        .map(|s| match s {
            Seg::Key(k) => format!(".{k}"),
            Seg::Named(n) => format!("[name={n:?}]"),
        })
        .collect()
}
