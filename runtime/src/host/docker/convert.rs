//! Docker's models to the contract's records, and engine errors to `driver-error`.

use std::collections::HashMap;

use bollard::models::{
    ContainerInspectResponse, ImageInspect, NetworkInspect, RestartPolicyNameEnum,
};

use super::labels_list;
use crate::contract::docker as wit;
use crate::contract::types::DriverError;

pub fn is_not_found(e: &bollard::errors::Error) -> bool {
    matches!(
        e,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

pub fn error(e: bollard::errors::Error) -> DriverError {
    match e {
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            message,
        } => DriverError::NotFound(message),
        bollard::errors::Error::DockerResponseServerError {
            status_code,
            message,
        } => DriverError::Failed(format!("docker engine ({status_code}): {message}")),
        other if engine_gone(&other) => DriverError::Unavailable(format!(
            "the Docker engine stopped answering ({other}); start it again (or check \
             DOCKER_HOST), then run the same lo command again: it carries on from where this \
             run stopped"
        )),
        other => DriverError::Failed(format!("docker engine: {other}")),
    }
}

/// Whether the engine went away mid-call (connection refused or reset, socket gone, no
/// answer), as opposed to answering with an error.
fn engine_gone(e: &bollard::errors::Error) -> bool {
    use bollard::errors::Error;
    matches!(
        e,
        Error::HyperLegacyError { .. }
            | Error::IOError { .. }
            | Error::RequestTimeoutError
            | Error::SocketNotFoundError(_)
            | Error::HttpClientError { .. }
    ) || e.to_string().contains("onnect")
}

pub fn restart_to_docker(r: wit::RestartPolicy) -> RestartPolicyNameEnum {
    match r {
        wit::RestartPolicy::No => RestartPolicyNameEnum::NO,
        wit::RestartPolicy::Always => RestartPolicyNameEnum::ALWAYS,
        wit::RestartPolicy::UnlessStopped => RestartPolicyNameEnum::UNLESS_STOPPED,
        wit::RestartPolicy::OnFailure => RestartPolicyNameEnum::ON_FAILURE,
    }
}

fn restart_from_docker(r: Option<RestartPolicyNameEnum>) -> wit::RestartPolicy {
    match r {
        Some(RestartPolicyNameEnum::ALWAYS) => wit::RestartPolicy::Always,
        Some(RestartPolicyNameEnum::UNLESS_STOPPED) => wit::RestartPolicy::UnlessStopped,
        Some(RestartPolicyNameEnum::ON_FAILURE) => wit::RestartPolicy::OnFailure,
        _ => wit::RestartPolicy::No,
    }
}

pub fn network_info(n: NetworkInspect) -> wit::NetworkInfo {
    let subnets = n
        .ipam
        .and_then(|i| i.config)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|c| {
            c.subnet.map(|cidr| wit::Subnet {
                cidr,
                gateway: c.gateway,
            })
        })
        .collect();
    let mut containers: Vec<(String, String)> = n
        .containers
        .unwrap_or_default()
        .into_values()
        .map(|c| {
            let ip = c.ipv4_address.unwrap_or_default();
            (
                c.name.unwrap_or_default(),
                ip.split('/').next().unwrap_or_default().to_string(),
            )
        })
        .collect();
    containers.sort();
    wit::NetworkInfo {
        id: n.id.unwrap_or_default(),
        name: n.name.unwrap_or_default(),
        subnets,
        labels: labels_list(n.labels),
        containers,
    }
}

pub fn image_info(i: ImageInspect) -> wit::ImageInfo {
    wit::ImageInfo {
        id: i.id.unwrap_or_default(),
        tags: i.repo_tags.unwrap_or_default(),
        labels: labels_list(i.config.and_then(|c| c.labels)),
    }
}

pub fn container_info(c: ContainerInspectResponse) -> wit::ContainerInfo {
    let state = c.state.unwrap_or_default();
    let config = c.config.unwrap_or_default();
    let host = c.host_config.unwrap_or_default();
    let settings = c.network_settings.unwrap_or_default();
    let mut networks: Vec<wit::Endpoint> = settings
        .networks
        .unwrap_or_default()
        .into_iter()
        .map(|(network, e)| wit::Endpoint {
            network,
            ipv4: e.ip_address.filter(|ip| !ip.is_empty()),
            aliases: e.aliases.unwrap_or_default(),
        })
        .collect();
    networks.sort_by(|a, b| a.network.cmp(&b.network));
    let mut ports = Vec::new();
    for (key, bindings) in settings.ports.unwrap_or_default() {
        let (port, protocol) = key.split_once('/').unwrap_or((key.as_str(), "tcp"));
        let Ok(container_port) = port.parse::<u16>() else {
            continue;
        };
        for b in bindings.unwrap_or_default() {
            ports.push(wit::PortBinding {
                container_port,
                protocol: protocol.to_string(),
                host_ip: b.host_ip.unwrap_or_default(),
                host_port: b.host_port.and_then(|p| p.parse().ok()),
            });
        }
    }
    ports.sort_by_key(|p| (p.container_port, p.host_ip.clone()));
    // Read-only host paths are volumes that bind them (see ops::bind_mount): shown as the
    // read-only binds the driver asked for.
    let host_paths: HashMap<String, String> = host
        .mounts
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|m| {
            let device = m
                .volume_options?
                .driver_config?
                .options?
                .get("device")?
                .clone();
            Some((m.target?, device))
        })
        .collect();
    let mut mounts: Vec<wit::Mount> = c
        .mounts
        .unwrap_or_default()
        .into_iter()
        .map(|m| {
            let target = m.destination.clone().unwrap_or_default();
            if let Some(device) = host_paths.get(&target) {
                return wit::Mount {
                    kind: wit::MountKind::Bind,
                    source: device.clone(),
                    target,
                    read_only: true,
                    options: None,
                };
            }
            wit::Mount {
                kind: match m.typ.as_deref() {
                    Some("volume") => wit::MountKind::Volume,
                    Some("tmpfs") => wit::MountKind::Tmpfs,
                    _ => wit::MountKind::Bind,
                },
                source: if m.typ.as_deref() == Some("volume") {
                    m.name.unwrap_or_default()
                } else {
                    m.source.unwrap_or_default()
                },
                target,
                read_only: !m.rw.unwrap_or(true),
                options: m.propagation.filter(|p| !p.is_empty()),
            }
        })
        .collect();
    for (target, options) in host.tmpfs.clone().unwrap_or_default() {
        mounts.push(wit::Mount {
            kind: wit::MountKind::Tmpfs,
            source: String::new(),
            target,
            read_only: false,
            options: Some(options),
        });
    }
    mounts.sort_by(|a, b| a.target.cmp(&b.target));
    wit::ContainerInfo {
        id: c.id.unwrap_or_default(),
        name: c
            .name
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_string(),
        image: config.image.unwrap_or_default(),
        state: state.status.map(|s| s.to_string()).unwrap_or_default(),
        running: state.running.unwrap_or(false),
        exit_code: state.exit_code,
        hostname: config.hostname.unwrap_or_default(),
        labels: labels_list(config.labels),
        networks,
        ports,
        mounts,
        restart: restart_from_docker(host.restart_policy.and_then(|r| r.name)),
        privileged: host.privileged.unwrap_or(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_engine_that_went_away_is_said_in_the_users_words() {
        let gone = error(bollard::errors::Error::SocketNotFoundError(
            "/var/run/docker.sock".into(),
        ));
        let DriverError::Unavailable(message) = gone else {
            panic!("{gone:?}")
        };
        assert!(
            message.starts_with("the Docker engine stopped answering")
                && message.contains("run the same lo command again"),
            "{message}"
        );
        let answered = error(bollard::errors::Error::DockerResponseServerError {
            status_code: 409,
            message: "conflict".into(),
        });
        assert!(matches!(answered, DriverError::Failed(m) if m.contains("(409): conflict")));
    }
}
