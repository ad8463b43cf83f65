//! The limits a driver run gets: memory, guest CPU time and wall-clock time per call, resolved
//! from the command line, then drivers.lock, then defaults. The store counts memory and CPU
//! itself (`host::limits`); the engine enforces the wall clock per call.

use std::time::Duration;

use crate::contract::Operation;
use crate::lock::Limits;

pub use crate::host::limits::TICK;
pub const DEFAULT_MEMORY_MIB: u64 = 512;
pub const DEFAULT_CPU_SECONDS: u64 = 300;
/// Long enough for a 15-minute cloud wait inside one call, with room to spare.
pub const DEFAULT_LONG_TIMEOUT_SECONDS: u64 = 45 * 60;
pub const DEFAULT_SHORT_TIMEOUT_SECONDS: u64 = 5 * 60;

/// Limits resolved for one driver: command-line overrides, then drivers.lock, then defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunLimits {
    pub memory_bytes: usize,
    pub cpu: Duration,
    timeouts: Vec<(Operation, Duration)>,
}

impl RunLimits {
    pub fn resolve(overrides: &Limits, locked: &Limits) -> RunLimits {
        let memory_mib = overrides
            .memory_mib
            .or(locked.memory_mib)
            .unwrap_or(DEFAULT_MEMORY_MIB);
        let cpu = overrides
            .cpu_seconds
            .or(locked.cpu_seconds)
            .unwrap_or(DEFAULT_CPU_SECONDS);
        let timeouts = Operation::ALL
            .iter()
            .map(|op| {
                let secs = overrides
                    .timeouts
                    .get(op.name())
                    .copied()
                    .or(overrides.timeout_seconds)
                    .or_else(|| locked.timeouts.get(op.name()).copied())
                    .or(locked.timeout_seconds)
                    .unwrap_or(if op.is_long() {
                        DEFAULT_LONG_TIMEOUT_SECONDS
                    } else {
                        DEFAULT_SHORT_TIMEOUT_SECONDS
                    });
                (*op, Duration::from_secs(secs))
            })
            .collect();
        RunLimits {
            memory_bytes: usize::try_from(memory_mib.saturating_mul(1 << 20)).unwrap_or(usize::MAX),
            cpu: Duration::from_secs(cpu),
            timeouts,
        }
    }

    pub fn timeout(&self, op: Operation) -> Duration {
        self.timeouts
            .iter()
            .find(|(o, _)| *o == op)
            .map(|(_, d)| *d)
            .unwrap_or(Duration::from_secs(DEFAULT_SHORT_TIMEOUT_SECONDS))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_then_lock_then_defaults() {
        let mut locked = Limits {
            memory_mib: Some(64),
            timeout_seconds: Some(100),
            ..Default::default()
        };
        locked.timeouts.insert("status".into(), 7);
        let overrides = Limits {
            cpu_seconds: Some(2),
            ..Default::default()
        };
        let r = RunLimits::resolve(&overrides, &locked);
        assert_eq!(r.memory_bytes, 64 << 20);
        assert_eq!(r.cpu, Duration::from_secs(2));
        assert_eq!(r.timeout(Operation::Status), Duration::from_secs(7));
        assert_eq!(r.timeout(Operation::Provision), Duration::from_secs(100));
        let d = RunLimits::resolve(&Limits::default(), &Limits::default());
        assert_eq!(
            d.timeout(Operation::Provision),
            Duration::from_secs(DEFAULT_LONG_TIMEOUT_SECONDS)
        );
        let o = RunLimits::resolve(
            &Limits {
                timeout_seconds: Some(3),
                ..Default::default()
            },
            &locked,
        );
        assert_eq!(o.timeout(Operation::Status), Duration::from_secs(3));
    }
}
