//! A circuit breaker: once the server has failed `threshold` operations in a row, the store
//! stops calling it for the rest of its life (one kiln run) and fails at once.
//!
//! Why: a cache that is down or refuses us would otherwise cost every task a connect timeout
//! plus retries, turning a cache outage into a slow build. A run is short, so "open until the
//! next run" is simpler than half-open probing and loses little.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

#[derive(Debug)]
pub(crate) struct Breaker {
    threshold: u32,
    consecutive: AtomicU32,
    open: AtomicBool,
}

impl Breaker {
    pub(crate) fn new(threshold: u32) -> Self {
        Self {
            threshold: threshold.max(1),
            consecutive: AtomicU32::new(0),
            open: AtomicBool::new(false),
        }
    }

    pub(crate) fn is_open(&self) -> bool {
        self.open.load(Ordering::Acquire)
    }

    pub(crate) fn success(&self) {
        self.consecutive.store(0, Ordering::Release);
    }

    /// Records a failure; warns once, from whichever thread trips it.
    pub(crate) fn failure(&self, base_url: &str, error: &dyn std::fmt::Display) {
        let n = self.consecutive.fetch_add(1, Ordering::AcqRel) + 1;
        if n >= self.threshold && !self.open.swap(true, Ordering::AcqRel) {
            tracing::warn!(
                server = base_url,
                failures = n,
                last_error = %error,
                "remote cache disabled for this run after repeated failures"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_threshold_consecutive_failures() {
        let breaker = Breaker::new(3);
        breaker.failure("u", &"e");
        breaker.failure("u", &"e");
        breaker.success();
        breaker.failure("u", &"e");
        breaker.failure("u", &"e");
        assert!(!breaker.is_open(), "a success resets the count");
        breaker.failure("u", &"e");
        assert!(breaker.is_open());
        breaker.success();
        assert!(breaker.is_open(), "stays open for the run");
    }
}
