//! Why a task's command runs instead of its result coming from the cache, as a
//! [`RunReason`]: the CLI words it, the run record keeps it.

use std::collections::HashMap;

use kiln_core::{RunReason, TaskId, TaskKey};
use kiln_hash::GlobalInputs;
use kiln_state::{BuildState, Explainer, Journal};

use super::lookup::Cache;
use crate::PlannedTask;

/// What a task's records are read from and written to.
pub(crate) struct Records<'a> {
    /// Each task's last successful keys and inputs: to say why a task runs, and updated
    /// when it succeeds.
    pub(crate) state: &'a BuildState,
    /// The global inputs of this run (to name the one that changed).
    pub(crate) global: &'a GlobalInputs,
    /// Where this run notes each task that succeeds (for `--resume`).
    pub(crate) journal: Option<&'a Journal>,
    /// `--resume`: the tasks that succeeded in the run being resumed, with their keys; a
    /// task found here with the same key is not run again.
    pub(crate) resumed: Option<&'a HashMap<TaskId, TaskKey>>,
}

pub(crate) fn why_it_runs(
    records: &Records<'_>,
    cache: &Cache<'_>,
    task: &PlannedTask<'_>,
    cacheable: bool,
) -> RunReason {
    if task.node.task.persistent {
        return RunReason::Persistent;
    }
    if !cacheable {
        return RunReason::CacheOff;
    }
    if !cache.reads() {
        return if cache.mode.forced {
            RunReason::Forced
        } else {
            RunReason::CacheNotRead
        };
    }
    let id = task.id();
    let Some(last) = records.state.task(id).and_then(|s| s.last().cloned()) else {
        return RunReason::NeverRun;
    };
    if last.key == task.key {
        return RunReason::NotInCache;
    }
    let explainer = Explainer::new(records.state, [&task.manifest], records.global);
    match explainer.reasons(id) {
        Some(changes) => RunReason::InputsChanged { changes },
        None => RunReason::InputsUnrecorded,
    }
}
