//! The circuit breaker every remote store puts in front of its server, so an unreachable cache
//! costs a build a few timeouts, not one per task.
//!
//! Closed: calls go through; each transport failure counts, any success resets the count.
//! After `threshold` consecutive failures it opens (logged at `info`: the cache tier above
//! already warned once that the remote is not answering, and one warning is enough): calls fail at once, without touching the network, for `cooldown`. After that
//! calls may try again (half-open): the first failure re-opens it at once, the first success
//! closes it. Remote stores in a `kiln run` use [`Breaker::for_run`] (a cooldown longer than
//! any run): a cache that failed repeatedly is off for the rest of the run, which is simpler
//! than probing and loses little.

use std::fmt::Display;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Consecutive transport failures after which a remote is switched off by default.
pub const DEFAULT_BREAKER_THRESHOLD: u32 = 5;

#[derive(Debug)]
pub struct Breaker {
    threshold: u32,
    cooldown: Duration,
    failures: AtomicU32,
    open_until: Mutex<Option<Instant>>,
}

impl Breaker {
    /// A breaker that opens after `threshold` (at least 1) consecutive failures for `cooldown`.
    pub fn new(threshold: u32, cooldown: Duration) -> Self {
        Self {
            threshold: threshold.max(1),
            cooldown,
            failures: AtomicU32::new(0),
            open_until: Mutex::new(None),
        }
    }

    /// A breaker that, once open, stays open for the life of the process.
    pub fn for_run(threshold: u32) -> Self {
        // A day: longer than any build, and far from `Instant` overflow.
        Self::new(threshold, Duration::from_secs(24 * 3600))
    }

    /// False while the breaker is open: the caller must not call the server.
    pub fn allows(&self) -> bool {
        let open_until = self.open_until.lock().unwrap_or_else(|e| e.into_inner());
        open_until.is_none_or(|until| Instant::now() >= until)
    }

    /// True while the breaker is open.
    pub fn is_open(&self) -> bool {
        !self.allows()
    }

    pub fn success(&self) {
        self.failures.store(0, Ordering::Relaxed);
        *self.open_until.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Counts a transport failure talking to `server`; returns true when this one tripped the
    /// breaker (it then logs, once per trip, from whichever thread tripped it).
    pub fn failure(&self, server: &str, error: &dyn Display) -> bool {
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
            tracing::info!(
                server,
                failures,
                last_error = %error,
                "remote cache switched off after repeated failures; going on with the local cache"
            );
        } else {
            tracing::debug!(server, failures, "remote cache still failing");
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
        assert!(!breaker.failure("u", &"e"));
        breaker.success();
        assert!(!breaker.failure("u", &"e"));
        assert!(!breaker.failure("u", &"e"));
        assert!(breaker.allows(), "a success reset the count");
        assert!(
            breaker.failure("u", &"e"),
            "third consecutive failure trips"
        );
        assert!(breaker.is_open());
        assert!(!breaker.failure("u", &"e"), "trips (and warns) only once");
        breaker.success();
        assert!(breaker.allows());
    }

    #[test]
    fn half_opens_after_the_cooldown() {
        let breaker = Breaker::new(1, Duration::ZERO);
        assert!(breaker.failure("u", &"e"));
        assert!(breaker.allows(), "a zero cooldown lets the next call try");
    }

    #[test]
    fn a_run_breaker_stays_open() {
        let breaker = Breaker::for_run(1);
        assert!(breaker.failure("u", &"e"));
        assert!(breaker.is_open());
    }
}
