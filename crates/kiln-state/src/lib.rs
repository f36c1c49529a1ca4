//! kiln-state: what kiln remembers between runs, under `.kiln/state/`, and what it can
//! explain with it.
//!
//! - [`BuildState`]: for every task, the keys of its last successful runs and the
//!   [`kiln_hash::InputManifest`] behind each key, plus the global inputs of recent runs;
//! - [`Explainer`]: why a task's key is not the one of its last successful run, followed
//!   through changed dependencies down to the files, env vars or versions that changed
//!   (`kiln why`, `kiln run -v`, the run summary);
//! - [`Journal`]: which tasks of the current run have succeeded, written as they finish,
//!   so `kiln run --resume` re-runs only the rest after a failure or a crash.
//!
//! In kiln's flow this is the *record* stage's memory. Every file is versioned and
//! checksummed and written atomically; one that is damaged is reported once and ignored.
//! Nothing here decides whether a task runs: keys do. The state only explains, so losing
//! it (`kiln state clean`) costs explanations, never correctness.

mod durations;
mod error;
mod explain;
mod framed;
mod journal;
mod store;

pub use durations::Durations;
pub use error::StateError;
pub use explain::{Explainer, Explanation, summarize};
pub use journal::{Journal, LastRun, last_run};
pub use store::{BuildState, KEPT_RUNS, PastRun, TaskState};
