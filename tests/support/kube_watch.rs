//! Watches on the Kubernetes API double: `GET <list>?watch=true&resourceVersion=N`, answered
//! as kube-apiserver does with one JSON event per line (`ADDED`, `MODIFIED`, `DELETED`) for
//! objects newer than N, until `timeoutSeconds` (at most 60 here). The double checks its store
//! every 50 ms for changes, so a watch sees every change a client makes through it. A watch on
//! CRDs also establishes the pending ones on its first tick (the controller's work happens
//! while a client waits, not only when it makes requests).

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::kube_core::SharedStore;
use crate::kube_kinds::Kind;

const MAX_WATCH: Duration = Duration::from_secs(60);
const TICK: Duration = Duration::from_millis(50);

struct Watch {
    store: SharedStore,
    kind: Kind,
    namespace: String,
    query: HashMap<String, String>,
    /// Objects already reported, by name, at the resourceVersion reported.
    seen: BTreeMap<(String, String), (u64, Value)>,
    since: u64,
    deadline: tokio::time::Instant,
    pending: Vec<Value>,
}

fn version_of(object: &Value) -> u64 {
    object["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

impl Watch {
    /// Events since the last look.
    fn changes(&mut self) -> Vec<Value> {
        let now = self
            .store
            .lock()
            .unwrap()
            .matching(&self.kind, &self.namespace, &self.query);
        let mut events = Vec::new();
        let mut present = Vec::new();
        for object in now {
            let id = (
                object["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                object["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            );
            let version = version_of(&object);
            present.push(id.clone());
            let event = match self.seen.get(&id) {
                Some((v, _)) if *v == version => None,
                Some(_) => Some("MODIFIED"),
                None if version > self.since => Some("ADDED"),
                None => None,
            };
            if let Some(kind) = event {
                events.push(json!({"type": kind, "object": object}));
            }
            self.seen.insert(id, (version, object));
        }
        let gone: Vec<_> = self
            .seen
            .keys()
            .filter(|id| !present.contains(id))
            .cloned()
            .collect();
        for id in gone {
            if let Some((_, object)) = self.seen.remove(&id) {
                events.push(json!({"type": "DELETED", "object": object}));
            }
        }
        events
    }
}

pub fn watch(
    store: SharedStore,
    kind: Kind,
    namespace: String,
    query: &HashMap<String, String>,
) -> Response {
    let since: u64 = query
        .get("resourceVersion")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let timeout = query
        .get("timeoutSeconds")
        .and_then(|t| t.parse().ok())
        .map(Duration::from_secs)
        .unwrap_or(MAX_WATCH)
        .min(MAX_WATCH);
    let mut state = Watch {
        store,
        kind,
        namespace,
        query: query.clone(),
        seen: BTreeMap::new(),
        since,
        deadline: tokio::time::Instant::now() + timeout,
        pending: Vec::new(),
    };
    // Objects at or below `since` are known to the client: remembered without events.
    state.pending = state.changes();
    let stream = futures_util::stream::unfold(state, |mut w| async move {
        loop {
            if !w.pending.is_empty() {
                let event = w.pending.remove(0);
                let line = Bytes::from(format!("{event}\n"));
                return Some((Ok::<_, Infallible>(line), w));
            }
            if tokio::time::Instant::now() >= w.deadline {
                return None;
            }
            tokio::time::sleep(TICK).await;
            if w.kind.kind == "CustomResourceDefinition" {
                w.store.lock().unwrap().settle_crds();
            }
            w.pending = w.changes();
        }
    });
    (
        [("content-type", "application/json")],
        Body::from_stream(stream),
    )
        .into_response()
}
