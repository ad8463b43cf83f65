//! Hostile driver: tries `log-flood` (see tests/hostile/common).
hostile_common::hostile_driver!("log-flood", []);
