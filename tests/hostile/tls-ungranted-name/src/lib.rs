//! Hostile driver: tries `tls-ungranted-name` (see tests/hostile/common).
hostile_common::hostile_driver!(
    "tls-ungranted-name",
    [lok8s_driver_sdk::Capability::Tls(vec![
        "*.hostile.test".into()
    ])]
);
