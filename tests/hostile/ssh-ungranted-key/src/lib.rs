//! Hostile driver: tries `ssh-ungranted-key` (see tests/hostile/common).
hostile_common::hostile_driver!(
    "ssh-ungranted-key",
    [lok8s_driver_sdk::Capability::Ssh(
        lok8s_driver_sdk::SshAccess {
            hosts: vec!["127.0.0.1:1".into()],
            keys: vec![".secrets".into()]
        }
    )]
);
