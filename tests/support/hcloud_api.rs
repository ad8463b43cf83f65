//! A Hetzner Cloud API double: stands in for the public REST API at
//! `https://api.hetzner.cloud/v1` (which tests must never reach), from its documented
//! behaviour: bearer token (401 `unauthorized` otherwise), collections (`ssh_keys`, `networks`,
//! `load_balancers`, `servers`, `volumes`, `floating_ips`, `server_types`) with `name` and
//! `label_selector` filters (`k=v`, `k!=v`, `k`, `!k`, joined by `,`) and `page`/`per_page`
//! pagination under `meta.pagination`; creates that give ids and start an action; actions
//! that stay `running` for a set number of polls (`GET /actions/{id}`); resource actions that
//! change what they act on (`add_subnet`, `attach_to_network`, `add_target`, `add_service`,
//! `assign`) and refuse a repeat with the API's conflict codes; deletes; names unique
//! per collection (409 `uniqueness_error`); addresses a test assigns ahead given on create; 429 `rate_limit_exceeded` with `RateLimit-*`
//! headers on demand. Served over HTTPS on 127.0.0.1 with a CA of its own; records requests.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::kube_api::{spawn_tls, tls_acceptor};

/// What the double answers; tests change it between runs.
#[derive(Debug, Default, Clone)]
pub struct Script {
    /// Answer 429 to this many requests first.
    pub rate_limited: u32,
    /// Polls an action stays `running` before `success`.
    pub action_polls: u32,
}

#[derive(Default)]
struct Inner {
    token: String,
    script: Script,
    /// `"METHOD path?query"` of every request.
    seen: Vec<String>,
    /// Collection → objects.
    objects: BTreeMap<String, Vec<Value>>,
    /// Action id → (the action, polls so far).
    actions: BTreeMap<u64, (Value, u32)>,
    /// (collection, name) → fields the API gives the object when it is created (addresses).
    assigned: BTreeMap<(String, String), Value>,
    next_id: u64,
}

type Shared = Arc<Mutex<Inner>>;

/// A running double; stops with the test process.
#[derive(Clone)]
pub struct HcloudApi {
    pub port: u16,
    pub ca_pem: String,
    inner: Shared,
}

impl HcloudApi {
    pub fn start(token: &str) -> HcloudApi {
        let (ca_pem, acceptor) = tls_acceptor();
        let inner: Shared = Arc::new(Mutex::new(Inner {
            token: token.into(),
            next_id: 100,
            ..Default::default()
        }));
        inner.lock().unwrap().objects.insert(
            "server_types".into(),
            vec![json!({"id": 1, "name": "cx22", "cores": 2, "memory": 4.0})],
        );
        let app = axum::Router::new()
            .route("/v1/{*rest}", axum::routing::any(handle))
            .with_state(inner.clone());
        let port = spawn_tls(acceptor, app);
        HcloudApi {
            port,
            ca_pem,
            inner,
        }
    }

    /// The endpoint (`HCLOUD_ENDPOINT`).
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}/v1", self.port)
    }

    pub fn script(&self, change: impl FnOnce(&mut Script)) {
        change(&mut self.inner.lock().unwrap().script);
    }

    pub fn seen(&self) -> Vec<String> {
        self.inner.lock().unwrap().seen.clone()
    }

    /// Puts an object into a collection as if created earlier; returns its id.
    pub fn seed(&self, collection: &str, name: &str, labels: Value) -> u64 {
        let mut inner = self.inner.lock().unwrap();
        inner.next_id += 1;
        let id = inner.next_id;
        inner
            .objects
            .entry(collection.into())
            .or_default()
            .push(json!({"id": id, "name": name, "labels": labels}));
        id
    }

    /// Fields the API will give the named object when it is created, as Hetzner assigns a
    /// server's `public_net` and `private_net` (the tests' machines' addresses).
    pub fn assign(&self, collection: &str, name: &str, fields: Value) {
        let mut inner = self.inner.lock().unwrap();
        inner
            .assigned
            .insert((collection.into(), name.into()), fields);
    }

    /// Sets a field of the named object (a server's `status`, say).
    pub fn set(&self, collection: &str, name: &str, field: &str, value: Value) {
        let mut inner = self.inner.lock().unwrap();
        for object in inner.objects.entry(collection.into()).or_default() {
            if object["name"].as_str() == Some(name) {
                object[field] = value.clone();
            }
        }
    }

    /// The named object of a collection, as stored.
    pub fn object(&self, collection: &str, name: &str) -> Option<Value> {
        let inner = self.inner.lock().unwrap();
        inner
            .objects
            .get(collection)?
            .iter()
            .find(|o| o["name"].as_str() == Some(name))
            .cloned()
    }

    /// Names in a collection, sorted.
    pub fn names(&self, collection: &str) -> Vec<String> {
        let inner = self.inner.lock().unwrap();
        let mut names: Vec<String> = inner
            .objects
            .get(collection)
            .map(|list| {
                list.iter()
                    .filter_map(|o| o["name"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": {"code": code, "message": message, "details": {}}})),
    )
        .into_response()
}

/// Whether `labels` meet a selector (`k=v`, `k!=v`, `k`, `!k`, comma-joined).
fn selected(labels: &Value, selector: &str) -> bool {
    selector.split(',').filter(|t| !t.is_empty()).all(|term| {
        if let Some((k, v)) = term.split_once("!=") {
            labels[k].as_str() != Some(v)
        } else if let Some((k, v)) = term.split_once('=') {
            labels[k].as_str() == Some(v)
        } else if let Some(k) = term.strip_prefix('!') {
            labels.get(k).is_none()
        } else {
            labels.get(term).is_some()
        }
    })
}

fn new_action(inner: &mut Inner, command: &str) -> Value {
    inner.next_id += 1;
    let id = inner.next_id;
    let action = json!({"id": id, "command": command, "status": "running", "progress": 0,
        "error": null});
    inner.actions.insert(id, (action.clone(), 0));
    action
}

/// What a resource action changes, with the conflicts the API reports for a repeat.
fn act(
    object: &mut Value,
    action: &str,
    request: &Value,
) -> Result<(), (&'static str, &'static str)> {
    let mut push = |list: &str, item: Value, code, message| {
        let items = object[list].as_array_mut();
        match items {
            Some(items) if items.contains(&item) => Err((code, message)),
            Some(items) => {
                items.push(item);
                Ok(())
            }
            None => {
                object[list] = json!([item]);
                Ok(())
            }
        }
    };
    match action {
        "add_subnet" => push(
            "subnets",
            request.clone(),
            "conflict",
            "subnet already exists",
        ),
        "attach_to_network" => push(
            "private_net",
            json!({"network": request["network"]}),
            "load_balancer_already_attached",
            "load balancer is already attached to this network",
        ),
        "add_target" => push(
            "targets",
            request.clone(),
            "target_already_defined",
            "target already defined",
        ),
        "add_service" => push(
            "services",
            request.clone(),
            "source_port_already_used",
            "listen port already used",
        ),
        "assign" => {
            object["server"] = request["server"].clone();
            Ok(())
        }
        _ => Ok(()),
    }
}

async fn handle(
    State(inner): State<Shared>,
    method: Method,
    Path(rest): Path<String>,
    RawQuery(query): RawQuery,
    Query(params): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut inner = inner.lock().unwrap();
    let query = query.unwrap_or_default();
    inner.seen.push(if query.is_empty() {
        format!("{method} /{rest}")
    } else {
        format!("{method} /{rest}?{query}")
    });
    let expected = format!("Bearer {}", inner.token);
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
        return error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "unable to authenticate",
        );
    }
    if inner.script.rate_limited > 0 {
        inner.script.rate_limited -= 1;
        let reset = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 1;
        let mut response = error(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_exceeded",
            "limit of 3600 requests per hour reached",
        );
        let h = response.headers_mut();
        h.insert("RateLimit-Limit", "3600".parse().unwrap());
        h.insert("RateLimit-Remaining", "0".parse().unwrap());
        h.insert("RateLimit-Reset", reset.to_string().parse().unwrap());
        return response;
    }
    let parts: Vec<&str> = rest.split('/').collect();
    match (method.as_str(), parts.as_slice()) {
        ("GET", ["actions", id]) => {
            let Some(id) = id.parse::<u64>().ok() else {
                return error(StatusCode::NOT_FOUND, "not_found", "action not found");
            };
            let polls = inner.script.action_polls;
            let Some((action, seen)) = inner.actions.get_mut(&id) else {
                return error(StatusCode::NOT_FOUND, "not_found", "action not found");
            };
            *seen += 1;
            if *seen > polls {
                action["status"] = json!("success");
                action["progress"] = json!(100);
            }
            axum::Json(json!({"action": action.clone()})).into_response()
        }
        ("GET", [collection]) => {
            let list = inner.objects.get(*collection).cloned().unwrap_or_default();
            let matching: Vec<Value> = list
                .into_iter()
                .filter(|o| {
                    params
                        .get("name")
                        .is_none_or(|n| o["name"].as_str() == Some(n))
                })
                .filter(|o| {
                    params
                        .get("label_selector")
                        .is_none_or(|s| selected(&o["labels"], s))
                })
                .collect();
            let per_page: usize = params
                .get("per_page")
                .and_then(|p| p.parse().ok())
                .unwrap_or(25)
                .clamp(1, 50);
            let page: usize = params
                .get("page")
                .and_then(|p| p.parse().ok())
                .unwrap_or(1)
                .max(1);
            let last = matching.len().div_ceil(per_page).max(1);
            let items: Vec<Value> = matching
                .iter()
                .skip((page - 1) * per_page)
                .take(per_page)
                .cloned()
                .collect();
            let next = if page < last {
                json!(page + 1)
            } else {
                Value::Null
            };
            axum::Json(json!({
                *collection: items,
                "meta": {"pagination": {"page": page, "per_page": per_page,
                    "previous_page": if page > 1 { json!(page - 1) } else { Value::Null },
                    "next_page": next, "last_page": last, "total_entries": matching.len()}}
            }))
            .into_response()
        }
        ("POST", [collection]) => {
            let Ok(request) = serde_json::from_slice::<Value>(&body) else {
                return error(StatusCode::BAD_REQUEST, "json_error", "body is not JSON");
            };
            let Some(name) = request["name"].as_str().map(str::to_string) else {
                return error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_input",
                    "name is missing",
                );
            };
            if inner
                .objects
                .get(*collection)
                .is_some_and(|l| l.iter().any(|o| o["name"].as_str() == Some(name.as_str())))
            {
                return error(
                    StatusCode::CONFLICT,
                    "uniqueness_error",
                    &format!("name {name} is already used"),
                );
            }
            inner.next_id += 1;
            let id = inner.next_id;
            let mut object = request.clone();
            object["id"] = json!(id);
            if object.get("labels").is_none() {
                object["labels"] = json!({});
            }
            let key = (collection.to_string(), name.clone());
            if let Some(Value::Object(fields)) = inner.assigned.get(&key) {
                for (field, value) in fields {
                    object[field] = value.clone();
                }
            }
            inner
                .objects
                .entry(collection.to_string())
                .or_default()
                .push(object.clone());
            let singular = collection.trim_end_matches('s').to_string();
            let action = new_action(&mut inner, &format!("create_{singular}"));
            (
                StatusCode::CREATED,
                axum::Json(json!({ singular: object, "action": action })),
            )
                .into_response()
        }
        ("DELETE", [collection, id]) => {
            let id: u64 = id.parse().unwrap_or(0);
            let list = inner.objects.entry(collection.to_string()).or_default();
            let before = list.len();
            list.retain(|o| o["id"].as_u64() != Some(id));
            if list.len() == before {
                return error(StatusCode::NOT_FOUND, "not_found", "resource not found");
            }
            let action = new_action(&mut inner, "delete");
            axum::Json(json!({"action": action})).into_response()
        }
        ("GET", [collection, id]) => {
            let id: u64 = id.parse().unwrap_or(0);
            let found = inner
                .objects
                .get(*collection)
                .and_then(|l| l.iter().find(|o| o["id"].as_u64() == Some(id)).cloned());
            match found {
                Some(object) => {
                    let singular = collection.trim_end_matches('s');
                    axum::Json(json!({ singular: object })).into_response()
                }
                None => error(StatusCode::NOT_FOUND, "not_found", "resource not found"),
            }
        }
        ("POST", [collection, id, "actions", action]) => {
            let id: u64 = id.parse().unwrap_or(0);
            let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let Some(object) = inner
                .objects
                .get_mut(*collection)
                .and_then(|l| l.iter_mut().find(|o| o["id"].as_u64() == Some(id)))
            else {
                return error(StatusCode::NOT_FOUND, "not_found", "resource not found");
            };
            if let Err((code, message)) = act(object, action, &request) {
                return error(StatusCode::CONFLICT, code, message);
            }
            let action = new_action(&mut inner, action);
            (StatusCode::CREATED, axum::Json(json!({"action": action}))).into_response()
        }
        _ => error(StatusCode::NOT_FOUND, "not_found", "no such endpoint"),
    }
}
