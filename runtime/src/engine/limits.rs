//! Limits on a driver run: linear memory, guest compute time (counted in epoch ticks, so host
//! calls and waits do not count) and wall-clock time per call (host calls included).

use std::time::Duration;

use crate::lock::Limits;

/// How often the engine's epoch advances; the unit of the CPU budget.
pub const TICK: Duration = Duration::from_millis(10);
pub const DEFAULT_MEMORY_MIB: u64 = 512;
pub const DEFAULT_CPU_SECONDS: u64 = 300;
/// Long enough for a 15-minute cloud wait inside one call, with room to spare.
pub const DEFAULT_LONG_TIMEOUT_SECONDS: u64 = 45 * 60;
pub const DEFAULT_SHORT_TIMEOUT_SECONDS: u64 = 5 * 60;
const MAX_TABLE_ELEMENTS: usize = 1_000_000;
const MAX_MEMORIES: usize = 16;
const MAX_INSTANCES: usize = 64;

/// The calls a driver answers; each has its own wall-clock budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Describe,
    Provision,
    Destroy,
    Status,
    Kubeconfig,
    PostProvision,
    Export,
}

impl Operation {
    pub const ALL: [Operation; 7] = [
        Operation::Describe,
        Operation::Provision,
        Operation::Destroy,
        Operation::Status,
        Operation::Kubeconfig,
        Operation::PostProvision,
        Operation::Export,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Operation::Describe => "describe",
            Operation::Provision => "provision",
            Operation::Destroy => "destroy",
            Operation::Status => "status",
            Operation::Kubeconfig => "kubeconfig",
            Operation::PostProvision => "post-provision",
            Operation::Export => "export",
        }
    }

    fn default_timeout(self) -> u64 {
        match self {
            Operation::Provision | Operation::Destroy | Operation::PostProvision => {
                DEFAULT_LONG_TIMEOUT_SECONDS
            }
            _ => DEFAULT_SHORT_TIMEOUT_SECONDS,
        }
    }
}

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
                    .unwrap_or_else(|| op.default_timeout());
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

    pub fn cpu_ticks(&self) -> u64 {
        (self.cpu.as_millis() / TICK.as_millis()).max(1) as u64
    }
}

/// Raised from inside the store when the guest asks for more memory than allowed.
#[derive(Debug, thiserror::Error)]
#[error("asked for {desired} bytes of memory in all; the limit is {limit} bytes")]
pub struct MemoryExceeded {
    pub desired: usize,
    pub limit: usize,
}

/// Raised from the epoch callback when the guest's compute time is used up.
#[derive(Debug, thiserror::Error)]
#[error("used its CPU budget of {0:?}")]
pub struct CpuExceeded(pub Duration);

/// Per-store accounting; the store's limiter and epoch callback read and update it.
#[derive(Debug)]
pub struct StoreLimits {
    pub memory_bytes: usize,
    pub cpu: Duration,
    pub cpu_ticks_budget: u64,
    pub cpu_ticks_used: u64,
    /// Bytes of linear memory across all memories of the store.
    pub memory_total: usize,
}

impl StoreLimits {
    pub fn new(limits: &RunLimits) -> Self {
        StoreLimits {
            memory_bytes: limits.memory_bytes,
            cpu: limits.cpu,
            cpu_ticks_budget: limits.cpu_ticks(),
            cpu_ticks_used: 0,
            memory_total: 0,
        }
    }
}

impl wasmtime::ResourceLimiter for StoreLimits {
    // The cap is per store: a component with several memories shares one budget.
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = self
            .memory_total
            .saturating_sub(current)
            .saturating_add(desired);
        if total > self.memory_bytes {
            return Err(wasmtime::Error::new(MemoryExceeded {
                desired: total,
                limit: self.memory_bytes,
            }));
        }
        self.memory_total = total;
        Ok(true)
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
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
        assert_eq!(r.cpu_ticks(), 200);
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
