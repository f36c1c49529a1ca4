//! The plan: which tasks a run needs and in what order.
//!
//! Second stage of the flow (`discover ─▶ plan ─▶ hash ─▶ …`). From the [`Workspace`] that
//! `kiln-workspace` discovered:
//!
//! - [`PackageGraph`]: packages and their internal dependencies, closures both ways, cycles.
//! - [`Filter`] and [`select_packages`]: `--filter` expressions (pnpm/Turborepo syntax) to
//!   the set of packages a run starts from; [`Inference`] adapts them (or supplies one) when
//!   kiln starts below the workspace root.
//! - [`TaskGraph::build`]: the graph of (package, task) nodes, with Turborepo 2.x's rules for
//!   entry points and `dependsOn` (documented rule by rule in `task_builder.rs`), validated
//!   (no cycles, nothing waits on a persistent task) and numbered in topological order.
//! - [`priorities`]: critical-path priorities for the scheduler.
//!
//! Every failure is a [`GraphError`] naming the cycle, task, package or filter involved.
//! This crate reads no files.
//!
//! [`Workspace`]: kiln_workspace::Workspace

mod error;
mod filter;
mod inference;
mod package_graph;
mod priority;
mod select;
mod task_builder;
mod task_graph;
mod topo;

#[cfg(test)]
mod testkit;

pub use error::GraphError;
pub use filter::{DirPattern, Filter, GitRange, NamePattern};
pub use inference::Inference;
pub use package_graph::PackageGraph;
pub use priority::priorities;
pub use select::{ChangedPackages, Selection, select, select_changed, select_packages};
pub use task_graph::{TaskGraph, TaskNode};
