//! Running task commands as process trees kiln can observe and stop: the *execute* half of
//! "execute or restore".
//!
//! [`run`] starts a [`TaskCommand`] (directly, or through `/bin/sh -c` when it has shell
//! syntax; see [`TaskCommand::invocation`]) in its own process group with stdin from
//! `/dev/null` and stdout and stderr on one pipe, streams its output line by line to a
//! callback, keeps all of it for the cache log ([`TaskOutput`]), and returns an [`ExitInfo`]
//! once the main process has exited and whatever it left in its group has been killed.
//!
//! Every running group is in a [`ProcessRegistry`]; [`ProcessRegistry::terminate_all`] stops
//! them all (SIGINT, grace, SIGKILL) and refuses new spawns, and [`stop_on_signals`] wires
//! that to Ctrl-C. This crate knows nothing of graphs, caches or tasks' meaning.
//!
//! Unix only (Linux first): it relies on process groups, `poll`, `waitid` and signals.

#[cfg(not(unix))]
compile_error!("kiln-process supports Unix only (process groups and signals)");

mod command;
mod error;
mod group;
mod output;
mod registry;
mod resources;
mod signals;
mod spawn;

pub use command::{Invocation, SHELL, SHELL_ONLY, TaskCommand};
pub use error::ProcessError;
pub use group::{ExitInfo, StopReason};
pub use registry::{ProcessRegistry, TerminateSummary};
pub use resources::{
    Decision, GovernorConfig, MachineSample, MachineSampler, MemoryGovernor, Monitor, TreeSample,
    TreeTotals, TreeTracker, sample_groups,
};
pub use signals::stop_on_signals;
pub use spawn::{RunOptions, TaskOutput, run};

#[cfg(test)]
mod tests;
