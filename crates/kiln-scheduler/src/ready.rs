//! Which ready node starts next: the most urgent one that the budget and the locks allow.
//!
//! # Design
//!
//! Ready nodes sit in two ordered sets, most urgent first (higher priority, then lower index):
//! *free* nodes (persistent ones, and those asking for no CPU and no memory) that only locks
//! can hold back, and *costly* nodes that also need room in the [`Budget`](crate::Budget).
//! A pick takes the most urgent node of either set that may start now.
//!
//! **Fit.** A costly node fits when, in each dimension, it asks for nothing, or the limit is
//! off (memory `None`), or what running nodes hold plus what it asks stays within the limit,
//! or *nothing running holds that dimension*. The last clause lets a node bigger than the
//! whole budget run, alone in that dimension, so a walk always makes progress; it also makes
//! a 0-slot budget behave like 1.
//!
//! **Locks.** A node starts only when none of its locks is held, and takes them all at once
//! (no hold-and-wait, so no deadlock between locks). A node found blocked by a lock is parked
//! on that lock and put back among the ready nodes when the lock is released, so a busy lock
//! never costs a scan and never blocks unrelated ready nodes. The lock covers this walk only:
//! two kiln processes must exclude each other inside the work (OS file locks).
//!
//! **Priority against fit (the starvation policy).** When the most urgent costly node does
//! not fit, less urgent nodes that do fit may *bypass* it, so cores do not idle while it
//! waits. But a stream of small nodes would keep the running set from ever draining, so
//! bypassing is bounded: each time a costly node starts ahead of a more urgent costly node
//! that did not fit, the passed-over node's count goes up, and once a node has been passed
//! over `max(slots, 1)` times it holds a *reservation*: no costly node below it starts until
//! it has started. Running work then drains until it fits (at worst alone), and it starts
//! first. With similar task lengths, `slots` bypasses is about one wave of work, so the wait
//! an urgent node pays for keeping the machine busy stays around one task duration. Free
//! nodes never count as bypasses (they take nothing it needs) and are never held back by a
//! reservation. A node blocked by a lock is not blocked by the budget: it neither reserves
//! nor gets passed over.
//!
//! **Cost.** A pick first checks, against the smallest demand among costly ready nodes in
//! each dimension, whether anything could fit at all, so a full budget costs no scan. A scan
//! that starts something only walks past nodes it then counts as bypassed or parks, so over
//! a walk those scans cost at most `max(slots, 1)` steps per node. A scan that finds nothing
//! (rare: each dimension has room for some node, but no node fits both) walks the costly set.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};

use crate::dag::{Dag, NodeSpec};

/// Most urgent first: higher priority, then lower index.
type Key = (Reverse<u64>, usize);

fn key(dag: &Dag, node: usize) -> Key {
    (Reverse(dag.priority(node)), node)
}

/// The budget as read at one pick, under the walk's lock.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) slots: u64,
    pub(crate) memory: Option<u64>,
}

/// A multiset that answers "what is the smallest value", for the could-anything-fit check.
#[derive(Debug)]
struct Demands<T>(BTreeMap<T, usize>);

impl<T: Ord + Copy + Default> Demands<T> {
    fn add(&mut self, value: T) {
        *self.0.entry(value).or_default() += 1;
    }

    fn remove(&mut self, value: T) {
        if let Some(count) = self.0.get_mut(&value) {
            *count -= 1;
            if *count == 0 {
                self.0.remove(&value);
            }
        }
    }

    fn min(&self) -> T {
        self.0.keys().next().copied().unwrap_or_default()
    }
}

/// What running costly nodes hold, and a test of whether a demand fits beside it.
#[derive(Debug, Default)]
struct Held {
    cpus: u64,
    memory: u64,
}

impl Held {
    fn fits(&self, cpus: u64, memory: u64, limits: Limits) -> bool {
        let cpus_fit =
            cpus == 0 || self.cpus == 0 || self.cpus.saturating_add(cpus) <= limits.slots;
        let memory_fit = limits.memory.is_none_or(|limit| {
            memory == 0 || self.memory == 0 || self.memory.saturating_add(memory) <= limit
        });
        cpus_fit && memory_fit
    }
}

/// The ready nodes of one walk, the locks held and the budget in use.
#[derive(Debug)]
pub(crate) struct Ready {
    free: BTreeSet<Key>,
    costly: BTreeSet<Key>,
    costly_cpus: Demands<u32>,
    costly_memory: Demands<u64>,
    /// Per (dense) lock: whether a running node holds it, and the ready nodes parked on it.
    held_locks: Vec<bool>,
    parked: Vec<Vec<usize>>,
    parked_count: usize,
    /// Per node, how many times a less urgent costly node started while it did not fit.
    passed_over: Vec<u64>,
    held: Held,
}

impl Ready {
    pub(crate) fn new(dag: &Dag) -> Self {
        Ready {
            free: BTreeSet::new(),
            costly: BTreeSet::new(),
            costly_cpus: Demands(BTreeMap::new()),
            costly_memory: Demands(BTreeMap::new()),
            held_locks: vec![false; dag.lock_count()],
            parked: vec![Vec::new(); dag.lock_count()],
            parked_count: 0,
            passed_over: vec![0; dag.len()],
            held: Held::default(),
        }
    }

    /// `node`'s dependencies all succeeded: it may start once the budget and locks allow.
    pub(crate) fn push(&mut self, dag: &Dag, node: usize) {
        let spec = dag.spec(node);
        if spec.is_costly() {
            self.costly.insert(key(dag, node));
            self.costly_cpus.add(spec.cpus);
            self.costly_memory.add(spec.memory);
        } else {
            self.free.insert(key(dag, node));
        }
    }

    /// No node is waiting to start (parked nodes count as waiting).
    pub(crate) fn is_empty(&self) -> bool {
        self.free.is_empty() && self.costly.is_empty() && self.parked_count == 0
    }

    /// Whether a pick right now might start something; false only when it certainly cannot.
    pub(crate) fn may_start(&self, limits: Limits) -> bool {
        !self.free.is_empty() || (!self.costly.is_empty() && self.anything_may_fit(limits))
    }

    /// Picks the node to start now, if any, and books its locks and budget.
    pub(crate) fn take(&mut self, dag: &Dag, limits: Limits) -> Option<usize> {
        let free = self.best_free(dag);
        let node = match self.best_costly(dag, limits, free) {
            Some((_, node)) => node,
            None => free?.1,
        };
        self.remove(dag, node);
        let spec = dag.spec(node);
        for &lock in dag.dense_locks(node) {
            self.held_locks[lock] = true;
        }
        if spec.is_costly() {
            self.held.cpus += u64::from(spec.cpus);
            self.held.memory = self.held.memory.saturating_add(spec.memory);
        }
        Some(node)
    }

    /// `node` stopped running: gives back its budget and locks, unparking their waiters.
    pub(crate) fn finish(&mut self, dag: &Dag, node: usize) {
        let spec = dag.spec(node);
        if spec.is_costly() {
            self.held.cpus -= u64::from(spec.cpus);
            self.held.memory = self.held.memory.saturating_sub(spec.memory);
        }
        for &lock in dag.dense_locks(node) {
            self.held_locks[lock] = false;
            let waiters = std::mem::take(&mut self.parked[lock]);
            self.parked_count -= waiters.len();
            for waiter in waiters {
                self.push(dag, waiter);
            }
        }
    }

    fn anything_may_fit(&self, limits: Limits) -> bool {
        let least_cpus = u64::from(self.costly_cpus.min());
        self.held.fits(least_cpus, self.costly_memory.min(), limits)
    }

    fn fits(&self, spec: &NodeSpec, limits: Limits) -> bool {
        self.held.fits(u64::from(spec.cpus), spec.memory, limits)
    }

    fn locks_free(&self, dag: &Dag, node: usize) -> bool {
        dag.dense_locks(node)
            .iter()
            .all(|&lock| !self.held_locks[lock])
    }

    /// The most urgent free node whose locks are free, parking the ones found blocked.
    fn best_free(&mut self, dag: &Dag) -> Option<Key> {
        while let Some(&first) = self.free.first() {
            if self.locks_free(dag, first.1) {
                return Some(first);
            }
            self.free.remove(&first);
            self.park(dag, first.1);
        }
        None
    }

    /// The most urgent costly node that may start now and is more urgent than `bound` (the
    /// best free node), applying the bypass policy of the module doc.
    fn best_costly(&mut self, dag: &Dag, limits: Limits, bound: Option<Key>) -> Option<Key> {
        if self.costly.is_empty() || !self.anything_may_fit(limits) {
            return None;
        }
        let reserve_after = limits.slots.max(1);
        let mut passed = Vec::new();
        let mut blocked = Vec::new();
        let mut found = None;
        for &candidate in &self.costly {
            if bound.is_some_and(|bound| candidate > bound) {
                break;
            }
            let node = candidate.1;
            if !self.locks_free(dag, node) {
                blocked.push(node);
            } else if self.fits(dag.spec(node), limits) {
                found = Some(candidate);
                break;
            } else if self.passed_over[node] >= reserve_after {
                tracing::trace!(node, "reserved: nothing less urgent starts before it");
                break;
            } else {
                passed.push(node);
            }
        }
        for node in blocked {
            self.remove(dag, node);
            self.park(dag, node);
        }
        if found.is_some() {
            for node in passed {
                self.passed_over[node] += 1;
            }
        }
        found
    }

    fn remove(&mut self, dag: &Dag, node: usize) {
        let spec = dag.spec(node);
        if spec.is_costly() {
            self.costly.remove(&key(dag, node));
            self.costly_cpus.remove(spec.cpus);
            self.costly_memory.remove(spec.memory);
        } else {
            self.free.remove(&key(dag, node));
        }
    }

    /// Parks `node` (already out of the ready sets) on one of its held locks.
    fn park(&mut self, dag: &Dag, node: usize) {
        match dag
            .dense_locks(node)
            .iter()
            .find(|&&lock| self.held_locks[lock])
        {
            Some(&lock) => {
                self.parked[lock].push(node);
                self.parked_count += 1;
            }
            None => self.push(dag, node),
        }
    }
}

#[cfg(test)]
mod tests;
