//! Which component runs a kind: the built-in drivers `lo` embeds, resolution of a spec's
//! `kind:` to verified bytes, pinning (`lo drivers`: list, add, lock, verify, show), and the
//! JSON Schemas of their specs.

pub mod builtin;
pub mod pinning;
pub mod resolve;
pub mod schema;
