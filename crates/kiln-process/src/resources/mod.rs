//! Resource sampling: what the machine has left, what each task's process tree uses, and a
//! governor that turns memory pressure into a concurrency budget.
//!
//! ```text
//!  Monitor thread (every interval)
//!    MachineSampler::sample ─▶ MachineSample      /proc/{stat,meminfo,loadavg} ∩ cgroup limits
//!    sample_groups(pgids)   ─▶ {pgid: TreeSample}  one pass over /proc/<pid>/{stat,io}
//!        └─▶ on_sample (caller) ─▶ TreeTracker::record   peaks and totals per task
//!                               └─▶ MemoryGovernor::update ─▶ Decision { slots, memory }
//! ```
//!
//! Linux reads `/proc` and the cgroup filesystem. Elsewhere sampling yields nothing
//! (`MachineSampler::sample` is `None`, `sample_groups` empty) and the budget stays static;
//! nothing here panics on a missing or odd file.

mod cgroup;
mod governor;
mod machine;
mod monitor;
mod tree;

pub use governor::{Decision, GovernorConfig, MemoryGovernor};
pub use machine::{MachineSample, MachineSampler};
pub use monitor::Monitor;
pub use tree::{TreeSample, TreeTotals, TreeTracker, sample_groups};
