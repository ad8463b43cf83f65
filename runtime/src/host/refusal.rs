//! How a capability says no: one shape for every denial (the capability, what was asked, what
//! would allow it, and where grants go), and one way a call without its capability traps.

use std::fmt::Display;

use crate::contract::types::DriverError;

/// What every host call of a capability returns: a trap (the store is done), or the call's own
/// result, which the driver sees.
pub type Call<T> = wasmtime::Result<Result<T, DriverError>>;

/// A capability's voice for refusals.
#[derive(Debug, Clone)]
pub struct Refusals {
    /// The import's name as the contract spells it (`docker`, `kubectl-apply`, …).
    capability: &'static str,
    /// Where a missing grant goes (drivers.lock, or the built-in driver's shipped grant).
    hint: String,
}

impl Refusals {
    pub fn new(capability: &'static str, hint: impl Into<String>) -> Self {
        Refusals {
            capability,
            hint: hint.into(),
        }
    }

    /// A call outside the grant: `denied: docker create container "x": <fix> (<hint>)`.
    pub fn denied(&self, what: impl Display, fix: impl Display) -> DriverError {
        DriverError::Denied(format!("{} {what}: {fix} ({})", self.capability, self.hint))
    }

    /// A call no grant allows: the same shape without pointing at drivers.lock.
    pub fn never(&self, what: impl Display, why: impl Display) -> DriverError {
        DriverError::Denied(format!("{} {what}: {why}", self.capability))
    }
}

/// The capability's context, or a trap. A driver without the grant is refused at load, so a
/// call that gets here without one never reaches the world.
pub fn granted<'a, T>(slot: &'a mut Option<T>, capability: &str) -> wasmtime::Result<&'a mut T> {
    slot.as_mut()
        .ok_or_else(|| wasmtime::format_err!("{capability} called without a {capability} grant"))
}
