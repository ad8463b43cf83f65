//! The Hetzner provider as a guest library (no host access of its own: the driver that uses it
//! makes the requests through its http import). This build holds the descriptor (the provider
//! config, JSON or YAML) with the one table that maps its entries onto the Hetzner Cloud API's
//! create bodies, the Hetzner Cloud API client those bodies go through ([`cloud_api`]), and the
//! cloud-config generator servers boot with, and the installimage run that gives a dedicated
//! server in rescue mode its OS.

pub mod cloud_api;
pub mod cloud_config;
pub mod cluster;
pub mod descriptor;
pub mod installimage;
pub mod inventory;
pub mod mapping;
pub mod provision;
pub mod robot_api;
