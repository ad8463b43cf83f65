//! Waiting with a budget: the delays between attempts (fixed, or doubling up to a cap) and a
//! poll loop that stops at the first answer or when the wall-clock budget is spent. Every
//! driver that polls an API uses these, so their waits read and behave alike.

use std::time::{Duration, Instant};

use crate::Result;

/// The delays between attempts.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
    cap: Duration,
}

impl Backoff {
    /// The same delay every time.
    pub fn fixed(delay: Duration) -> Backoff {
        Backoff {
            next: delay,
            cap: delay,
        }
    }

    /// `first`, then doubling, never more than `cap` (10, 20, 40, 60, 60 … for 10 and 60).
    pub fn doubling(first: Duration, cap: Duration) -> Backoff {
        Backoff {
            next: first.min(cap),
            cap,
        }
    }

    /// The next delay.
    pub fn next_delay(&mut self) -> Duration {
        let now = self.next;
        self.next = (self.next * 2).min(self.cap);
        now
    }
}

/// Calls `attempt` until it answers `Some`, sleeping the backoff's delays in between (never
/// past the budget). `Ok(None)` when `budget` ran out first; an error from `attempt` ends the
/// wait at once.
pub fn poll<T>(
    budget: Duration,
    mut backoff: Backoff,
    mut attempt: impl FnMut() -> Result<Option<T>>,
) -> Result<Option<T>> {
    let deadline = Instant::now() + budget;
    loop {
        if let Some(done) = attempt()? {
            return Ok(Some(done));
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(None);
        }
        std::thread::sleep(backoff.next_delay().min(deadline - now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubling_stops_at_its_cap() {
        let mut b = Backoff::doubling(Duration::from_secs(10), Duration::from_secs(60));
        let delays: Vec<u64> = (0..5).map(|_| b.next_delay().as_secs()).collect();
        assert_eq!(delays, [10, 20, 40, 60, 60]);
    }

    #[test]
    fn poll_answers_at_the_first_some_and_none_when_the_budget_is_spent() {
        let mut calls = 0;
        let got = poll(
            Duration::from_secs(60),
            Backoff::fixed(Duration::ZERO),
            || {
                calls += 1;
                Ok((calls == 3).then_some(calls))
            },
        );
        assert_eq!(got.ok().flatten(), Some(3));
        let never = poll(Duration::ZERO, Backoff::fixed(Duration::ZERO), || {
            Ok(None::<()>)
        });
        assert!(matches!(never, Ok(None)));
    }
}
