//! The `kubectl-apply` import on kube-rs (no kubectl process). Guards cluster access: a driver
//! reaches its own cluster through the kubeconfig it wrote (`ctx.kubeconfig`, its own folder:
//! it never sees another cluster's) and other clusters only by a granted domain, whose
//! kubeconfig `lo` published; both are vetted ([`vetted`]) before any connection, and every
//! object read or written must be in a granted namespace and of a granted kind. Writes are
//! server-side apply under a field manager.

pub mod grant;
pub mod vetted;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use kube::Client;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::discovery::{ApiCapabilities, ApiResource, Scope};
use sha2::{Digest as _, Sha256};

use crate::contract::kubectl_apply as wit;
use crate::contract::types::DriverError;
use crate::host::http::allowlist::Allowlist;
use crate::host::kube::grant::KubeGrant;
use crate::host::refusal::Call;
use crate::project::{Inside, Project};
use vetted::Vetted;

const POLL: Duration = Duration::from_millis(500);
const MAX_WAIT: Duration = Duration::from_secs(3600);

/// The driver's own kubeconfig: the guest path it knows it by and the folder lo gave it.
pub struct OwnKubeconfig {
    /// `.kubeconfig/<name>.yaml`, as `ctx.kubeconfig` says.
    pub guest: String,
    /// The driver's kubeconfig folder (the guest's `.kubeconfig/`).
    pub folder: Inside,
    /// `<name>.yaml`.
    pub file: String,
}

/// One driver's Kubernetes access.
pub struct KubeCtx {
    grant: KubeGrant,
    servers: Allowlist,
    own: OwnKubeconfig,
    project: Project,
    refuse: crate::host::refusal::Refusals,
    /// Clients by the digest of the kubeconfig bytes (and servers rule) they were made from.
    clients: HashMap<[u8; 32], Client>,
    /// Discovery answers per (kubeconfig, apiVersion, kind): one lookup per run, not per call.
    discovered: HashMap<([u8; 32], String, String), (ApiResource, ApiCapabilities)>,
}

/// `group/Kind`, or `Kind` for the core group, as grants spell it.
fn kind_key(gvk: &GroupVersionKind) -> String {
    if gvk.group.is_empty() {
        gvk.kind.clone()
    } else {
        format!("{}/{}", gvk.group, gvk.kind)
    }
}

/// Whether the grant lets a driver touch `kind` objects in `namespace` (None: cluster-scoped,
/// which needs the `*` namespace grant, except a granted namespace's own `Namespace` object,
/// `name`).
pub fn allowed(grant: &KubeGrant, kind: &str, namespace: Option<&str>, name: Option<&str>) -> bool {
    let kind_ok = grant
        .kinds
        .iter()
        .any(|k| k == "*" || k.eq_ignore_ascii_case(kind));
    let own_namespace = kind == "Namespace" && namespace.is_none();
    let ns_ok = grant.namespaces.iter().any(|n| {
        n == "*" || Some(n.as_str()) == namespace || (own_namespace && Some(n.as_str()) == name)
    });
    kind_ok && ns_ok
}

fn gvk_of(api_version: &str, kind: &str) -> GroupVersionKind {
    match api_version.split_once('/') {
        Some((group, version)) => GroupVersionKind::gvk(group, version, kind),
        None => GroupVersionKind::gvk("", api_version, kind),
    }
}

fn api_error(what: &str, e: kube::Error) -> DriverError {
    match e {
        kube::Error::Api(status) if status.code == 404 => {
            DriverError::NotFound(format!("{what}: {}", status.message))
        }
        kube::Error::Api(status) if status.code == 409 => DriverError::Failed(format!(
            "{what}: conflict: {} (apply with force to take over the fields)",
            status.message
        )),
        kube::Error::Api(status) => {
            DriverError::Failed(format!("{what}: {} ({})", status.message, status.code))
        }
        other => DriverError::Unavailable(format!("{what}: {other}")),
    }
}

impl KubeCtx {
    /// The context a grant gives a driver at `site`: its own cluster through the kubeconfig
    /// in its folder, other clusters by granted domain.
    /// `spec:`/`env:` entries in `namespaces` and `clusters` are the operator's values now.
    pub fn from_grant(
        grant: &KubeGrant,
        site: &crate::host::Site,
        folders: &crate::host::files::DriverFolders,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, String> {
        let values = crate::host::operator::OperatorValues {
            spec: site.spec,
            spec_dir: site.spec_dir,
            env,
        };
        let mut grant = grant.clone();
        grant.namespaces = crate::host::operator::resolve(&grant.namespaces, &values)?;
        grant.clusters = crate::host::operator::resolve(&grant.clusters, &values)?;
        let own = OwnKubeconfig {
            guest: format!(".kubeconfig/{}", folders.kubeconfig_file),
            folder: folders.kubeconfigs.try_clone().map_err(|e| e.to_string())?,
            file: folders.kubeconfig_file.clone(),
        };
        KubeCtx::new(grant, own, site.project.clone(), site.hint.to_string())
            .map_err(|e| format!("kube.servers: {e}"))
    }

    pub fn new(
        grant: KubeGrant,
        own: OwnKubeconfig,
        project: Project,
        hint: String,
    ) -> Result<Self, String> {
        let servers = vetted::servers_rule(&grant.servers, &[])?;
        Ok(KubeCtx {
            grant,
            servers,
            own,
            project,
            refuse: crate::host::refusal::Refusals::new("kubectl-apply", hint),
            clients: HashMap::new(),
            discovered: HashMap::new(),
        })
    }

    /// The kubeconfig a cluster reference names (read now, every call: the driver may have
    /// rewritten it), where it is shown, and whether it is the driver's own (whose server must
    /// meet `kube.servers`; a granted domain's was published by `lo` only after its server met
    /// its own driver's `kube.servers`, or was written by the user).
    fn kubeconfig(&self, cluster: &wit::Cluster) -> Result<(Vec<u8>, String, bool), DriverError> {
        let (bytes, shown, own) = match cluster {
            wit::Cluster::Kubeconfig(path) => {
                if path != &self.own.guest {
                    return Err(self.refuse.never(
                        format!("kubeconfig {path:?}"),
                        format!(
                            "a driver uses its own cluster's kubeconfig ({}), and other clusters by domain (kube.clusters)",
                            self.own.guest
                        ),
                    ));
                }
                let bytes = self
                    .own
                    .folder
                    .read(&self.own.file, vetted::MAX_BYTES)
                    .map_err(|e| {
                        if e.is_not_found() {
                            DriverError::NotFound(format!(
                                "kubeconfig {path:?}: write it before using it"
                            ))
                        } else {
                            DriverError::Failed(format!("kubeconfig {path:?}: {e}"))
                        }
                    })?;
                (bytes, path.clone(), true)
            }
            wit::Cluster::Domain(domain) => {
                if !self.grant.clusters.iter().any(|c| c == "*" || c == domain) {
                    return Err(self.refuse.denied(
                        format!("cluster {domain:?}"),
                        format!("add \"{domain}\" to kube.clusters"),
                    ));
                }
                crate::project::validate_domain(domain)
                    .map_err(|e| DriverError::Failed(e.to_string()))?;
                let file = self.project.published_kubeconfig(domain, vetted::MAX_BYTES);
                let (bytes, file) = file.map_err(|e| {
                    DriverError::NotFound(format!(
                        "cluster domain {domain:?}: no kubeconfig ({e}); provision it first"
                    ))
                })?;
                (bytes, format!(".kubeconfig/{file}"), false)
            }
        };
        Ok((bytes, shown, own))
    }

    /// The client for a cluster, with the digest of the kubeconfig bytes it was made from:
    /// the same bytes (and rule) reuse the client made when they were vetted.
    async fn client(&mut self, cluster: &wit::Cluster) -> Result<([u8; 32], Client), DriverError> {
        let (bytes, shown, own) = self.kubeconfig(cluster)?;
        let digest: [u8; 32] = Sha256::new()
            .chain_update([u8::from(own)])
            .chain_update(&bytes)
            .finalize()
            .into();
        if let Some(c) = self.clients.get(&digest) {
            return Ok((digest, c.clone()));
        }
        let vetted = Vetted::parse(&bytes)
            .map_err(|e| DriverError::Denied(format!("kubeconfig {shown}: {e}")))?;
        // A granted domain's kubeconfig was vetted when lo published it (or the user wrote it):
        // its server may be anywhere, this machine included (a local management cluster).
        let everywhere = vetted::published_servers_rule();
        let servers = if own { &self.servers } else { &everywhere };
        let client = vetted.client(servers).await.map_err(|e| {
            let what = match cluster {
                wit::Cluster::Kubeconfig(p) => format!("kubeconfig {p}"),
                wit::Cluster::Domain(d) => format!("cluster {d}"),
            };
            if e.contains("kube.servers") {
                self.refuse.denied(&what, e)
            } else {
                DriverError::Denied(format!("kubectl-apply {what}: {e}"))
            }
        })?;
        self.clients.insert(digest, client.clone());
        Ok((digest, client))
    }

    /// Discovery, then the grant check, then an `Api` for the object's namespace.
    /// [`Self::api_for`] the object `o` names.
    async fn api_for_object(
        &mut self,
        cluster: &wit::Cluster,
        o: &wit::ObjectRef,
        action: &str,
    ) -> Result<(Api<DynamicObject>, ApiResource, Option<String>), DriverError> {
        let namespace = o.namespace.as_deref();
        let name = Some(o.name.as_str());
        self.api_for(cluster, &o.api_version, &o.kind, namespace, name, action)
            .await
    }

    async fn api_for(
        &mut self,
        cluster: &wit::Cluster,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: Option<&str>,
        action: &str,
    ) -> Result<(Api<DynamicObject>, ApiResource, Option<String>), DriverError> {
        let (digest, client) = self.client(cluster).await?;
        let gvk = gvk_of(api_version, kind);
        let key = (digest, api_version.to_string(), kind.to_string());
        let (resource, caps) = match self.discovered.get(&key) {
            Some(found) => found.clone(),
            None => {
                let found = kube::discovery::pinned_kind(&client, &gvk)
                    .await
                    .map_err(|e| api_error(&format!("{action} {api_version} {kind}"), e))?;
                self.discovered.insert(key, found.clone());
                found
            }
        };
        let namespace = match caps.scope {
            Scope::Namespaced => Some(namespace.unwrap_or("default").to_string()),
            Scope::Cluster => None,
        };
        let key = kind_key(&gvk);
        if !allowed(&self.grant, &key, namespace.as_deref(), name) {
            let place = namespace
                .as_deref()
                .map(|n| format!("namespace {n}"))
                .unwrap_or_else(|| "cluster scope".into());
            return Err(self.refuse.denied(
                format!("{action} {key} in {place}"),
                format!(
                    "granted kinds [{}] in namespaces [{}]; add the kind to kube.kinds and the namespace to kube.namespaces (\"*\" for cluster-scoped objects)",
                    self.grant.kinds.join(", "),
                    self.grant.namespaces.join(", ")
                ),
            ));
        }
        let api = match &namespace {
            Some(ns) => Api::namespaced_with(client, ns, &resource),
            None => Api::all_with(client, &resource),
        };
        Ok((api, resource, namespace))
    }

    async fn apply(
        &mut self,
        cluster: wit::Cluster,
        manifests: String,
        options: wit::ApplyOptions,
    ) -> Result<Vec<wit::Applied>, DriverError> {
        if options.field_manager.trim().is_empty() {
            return Err(DriverError::Failed(
                "apply: field-manager must not be empty".into(),
            ));
        }
        let mut applied = Vec::new();
        for (i, object) in parse_documents(&manifests)?.into_iter().enumerate() {
            let types = object.types.clone().ok_or_else(|| {
                DriverError::Failed(format!("apply: document {}: no apiVersion/kind", i + 1))
            })?;
            let name = object.metadata.name.clone().ok_or_else(|| {
                DriverError::Failed(format!("apply: document {}: no metadata.name", i + 1))
            })?;
            let (api, _, namespace) = self
                .api_for(
                    &cluster,
                    &types.api_version,
                    &types.kind,
                    object.metadata.namespace.as_deref(),
                    Some(&name),
                    "apply",
                )
                .await?;
            let what = format!("apply {} {name}", types.kind);
            let existed = api
                .get_opt(&name)
                .await
                .map_err(|e| api_error(&what, e))?
                .is_some();
            let mut params = PatchParams::apply(&options.field_manager);
            params.force = options.force;
            api.patch(&name, &params, &Patch::Apply(&object))
                .await
                .map_err(|e| api_error(&what, e))?;
            applied.push(wit::Applied {
                object: wit::ObjectRef {
                    api_version: types.api_version,
                    kind: types.kind,
                    namespace,
                    name,
                },
                created: !existed,
            });
        }
        Ok(applied)
    }

    async fn get(
        &mut self,
        cluster: wit::Cluster,
        o: wit::ObjectRef,
    ) -> Result<Option<String>, DriverError> {
        let (api, _, _) = self.api_for_object(&cluster, &o, "get").await?;
        let found = api
            .get_opt(&o.name)
            .await
            .map_err(|e| api_error(&format!("get {} {}", o.kind, o.name), e))?;
        Ok(found.map(|obj| serde_json::to_string(&obj).unwrap_or_default()))
    }

    async fn list(
        &mut self,
        cluster: wit::Cluster,
        api_version: String,
        kind: String,
        namespace: Option<String>,
        selector: Option<String>,
    ) -> Result<Vec<String>, DriverError> {
        let (api, _, _) = self
            .api_for(
                &cluster,
                &api_version,
                &kind,
                namespace.as_deref(),
                None,
                "list",
            )
            .await?;
        let mut params = ListParams::default();
        if let Some(s) = selector {
            params = params.labels(&s);
        }
        let list = api
            .list(&params)
            .await
            .map_err(|e| api_error(&format!("list {kind}"), e))?;
        Ok(list
            .items
            .iter()
            .map(|o| serde_json::to_string(o).unwrap_or_default())
            .collect())
    }

    async fn delete(
        &mut self,
        cluster: wit::Cluster,
        o: wit::ObjectRef,
    ) -> Result<bool, DriverError> {
        let (api, _, _) = self.api_for_object(&cluster, &o, "delete").await?;
        match api.delete(&o.name, &DeleteParams::default()).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(false),
            Err(e) => Err(api_error(&format!("delete {} {}", o.kind, o.name), e)),
        }
    }

    async fn wait(
        &mut self,
        cluster: wit::Cluster,
        o: wit::ObjectRef,
        until: wit::WaitFor,
        timeout_seconds: u32,
    ) -> Result<String, DriverError> {
        let (api, _, _) = self.api_for_object(&cluster, &o, "wait for").await?;
        let timeout = Duration::from_secs(timeout_seconds.into()).min(MAX_WAIT);
        let deadline = Instant::now() + timeout;
        let what = format!("wait for {} {}", o.kind, o.name);
        loop {
            let found = api
                .get_opt(&o.name)
                .await
                .map_err(|e| api_error(&what, e))?;
            let json = found
                .as_ref()
                .map(|obj| serde_json::to_value(obj).unwrap_or_default());
            let done = match (&until, &json) {
                (wit::WaitFor::Deleted, None) => return Ok(String::new()),
                (wit::WaitFor::Deleted, Some(_)) => false,
                (_, None) => false,
                (wit::WaitFor::Condition((kind, status)), Some(v)) => {
                    has_condition(v, kind, status)
                }
                (wit::WaitFor::Ready, Some(v)) => ready(&o.kind, v),
            };
            if done {
                return Ok(json.map(|v| v.to_string()).unwrap_or_default());
            }
            if Instant::now() >= deadline {
                return Err(DriverError::Timeout(format!(
                    "{what}: not there after {timeout:?}"
                )));
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

fn has_condition(v: &serde_json::Value, kind: &str, status: &str) -> bool {
    v["status"]["conditions"].as_array().is_some_and(|cs| {
        cs.iter()
            .any(|c| c["type"] == kind && c["status"] == status)
    })
}

/// The kind's own notion of ready; anything else is ready once it exists.
fn ready(kind: &str, v: &serde_json::Value) -> bool {
    let n = |p: &str| v.pointer(p).and_then(|x| x.as_i64()).unwrap_or(0);
    match kind {
        "Deployment" | "StatefulSet" => {
            n("/spec/replicas").max(1) <= n("/status/readyReplicas")
                && n("/status/observedGeneration") >= n("/metadata/generation")
        }
        "DaemonSet" => {
            n("/status/desiredNumberScheduled") > 0
                && n("/status/numberReady") >= n("/status/desiredNumberScheduled")
        }
        "Pod" | "Node" => has_condition(v, "Ready", "True"),
        _ => true,
    }
}

/// The YAML (or JSON) documents of a manifest, parsed before any request is made.
fn parse_documents(manifests: &str) -> Result<Vec<DynamicObject>, DriverError> {
    use serde::Deserialize;
    let mut objects = Vec::new();
    for (i, doc) in serde_yaml::Deserializer::from_str(manifests).enumerate() {
        let bad =
            |e: serde_yaml::Error| DriverError::Failed(format!("apply: document {}: {e}", i + 1));
        let value = serde_yaml::Value::deserialize(doc).map_err(bad)?;
        if !value.is_null() {
            objects.push(serde_yaml::from_value(value).map_err(bad)?);
        }
    }
    Ok(objects)
}

impl wit::Host for super::HostState {
    async fn apply(
        &mut self,
        cluster: wit::Cluster,
        manifests: String,
        options: wit::ApplyOptions,
    ) -> Call<Vec<wit::Applied>> {
        Ok(self.kube()?.apply(cluster, manifests, options).await)
    }

    async fn get(&mut self, cluster: wit::Cluster, object: wit::ObjectRef) -> Call<Option<String>> {
        Ok(self.kube()?.get(cluster, object).await)
    }

    async fn list(
        &mut self,
        cluster: wit::Cluster,
        api_version: String,
        kind: String,
        namespace: Option<String>,
        label_selector: Option<String>,
    ) -> Call<Vec<String>> {
        Ok(self
            .kube()?
            .list(cluster, api_version, kind, namespace, label_selector)
            .await)
    }

    async fn delete(&mut self, cluster: wit::Cluster, object: wit::ObjectRef) -> Call<bool> {
        Ok(self.kube()?.delete(cluster, object).await)
    }

    async fn wait(
        &mut self,
        cluster: wit::Cluster,
        object: wit::ObjectRef,
        until: wit::WaitFor,
        timeout_seconds: u32,
    ) -> Call<String> {
        Ok(self
            .kube()?
            .wait(cluster, object, until, timeout_seconds)
            .await)
    }
}

impl super::HostState {
    fn kube(&mut self) -> wasmtime::Result<&mut KubeCtx> {
        crate::host::refusal::granted(&mut self.kube, "kubectl-apply")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_by_kind_and_namespace() {
        let g = KubeGrant {
            namespaces: vec!["kube-system".into()],
            kinds: vec!["ConfigMap".into(), "apps/Deployment".into()],
            ..Default::default()
        };
        assert!(allowed(&g, "ConfigMap", Some("kube-system"), None));
        assert!(allowed(&g, "apps/Deployment", Some("kube-system"), None));
        assert!(!allowed(&g, "Secret", Some("kube-system"), None));
        assert!(!allowed(&g, "ConfigMap", Some("default"), None));
        assert!(
            !allowed(&g, "ConfigMap", None, None),
            "cluster scope needs namespaces = [\"*\"]"
        );
        let all = KubeGrant {
            namespaces: vec!["*".into()],
            kinds: vec!["*".into()],
            ..Default::default()
        };
        assert!(allowed(
            &all,
            "rbac.authorization.k8s.io/ClusterRole",
            None,
            None
        ));
        let own = KubeGrant {
            namespaces: vec!["capi-workloads".into()],
            kinds: vec!["Namespace".into()],
            ..Default::default()
        };
        assert!(allowed(&own, "Namespace", None, Some("capi-workloads")));
        assert!(!allowed(&own, "Namespace", None, Some("kube-system")));
        assert!(
            !allowed(&own, "Namespace", None, None),
            "listing namespaces needs \"*\""
        );
    }

    #[test]
    fn kind_keys_and_readiness() {
        assert_eq!(kind_key(&gvk_of("v1", "ConfigMap")), "ConfigMap");
        assert_eq!(
            kind_key(&gvk_of("apps/v1", "Deployment")),
            "apps/Deployment"
        );
        let d = serde_json::json!({"metadata": {"generation": 2}, "spec": {"replicas": 2}, "status": {"readyReplicas": 2, "observedGeneration": 2}});
        assert!(ready("Deployment", &d));
        let not = serde_json::json!({"metadata": {"generation": 2}, "spec": {"replicas": 2}, "status": {"readyReplicas": 1, "observedGeneration": 2}});
        assert!(!ready("Deployment", &not));
        assert!(ready("ConfigMap", &serde_json::json!({})));
    }
}
