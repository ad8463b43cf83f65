//! Hostile driver: tries `docker-socket-mount` (see tests/hostile/common).
hostile_common::hostile_driver!(
    "docker-socket-mount",
    [lok8s_driver_sdk::Capability::Docker(
        lok8s_driver_sdk::DockerAccess {
            privileged: false,
            shared_networks: vec![],
            host_paths: vec![]
        }
    )]
);
