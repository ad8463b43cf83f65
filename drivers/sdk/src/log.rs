//! Logging and progress through the `log` import.

pub use crate::bindings::lok8s::driver::log::{Level, enabled, phase_begin, phase_end, phase_step};

/// Writes one message at `level`.
pub fn write(level: Level, message: &str) {
    crate::bindings::lok8s::driver::log::write(level, message);
}

/// `info!("created {}", name)`: formats and writes at info level.
#[macro_export]
macro_rules! info {
    ($($arg:tt)*) => { $crate::log::write($crate::log::Level::Info, &format!($($arg)*)) };
}

/// Formats and writes at debug level, skipping the formatting when debug is off.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)*) => {
        if $crate::log::enabled($crate::log::Level::Debug) {
            $crate::log::write($crate::log::Level::Debug, &format!($($arg)*))
        }
    };
}

/// Formats and writes at warn level.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)*) => { $crate::log::write($crate::log::Level::Warn, &format!($($arg)*)) };
}
