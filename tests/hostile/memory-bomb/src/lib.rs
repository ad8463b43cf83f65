//! Hostile driver: tries `memory-bomb` (see tests/hostile/common).
hostile_common::hostile_driver!("memory-bomb", []);
