//! The walk: run every node of a [`Dag`] once its dependencies succeeded, most urgent first,
//! never holding more than the [`Budget`] allows, never two holders of one lock at once.
//!
//! # Design
//!
//! There is no coordinator thread and no message queue. All bookkeeping lives in one
//! `State` behind one mutex: the ready nodes (see `ready` for which one starts next: budget
//! fit, locks, the starvation policy), each node's count of unfinished dependencies, how many
//! nodes run, and how many workers sit idle. Workers are plain loops:
//!
//! ```text
//! lock ─▶ pick the best node that may start now ─▶ unlock ─▶ work(node, worker)
//!   ▲                                                               │
//!   └──── give back budget and locks, mark dependents ready ◀── lock
//! ```
//!
//! Compared with cargo's job queue (workers send messages to one coordinator that owns the
//! state) this costs one lock round-trip per node instead of two channel hops and two context
//! switches, which is what lets 4,000 trivial nodes walk in a few milliseconds. The critical
//! section is small (a few ordered-set operations and counter updates), so contention stays
//! low at the worker counts a machine can usefully run.
//!
//! **Threads.** The calling thread is worker 0. Threads are added lazily: whenever a worker
//! picks a node and no other worker is idle, it spawns one spare with the next index (never
//! more than `n` in total). So there is always an idle worker ready to react when the budget
//! is raised from outside, and a walk never has more than `max running + 1` threads. A worker
//! runs one node at a time, so nodes running together always have different worker indices,
//! all below the number of threads: stable small integers, one per trace track. All threads
//! live in a `std::thread::scope`, so `work` may borrow from the caller.
//!
//! **Wakes.** A worker that finishes a node picks the next one itself. Whoever starts a node
//! while more might start (a finish can free several slots, or a lock with many waiters)
//! wakes one idle worker, which does the same: a chain that stops at the first worker that
//! finds nothing, and nothing is what anyone would find in that state.
//!
//! **Budget and cancel.** Both are read under the state lock at every pick. Changing them
//! wakes every idle worker through a subscription (see `control`), so a raise starts work at
//! once and a cancel lets idle workers leave at once. Lowering the budget never touches
//! running work. Persistent nodes hold no budget, so a walk never waits for a dev server to
//! exit before starting other work; it does wait for it to return before it ends.
//!
//! **Failure** ([`OnFailure`]). `Stop` (the default) stops new starts after the first
//! failure; running nodes finish and are recorded; everything unstarted is
//! [`NodeState::NotRun`]. With `SkipDependents`, the failed node's transitive dependents are
//! marked [`NodeState::Skipped`] right away (their dependency counts never reach zero, so
//! they are never started) and everything independent runs. With `RunDependents`, a failure
//! releases its dependents as a success would: every node runs.
//!
//! **Panics.** A panic in `work` is caught on the worker, logged with `tracing::error!`, and
//! recorded as a failure of that node; the walk then follows the failure policy. The walker
//! never holds its lock while running `work`, so a panic can neither poison the state nor
//! leave other workers waiting forever.
//!
//! **Termination.** A worker leaves when nothing can start any more: the walk is stopped
//! (failure or cancel), or no node is waiting and none is running. A node parked on a lock
//! always has a running lock holder, and a node too big for the budget always fits once
//! nothing runs, so neither can keep the walk alive. The last one out wakes the others.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};
use std::thread::Scope;

use crate::control::{Budget, CancelToken, Wake};
use crate::dag::Dag;
use crate::ready::{Limits, Ready};

/// How a walk behaves.
#[derive(Debug, Clone)]
pub struct WalkOptions {
    /// What running nodes may hold at once (CPU slots, memory); a live handle the caller may
    /// change mid-walk. Named for its first dimension, the `--concurrency` slots.
    pub concurrency: Budget,
    /// What a failure does to the rest of the walk.
    pub on_failure: OnFailure,
}

/// What a failed node does to the rest of the walk (Turborepo's `--continue=…`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OnFailure {
    /// Start nothing new (`never`).
    #[default]
    Stop,
    /// Skip the failed node's dependents, run everything else (`dependencies-successful`).
    SkipDependents,
    /// Run every node, the failed node's dependents included (`always`).
    RunDependents,
}

impl WalkOptions {
    /// Fail-fast walk with a starting budget of `concurrency` CPU slots and no memory limit.
    pub fn new(concurrency: usize) -> Self {
        WalkOptions {
            concurrency: Budget::new(concurrency),
            on_failure: OnFailure::Stop,
        }
    }
}

/// What the work closure reports for a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeResult {
    Success,
    Failure,
}

/// How each node ended up after a walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeState {
    /// The work ran and returned [`NodeResult::Success`].
    Succeeded,
    /// The work ran and returned [`NodeResult::Failure`] (or panicked).
    Failed,
    /// Not started because it transitively depends on the failed node `because`
    /// (only with [`OnFailure::SkipDependents`]; with several failed ancestors, the first
    /// to fail).
    Skipped { because: usize },
    /// Not started because the walk stopped first (fail-fast or cancel).
    NotRun,
}

/// Walks `dag`, calling `work(node)` for each node once all its dependencies succeeded, most
/// urgent ready node first (higher priority, ties: lower index) among those the budget and
/// locks allow. Returns the state of every node, indexed like the graph. See the module doc
/// for the failure, cancel and panic policies.
pub fn run<F>(dag: &Dag, opts: &WalkOptions, cancel: &CancelToken, work: F) -> Vec<NodeState>
where
    F: Fn(usize) -> NodeResult + Sync,
{
    run_with(dag, opts, cancel, |node, _worker| work(node))
}

/// Like [`run`], but calls `work(node, worker)`, where `worker` is the index of the thread
/// running the node: `0..threads`, stable for the walk, and different for any two nodes
/// running at the same time (one trace track per worker).
pub fn run_with<F>(dag: &Dag, opts: &WalkOptions, cancel: &CancelToken, work: F) -> Vec<NodeState>
where
    F: Fn(usize, usize) -> NodeResult + Sync,
{
    let n = dag.len();
    if n == 0 {
        return Vec::new();
    }
    let shared = Arc::new(Shared {
        state: Mutex::new(State::new(dag)),
        idle_workers: Condvar::new(),
    });
    let weak: Weak<dyn Wake> = Arc::downgrade(&shared) as Weak<dyn Wake>;
    opts.concurrency.subscribe(weak.clone());
    cancel.subscribe(weak);

    let walk = Walk {
        dag,
        opts,
        cancel,
        work: &work,
        shared: &shared,
    };
    std::thread::scope(|scope| walk.worker(scope, 0));

    let state = shared.lock();
    tracing::debug!(nodes = n, threads = state.threads, "walk finished");
    state
        .slots
        .iter()
        .map(|slot| match slot {
            Slot::Waiting | Slot::Running => NodeState::NotRun,
            Slot::Done(state) => *state,
        })
        .collect()
}

/// The part of a walk that control handles can wake; `'static` so it can sit behind a `Weak`.
struct Shared {
    state: Mutex<State>,
    idle_workers: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Work never runs under this lock, so poisoning can only come from a bug in the
        // walker itself; the state is still consistent enough to finish and report.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Wake for Shared {
    fn wake(&self) {
        // Taking the lock orders the wake after any worker's check-then-wait.
        let _state = self.lock();
        self.idle_workers.notify_all();
    }
}

#[derive(Clone, Copy)]
enum Slot {
    Waiting,
    Running,
    Done(NodeState),
}

struct State {
    /// Nodes whose dependencies all succeeded and that have not started.
    ready: Ready,
    /// Per node, how many dependencies have not yet succeeded.
    unmet: Vec<usize>,
    slots: Vec<Slot>,
    running: usize,
    idle: usize,
    threads: usize,
    /// Set on the first failure in fail-fast mode.
    halted: bool,
}

impl State {
    fn new(dag: &Dag) -> Self {
        let n = dag.len();
        let unmet: Vec<usize> = (0..n).map(|i| dag.deps(i).len()).collect();
        let mut ready = Ready::new(dag);
        for node in (0..n).filter(|&i| unmet[i] == 0) {
            ready.push(dag, node);
        }
        State {
            ready,
            unmet,
            slots: vec![Slot::Waiting; n],
            running: 0,
            idle: 0,
            threads: 1,
            halted: false,
        }
    }
}

struct Walk<'a, F> {
    dag: &'a Dag,
    opts: &'a WalkOptions,
    cancel: &'a CancelToken,
    work: &'a F,
    shared: &'a Arc<Shared>,
}

impl<'a, F> Walk<'a, F>
where
    F: Fn(usize, usize) -> NodeResult + Sync,
{
    fn limits(&self) -> Limits {
        let budget = &self.opts.concurrency;
        Limits {
            slots: budget.slots() as u64,
            memory: budget.memory(),
        }
    }

    fn worker<'s>(&'s self, scope: &'s Scope<'s, '_>, index: usize) {
        let mut state = self.shared.lock();
        if index > 0 {
            // A spare is counted idle from its spawn until here (see below).
            state.idle -= 1;
        }
        loop {
            let picked;
            (state, picked) = self.pick(state);
            let Some(node) = picked else {
                // Nothing will ever start for this worker again; let the others see it too.
                self.shared.idle_workers.notify_all();
                return;
            };
            state.slots[node] = Slot::Running;
            state.running += 1;
            if state.idle > 0 && state.ready.may_start(self.limits()) {
                self.shared.idle_workers.notify_one();
            }
            // A spare counts as idle until it first takes the lock: it will pick on its own,
            // and counting it keeps a second pick from spawning another before it gets there.
            let spare = (state.idle == 0 && state.threads < self.dag.len()).then(|| {
                state.threads += 1;
                state.idle += 1;
                state.threads - 1
            });
            drop(state);

            if let Some(spare) = spare {
                scope.spawn(move || self.worker(scope, spare));
            }
            let result = self.call_work(node, index);

            state = self.shared.lock();
            state.running -= 1;
            state.ready.finish(self.dag, node);
            self.record(&mut state, node, result);
        }
    }

    /// Waits until a node may start and takes it, or returns `None` when the walk is over
    /// for this worker.
    fn pick<'g>(&self, mut state: MutexGuard<'g, State>) -> (MutexGuard<'g, State>, Option<usize>) {
        loop {
            if state.halted || self.cancel.is_cancelled() {
                return (state, None);
            }
            if let Some(node) = state.ready.take(self.dag, self.limits()) {
                return (state, Some(node));
            }
            if state.ready.is_empty() && state.running == 0 {
                return (state, None);
            }
            state.idle += 1;
            state = self
                .shared
                .idle_workers
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
            state.idle -= 1;
        }
    }

    fn call_work(&self, node: usize, worker: usize) -> NodeResult {
        match catch_unwind(AssertUnwindSafe(|| (self.work)(node, worker))) {
            Ok(result) => result,
            Err(payload) => {
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "non-string panic payload".to_string());
                tracing::error!(node, %message, "work panicked; recording the node as failed");
                NodeResult::Failure
            }
        }
    }

    fn record(&self, state: &mut State, node: usize, result: NodeResult) {
        let release = match result {
            NodeResult::Success => {
                state.slots[node] = Slot::Done(NodeState::Succeeded);
                true
            }
            NodeResult::Failure => {
                state.slots[node] = Slot::Done(NodeState::Failed);
                match self.opts.on_failure {
                    OnFailure::Stop => {
                        tracing::debug!(node, "node failed; starting nothing new");
                        state.halted = true;
                    }
                    OnFailure::SkipDependents => self.skip_dependents_of(state, node),
                    OnFailure::RunDependents => {}
                }
                self.opts.on_failure == OnFailure::RunDependents
            }
        };
        if release {
            // This worker picks next itself and wakes others if more may start.
            for &dependent in self.dag.dependents(node) {
                state.unmet[dependent] -= 1;
                if state.unmet[dependent] == 0 {
                    state.ready.push(self.dag, dependent);
                }
            }
        }
        if state.halted || (state.running == 0 && state.ready.is_empty()) {
            self.shared.idle_workers.notify_all();
        }
    }

    fn skip_dependents_of(&self, state: &mut State, failed: usize) {
        let mut stack = vec![failed];
        while let Some(node) = stack.pop() {
            for &dependent in self.dag.dependents(node) {
                if matches!(state.slots[dependent], Slot::Waiting) {
                    state.slots[dependent] = Slot::Done(NodeState::Skipped { because: failed });
                    stack.push(dependent);
                }
            }
        }
    }
}

#[cfg(test)]
mod resource_tests;
#[cfg(test)]
mod tests;
