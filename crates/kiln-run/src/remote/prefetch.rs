//! Fetching remote hits ahead of the tasks that need them.
//!
//! Every key of a run is known before the first task starts, and a remote fetch waits on the
//! network, not on a CPU. Fetching inside the task's worker slot would leave a clean checkout
//! restoring from a remote at `--concurrency` requests at a time, each paying a round trip or
//! two; instead a few threads pull every key the local cache lacks, in plan order (dependencies
//! first, as tasks start), while the build runs. A task that reaches its lookup first fetches
//! its own key; one whose key is in flight waits for that fetch rather than starting a second.
//!
//! ```text
//!   slot: Queued ──claim──▶ InFlight ──complete──▶ Done(hit)
//!          (prefetcher or task, whoever is first)   (tasks waiting on it wake up)
//! ```

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};

/// Threads fetching ahead: enough to hide loopback-to-LAN latency, few enough that a remote
/// is not flooded (a breaker trips after a handful of failures anyway).
pub(crate) const PREFETCH_THREADS: usize = 16;

enum Slot {
    Queued,
    InFlight,
    Done(bool),
}

/// Who fetches a key.
pub(crate) enum Claim {
    /// The caller: it must call [`Prefetch::complete`] afterwards.
    Mine,
    /// Someone already did; whether it was a hit.
    Done(bool),
}

#[derive(Default)]
pub(crate) struct Prefetch {
    slots: Mutex<HashMap<String, Slot>>,
    queue: Mutex<VecDeque<String>>,
    finished: Condvar,
    stop: AtomicBool,
}

impl Prefetch {
    /// Queues `keys` (in the order they should be fetched).
    pub(crate) fn enqueue(&self, keys: impl IntoIterator<Item = String>) {
        let mut slots = self.lock_slots();
        let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        for key in keys {
            if !slots.contains_key(&key) {
                slots.insert(key.clone(), Slot::Queued);
                queue.push_back(key);
            }
        }
    }

    /// The next queued key for a prefetching thread, claimed; `None` when there is no more
    /// work (or the run is over).
    pub(crate) fn next(&self) -> Option<String> {
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return None;
            }
            let key = self
                .queue
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .pop_front()?;
            let mut slots = self.lock_slots();
            if let Some(slot @ Slot::Queued) = slots.get_mut(&key) {
                *slot = Slot::InFlight;
                return Some(key);
            }
            // A task got to it first.
        }
    }

    /// Claims `key` for a task that needs it now, waiting while another thread fetches it.
    pub(crate) fn claim(&self, key: &str) -> Claim {
        let mut slots = self.lock_slots();
        loop {
            match slots.get(key) {
                None | Some(Slot::Queued) => {
                    slots.insert(key.to_string(), Slot::InFlight);
                    return Claim::Mine;
                }
                Some(Slot::Done(hit)) => return Claim::Done(*hit),
                Some(Slot::InFlight) => {
                    slots = self.finished.wait(slots).unwrap_or_else(|p| p.into_inner());
                }
            }
        }
    }

    /// Records the outcome of a claimed fetch and wakes whoever waits for it.
    pub(crate) fn complete(&self, key: &str, hit: bool) {
        self.lock_slots().insert(key.to_string(), Slot::Done(hit));
        self.finished.notify_all();
    }

    /// True once `key` was fetched from the remote in this run (by a prefetcher or a task).
    pub(crate) fn fetched(&self, key: &str) -> bool {
        matches!(self.lock_slots().get(key), Some(Slot::Done(true)))
    }

    /// Gives back a claimed key that was not fetched (the local cache had it).
    pub(crate) fn release(&self, key: &str) {
        self.lock_slots().insert(key.to_string(), Slot::Queued);
        self.finished.notify_all();
    }

    /// Stops handing out work: prefetching threads end after their current fetch.
    pub(crate) fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    fn lock_slots(&self) -> std::sync::MutexGuard<'_, HashMap<String, Slot>> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn each_key_is_fetched_once_by_whoever_comes_first() {
        let p = Prefetch::default();
        p.enqueue(["a".to_string(), "b".to_string(), "a".to_string()]);
        // A task claims `b` before the prefetcher reaches it.
        assert!(matches!(p.claim("b"), Claim::Mine));
        assert_eq!(p.next().as_deref(), Some("a"));
        assert_eq!(p.next(), None, "b is the task's");
        p.complete("a", true);
        p.complete("b", false);
        assert!(p.fetched("a") && !p.fetched("b") && !p.fetched("c"));
        assert!(matches!(p.claim("a"), Claim::Done(true)));
        assert!(matches!(p.claim("b"), Claim::Done(false)));
        // Keys never queued are the caller's.
        assert!(matches!(p.claim("c"), Claim::Mine));
    }

    #[test]
    fn a_task_waits_for_the_fetch_in_flight() {
        let p = Arc::new(Prefetch::default());
        p.enqueue(["k".to_string()]);
        assert_eq!(p.next().as_deref(), Some("k"));
        let waiter = {
            let p = Arc::clone(&p);
            std::thread::spawn(move || matches!(p.claim("k"), Claim::Done(true)))
        };
        p.complete("k", true);
        assert!(waiter.join().unwrap());
    }

    #[test]
    fn a_released_key_can_be_claimed_again_and_stop_ends_the_work() {
        let p = Prefetch::default();
        p.enqueue(["k".to_string(), "l".to_string()]);
        assert_eq!(p.next().as_deref(), Some("k"));
        p.release("k");
        assert!(matches!(p.claim("k"), Claim::Mine));
        p.stop();
        assert_eq!(p.next(), None);
    }
}
