//! Hostile driver: tries `symlink-escape` (see tests/hostile/common).
hostile_common::hostile_driver!("symlink-escape", []);
