//! Hostile driver: tries `http-ungranted-import` (see tests/hostile/common).
hostile_common::hostile_driver!("http-ungranted-import", []);
