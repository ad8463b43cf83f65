//! Hostile driver: tries `endless-loop` (see tests/hostile/common).
hostile_common::hostile_driver!("endless-loop", []);
