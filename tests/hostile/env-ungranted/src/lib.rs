//! Hostile driver: tries `env-ungranted` (see tests/hostile/common).
hostile_common::hostile_driver!("env-ungranted", []);
