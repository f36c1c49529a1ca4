//! The run: the *hash*, *schedule* and *execute-or-restore* stages of kiln's flow, as a
//! library call ([`run`]) that the CLI, tests and the dashboard share.
//!
//! - [`run()`] takes a [`RunRequest`] (a planned task graph and how to run it) to a
//!   [`RunOutcome`]: it takes the repository's run lock, hashes ([`hash_plan`]: one
//!   [`PlannedTask`] per node, its key, manifest and the steps that will run), opens the
//!   local store, state and journal, walks the graph with `kiln-scheduler` (`engine.rs`),
//!   runs each task phase by phase (`task/`: lookup, exec, store), writes the run record
//!   and prunes;
//! - everything that happens is sent as [`kiln_core::Event`]s to the caller's channel.
//!
//! This crate never prints; the CLI subscribes to the events.

mod affected;
mod engine;
mod error;
mod events;
mod external;
mod git_files;
mod hashing;
mod local_store;
mod output_state;
mod plan_checks;
mod remote;
mod resources;
mod run;
mod run_record;
pub mod script_env;
mod task;
pub mod task_env;
mod task_lock;

pub use affected::{Affected, affected_tasks, files_by_package, files_changed, global_change};
pub use engine::ExecuteOptions;
pub use error::RunError;
pub use external::{ExternalVersions, LockfileText};
pub use git_files::GitFiles;
pub use hashing::{HashContext, Plan, PlannedTask, TURBO_ROOT, current_input_files, hash_tasks};
pub use local_store::{ARTIFACT_SIZE_ENV, cache_dir, open_local_store, store_options};
pub use output_state::{OutputRecord, OutputState};
pub use plan_checks::{OutputsOverlap, output_overlaps};
pub use remote::{CacheModes, RemoteTier, parse_cache_modes};
pub use run::{RunOutcome, RunRequest, StopHandle, hash_plan, run};
pub use run_record::RUN_RECORD_FORMAT;
pub use task::{CacheMode, turbo_log_name};
pub use task_lock::RunLock;
