//! The run: the *hash*, *schedule* and *execute-or-restore* stages of kiln's flow.
//!
//! - [`hash_tasks`] gives every node of the task graph its key ([`HashedTask`]);
//! - [`execute`] walks the graph with `kiln-scheduler`, running each task through
//!   [`run_task`]: a cache hit restores outputs and replays the log, a miss spawns the
//!   command (with the environment a package manager would give a script, see
//!   [`script_env`]) and stores the result;
//! - everything that happens is sent as [`kiln_core::Event`]s to the caller's channel.
//!
//! This crate never prints; the CLI subscribes to the events.

mod affected;
mod engine;
mod error;
mod external;
mod git_files;
mod hashing;
mod output_state;
mod plan_checks;
mod remote;
pub mod script_env;
mod task;
pub mod task_env;
mod task_lock;

pub use affected::{Affected, affected_tasks, files_by_package, files_changed, global_change};
pub use engine::{ExecuteOptions, execute};
pub use error::RunError;
pub use external::{ExternalVersions, LockfileText};
pub use git_files::GitFiles;
pub use hashing::{
    HashContext, HashedPlan, HashedTask, TURBO_ROOT, current_input_files, hash_tasks,
};
pub use output_state::{OutputRecord, OutputState};
pub use plan_checks::{OutputsOverlap, output_overlaps};
pub use remote::{CacheModes, RemoteTier, parse_cache_modes};
pub use task::{CacheMode, TaskContext, run_task, turbo_log_name};
pub use task_lock::RunLock;
