//! Applying objects with kube-rs: server-side apply under the field manager `lok8s` with
//! conflicts forced, one object at a time, kinds found by discovery (asked again when a kind
//! is missing: its CRD may have just been created). Failures are sorted into what a retry can
//! fix (a kind not served yet, a webhook not answering), what only recreating the object can
//! fix (an immutable field, an object being deleted) and the rest.

use std::collections::HashMap;
use std::sync::Mutex;

use kube::Client;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::GroupVersionKind;
use kube::discovery::{ApiCapabilities, ApiResource, Scope};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub const FIELD_MANAGER: &str = "lok8s";

/// An object by identity, as the record keeps it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ObjectRef {
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
}

impl std::fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {ns}/{}", self.kind, self.name),
            None => write!(f, "{} {}", self.kind, self.name),
        }
    }
}

impl ObjectRef {
    pub fn of(object: &Value) -> ObjectRef {
        let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or_default().to_string();
        ObjectRef {
            api_version: text(object.get("apiVersion")),
            kind: text(object.get("kind")),
            namespace: object
                .get("metadata")
                .and_then(|m| m.get("namespace"))
                .and_then(Value::as_str)
                .map(str::to_string),
            name: text(object.get("metadata").and_then(|m| m.get("name"))),
        }
    }
}

#[derive(Debug, Clone)]
pub enum ApplyError {
    /// The kind is not served yet, or an admission webhook did not answer: retry later.
    Race(String),
    /// An immutable field changed: only deleting and recreating the object applies it.
    Immutable(ObjectRef, String),
    /// The object (or its namespace) is being deleted.
    Terminating(ObjectRef, String),
    Failed(String),
}

impl std::fmt::Display for ApplyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApplyError::Race(m) | ApplyError::Failed(m) => f.write_str(m),
            ApplyError::Immutable(o, m) => write!(f, "{o}: {m}"),
            ApplyError::Terminating(o, m) => write!(f, "{o}: {m}"),
        }
    }
}

/// One cluster's applier, with discovery answers cached for the run.
pub struct Applier {
    client: Client,
    discovered: Mutex<HashMap<(String, String), (ApiResource, ApiCapabilities)>>,
}

fn gvk_of(api_version: &str, kind: &str) -> GroupVersionKind {
    match api_version.split_once('/') {
        Some((group, version)) => GroupVersionKind::gvk(group, version, kind),
        None => GroupVersionKind::gvk("", api_version, kind),
    }
}

fn classify(object: &ObjectRef, e: kube::Error) -> ApplyError {
    let message = match &e {
        kube::Error::Api(status) => format!("{} ({})", status.message, status.code),
        other => other.to_string(),
    };
    let lower = message.to_ascii_lowercase();
    if lower.contains("field is immutable") {
        ApplyError::Immutable(object.clone(), message)
    } else if lower.contains("being deleted") || lower.contains("being terminated") {
        ApplyError::Terminating(object.clone(), message)
    } else if lower.contains("failed calling webhook") {
        ApplyError::Race(format!("{object}: {message}"))
    } else {
        ApplyError::Failed(format!("{object}: {message}"))
    }
}

impl Applier {
    pub fn new(client: Client) -> Applier {
        Applier {
            client,
            discovered: Mutex::new(HashMap::new()),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The API for an object's kind and namespace; a kind the server does not serve is a race.
    pub async fn api(&self, object: &ObjectRef) -> Result<(Api<DynamicObject>, Scope), ApplyError> {
        let key = (object.api_version.clone(), object.kind.clone());
        let cached = self
            .discovered
            .lock()
            .expect("discovery")
            .get(&key)
            .cloned();
        let (resource, caps) = match cached {
            Some(found) => found,
            None => {
                let gvk = gvk_of(&object.api_version, &object.kind);
                let found = kube::discovery::pinned_kind(&self.client, &gvk)
                    .await
                    .map_err(|e| match e {
                        kube::Error::Api(s) if s.code == 404 => ApplyError::Race(format!(
                            "{object}: no matches for kind {} in version {} (its CRD is not served yet)",
                            object.kind, object.api_version
                        )),
                        kube::Error::Discovery(_) => ApplyError::Race(format!(
                            "{object}: no matches for kind {} in version {} (its CRD is not served yet)",
                            object.kind, object.api_version
                        )),
                        other => ApplyError::Failed(format!("{object}: discovery: {other}")),
                    })?;
                self.discovered
                    .lock()
                    .expect("discovery")
                    .insert(key, found.clone());
                found
            }
        };
        let api = match caps.scope {
            Scope::Namespaced => Api::namespaced_with(
                self.client.clone(),
                object.namespace.as_deref().unwrap_or("default"),
                &resource,
            ),
            Scope::Cluster => Api::all_with(self.client.clone(), &resource),
        };
        Ok((api, caps.scope))
    }

    /// Server-side apply; returns the object's identity (namespace filled in) and its
    /// resourceVersion afterwards.
    pub async fn apply(&self, object: &Value) -> Result<(ObjectRef, String), ApplyError> {
        let mut id = ObjectRef::of(object);
        let (api, scope) = self.api(&id).await?;
        let mut body = object.clone();
        match scope {
            Scope::Namespaced => {
                let ns = id.namespace.clone().unwrap_or_else(|| "default".into());
                body["metadata"]["namespace"] = json!(ns);
                id.namespace = Some(ns);
            }
            Scope::Cluster => {
                if let Some(m) = body["metadata"].as_object_mut() {
                    m.remove("namespace");
                }
                id.namespace = None;
            }
        }
        let params = PatchParams::apply(FIELD_MANAGER).force();
        let applied = api
            .patch(&id.name, &params, &Patch::Apply(&body))
            .await
            .map_err(|e| classify(&id, e))?;
        Ok((id, applied.metadata.resource_version.unwrap_or_default()))
    }

    /// Deletes an object (its dependents in the background); false when it was already gone.
    pub async fn delete(&self, object: &ObjectRef) -> Result<bool, ApplyError> {
        let (api, _) = self.api(object).await?;
        match api.delete(&object.name, &DeleteParams::background()).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(false),
            Err(e) => Err(classify(object, e)),
        }
    }

    /// Removes the finalizers of an object stuck being deleted, which completes its deletion.
    pub async fn clear_finalizers(&self, object: &ObjectRef) -> Result<(), ApplyError> {
        let (api, _) = self.api(object).await?;
        let patch = json!({"metadata": {"finalizers": null}});
        match api
            .patch(&object.name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(classify(object, e)),
        }
    }

    /// Completes a Terminating namespace's deletion: its `spec.finalizers` emptied through
    /// the `finalize` subresource. Every object still in it is lost.
    pub async fn finalize_namespace(&self, name: &str) -> Result<(), ApplyError> {
        let id = ObjectRef {
            api_version: "v1".into(),
            kind: "Namespace".into(),
            namespace: None,
            name: name.to_string(),
        };
        let (api, _) = self.api(&id).await?;
        let Some(mut live) = api.get_opt(name).await.map_err(|e| classify(&id, e))? else {
            return Ok(());
        };
        if live.metadata.deletion_timestamp.is_none() {
            return Ok(());
        }
        live.data["spec"]["finalizers"] = json!([]);
        api.replace_subresource("finalize", name, &PostParams::default(), &live)
            .await
            .map(|_| ())
            .map_err(|e| classify(&id, e))
    }
}
