//! Which component runs a kind: the built-in drivers `lo` embeds, resolution of a spec's
//! `kind:` to verified bytes, and pinning (`lo drivers`: list, add, lock, verify, show).

pub mod builtin;
pub mod pinning;
pub mod resolve;
