//! Hostile driver: tries `read-other-domain` (see tests/hostile/common).
hostile_common::hostile_driver!("read-other-domain", []);
