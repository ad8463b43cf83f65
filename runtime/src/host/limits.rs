//! What one driver store may use, counted from inside the store: memory (linear memories and
//! tables under one cap, and a bound on how many of each a component may create) and guest CPU
//! time (the CPU time of the thread running guest code, counted only while guest code runs, so
//! host calls, waits and a busy machine do not count). The engine installs the limiter, call
//! hook and epoch callback that drive it.

use std::time::Duration;

/// How often the engine's epoch advances: how often a running guest's CPU use is checked.
pub const TICK: Duration = Duration::from_millis(10);
const MAX_TABLE_ELEMENTS: usize = 1_000_000;
/// What one table element costs the cap: a reference is a pointer, counted twice so that the
/// engine's own bookkeeping per element stays inside the cap too.
const TABLE_ELEMENT_BYTES: usize = 16;
const MAX_MEMORIES: usize = 16;
const MAX_TABLES: usize = 64;
const MAX_INSTANCES: usize = 64;

/// Raised from inside the store when the guest asks for more memory than allowed.
#[derive(Debug, thiserror::Error)]
#[error("asked for {desired} bytes of memory in all (tables included); the limit is {limit} bytes")]
pub struct MemoryExceeded {
    pub desired: usize,
    pub limit: usize,
}

/// Raised from the epoch callback when the guest's compute time is used up.
#[derive(Debug, thiserror::Error)]
#[error("used its CPU budget of {0:?}")]
pub struct CpuExceeded(pub Duration);

/// Per-store accounting; the store's limiter, call hook and epoch callback read and update it.
#[derive(Debug)]
pub struct StoreLimits {
    pub memory_bytes: usize,
    pub cpu: Duration,
    /// Guest CPU time used by the current call.
    pub cpu_used: Duration,
    /// Bytes of linear memory and table storage across the store.
    pub memory_total: usize,
    /// Where the running stretch of guest code started: its thread and that thread's CPU clock.
    guest_since: Option<(std::thread::ThreadId, Duration)>,
    /// Wall time the current call spent in host functions (engine and API calls, lo's checks),
    /// and where the open stretch started: how much of a call the sandbox itself costs.
    pub host_wall: Duration,
    host_since: Option<std::time::Instant>,
}

impl StoreLimits {
    /// A store with `memory_bytes` for memories and tables and `cpu` of guest time per call.
    pub fn new(memory_bytes: usize, cpu: Duration) -> Self {
        StoreLimits {
            memory_bytes,
            cpu,
            cpu_used: Duration::ZERO,
            memory_total: 0,
            guest_since: None,
            host_wall: Duration::ZERO,
            host_since: None,
        }
    }

    /// A new call starts with the whole budget.
    pub fn reset_cpu(&mut self) {
        self.cpu_used = Duration::ZERO;
        self.guest_since = None;
        self.host_wall = Duration::ZERO;
        self.host_since = None;
    }

    /// The call hook: guest code starts or stops running on this thread (a host function is
    /// called or returns, or the call itself starts or ends).
    pub fn guest_running(&mut self, running: bool) {
        self.fold_in();
        self.guest_since = running.then(|| (std::thread::current().id(), thread_cpu()));
        if running {
            if let Some(since) = self.host_since.take() {
                self.host_wall += since.elapsed();
            }
        } else {
            self.host_since = Some(std::time::Instant::now());
        }
    }

    /// The epoch callback: counts the stretch so far and says whether the budget is spent.
    pub fn check_cpu(&mut self) -> Result<(), CpuExceeded> {
        self.fold_in();
        self.guest_since = Some((std::thread::current().id(), thread_cpu()));
        if self.cpu_used > self.cpu {
            return Err(CpuExceeded(self.cpu));
        }
        Ok(())
    }

    fn fold_in(&mut self) {
        if let Some((thread, since)) = self.guest_since.take() {
            // A stretch that moved to another thread (a multi-threaded runtime resumed the
            // guest elsewhere) has no comparable clock: count it as one tick.
            self.cpu_used += if thread == std::thread::current().id() {
                thread_cpu().saturating_sub(since)
            } else {
                TICK
            };
        }
    }

    fn grow(&mut self, current: usize, desired: usize) -> wasmtime::Result<bool> {
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
}

/// CPU time this thread has used: advances only while the thread runs, whatever else the
/// machine is doing.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through a valid pointer.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(
        ts.tv_sec.max(0) as u64,
        ts.tv_nsec.clamp(0, 999_999_999) as u32,
    )
}

impl wasmtime::ResourceLimiter for StoreLimits {
    // One cap per store, shared by every memory and table of the component.
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.grow(current, desired)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > MAX_TABLE_ELEMENTS {
            return Ok(false);
        }
        self.grow(
            current.saturating_mul(TABLE_ELEMENT_BYTES),
            desired.saturating_mul(TABLE_ELEMENT_BYTES),
        )
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES
    }

    fn tables(&self) -> usize {
        MAX_TABLES
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_and_memories_share_one_cap() {
        use wasmtime::ResourceLimiter;
        let mut store = StoreLimits::new(64 << 20, Duration::from_secs(1));
        assert!(store.memory_growing(0, 40 << 20, None).unwrap());
        // 1M elements cost 16 MiB: one fits, the next two do not.
        assert!(store.table_growing(0, 1_000_000, None).unwrap());
        let err = store.table_growing(0, 1_000_000, None).unwrap_err();
        assert!(err.to_string().contains("tables included"), "{err}");
        assert!(
            !store
                .table_growing(0, MAX_TABLE_ELEMENTS + 1, None)
                .unwrap()
        );
        assert_eq!(store.tables(), MAX_TABLES);
    }

    #[test]
    fn cpu_counts_only_guest_stretches() {
        let mut store = StoreLimits::new(64 << 20, Duration::from_secs(1));
        store.guest_running(true);
        let spin = std::time::Instant::now();
        while spin.elapsed() < Duration::from_millis(30) {
            std::hint::black_box(spin.elapsed());
        }
        store.guest_running(false);
        let busy = store.cpu_used;
        assert!(busy > Duration::ZERO, "{busy:?}");
        // Host time (here: sleeping) is not counted.
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(store.cpu_used, busy);
        assert!(store.check_cpu().is_ok());
        store.cpu_used = Duration::from_secs(2);
        assert!(store.check_cpu().is_err());
        store.reset_cpu();
        assert_eq!(store.cpu_used, Duration::ZERO);
    }
}
