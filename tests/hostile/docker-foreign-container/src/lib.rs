//! Hostile driver: tries `docker-foreign-container` (see tests/hostile/common).
hostile_common::hostile_driver!(
    "docker-foreign-container",
    [lok8s_driver_sdk::Capability::Docker(
        lok8s_driver_sdk::DockerAccess {
            privileged: false,
            shared_networks: vec![],
            host_paths: vec![]
        }
    )]
);
