//! Hostile driver: tries `terminal-takeover` (see tests/hostile/common).
hostile_common::hostile_driver!("terminal-takeover", []);
