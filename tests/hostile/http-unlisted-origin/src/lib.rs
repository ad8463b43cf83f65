//! Hostile driver: tries `http-unlisted-origin` (see tests/hostile/common).
hostile_common::hostile_driver!(
    "http-unlisted-origin",
    [lok8s_driver_sdk::Capability::Http(vec![
        "http://127.0.0.1:1".into()
    ])]
);
