//! The *schedule* and *execute-or-restore* stages for a whole run: maps the task graph
//! onto the generic walker of `kiln-scheduler` and runs each node through [`run_task`].

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use kiln_core::{CacheStatus, Event, TaskId, TaskOutcome, TaskReport};
use kiln_graph::{TaskGraph, TaskNode, priorities};
use kiln_scheduler::{
    Budget, CancelToken, Dag, NodeResult, NodeSpec, NodeState, OnFailure, WalkOptions,
};

use crate::events::Emitter;
use crate::task::{TaskRun, run_task};
use crate::{Plan, RunError};

/// How the walk behaves.
#[derive(Clone, Debug)]
pub struct ExecuteOptions {
    /// How many CPU slots (and how much memory) tasks may take at once: a live handle the
    /// resource monitor lowers under memory pressure and raises back.
    pub budget: Budget,
    /// What a failed task does to the rest of the run (`--continue=…`).
    pub on_failure: OnFailure,
    /// How long each task took when it last ran (from the build state), to put the
    /// critical path first.
    pub durations: HashMap<TaskId, Duration>,
    /// Tasks whose outputs overlap ([`crate::output_overlaps`]): the second of each pair
    /// waits for the first, as if it depended on it. Run at once, one would pack the other's
    /// files; run in either order, restores would not replay what the runs did.
    pub overlaps: Vec<crate::OutputsOverlap>,
    /// The repository's writer lock, released (after the outputs state is saved) as soon as
    /// every non-persistent task has ended, so a dev server does not hold back other runs.
    pub run_lock: Option<std::sync::Arc<crate::RunLock>>,
}

/// Runs every task of `plan` (made from `graph`) and returns one report per task, in graph
/// order. Tasks that never started get a report too (skipped or cancelled), also sent as
/// [`Event::TaskFinished`].
#[tracing::instrument(name = "execute", skip_all, fields(tasks = graph.len()))]
pub(crate) fn execute(
    run: &TaskRun<'_>,
    graph: &TaskGraph,
    plan: &Plan<'_>,
    opts: &ExecuteOptions,
    cancel: &CancelToken,
) -> Result<Vec<TaskReport>, RunError> {
    let specs = node_specs(graph, &opts.durations);
    let mut deps = graph.deps().to_vec();
    for overlap in &opts.overlaps {
        if let (Some(first), Some(second)) = (
            graph.index_of(&overlap.first),
            graph.index_of(&overlap.second),
        ) {
            // Graph order is topological, so an edge from the later node to the earlier one
            // can never close a cycle.
            let (earlier, later) = (first.min(second), first.max(second));
            if !deps[later].contains(&earlier) {
                deps[later].push(earlier);
            }
        }
    }
    let dag = Dag::with_specs(deps, specs).map_err(|e| RunError::Internal(e.to_string()))?;
    let walk = WalkOptions {
        concurrency: opts.budget.clone(),
        on_failure: opts.on_failure,
    };
    let reports: Vec<Mutex<Option<TaskReport>>> =
        (0..graph.len()).map(|_| Mutex::new(None)).collect();
    // Tasks skipped after a failure never count down: the lock is then held until the run
    // ends, which only ever delays another run.
    let writers = AtomicUsize::new(graph.nodes().iter().filter(|n| !n.task.persistent).count());
    let release = || {
        if let Some(lock) = &opts.run_lock {
            if let Err(e) = run.cache.outputs.save() {
                tracing::warn!("could not save the output state: {e}");
            }
            lock.release();
        }
    };
    if writers.load(Ordering::SeqCst) == 0 {
        release();
    }
    let states = kiln_scheduler::run_with(&dag, &walk, cancel, |i, worker| {
        let task = &plan.tasks[i];
        let report = run_task(run, task, worker);
        if !task.node.task.persistent && writers.fetch_sub(1, Ordering::SeqCst) == 1 {
            release();
        }
        let ok = report.outcome == TaskOutcome::Succeeded;
        *reports[i].lock().unwrap_or_else(|p| p.into_inner()) = Some(report);
        if ok {
            NodeResult::Success
        } else {
            NodeResult::Failure
        }
    });

    let mut out = Vec::with_capacity(graph.len());
    for (i, (state, slot)) in states.iter().zip(reports).enumerate() {
        let ran = slot.into_inner().unwrap_or_else(|p| p.into_inner());
        let report = match (ran, state) {
            (Some(r), _) => r,
            (None, NodeState::Skipped { because }) => not_started(
                &plan.tasks[i],
                TaskOutcome::Skipped {
                    because: graph.nodes()[*because].id.clone(),
                },
                run.events,
            ),
            (None, _) => not_started(&plan.tasks[i], TaskOutcome::Cancelled, run.events),
        };
        out.push(report);
    }
    Ok(out)
}

/// What the scheduler needs of each task: its priority (the longest remaining path,
/// weighted by how long each task took last time, then raised or lowered by its
/// `priority`), its weights, its named locks, whether it is persistent.
fn node_specs(graph: &TaskGraph, durations: &HashMap<TaskId, Duration>) -> Vec<NodeSpec> {
    // A task never seen before weighs what a typical task of this repository weighs (the
    // median of the known ones), or 1 ms when nothing is known, so depth still counts.
    let mut known: Vec<u64> = durations.values().map(|d| d.as_millis() as u64).collect();
    known.sort_unstable();
    let typical = known.get(known.len() / 2).copied().unwrap_or(1).max(1);
    let weight = |id: &TaskId| match graph.node(id) {
        Some(node) if node.is_noop() || node.task.persistent => 0,
        _ => durations
            .get(id)
            .map_or(typical, |d| (d.as_millis() as u64).max(1)),
    };
    let paths = priorities(graph, weight);
    let mut lock_ids: BTreeMap<&str, usize> = BTreeMap::new();
    for node in graph.nodes() {
        for name in &node.task.locks {
            let next = lock_ids.len();
            lock_ids.entry(name.as_str()).or_insert(next);
        }
    }
    graph
        .nodes()
        .iter()
        .zip(paths)
        .map(|(node, path): (&TaskNode, u64)| NodeSpec {
            priority: priority(node.task.priority, path),
            cpus: if node.is_noop() { 0 } else { node.task.cpus },
            memory: node.task.memory.unwrap_or(0),
            locks: node
                .task
                .locks
                .iter()
                .map(|l| lock_ids[l.as_str()])
                .collect(),
            persistent: node.task.persistent,
        })
        .collect()
}

/// A task's `priority` setting orders first (higher before lower), the critical path
/// within one setting.
fn priority(setting: i64, path_ms: u64) -> u64 {
    let tier = (setting.clamp(-32_768, 32_767) + 32_768) as u64;
    (tier << 47) | path_ms.min((1 << 47) - 1)
}

fn not_started(
    task: &crate::PlannedTask<'_>,
    outcome: TaskOutcome,
    events: &Emitter,
) -> TaskReport {
    let report = TaskReport {
        id: task.id().clone(),
        key: task.key,
        outcome,
        cache: CacheStatus::Miss,
        duration: Default::default(),
        saved: Default::default(),
        reason: None,
        executed: false,
        resources: None,
        started_unix_ms: None,
    };
    events.emit(Event::TaskFinished(report.clone()));
    report
}

#[cfg(test)]
mod tests {
    use super::priority;

    #[test]
    fn the_priority_setting_orders_before_the_critical_path() {
        assert!(priority(1, 0) > priority(0, u64::MAX));
        assert!(priority(0, 10) > priority(0, 9));
        assert!(priority(-1, 1_000_000) < priority(0, 0));
        assert!(priority(i64::MAX, 5) > priority(32_000, 5));
    }
}
