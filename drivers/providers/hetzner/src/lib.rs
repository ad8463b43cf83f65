//! The Hetzner provider as a guest library (no host access of its own: the driver that uses it
//! makes the requests through its http import). This build holds the descriptor: the provider
//! config format (JSON or YAML), read into typed entries, and the one table that maps an
//! entry's keys onto the Hetzner Cloud API's create bodies.

pub mod descriptor;
pub mod mapping;
