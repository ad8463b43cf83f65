//! The docker operations behind the import, each checking scope and grant before it calls
//! the engine.

use std::collections::HashMap;

use bollard::models::{
    ContainerCreateBody, EndpointIpamConfig, EndpointSettings, HostConfig,
    HostConfigCgroupnsModeEnum, Ipam, IpamConfig, Mount, MountType, NetworkConnectRequest,
    NetworkCreateRequest, NetworkDisconnectRequest, NetworkingConfig, PortBinding, RestartPolicy,
    VolumeCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptions, CreateImageOptions, ListContainersOptions, LogsOptions,
    RemoveContainerOptions, RemoveVolumeOptions, StopContainerOptions, TagImageOptions,
    UploadToContainerOptions,
};
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use super::{DockerCtx, convert, policy};
use crate::engine::bindings::lok8s::driver::docker as wit;
use crate::engine::bindings::types::{DriverError, ExecOutput};
use crate::host::Logger;

/// How `privileged: true` is carried out: an operator setting (`LO_PRIVILEGED_MODE`), never a
/// driver's choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrivilegedMode {
    /// Docker's `--privileged`.
    Privileged,
    /// Every capability the host has (`cap-add ALL`, `cap-drop SYS_RESOURCE`), unconfined
    /// system paths, seccomp and AppArmor, and all devices: for hosts whose kernel refuses
    /// `--privileged` ("unable to apply caps").
    Capabilities,
}

impl PrivilegedMode {
    /// `LO_PRIVILEGED_MODE=capabilities` selects [`PrivilegedMode::Capabilities`].
    pub fn from_env() -> PrivilegedMode {
        match std::env::var("LO_PRIVILEGED_MODE").as_deref() {
            Ok("capabilities") => PrivilegedMode::Capabilities,
            _ => PrivilegedMode::Privileged,
        }
    }
}

/// Most bytes of exec output or logs handed back to a driver.
const MAX_OUTPUT: usize = 16 << 20;

impl DockerCtx {
    pub(super) async fn create_network(
        &mut self,
        spec: wit::NetworkSpec,
    ) -> Result<wit::NetworkInfo, DriverError> {
        let shared = policy::shared(&self.grant, &spec.name);
        let labels = if shared {
            let mut l: HashMap<String, String> = spec.labels.iter().cloned().collect();
            if l.keys().any(|k| k.starts_with("dev.lok8s.")) {
                return Err(self.denied(
                    format!("create network {:?}", spec.name),
                    "labels under dev.lok8s. are set by lo",
                ));
            }
            l.insert(policy::LABEL_SHARED.into(), "true".into());
            l
        } else {
            self.scope
                .merge(&spec.labels)
                .map_err(|e| self.denied(format!("create network {:?}", spec.name), &e))?
        };
        let docker = self.client().await?;
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
        docker
            .create_network(request)
            .await
            .map_err(convert::error)?;
        let created = docker
            .inspect_network(&spec.name, None)
            .await
            .map_err(convert::error)?;
        Ok(convert::network_info(created))
    }

    pub(super) async fn connect_network(
        &mut self,
        container: String,
        endpoint: wit::Endpoint,
    ) -> Result<(), DriverError> {
        self.own_container(&container, "connect")
            .await?
            .ok_or_else(|| not_found("container", &container))?;
        self.usable_network(&endpoint.network, "connect to")
            .await?
            .ok_or_else(|| not_found("network", &endpoint.network))?;
        let docker = self.client().await?;
        let request = NetworkConnectRequest {
            container: container.clone(),
            endpoint_config: Some(endpoint_settings(&endpoint)),
        };
        docker
            .connect_network(&endpoint.network, request)
            .await
            .map_err(convert::error)
    }

    pub(super) async fn disconnect_network(
        &mut self,
        container: String,
        network: String,
    ) -> Result<(), DriverError> {
        self.own_container(&container, "disconnect")
            .await?
            .ok_or_else(|| not_found("container", &container))?;
        self.usable_network(&network, "disconnect from")
            .await?
            .ok_or_else(|| not_found("network", &network))?;
        let docker = self.client().await?;
        let request = NetworkDisconnectRequest {
            container,
            force: Some(true),
        };
        docker
            .disconnect_network(&network, request)
            .await
            .map_err(convert::error)
    }

    pub(super) async fn remove_network(&mut self, name: String) -> Result<bool, DriverError> {
        if self.usable_network(&name, "remove").await?.is_none() {
            return Ok(false);
        }
        let docker = self.client().await?;
        match docker.remove_network(&name).await {
            Ok(()) => Ok(true),
            Err(e) if convert::is_not_found(&e) => Ok(false),
            Err(e) => Err(convert::error(e)),
        }
    }

    pub(super) async fn create_volume(&mut self, spec: wit::VolumeSpec) -> Result<(), DriverError> {
        let labels = policy::labels_for(&self.scope, &self.grant, &spec.labels)
            .map_err(|e| self.denied(format!("create volume {:?}", spec.name), &e))?;
        let docker = self.client().await?;
        if let Ok(existing) = docker.inspect_volume(&spec.name).await {
            if !policy::usable(&self.scope, &self.grant, &existing.labels) {
                return Err(self.denied(
                    format!("create volume {:?}", spec.name),
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
        let docker = self.client().await?;
        match docker.inspect_volume(&name).await {
            Ok(v) if policy::usable(&self.scope, &self.grant, &v.labels) => {}
            Ok(_) => {
                return Err(self.denied(
                    format!("remove volume {name:?}"),
                    "it is not this cluster's",
                ));
            }
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
        let labels = policy::labels_for(&self.scope, &self.grant, &spec.labels)
            .map_err(|e| self.denied(&what, &e))?;
        if spec.privileged && !self.grant.privileged {
            return Err(self.denied(
                &what,
                "privileged containers need privileged = true in the docker grant",
            ));
        }
        if let Some(opt) = spec
            .security_opts
            .iter()
            .find(|o| !policy::security_opt_allowed(&self.grant, o))
        {
            return Err(self.denied(&what, &format!("security option {opt:?} loosens confinement and needs privileged = true in the docker grant")));
        }
        if spec.cgroupns.as_deref() == Some("host") && !self.grant.privileged {
            return Err(self.denied(
                &what,
                "the host cgroup namespace needs privileged = true in the docker grant",
            ));
        }
        let mut mounts = Vec::new();
        let mut tmpfs = HashMap::new();
        for m in &spec.mounts {
            match m.kind {
                wit::MountKind::Bind => {
                    let source = if self.remote {
                        policy::remote_bind_source(&self.grant, &m.source)
                    } else {
                        policy::bind_source(&self.grant, &self.project_root, &m.source)
                    }
                    .map_err(|e| self.denied(&what, &e))?;
                    mounts.push(Mount {
                        typ: Some(MountType::BIND),
                        source: Some(source.display().to_string()),
                        target: Some(m.target.clone()),
                        read_only: Some(m.read_only),
                        ..Default::default()
                    });
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
                    let docker = self.client().await?;
                    match docker.inspect_volume(&m.source).await {
                        Ok(v) if policy::usable(&self.scope, &self.grant, &v.labels) => {}
                        Ok(_) => {
                            return Err(self.denied(
                                &what,
                                &format!("volume {:?} is not this cluster's", m.source),
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
        let mut endpoints = HashMap::new();
        if let Some(endpoint) = &spec.network {
            self.usable_network(&endpoint.network, "attach to")
                .await?
                .ok_or_else(|| not_found("network", &endpoint.network))?;
            endpoints.insert(endpoint.network.clone(), endpoint_settings(endpoint));
        }
        let mut port_bindings = HashMap::new();
        let mut exposed = Vec::new();
        for p in &spec.ports {
            let key = format!("{}/{}", p.container_port, p.protocol);
            exposed.push(key.clone());
            port_bindings.insert(
                key,
                Some(vec![PortBinding {
                    host_ip: Some(p.host_ip.clone()),
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
            network_mode: spec.network.as_ref().map(|e| e.network.clone()),
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
        docker
            .create_container(Some(options), body)
            .await
            .map_err(convert::error)?;
        let created = docker
            .inspect_container(&spec.name, None)
            .await
            .map_err(convert::error)?;
        Ok(convert::container_info(created))
    }

    pub(super) async fn start_container(&mut self, name: String) -> Result<(), DriverError> {
        self.own_container(&name, "start")
            .await?
            .ok_or_else(|| not_found("container", &name))?;
        let docker = self.client().await?;
        docker.start_container(&name, None).await.map_err(|e| {
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
        self.own_container(&name, "stop")
            .await?
            .ok_or_else(|| not_found("container", &name))?;
        let docker = self.client().await?;
        let options = StopContainerOptions {
            t: timeout.map(|t| t.min(i32::MAX as u32) as i32),
            ..Default::default()
        };
        match docker.stop_container(&name, Some(options)).await {
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
        if self.own_container(&name, "remove").await?.is_none() {
            return Ok(false);
        }
        let docker = self.client().await?;
        let options = RemoveContainerOptions {
            force,
            v: true,
            ..Default::default()
        };
        match docker.remove_container(&name, Some(options)).await {
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
        self.own_container(&spec.container, "exec in")
            .await?
            .ok_or_else(|| not_found("container", &spec.container))?;
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
            .create_exec(&spec.container, options)
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
        self.own_container(&container, "copy into")
            .await?
            .ok_or_else(|| not_found("container", &container))?;
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
            .upload_to_container(
                &container,
                Some(options),
                bollard::body_full(tarball.into()),
            )
            .await
            .map_err(convert::error)
    }

    pub(super) async fn logs(
        &mut self,
        container: String,
        tail: Option<u32>,
    ) -> Result<String, DriverError> {
        self.own_container(&container, "read logs of")
            .await?
            .ok_or_else(|| not_found("container", &container))?;
        let docker = self.client().await?;
        let options = LogsOptions {
            stdout: true,
            stderr: true,
            tail: tail.map(|t| t.to_string()).unwrap_or_else(|| "all".into()),
            ..Default::default()
        };
        let mut stream = docker.logs(&container, Some(options));
        let mut text = Vec::new();
        while let Some(chunk) = stream.next().await {
            append_capped(&mut text, chunk.map_err(convert::error)?.as_ref());
        }
        Ok(String::from_utf8_lossy(&text).into_owned())
    }
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
