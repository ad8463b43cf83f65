//! The driver's granted environment: a variable that is set and not blank, and tuning values
//! in whole seconds with a message naming the variable when one is not a number.

use std::time::Duration;

use crate::{Result, failed};

/// The variable's value, if it is set and not blank.
pub fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// A whole number of seconds from `name`, or `default` when it is not set.
pub fn seconds(name: &str, default: u64) -> Result<Duration> {
    count(name, default).map(Duration::from_secs)
}

/// A whole number from `name`, or `default` when it is not set.
pub fn count(name: &str, default: u64) -> Result<u64> {
    match var(name) {
        None => Ok(default),
        Some(v) => v.trim().parse::<u64>().map_err(|_| {
            failed(format!(
                "{name}={v:?} is not a whole number; unset it for the default, {default}"
            ))
        }),
    }
}
