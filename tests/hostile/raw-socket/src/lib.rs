//! Hostile driver: tries `raw-socket` (see tests/hostile/common).
hostile_common::hostile_driver!("raw-socket", []);
