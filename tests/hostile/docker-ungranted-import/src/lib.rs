//! Hostile driver: tries `docker-ungranted-import` (see tests/hostile/common).
hostile_common::hostile_driver!("docker-ungranted-import", []);
