//! A generic DAG walker: the *schedule* stage of kiln's flow.
//!
//! Given a [`Dag`] of `n` nodes (`0..n`, each with its dependencies and a priority), [`run`]
//! calls a `work` closure for every node on a small pool of worker threads, starting a node
//! only once all its dependencies succeeded and always starting the most urgent ready node
//! first. How many nodes run at once is a live [`Budget`] the caller may change mid-walk; a
//! [`CancelToken`] stops new starts. The result is one [`NodeState`] per node.
//!
//! The walker knows nothing of tasks, caches or processes: `kiln-run` maps nodes to tasks, and
//! the work closure decides what "success" means. See the `walker` module for the design.

mod control;
mod dag;
mod walker;

pub use control::{Budget, CancelToken};
pub use dag::{Dag, DagError};
pub use walker::{NodeResult, NodeState, WalkOptions, run};
