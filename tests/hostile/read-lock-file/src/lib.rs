//! Hostile driver: tries `read-lock-file` (see tests/hostile/common).
hostile_common::hostile_driver!("read-lock-file", []);
