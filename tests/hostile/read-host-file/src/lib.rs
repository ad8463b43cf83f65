//! Hostile driver: tries `read-host-file` (see tests/hostile/common).
hostile_common::hostile_driver!("read-host-file", []);
