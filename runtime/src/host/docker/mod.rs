//! The `docker` import, on a real engine through bollard. Guards against a driver touching
//! what is not its own: every object it creates carries its scope labels; it may change, exec
//! into, inspect or delete only objects with its cluster's labels (acting on the ID it checked),
//! plus shared networks its grant names; containers join only networks it owns (never the
//! default bridge) and publish on loopback unless granted; bind mounts only of granted host
//! paths (never the project, never a daemon socket), read-only and nosuid unless granted
//! otherwise, checked again at start; no device nodes; pulls and tags only of granted
//! repositories; privileged containers and loosened confinement only with the privileged grant.

mod convert;
pub mod engine;
pub mod engine_ssh;
pub mod grant;
pub mod images;
pub mod networks;
mod ops;
pub mod policy;
pub mod spec_fields;

use std::collections::HashMap;
use std::path::PathBuf;

use bollard::Docker;

use crate::contract::docker as wit;
use crate::contract::types::{DriverError, ExecOutput};
use crate::host::docker::grant::DockerGrant;
pub use engine::Engine;
pub use ops::PrivilegedMode;
use policy::Scope;

use crate::host::refusal::{Call, granted};

/// One driver's view of Docker.
pub struct DockerCtx {
    grant: DockerGrant,
    scope: Scope,
    /// Host paths no container may bind: the project, and folders lo keeps private.
    protected: Vec<PathBuf>,
    privileged_mode: PrivilegedMode,
    /// The engine; on another machine (`DOCKER_HOST`) bind sources are its paths.
    engine: Engine,
    /// Routes and interfaces of the engine's machine (none known for a remote engine).
    host: networks::HostFacts,
    refuse: crate::host::refusal::Refusals,
    client: Option<Docker>,
}

impl DockerCtx {
    /// The context a grant gives a driver at `site`: objects labelled for its cluster; the
    /// project and the local CA's folder never bound into a container.
    pub fn from_grant(grant: &DockerGrant, site: &super::Site) -> Result<Self, String> {
        let root = site
            .project
            .root()
            .canonicalize()
            .map_err(|e| format!("the project folder: {e}"))?;
        let scope = Scope {
            project: root.display().to_string(),
            cluster: site.domain.to_string(),
            driver: site.driver.to_string(),
        };
        let protected = vec![root, site.caroot.to_path_buf()];
        DockerCtx::new(
            grant.clone(),
            scope,
            protected,
            site.privileged_mode,
            site.engine.clone(),
            site.hint.to_string(),
        )
    }

    /// `protected`: host paths no container may bind (the project root first).
    pub fn new(
        grant: DockerGrant,
        scope: Scope,
        protected: Vec<PathBuf>,
        privileged_mode: PrivilegedMode,
        engine: Engine,
        hint: String,
    ) -> Result<Self, String> {
        if let Some(bad) = grant
            .shared_networks
            .iter()
            .find_map(|n| networks::check_name(n).err())
        {
            return Err(format!("docker grant, shared-networks: {bad}"));
        }
        let remote = engine.is_remote();
        Ok(DockerCtx {
            grant,
            scope,
            protected,
            privileged_mode,
            engine,
            host: if remote {
                networks::HostFacts::default()
            } else {
                networks::read_host_facts()
            },
            refuse: crate::host::refusal::Refusals::new("docker", hint),
            client: None,
        })
    }

    async fn client(&mut self) -> Result<Docker, DriverError> {
        if let Some(c) = &self.client {
            return Ok(c.clone());
        }
        let client = self.engine.connect().await.map_err(|e| {
            DriverError::Unavailable(format!(
                "cannot reach the Docker engine ({e}); start dockerd, or point DOCKER_HOST at a running engine"
            ))
        })?;
        self.client = Some(client.clone());
        Ok(client)
    }

    /// The container if it exists: `Ok(None)` when absent, denied when not ours.
    async fn own_container(
        &mut self,
        name: &str,
        action: &str,
    ) -> Result<Option<bollard::models::ContainerInspectResponse>, DriverError> {
        policy::check_object_name("container", name).map_err(|e| {
            self.refuse
                .denied(format!("{action} container {name:?}"), &e)
        })?;
        let docker = self.client().await?;
        match docker.inspect_container(name, None).await {
            Ok(c) => {
                let labels = c
                    .config
                    .as_ref()
                    .and_then(|c| c.labels.clone())
                    .unwrap_or_default();
                if policy::usable(&self.scope, &self.grant, &labels) {
                    Ok(Some(c))
                } else {
                    Err(self.refuse.denied(
                        format!("{action} container {name:?}"),
                        format!(
                            "it does not belong to cluster {} of this project",
                            self.scope.cluster
                        ),
                    ))
                }
            }
            Err(e) if convert::is_not_found(&e) => Ok(None),
            Err(e) => Err(convert::error(e)),
        }
    }

    /// The ID of our container, or not found: calls act on it, not on the name again.
    async fn container_id(&mut self, name: &str, action: &str) -> Result<String, DriverError> {
        self.own_container(name, action)
            .await?
            .and_then(|c| c.id)
            .ok_or_else(|| DriverError::NotFound(format!("container {name:?}")))
    }
}

impl wit::Host for super::HostState {
    async fn create_network(&mut self, spec: wit::NetworkSpec) -> Call<wit::NetworkInfo> {
        let d = self.docker()?;
        Ok(d.create_network(spec).await)
    }

    async fn inspect_network(&mut self, name: String) -> Call<Option<wit::NetworkInfo>> {
        let d = self.docker()?;
        Ok(d.usable_network(&name, "inspect")
            .await
            .map(|n| n.map(convert::network_info)))
    }

    async fn connect_network(&mut self, container: String, endpoint: wit::Endpoint) -> Call<()> {
        let d = self.docker()?;
        Ok(d.connect_network(container, endpoint).await)
    }

    async fn disconnect_network(&mut self, container: String, network: String) -> Call<()> {
        let d = self.docker()?;
        Ok(d.disconnect_network(container, network).await)
    }

    async fn remove_network(&mut self, name: String) -> Call<bool> {
        let d = self.docker()?;
        Ok(d.remove_network(name).await)
    }

    async fn create_volume(&mut self, spec: wit::VolumeSpec) -> Call<()> {
        let d = self.docker()?;
        Ok(d.create_volume(spec).await)
    }

    async fn remove_volume(&mut self, name: String) -> Call<bool> {
        let d = self.docker()?;
        Ok(d.remove_volume(name).await)
    }

    async fn inspect_image(&mut self, reference: String) -> Call<Option<wit::ImageInfo>> {
        let d = self.docker()?;
        Ok(d.inspect_image(reference).await)
    }

    async fn pull_image(&mut self, reference: String) -> Call<wit::ImageInfo> {
        let log = self.log.clone();
        let d = self.docker()?;
        Ok(d.pull_image(reference, &log).await)
    }

    async fn tag_image(&mut self, source: String, target: String) -> Call<()> {
        let d = self.docker()?;
        Ok(d.tag_image(source, target).await)
    }

    async fn create_container(&mut self, spec: wit::ContainerSpec) -> Call<wit::ContainerInfo> {
        let d = self.docker()?;
        Ok(d.create_container(spec).await)
    }

    async fn start_container(&mut self, name: String) -> Call<()> {
        let d = self.docker()?;
        Ok(d.start_container(name).await)
    }

    async fn stop_container(&mut self, name: String, timeout_seconds: Option<u32>) -> Call<()> {
        let d = self.docker()?;
        Ok(d.stop_container(name, timeout_seconds).await)
    }

    async fn remove_container(&mut self, name: String, force: bool) -> Call<bool> {
        let d = self.docker()?;
        Ok(d.remove_container(name, force).await)
    }

    async fn inspect_container(&mut self, name: String) -> Call<Option<wit::ContainerInfo>> {
        let d = self.docker()?;
        Ok(d.own_container(&name, "inspect")
            .await
            .map(|c| c.map(convert::container_info)))
    }

    async fn list_containers(
        &mut self,
        labels: wit::Labels,
        include_stopped: bool,
    ) -> Call<Vec<wit::ContainerInfo>> {
        let d = self.docker()?;
        Ok(d.list_containers(labels, include_stopped).await)
    }

    async fn exec(&mut self, spec: wit::ExecSpec) -> Call<ExecOutput> {
        let d = self.docker()?;
        Ok(d.exec(spec).await)
    }

    async fn copy_file(
        &mut self,
        container: String,
        path: String,
        contents: Vec<u8>,
        mode: u32,
    ) -> Call<()> {
        let d = self.docker()?;
        Ok(d.copy_file(container, path, contents, mode).await)
    }

    async fn logs(&mut self, container: String, tail: Option<u32>) -> Call<String> {
        let d = self.docker()?;
        Ok(d.logs(container, tail).await)
    }
}

impl super::HostState {
    /// The docker context; a driver without the grant never gets here (its import is refused
    /// at load), but a call without one traps rather than reaching the engine.
    fn docker(&mut self) -> wasmtime::Result<&mut DockerCtx> {
        granted(&mut self.docker, "docker")
    }
}

/// Labels as the WIT list.
fn labels_list(map: Option<HashMap<String, String>>) -> Vec<(String, String)> {
    let mut v: Vec<_> = map.unwrap_or_default().into_iter().collect();
    v.sort();
    v
}
