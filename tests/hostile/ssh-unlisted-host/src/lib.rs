//! Hostile driver: tries `ssh-unlisted-host` (see tests/hostile/common).
hostile_common::hostile_driver!(
    "ssh-unlisted-host",
    [lok8s_driver_sdk::Capability::Ssh(
        lok8s_driver_sdk::SshAccess {
            hosts: vec!["10.0.0.1".into()],
            keys: vec![".secrets".into()]
        }
    )]
);
