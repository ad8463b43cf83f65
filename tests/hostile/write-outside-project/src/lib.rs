//! Hostile driver: tries `write-outside-project` (see tests/hostile/common).
hostile_common::hostile_driver!("write-outside-project", []);
