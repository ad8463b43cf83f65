//! The docker operations behind the import. Each checks every name it is given before the
//! engine sees it, checks scope and grant, and then acts on the object's ID as inspected (never
//! on a name the engine would resolve again); starting a container re-checks its mounts.

use std::collections::HashMap;

use bollard::models::{
    ContainerCreateBody, EndpointIpamConfig, EndpointSettings, HostConfig,
    HostConfigCgroupnsModeEnum, Ipam, IpamConfig, Mount, MountType, MountVolumeOptions,
    MountVolumeOptionsDriverConfig, NetworkConnectRequest, NetworkCreateRequest,
    NetworkDisconnectRequest, NetworkingConfig, PortBinding, RestartPolicy, VolumeCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptions, CreateImageOptions, ListContainersOptions, LogsOptions,
    RemoveContainerOptions, RemoveVolumeOptions, StopContainerOptions, TagImageOptions,
    UploadToContainerOptions,
};
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use super::{DockerCtx, convert, images, networks, policy};
use crate::contract::docker as wit;
use crate::contract::types::{DriverError, ExecOutput};
use crate::host::Logger;

/// How `privileged: true` is carried out: an operator setting (`LO_PRIVILEGED_MODE`), never a
/// driver's choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PrivilegedMode {
    /// Docker's `--privileged`.
    Privileged,
    /// Every capability the host has (`cap-add ALL`, `cap-drop SYS_RESOURCE`), unconfined
    /// system paths, seccomp and AppArmor, and all devices: for hosts whose kernel refuses
    /// `--privileged` ("unable to apply caps").
    Capabilities,
}

/// Most bytes of exec output or logs handed back to a driver.
const MAX_OUTPUT: usize = 16 << 20;
/// The label on the anonymous volume that carries a read-only host path into a container.
const LABEL_HOST_PATH: &str = "dev.lok8s.host-path";

impl DockerCtx {
    pub(super) async fn create_network(
        &mut self,
        spec: wit::NetworkSpec,
    ) -> Result<wit::NetworkInfo, DriverError> {
        let what = format!("create network {:?}", spec.name);
        networks::check_spec(&spec, &self.grant, &self.host)
            .map_err(|e| self.refuse.denied(&what, &e))?;
        let shared = policy::shared(&self.grant, &spec.name);
        let labels = if shared {
            let mut l: HashMap<String, String> = spec.labels.iter().cloned().collect();
            if l.keys().any(|k| k.starts_with("dev.lok8s.")) {
                return Err(self
                    .refuse
                    .denied(&what, "labels under dev.lok8s. are set by lo"));
            }
            l.insert(policy::LABEL_SHARED.into(), "true".into());
            l
        } else {
            self.scope
                .merge(&spec.labels)
                .map_err(|e| self.refuse.denied(&what, &e))?
        };
        let docker = self.client().await?;
        if !self.networks_named(&spec.name).await?.is_empty() {
            return Err(DriverError::Failed(format!(
                "{what}: a network of that name exists; inspect it (inspect-network) and use it, or remove it first"
            )));
        }
        let request = NetworkCreateRequest {
            name: spec.name.clone(),
            driver: Some("bridge".into()),
            internal: Some(spec.internal),
            ipam: Some(Ipam {
                config: Some(
                    spec.subnets
                        .iter()
                        .map(|s| IpamConfig {
                            subnet: Some(s.cidr.clone()),
                            gateway: s.gateway.clone(),
                            ..Default::default()
                        })
                        .collect(),
                ),
                ..Default::default()
            }),
            options: Some({
                let mut o: HashMap<String, String> = spec.options.iter().cloned().collect();
                if let Some(mtu) = spec.mtu {
                    o.insert("com.docker.network.driver.mtu".into(), mtu.to_string());
                }
                o
            }),
            labels: Some(labels),
            ..Default::default()
        };
        let created = docker
            .create_network(request)
            .await
            .map_err(convert::error)?;
        // The engine allows two networks of one name: if another appeared meanwhile, the name
        // would be ambiguous for everyone, so this one goes again.
        if self.networks_named(&spec.name).await?.len() > 1 {
            let _ = docker.remove_network(&created.id).await;
            return Err(DriverError::Failed(format!(
                "{what}: another network of that name appeared meanwhile; nothing was created"
            )));
        }
        let created = docker
            .inspect_network(&created.id, None)
            .await
            .map_err(convert::error)?;
        Ok(convert::network_info(created))
    }

    /// IDs of the networks whose name is exactly `name`.
    async fn networks_named(&mut self, name: &str) -> Result<Vec<String>, DriverError> {
        let docker = self.client().await?;
        let options = bollard::query_parameters::ListNetworksOptions {
            filters: Some(HashMap::from([(
                "name".to_string(),
                vec![name.to_string()],
            )])),
        };
        let found = docker
            .list_networks(Some(options))
            .await
            .map_err(convert::error)?;
        Ok(found
            .into_iter()
            .filter(|n| n.name.as_deref() == Some(name))
            .filter_map(|n| n.id)
            .collect())
    }

    /// The network a driver names, if it exists and is ours or a granted shared one, by ID.
    pub(super) async fn usable_network(
        &mut self,
        name: &str,
        action: &str,
    ) -> Result<Option<bollard::models::NetworkInspect>, DriverError> {
        let what = format!("{action} network {name:?}");
        networks::check_name(name).map_err(|e| self.refuse.denied(&what, &e))?;
        let ids = self.networks_named(name).await?;
        let id = match ids.as_slice() {
            [] => return Ok(None),
            [id] => id.clone(),
            _ => {
                return Err(DriverError::Failed(format!(
                    "{what}: {} networks have that name; remove the extra ones (docker network ls)",
                    ids.len()
                )));
            }
        };
        let docker = self.client().await?;
        let network = match docker.inspect_network(&id, None).await {
            Ok(n) => n,
            Err(e) if convert::is_not_found(&e) => return Ok(None),
            Err(e) => return Err(convert::error(e)),
        };
        let labels = network.labels.clone().unwrap_or_default();
        if self.grant.spec_named.iter().any(|n| n == name)
            && labels.get(policy::LABEL_SHARED).map(String::as_str) != Some("true")
        {
            return Err(self.refuse.denied(
                &what,
                "the spec names it as the shared network, but lo did not create it as one (no dev.lok8s.shared label): \
                 it may be another cluster's; remove it (docker network rm) or name another network in the spec",
            ));
        }
        if self.scope.owns(&labels) || policy::shared(&self.grant, name) {
            Ok(Some(network))
        } else {
            Err(self.refuse.denied(
                &what,
                "it is neither this cluster's nor a shared network in the grant (shared-networks); \
                 if it is left from something else, remove it (docker network rm) or name the cluster's network differently",
            ))
        }
    }

    /// The ID of a usable network, or not found.
    async fn network_id(&mut self, name: &str, action: &str) -> Result<String, DriverError> {
        self.usable_network(name, action)
            .await?
            .and_then(|n| n.id)
            .ok_or_else(|| not_found("network", name))
    }

    pub(super) async fn connect_network(
        &mut self,
        container: String,
        endpoint: wit::Endpoint,
    ) -> Result<(), DriverError> {
        let id = self.container_id(&container, "connect").await?;
        let network = self.network_id(&endpoint.network, "connect to").await?;
        let docker = self.client().await?;
        let request = NetworkConnectRequest {
            container: id,
            endpoint_config: Some(endpoint_settings(&endpoint)),
        };
        docker
            .connect_network(&network, request)
            .await
            .map_err(convert::error)
    }

    pub(super) async fn disconnect_network(
        &mut self,
        container: String,
        network: String,
    ) -> Result<(), DriverError> {
        let id = self.container_id(&container, "disconnect").await?;
        let network = self.network_id(&network, "disconnect from").await?;
        let docker = self.client().await?;
        let request = NetworkDisconnectRequest {
            container: id,
            force: Some(true),
        };
        docker
            .disconnect_network(&network, request)
            .await
            .map_err(convert::error)
    }

    pub(super) async fn remove_network(&mut self, name: String) -> Result<bool, DriverError> {
        let Some(id) = self
            .usable_network(&name, "remove")
            .await?
            .and_then(|n| n.id)
        else {
            return Ok(false);
        };
        let docker = self.client().await?;
        match docker.remove_network(&id).await {
            Ok(()) => Ok(true),
            Err(e) if convert::is_not_found(&e) => Ok(false),
            Err(e) => Err(convert::error(e)),
        }
    }

    pub(super) async fn create_volume(&mut self, spec: wit::VolumeSpec) -> Result<(), DriverError> {
        let what = format!("create volume {:?}", spec.name);
        policy::check_object_name("volume", &spec.name)
            .map_err(|e| self.refuse.denied(&what, &e))?;
        let labels = policy::labels_for(&self.scope, &self.grant, &spec.labels)
            .map_err(|e| self.refuse.denied(&what, &e))?;
        let docker = self.client().await?;
        if let Ok(existing) = docker.inspect_volume(&spec.name).await {
            if !policy::usable(&self.scope, &self.grant, &existing.labels) {
                return Err(self.refuse.denied(
                    &what,
                    "a volume of that name exists and is not this cluster's",
                ));
            }
            return Ok(());
        }
        let request = VolumeCreateRequest {
            name: Some(spec.name),
            labels: Some(labels),
            ..Default::default()
        };
        docker
            .create_volume(request)
            .await
            .map(|_| ())
            .map_err(convert::error)
    }

    pub(super) async fn remove_volume(&mut self, name: String) -> Result<bool, DriverError> {
        let what = format!("remove volume {name:?}");
        policy::check_object_name("volume", &name).map_err(|e| self.refuse.denied(&what, &e))?;
        let docker = self.client().await?;
        match docker.inspect_volume(&name).await {
            Ok(v) if policy::usable(&self.scope, &self.grant, &v.labels) => {}
            Ok(_) => return Err(self.refuse.denied(&what, "it is not this cluster's")),
            Err(e) if convert::is_not_found(&e) => return Ok(false),
            Err(e) => return Err(convert::error(e)),
        }
        docker
            .remove_volume(&name, Some(RemoveVolumeOptions { force: true }))
            .await
            .map_err(convert::error)?;
        Ok(true)
    }

    pub(super) async fn inspect_image(
        &mut self,
        reference: String,
    ) -> Result<Option<wit::ImageInfo>, DriverError> {
        // Checked first: the reference goes into the engine's URL.
        images::check_reference(&reference).map_err(|e| {
            self.refuse
                .denied(format!("inspect image {reference:?}"), &e)
        })?;
        let docker = self.client().await?;
        match docker.inspect_image(&reference).await {
            Ok(i) => Ok(Some(convert::image_info(i))),
            Err(e) if convert::is_not_found(&e) => Ok(None),
            Err(e) => Err(convert::error(e)),
        }
    }

    pub(super) async fn pull_image(
        &mut self,
        reference: String,
        log: &Logger,
    ) -> Result<wit::ImageInfo, DriverError> {
        images::check(&self.grant, "pull", &reference)
            .map_err(|e| self.refuse.denied(format!("pull {reference:?}"), &e))?;
        let docker = self.client().await?;
        log.phase_begin(&format!("pulling {reference}"), None);
        let options = CreateImageOptions {
            from_image: Some(reference.clone()),
            ..Default::default()
        };
        let mut stream = docker.create_image(Some(options), None, None);
        let mut last = String::new();
        while let Some(item) = stream.next().await {
            match item {
                Ok(info) => {
                    let status = info.status.unwrap_or_default();
                    if status != last
                        && !status.starts_with("Downloading")
                        && !status.starts_with("Extracting")
                    {
                        log.phase_step(&status);
                        last = status;
                    }
                }
                Err(e) => {
                    log.phase_end(false, &e.to_string());
                    return Err(convert::error(e));
                }
            }
        }
        log.phase_end(true, "");
        let image = docker
            .inspect_image(&reference)
            .await
            .map_err(convert::error)?;
        Ok(convert::image_info(image))
    }

    pub(super) async fn tag_image(
        &mut self,
        source: String,
        target: String,
    ) -> Result<(), DriverError> {
        let what = format!("tag {source:?} as {target:?}");
        images::check_reference(&source).map_err(|e| self.refuse.denied(&what, &e))?;
        images::check(&self.grant, "tag", &target).map_err(|e| self.refuse.denied(&what, &e))?;
        let docker = self.client().await?;
        let (repo, tag) = match target.rsplit_once(':') {
            Some((r, t)) if !t.contains('/') => (r.to_string(), t.to_string()),
            _ => (target.clone(), "latest".to_string()),
        };
        let options = TagImageOptions {
            repo: Some(repo),
            tag: Some(tag),
        };
        docker
            .tag_image(&source, Some(options))
            .await
            .map_err(convert::error)
    }

    pub(super) async fn create_container(
        &mut self,
        spec: wit::ContainerSpec,
    ) -> Result<wit::ContainerInfo, DriverError> {
        let what = format!("create container {:?}", spec.name);
        policy::check_object_name("container", &spec.name)
            .map_err(|e| self.refuse.denied(&what, &e))?;
        let labels = policy::labels_for(&self.scope, &self.grant, &spec.labels)
            .map_err(|e| self.refuse.denied(&what, &e))?;
        if spec.privileged && !self.grant.privileged {
            return Err(self.refuse.denied(
                &what,
                "privileged containers need privileged = true in the docker grant",
            ));
        }
        if let Some(opt) = spec
            .security_opts
            .iter()
            .find(|o| !policy::security_opt_allowed(&self.grant, o))
        {
            return Err(self.refuse.denied(&what, format!("security option {opt:?} loosens confinement and needs privileged = true in the docker grant")));
        }
        if spec.cgroupns.as_deref() == Some("host") && !self.grant.privileged {
            return Err(self.refuse.denied(
                &what,
                "the host cgroup namespace needs privileged = true in the docker grant",
            ));
        }
        let mut mounts = Vec::new();
        let mut tmpfs = HashMap::new();
        for m in &spec.mounts {
            match m.kind {
                wit::MountKind::Bind => {
                    let source = self
                        .checked_bind(&m.source, m.read_only)
                        .map_err(|e| self.refused(&what, e))?;
                    if !matches!(spec.restart, wit::RestartPolicy::No) {
                        policy::restart_may_bind(&self.grant, &source).map_err(|e| {
                            self.refuse
                                .never(&what, format!("restart policy with bind mount: {e}"))
                        })?;
                    }
                    mounts.push(bind_mount(&source, &m.target, m.read_only, &self.scope));
                }
                wit::MountKind::Volume if m.source.is_empty() => {
                    // Anonymous: created with the container, removed with it.
                    mounts.push(Mount {
                        typ: Some(MountType::VOLUME),
                        target: Some(m.target.clone()),
                        read_only: Some(m.read_only),
                        ..Default::default()
                    });
                }
                wit::MountKind::Volume => {
                    policy::check_object_name("volume", &m.source)
                        .map_err(|e| self.refuse.denied(&what, &e))?;
                    let docker = self.client().await?;
                    match docker.inspect_volume(&m.source).await {
                        Ok(v) if policy::usable(&self.scope, &self.grant, &v.labels) => {}
                        Ok(_) => {
                            return Err(self.refuse.denied(
                                &what,
                                format!("volume {:?} is not this cluster's", m.source),
                            ));
                        }
                        Err(e) if convert::is_not_found(&e) => {
                            return Err(DriverError::NotFound(format!(
                                "volume {:?}: create it with create-volume first",
                                m.source
                            )));
                        }
                        Err(e) => return Err(convert::error(e)),
                    }
                    mounts.push(Mount {
                        typ: Some(MountType::VOLUME),
                        source: Some(m.source.clone()),
                        target: Some(m.target.clone()),
                        read_only: Some(m.read_only),
                        ..Default::default()
                    });
                }
                wit::MountKind::Tmpfs => {
                    tmpfs.insert(m.target.clone(), m.options.clone().unwrap_or_default());
                }
            }
        }
        // Never the engine's default bridge: a container joins a network the driver owns, or
        // none at all.
        let mut endpoints = HashMap::new();
        let network_mode = match &spec.network {
            Some(endpoint) => {
                let id = self.network_id(&endpoint.network, "attach to").await?;
                endpoints.insert(id.clone(), endpoint_settings(endpoint));
                id
            }
            None if !spec.ports.is_empty() => {
                return Err(self.refuse.denied(
                    &what,
                    "publishing ports needs a network of the cluster's own: create one (create-network) and name it in network",
                ));
            }
            None => "none".to_string(),
        };
        let mut port_bindings = HashMap::new();
        let mut exposed = Vec::new();
        for p in &spec.ports {
            let address = policy::port_address(&self.grant, &p.host_ip, p.host_port)
                .map_err(|e| self.refuse.denied(&what, &e))?;
            let key = format!("{}/{}", p.container_port, p.protocol);
            exposed.push(key.clone());
            port_bindings.insert(
                key,
                Some(vec![PortBinding {
                    host_ip: Some(address),
                    host_port: Some(p.host_port.map(|n| n.to_string()).unwrap_or_default()),
                }]),
            );
        }
        let mut host = HostConfig {
            mounts: Some(mounts),
            tmpfs: Some(tmpfs),
            port_bindings: Some(port_bindings),
            security_opt: Some(spec.security_opts.clone()),
            restart_policy: Some(RestartPolicy {
                name: Some(convert::restart_to_docker(spec.restart)),
                ..Default::default()
            }),
            cgroupns_mode: match spec.cgroupns.as_deref() {
                Some("host") => Some(HostConfigCgroupnsModeEnum::HOST),
                Some("private") => Some(HostConfigCgroupnsModeEnum::PRIVATE),
                _ => None,
            },
            init: Some(spec.init),
            network_mode: Some(network_mode),
            ..Default::default()
        };
        if spec.privileged {
            match self.privileged_mode {
                PrivilegedMode::Privileged => host.privileged = Some(true),
                PrivilegedMode::Capabilities => {
                    host.cap_add = Some(vec!["ALL".into()]);
                    host.cap_drop = Some(vec!["SYS_RESOURCE".into()]);
                    host.device_cgroup_rules = Some(vec!["a *:* rwm".into()]);
                    // The CLI's `systempaths=unconfined`: nothing masked, nothing read-only.
                    host.masked_paths = Some(vec![]);
                    host.readonly_paths = Some(vec![]);
                    let opts = host.security_opt.get_or_insert_with(Vec::new);
                    for o in ["seccomp=unconfined", "apparmor=unconfined"] {
                        if !opts.iter().any(|x| x == o) {
                            opts.push(o.into());
                        }
                    }
                }
            }
        } else {
            // Root in an ordinary container makes no device nodes, on a mount or anywhere.
            host.cap_drop = Some(vec!["MKNOD".into()]);
        }
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            hostname: spec.hostname.clone(),
            labels: Some(labels),
            env: Some(spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
            entrypoint: spec.entrypoint.clone(),
            cmd: spec.cmd.clone(),
            user: spec.user.clone(),
            working_dir: spec.working_dir.clone(),
            exposed_ports: Some(exposed),
            host_config: Some(host),
            networking_config: Some(NetworkingConfig {
                endpoints_config: Some(endpoints),
            }),
            ..Default::default()
        };
        let docker = self.client().await?;
        let options = CreateContainerOptions {
            name: Some(spec.name.clone()),
            ..Default::default()
        };
        let created = docker
            .create_container(Some(options), body)
            .await
            .map_err(convert::error)?;
        let created = docker
            .inspect_container(&created.id, None)
            .await
            .map_err(convert::error)?;
        Ok(convert::container_info(created))
    }

    /// A bind source the grant allows, checked again at every use (create and start).
    fn checked_bind(
        &self,
        source: &str,
        read_only: bool,
    ) -> Result<std::path::PathBuf, policy::BindRefusal> {
        if self.engine.is_remote() {
            return policy::remote_bind_source(&self.grant, source, read_only);
        }
        let real = policy::bind_source(&self.grant, &self.protected, source, read_only)?;
        if !read_only {
            let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
            policy::writable_mount_ok(&real, &mountinfo).map_err(|message| {
                policy::BindRefusal {
                    message,
                    grantable: true,
                }
            })?;
        }
        Ok(real)
    }

    /// A bind refusal: with the grant hint only when some grant could allow it.
    fn refused(&self, what: &str, refusal: policy::BindRefusal) -> DriverError {
        if refusal.grantable {
            self.refuse.denied(what, &refusal.message)
        } else {
            self.refuse.never(what, &refusal.message)
        }
    }

    pub(super) async fn start_container(&mut self, name: String) -> Result<(), DriverError> {
        let container = self
            .own_container(&name, "start")
            .await?
            .ok_or_else(|| not_found("container", &name))?;
        // The engine resolves bind sources when the container starts, not when it is created:
        // whatever the sources became since, they must still be granted now.
        for (source, read_only) in bound_sources(&container) {
            self.checked_bind(&source, read_only).map_err(|mut e| {
                e.message.push_str(" (checked again at start)");
                self.refused(&format!("start container {name:?}"), e)
            })?;
        }
        let id = container.id.unwrap_or_default();
        let docker = self.client().await?;
        docker.start_container(&id, None).await.map_err(|e| {
            let text = e.to_string();
            if text.contains("unable to apply caps") {
                DriverError::Failed(format!(
                    "starting container {name:?}: {text}. This kernel refuses privileged containers; \
                     set LO_PRIVILEGED_MODE=capabilities to run them with every capability the host has instead"
                ))
            } else {
                convert::error(e)
            }
        })
    }

    pub(super) async fn stop_container(
        &mut self,
        name: String,
        timeout: Option<u32>,
    ) -> Result<(), DriverError> {
        let id = self.container_id(&name, "stop").await?;
        let docker = self.client().await?;
        let options = StopContainerOptions {
            t: timeout.map(|t| t.min(i32::MAX as u32) as i32),
            ..Default::default()
        };
        match docker.stop_container(&id, Some(options)).await {
            Ok(()) => Ok(()),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 304, ..
            }) => Ok(()),
            Err(e) => Err(convert::error(e)),
        }
    }

    pub(super) async fn remove_container(
        &mut self,
        name: String,
        force: bool,
    ) -> Result<bool, DriverError> {
        let Some(container) = self.own_container(&name, "remove").await? else {
            return Ok(false);
        };
        let id = container.id.unwrap_or_default();
        let docker = self.client().await?;
        let options = RemoveContainerOptions {
            force,
            v: true,
            ..Default::default()
        };
        match docker.remove_container(&id, Some(options)).await {
            Ok(()) => Ok(true),
            Err(e) if convert::is_not_found(&e) => Ok(false),
            Err(e) => Err(convert::error(e)),
        }
    }

    pub(super) async fn list_containers(
        &mut self,
        labels: Vec<(String, String)>,
        all: bool,
    ) -> Result<Vec<wit::ContainerInfo>, DriverError> {
        let docker = self.client().await?;
        let mut filter: Vec<String> = self
            .scope
            .labels()
            .into_iter()
            .filter(|(k, _)| k != policy::LABEL_DRIVER)
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        filter.extend(labels.iter().map(|(k, v)| format!("{k}={v}")));
        let options = ListContainersOptions {
            all,
            filters: Some(HashMap::from([("label".to_string(), filter)])),
            ..Default::default()
        };
        let found = docker
            .list_containers(Some(options))
            .await
            .map_err(convert::error)?;
        let mut out = Vec::new();
        for summary in found {
            let Some(id) = summary.id else { continue };
            match docker.inspect_container(&id, None).await {
                Ok(c)
                    if policy::usable(
                        &self.scope,
                        &self.grant,
                        &c.config
                            .as_ref()
                            .and_then(|c| c.labels.clone())
                            .unwrap_or_default(),
                    ) =>
                {
                    out.push(convert::container_info(c));
                }
                Ok(_) => {}
                Err(e) if convert::is_not_found(&e) => {}
                Err(e) => return Err(convert::error(e)),
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    pub(super) async fn exec(&mut self, spec: wit::ExecSpec) -> Result<ExecOutput, DriverError> {
        let id = self.container_id(&spec.container, "exec in").await?;
        let docker = self.client().await?;
        let options = bollard::exec::CreateExecOptions::<String> {
            attach_stdin: Some(spec.stdin.is_some()),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            env: Some(spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
            cmd: Some(spec.cmd.clone()),
            user: spec.user.clone(),
            working_dir: spec.working_dir.clone(),
            ..Default::default()
        };
        let created = docker
            .create_exec(&id, options)
            .await
            .map_err(convert::error)?;
        let started = docker
            .start_exec(&created.id, None)
            .await
            .map_err(convert::error)?;
        let mut out = ExecOutput {
            exit_code: -1,
            stdout: Vec::new(),
            stderr: Vec::new(),
        };
        if let bollard::exec::StartExecResults::Attached {
            mut output,
            mut input,
        } = started
        {
            if let Some(stdin) = &spec.stdin {
                input
                    .write_all(stdin)
                    .await
                    .map_err(|e| DriverError::Failed(format!("exec stdin: {e}")))?;
                input
                    .shutdown()
                    .await
                    .map_err(|e| DriverError::Failed(format!("exec stdin: {e}")))?;
            }
            drop(input);
            while let Some(chunk) = output.next().await {
                match chunk.map_err(convert::error)? {
                    bollard::container::LogOutput::StdOut { message }
                    | bollard::container::LogOutput::Console { message } => {
                        append_capped(&mut out.stdout, &message)
                    }
                    bollard::container::LogOutput::StdErr { message } => {
                        append_capped(&mut out.stderr, &message)
                    }
                    bollard::container::LogOutput::StdIn { .. } => {}
                }
            }
        }
        let inspected = docker
            .inspect_exec(&created.id)
            .await
            .map_err(convert::error)?;
        out.exit_code = inspected.exit_code.map(|c| c as i32).unwrap_or(-1);
        Ok(out)
    }

    pub(super) async fn copy_file(
        &mut self,
        container: String,
        path: String,
        contents: Vec<u8>,
        mode: u32,
    ) -> Result<(), DriverError> {
        let id = self.container_id(&container, "copy into").await?;
        let target = std::path::Path::new(&path);
        let (Some(dir), Some(name)) = (target.parent(), target.file_name()) else {
            return Err(DriverError::Failed(format!(
                "copy-file: {path:?} is not a file path"
            )));
        };
        if !target.is_absolute() {
            return Err(DriverError::Failed(format!(
                "copy-file: {path:?} must be absolute inside the container"
            )));
        }
        let mut header = tar::Header::new_gnu();
        header.set_size(contents.len() as u64);
        header.set_mode(mode);
        header.set_cksum();
        let mut archive = tar::Builder::new(Vec::new());
        archive
            .append_data(&mut header, name, contents.as_slice())
            .map_err(|e| DriverError::Failed(format!("copy-file: {e}")))?;
        let tarball = archive
            .into_inner()
            .map_err(|e| DriverError::Failed(format!("copy-file: {e}")))?;
        let docker = self.client().await?;
        let options = UploadToContainerOptions {
            path: dir.display().to_string(),
            ..Default::default()
        };
        docker
            .upload_to_container(&id, Some(options), bollard::body_full(tarball.into()))
            .await
            .map_err(convert::error)
    }

    pub(super) async fn logs(
        &mut self,
        container: String,
        tail: Option<u32>,
    ) -> Result<String, DriverError> {
        let id = self.container_id(&container, "read logs of").await?;
        let docker = self.client().await?;
        let options = LogsOptions {
            stdout: true,
            stderr: true,
            tail: tail.map(|t| t.to_string()).unwrap_or_else(|| "all".into()),
            ..Default::default()
        };
        let mut stream = docker.logs(&id, Some(options));
        let mut text = Vec::new();
        while let Some(chunk) = stream.next().await {
            append_capped(&mut text, chunk.map_err(convert::error)?.as_ref());
        }
        Ok(String::from_utf8_lossy(&text).into_owned())
    }
}

/// A host path in a container: read-only ones go through an anonymous local volume that binds
/// the path `ro,nosuid,nodev` (Docker's own bind mounts cannot say nosuid or nodev); writable
/// ones are plain binds of a path on a nosuid,nodev mount ([`policy::writable_mount_ok`]).
fn bind_mount(
    source: &std::path::Path,
    target: &str,
    read_only: bool,
    scope: &policy::Scope,
) -> Mount {
    if !read_only {
        return Mount {
            typ: Some(MountType::BIND),
            source: Some(source.display().to_string()),
            target: Some(target.to_string()),
            read_only: Some(false),
            ..Default::default()
        };
    }
    let mut labels: HashMap<String, String> = scope.labels().into_iter().collect();
    labels.insert(LABEL_HOST_PATH.into(), source.display().to_string());
    // Read-only through the volume's own mount options: the engine refuses the read-only flag
    // on an anonymous volume.
    Mount {
        typ: Some(MountType::VOLUME),
        target: Some(target.to_string()),
        volume_options: Some(MountVolumeOptions {
            labels: Some(labels),
            driver_config: Some(MountVolumeOptionsDriverConfig {
                name: Some("local".into()),
                options: Some(HashMap::from([
                    ("type".to_string(), "none".to_string()),
                    ("o".to_string(), "bind,ro,nosuid,nodev".to_string()),
                    ("device".to_string(), source.display().to_string()),
                ])),
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Every host path a container mounts, as created: plain binds and the read-only host-path
/// volumes of [`bind_mount`], with whether each is read-only.
fn bound_sources(c: &bollard::models::ContainerInspectResponse) -> Vec<(String, bool)> {
    let specs = c
        .host_config
        .as_ref()
        .and_then(|h| h.mounts.clone())
        .unwrap_or_default();
    let mut out = Vec::new();
    for m in specs {
        match m.typ {
            Some(MountType::BIND) => {
                out.push((m.source.unwrap_or_default(), m.read_only.unwrap_or(false)))
            }
            Some(MountType::VOLUME) => {
                let device = m
                    .volume_options
                    .and_then(|v| v.driver_config)
                    .and_then(|d| d.options)
                    .and_then(|o| o.get("device").cloned());
                if let Some(device) = device {
                    // Only read-only host paths travel this way.
                    out.push((device, true));
                }
            }
            _ => {}
        }
    }
    for bind in c
        .host_config
        .as_ref()
        .and_then(|h| h.binds.clone())
        .unwrap_or_default()
    {
        let mut parts = bind.split(':');
        let source = parts.next().unwrap_or_default().to_string();
        let read_only = parts
            .nth(1)
            .is_some_and(|o| o.split(',').any(|x| x == "ro"));
        out.push((source, read_only));
    }
    out
}

fn endpoint_settings(endpoint: &wit::Endpoint) -> EndpointSettings {
    EndpointSettings {
        ipam_config: endpoint.ipv4.as_ref().map(|ip| EndpointIpamConfig {
            ipv4_address: Some(ip.clone()),
            ..Default::default()
        }),
        aliases: Some(endpoint.aliases.clone()),
        ..Default::default()
    }
}

fn not_found(what: &str, name: &str) -> DriverError {
    DriverError::NotFound(format!("{what} {name:?}"))
}

fn append_capped(buf: &mut Vec<u8>, bytes: &[u8]) {
    let room = MAX_OUTPUT.saturating_sub(buf.len());
    buf.extend_from_slice(&bytes[..bytes.len().min(room)]);
}
