//! One module per command (or family of commands); each parses nothing and prints through
//! `cli::print`, calling the library for the work.

pub mod addons;
pub mod author;
pub mod cluster;
pub mod domains;
pub mod drivers;
pub mod env;
pub mod schema;
