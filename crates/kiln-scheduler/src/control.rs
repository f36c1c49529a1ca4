//! The live controls a caller holds while a walk runs: the concurrency [`Budget`] and the
//! [`CancelToken`].
//!
//! Both are cheap cloneable handles (an `Arc` around an atomic). Changing one must wake the
//! walk's idle workers, or a raised budget or a cancel would only be noticed at the next
//! completion. So each handle keeps a list of subscribed walks; a walk subscribes when it
//! starts, and its entry dies with it (a `Weak`), so a handle can outlive any number of walks.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};

/// Something to poke when a control changes: a running walk.
pub(crate) trait Wake: Send + Sync {
    fn wake(&self);
}

#[derive(Default)]
struct Subscribers(Mutex<Vec<Weak<dyn Wake>>>);

impl Subscribers {
    fn subscribe(&self, walk: Weak<dyn Wake>) {
        let mut list = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        list.retain(|w| w.strong_count() > 0);
        list.push(walk);
    }

    fn wake_all(&self) {
        // Upgrade under the lock, wake outside it: a walk's wake takes the walk's own lock,
        // and we never want to hold two locks at once.
        let live: Vec<Arc<dyn Wake>> = {
            let mut list = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            list.retain(|w| w.strong_count() > 0);
            list.iter().filter_map(Weak::upgrade).collect()
        };
        for walk in live {
            walk.wake();
        }
    }
}

/// How many nodes may run at once. Clones share one value, so the caller (or a
/// memory-pressure monitor) can raise or lower it while a walk runs: raising starts waiting
/// nodes at once; lowering never stops running work, it only holds back new starts until
/// the running count falls below the new limit.
///
/// A limit of 0 is treated as 1, so a walk always makes progress.
#[derive(Clone)]
pub struct Budget(Arc<BudgetInner>);

struct BudgetInner {
    limit: AtomicUsize,
    subscribers: Subscribers,
}

impl Budget {
    /// A budget allowing `limit` nodes at once.
    pub fn new(limit: usize) -> Self {
        Budget(Arc::new(BudgetInner {
            limit: AtomicUsize::new(limit),
            subscribers: Subscribers::default(),
        }))
    }

    /// The current limit as set (may be 0; the walker uses at least 1).
    pub fn get(&self) -> usize {
        self.0.limit.load(Ordering::Acquire)
    }

    /// Changes the limit for every walk using this budget, now.
    pub fn set(&self, limit: usize) {
        let old = self.0.limit.swap(limit, Ordering::AcqRel);
        if old != limit {
            tracing::debug!(old, new = limit, "concurrency budget changed");
            self.0.subscribers.wake_all();
        }
    }

    pub(crate) fn effective(&self) -> usize {
        self.get().max(1)
    }

    pub(crate) fn subscribe(&self, walk: Weak<dyn Wake>) {
        self.0.subscribers.subscribe(walk);
    }
}

impl std::fmt::Debug for Budget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Budget").field(&self.get()).finish()
    }
}

/// Stops a walk from starting anything new. Clones share one flag; cancelling is permanent.
///
/// Running work is not interrupted by the walker: the work closure may poll
/// [`CancelToken::is_cancelled`] (or the caller stops its processes) to end early.
#[derive(Clone, Default)]
pub struct CancelToken(Arc<CancelInner>);

#[derive(Default)]
struct CancelInner {
    cancelled: AtomicBool,
    subscribers: Subscribers,
}

impl CancelToken {
    /// A token that is not cancelled.
    pub fn new() -> Self {
        Self::default()
    }

    /// Cancels every walk using this token; idempotent.
    pub fn cancel(&self) {
        if !self.0.cancelled.swap(true, Ordering::AcqRel) {
            tracing::debug!("walk cancelled");
            self.0.subscribers.wake_all();
        }
    }

    /// Whether [`CancelToken::cancel`] has been called on this token or a clone.
    pub fn is_cancelled(&self) -> bool {
        self.0.cancelled.load(Ordering::Acquire)
    }

    pub(crate) fn subscribe(&self, walk: Weak<dyn Wake>) {
        self.0.subscribers.subscribe(walk);
    }
}

impl std::fmt::Debug for CancelToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("CancelToken")
            .field(&self.is_cancelled())
            .finish()
    }
}
