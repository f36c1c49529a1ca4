//! The *schedule* and *execute-or-restore* stages for a whole run: maps the task graph
//! onto the generic walker of `kiln-scheduler` and runs each node through [`run_task`].

use std::sync::Mutex;

use kiln_core::{CacheStatus, Event, TaskOutcome, TaskReport};
use kiln_graph::{TaskGraph, priorities};
use kiln_scheduler::{CancelToken, Dag, NodeResult, NodeState, WalkOptions};

use crate::task::{TaskContext, run_task};
use crate::{HashedTask, RunError};

/// How the walk behaves.
#[derive(Clone, Debug)]
pub struct ExecuteOptions {
    pub concurrency: usize,
    pub continue_on_failure: bool,
}

/// Runs every task of `graph` (keys in `hashed`, indexed like it) and returns one report per
/// task, in graph order. Tasks that never started get a report too (skipped or cancelled),
/// also sent as [`Event::TaskFinished`].
#[tracing::instrument(name = "execute", skip_all, fields(tasks = graph.len()))]
pub fn execute(
    ctx: &TaskContext<'_>,
    graph: &TaskGraph,
    hashed: &[HashedTask],
    opts: &ExecuteOptions,
    cancel: &CancelToken,
) -> Result<Vec<TaskReport>, RunError> {
    // No-op tasks take no time; every other task counts one until history gives durations.
    let weight = |id: &kiln_core::TaskId| {
        graph
            .node(id)
            .map_or(0, |n| if n.is_noop() { 0 } else { 1 })
    };
    let dag = Dag::new(graph.deps().to_vec(), priorities(graph, weight))
        .map_err(|e| RunError::Internal(e.to_string()))?;
    let walk = WalkOptions {
        concurrency: kiln_scheduler::Budget::new(opts.concurrency.max(1)),
        continue_on_failure: opts.continue_on_failure,
    };
    let reports: Vec<Mutex<Option<TaskReport>>> =
        (0..graph.len()).map(|_| Mutex::new(None)).collect();
    let states = kiln_scheduler::run(&dag, &walk, cancel, |i| {
        let node = &graph.nodes()[i];
        let report = run_task(ctx, node, &hashed[i], 0);
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
                graph,
                hashed,
                i,
                TaskOutcome::Skipped {
                    because: graph.nodes()[*because].id.clone(),
                },
                ctx,
            ),
            (None, _) => not_started(graph, hashed, i, TaskOutcome::Cancelled, ctx),
        };
        out.push(report);
    }
    Ok(out)
}

fn not_started(
    graph: &TaskGraph,
    hashed: &[HashedTask],
    i: usize,
    outcome: TaskOutcome,
    ctx: &TaskContext<'_>,
) -> TaskReport {
    let report = TaskReport {
        id: graph.nodes()[i].id.clone(),
        key: hashed[i].key.to_hex(),
        outcome,
        cache: CacheStatus::Miss,
        duration: Default::default(),
        saved: Default::default(),
        reason: None,
    };
    let _ = ctx.events.send(Event::TaskFinished(report.clone()));
    report
}
