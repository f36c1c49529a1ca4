//! A circuit breaker, so an unreachable Redis costs a build a few timeouts, not one per task.
//!
//! Closed: calls go through; each connection failure counts, any success resets the count.
//! After `threshold` consecutive failures it opens (one `warn!`): calls fail at once, without
//! touching the network, for `cooldown`. Then calls may try again (half-open); the first
//! failure re-opens it at once, the first success closes it.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug)]
pub(crate) struct Breaker {
    threshold: u32,
    cooldown: Duration,
    failures: AtomicU32,
    open_until: Mutex<Option<Instant>>,
}

impl Breaker {
    pub(crate) fn new(threshold: u32, cooldown: Duration) -> Self {
        Self {
            threshold: threshold.max(1),
            cooldown,
            failures: AtomicU32::new(0),
            open_until: Mutex::new(None),
        }
    }

    /// False while the breaker is open: the caller must not call Redis.
    pub(crate) fn allows(&self) -> bool {
        let open_until = self.open_until.lock().unwrap_or_else(|e| e.into_inner());
        open_until.is_none_or(|until| Instant::now() >= until)
    }

    pub(crate) fn success(&self) {
        self.failures.store(0, Ordering::Relaxed);
        *self.open_until.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Counts a failure; returns true when this one tripped the breaker.
    pub(crate) fn failure(&self, url: &str) -> bool {
        let failures = self
            .failures
            .fetch_add(1, Ordering::Relaxed)
            .saturating_add(1);
        if failures < self.threshold {
            return false;
        }
        let mut open_until = self.open_until.lock().unwrap_or_else(|e| e.into_inner());
        let first_trip = open_until.is_none();
        *open_until = Some(Instant::now() + self.cooldown);
        if first_trip {
            tracing::warn!(
                url,
                failures,
                cooldown_s = self.cooldown.as_secs(),
                "Redis cache unreachable: not calling it again for a while"
            );
        } else {
            tracing::debug!(url, failures, "Redis cache still unreachable");
        }
        first_trip
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_threshold_consecutive_failures_and_success_closes_it() {
        let breaker = Breaker::new(3, Duration::from_secs(60));
        assert!(!breaker.failure("u"));
        breaker.success();
        assert!(!breaker.failure("u"));
        assert!(!breaker.failure("u"));
        assert!(breaker.allows());
        assert!(breaker.failure("u"), "third consecutive failure trips");
        assert!(!breaker.allows());
        assert!(!breaker.failure("u"), "trips (and warns) only once");
        breaker.success();
        assert!(breaker.allows());
    }

    #[test]
    fn half_opens_after_the_cooldown() {
        let breaker = Breaker::new(1, Duration::ZERO);
        assert!(breaker.failure("u"));
        assert!(breaker.allows(), "a zero cooldown lets the next call try");
    }
}
