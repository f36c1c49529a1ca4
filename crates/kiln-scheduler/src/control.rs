//! The live controls a caller holds while a walk runs: the resource [`Budget`] (CPU slots and
//! memory) and the [`CancelToken`].
//!
//! Both are cheap cloneable handles (an `Arc` around atomics). Changing one must wake the
//! walk's idle workers, or a raised budget or a cancel would only be noticed at the next
//! completion. So each handle keeps a list of subscribed walks; a walk subscribes when it
//! starts, and its entry dies with it (a `Weak`), so a handle can outlive any number of walks.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
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

/// What running nodes may hold at once: CPU `slots` (what `--concurrency` sets) and
/// optionally bytes of `memory`. Clones share one value, so the caller (or a memory-pressure
/// monitor) can raise or lower either while a walk runs: raising starts waiting nodes at
/// once; lowering never stops running work, it only holds back new starts until enough of
/// the running work has finished.
///
/// A node larger than a whole dimension (say 8 cpus with 2 slots, or 0 slots) still runs,
/// but only once nothing else holds that dimension, so a walk always makes progress.
#[derive(Clone)]
pub struct Budget(Arc<BudgetInner>);

/// Stored for "no memory limit": a limit of `u64::MAX` bytes means the same thing.
const UNLIMITED: u64 = u64::MAX;

struct BudgetInner {
    slots: AtomicUsize,
    memory: AtomicU64,
    subscribers: Subscribers,
}

impl Budget {
    /// A budget of `slots` CPU slots and no memory limit.
    pub fn new(slots: usize) -> Self {
        Self::with_memory(slots, None)
    }

    /// A budget of `slots` CPU slots and `memory` bytes (`None`: no memory limit).
    pub fn with_memory(slots: usize, memory: Option<u64>) -> Self {
        Budget(Arc::new(BudgetInner {
            slots: AtomicUsize::new(slots),
            memory: AtomicU64::new(memory.unwrap_or(UNLIMITED)),
            subscribers: Subscribers::default(),
        }))
    }

    /// The CPU slots as set (may be 0: then nodes needing a CPU run one at a time).
    pub fn slots(&self) -> usize {
        self.0.slots.load(Ordering::Acquire)
    }

    /// Changes the CPU slots for every walk using this budget, now.
    pub fn set_slots(&self, slots: usize) {
        let old = self.0.slots.swap(slots, Ordering::AcqRel);
        if old != slots {
            tracing::debug!(old, new = slots, "cpu slots changed");
            self.0.subscribers.wake_all();
        }
    }

    /// The memory limit in bytes, `None` when unlimited.
    pub fn memory(&self) -> Option<u64> {
        match self.0.memory.load(Ordering::Acquire) {
            UNLIMITED => None,
            bytes => Some(bytes),
        }
    }

    /// Changes the memory limit (`None`: unlimited) for every walk using this budget, now.
    pub fn set_memory(&self, memory: Option<u64>) {
        let new = memory.unwrap_or(UNLIMITED);
        let old = self.0.memory.swap(new, Ordering::AcqRel);
        if old != new {
            tracing::debug!(?memory, "memory budget changed");
            self.0.subscribers.wake_all();
        }
    }

    /// Alias of [`Budget::slots`], for callers that only think in concurrency.
    pub fn get(&self) -> usize {
        self.slots()
    }

    /// Alias of [`Budget::set_slots`].
    pub fn set(&self, slots: usize) {
        self.set_slots(slots);
    }

    pub(crate) fn subscribe(&self, walk: Weak<dyn Wake>) {
        self.0.subscribers.subscribe(walk);
    }
}

impl std::fmt::Debug for Budget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Budget")
            .field("slots", &self.slots())
            .field("memory", &self.memory())
            .finish()
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
