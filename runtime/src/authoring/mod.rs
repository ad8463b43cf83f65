//! Tools for driver authors: `lo driver check` (would this lo run it), `lo driver test` (the
//! conformance sequence on a throwaway project) and `lo driver new` (a project that builds).

pub mod check;
pub mod conformance;
pub mod scaffold;
