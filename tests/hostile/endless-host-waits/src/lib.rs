//! Hostile driver: tries `endless-host-waits` (see tests/hostile/common).
hostile_common::hostile_driver!("endless-host-waits", []);
