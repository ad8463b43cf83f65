//! The Hetzner provider as a guest library (no host access of its own: the driver that uses it
//! makes the requests through its http import). This build holds the descriptor (the provider
//! config, JSON or YAML) with the one table that maps its entries onto the Hetzner Cloud API's
//! create bodies, and the cloud-config generator servers boot with.

pub mod cloud_config;
pub mod descriptor;
pub mod mapping;
