//! A generic DAG walker: the *schedule* stage of kiln's flow.
//!
//! Given a [`Dag`] of `n` nodes (`0..n`, each with its dependencies and a [`NodeSpec`]:
//! priority, CPU and memory weights, named locks, persistence), [`run_with`] calls a `work`
//! closure for every node on a small pool of worker threads, telling it which worker runs it.
//! A node starts only once all its dependencies succeeded, its locks are free and the live
//! [`Budget`] (CPU slots, memory) has room, the most urgent ready node first; a bounded
//! bypass rule keeps big urgent nodes from starving behind small ones. A [`CancelToken`]
//! stops new starts. The result is one [`NodeState`] per node.
//!
//! The walker knows nothing of tasks, caches or processes: `kiln-run` maps nodes to tasks and
//! lock names to indices, and the work closure decides what "success" means. See the
//! `walker` module for the threads and the `ready` module for the pick policy.

mod control;
mod dag;
mod ready;
mod walker;

pub use control::{Budget, CancelToken};
pub use dag::{Dag, DagError, NodeSpec};
pub use walker::{NodeResult, NodeState, OnFailure, WalkOptions, run, run_with};
