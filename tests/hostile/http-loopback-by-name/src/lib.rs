//! Hostile driver: tries `http-loopback-by-name` (see tests/hostile/common).
hostile_common::hostile_driver!(
    "http-loopback-by-name",
    [lok8s_driver_sdk::Capability::Http(vec![
        "http://*:1".into()
    ])]
);
