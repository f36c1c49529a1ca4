//! One task's life, phase by phase, each in a file named after it:
//!
//! ```text
//! run_task ─▶ lookup.rs   in place? hit? → restore + replay           (Hit | miss)
//!         └─▶ reason.rs   why it runs                                  (RunReason)
//!         └─▶ exec.rs     named locks, spawn its planned steps          (ExecOutcome)
//!         └─▶ store.rs    inputs unchanged? → pack → store → upload     (Stored)
//! ```
//!
//! Everything that happens is told as [`Event`]s; the caller's subscribers print or record
//! it. A broken cache never fails a task: a corrupt or unsafe entry is evicted and the task
//! runs; a failure to store is a warning. A task stopped by Ctrl-C is never stored, so no
//! half-written output reaches the cache.

mod exec;
mod lookup;
mod reason;
mod store;

use std::time::{Duration, Instant};

use kiln_core::{CacheStatus, Event, Phase, TaskOutcome, TaskReport, Warning};

pub(crate) use exec::Exec;
pub(crate) use lookup::Cache;
pub(crate) use reason::Records;
pub(crate) use store::InputCheck;

use crate::PlannedTask;
use crate::events::Emitter;
use crate::output_state::MAX_KEPT_LOG;
use crate::task_env::task_env;
use crate::task_lock::lock_named;
use lookup::{Hit, Reach, lookup};
use store::{Stored, note_outputs_written, store};

/// Read and write switches for the local cache. With local reads off, a task may still be
/// a hit from a remote that may be read (Turborepo's `--cache=remote:r`): the local store
/// then only stages what this run fetched, and nothing it held before is used.
#[derive(Clone, Copy, Debug, Default)]
pub struct CacheMode {
    pub read: bool,
    pub write: bool,
    /// Reads are off because of `--force` (not a `--cache` setting): said so in reasons.
    pub forced: bool,
}

/// What every task of a run shares, grouped by the phase that needs it.
pub(crate) struct TaskRun<'a> {
    pub(crate) cache: Cache<'a>,
    pub(crate) exec: Exec<'a>,
    pub(crate) check: InputCheck<'a>,
    pub(crate) records: Records<'a>,
    pub(crate) events: &'a Emitter,
}

/// Runs one task (or restores it) on scheduler worker `worker` and reports how it ended;
/// also sent as [`Event::TaskFinished`].
pub(crate) fn run_task(run: &TaskRun<'_>, task: &PlannedTask<'_>, worker: usize) -> TaskReport {
    let started = Instant::now();
    let (events, cache) = (run.events, &run.cache);
    let node = task.node;
    let id = task.id();
    events.emit(Event::TaskStarted {
        id: id.clone(),
        key: task.key,
        worker,
        at: started,
    });
    let cacheable = node.is_cacheable();
    let mut report = TaskReport {
        id: id.clone(),
        key: task.key,
        outcome: TaskOutcome::Succeeded,
        cache: if cacheable {
            CacheStatus::Miss
        } else {
            CacheStatus::Disabled
        },
        duration: Duration::ZERO,
        saved: Duration::ZERO,
        reason: None,
        executed: false,
        resources: None,
        started_unix_ms: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()
            .map(|d| d.as_millis() as u64),
    };

    if run
        .records
        .resumed
        .is_some_and(|done| done.get(id) == Some(&task.key))
    {
        report.cache = CacheStatus::Resumed;
        return finish(run, report, started);
    }
    if node.is_noop() {
        report.cache = CacheStatus::NothingToRun;
        return finish(run, report, started);
    }
    let hit = |report: &mut TaskReport, hit: Hit| {
        report.cache = CacheStatus::Hit(hit.source);
        report.saved = hit.saved;
    };
    // A hit whose outputs are provably in place writes nothing.
    if cacheable
        && cache.mode.read
        && let Some(found) = lookup(cache, events, task, Reach::InPlaceOnly)
    {
        events.phase(id, Phase::Restore, started);
        hit(&mut report, found);
        return finish(run, report, started);
    }
    let looking = Instant::now();
    let found = if cacheable && cache.reads() {
        lookup(cache, events, task, Reach::Full)
    } else {
        None
    };
    let phase = match found {
        Some(_) => Phase::Restore,
        None => Phase::CacheLookup,
    };
    events.phase(id, phase, looking);
    if let Some(found) = found {
        let saved = found.saved;
        hit(&mut report, found);
        record_success(run, task, saved, true);
        return finish(run, report, started);
    }

    let reason = reason::why_it_runs(&run.records, cache, task, cacheable);
    report.reason = Some(reason.clone());
    let env = task_env(run.exec.workspace, node, run.exec.env);
    events.emit(Event::Executing {
        id: id.clone(),
        key: task.key,
        reason,
        bypassed: !cacheable || !cache.reads(),
        hidden_env: env.hidden.clone(),
    });
    // Tasks sharing a named lock (a database, a port) never run at once, in this process
    // (the scheduler) or any other kiln on the repository (these file locks).
    let _named = if node.task.locks.is_empty() {
        None
    } else {
        let waiting = Instant::now();
        let taken = lock_named(
            &run.exec.workspace.root,
            &node.task.locks,
            || run.exec.registry.is_terminating(),
            |name| {
                events.warn(
                    id,
                    Warning::WaitingForLock {
                        name: name.to_string(),
                    },
                )
            },
        );
        let held = match taken {
            Ok(Some(locks)) => Some(locks),
            Ok(None) => {
                report.outcome = TaskOutcome::Cancelled;
                return finish(run, report, started);
            }
            Err(e) => {
                events.warn(
                    id,
                    Warning::LocksUnavailable {
                        error: e.to_string(),
                    },
                );
                None
            }
        };
        events.phase(id, Phase::Lock, waiting);
        held
    };
    // Whatever was on disk is about to change.
    cache.outputs.remove(id);
    let executing = Instant::now();
    report.executed = true;
    let done = exec::execute(&run.exec, events, task, &env.vars);
    events.phase(id, Phase::Execute, executing);
    write_turbo_log(cache, task, |path| fs_err::write(path, &done.log));
    report.outcome = done.outcome;
    report.resources = done.resources;
    let mut stored = Stored::No;
    if report.outcome == TaskOutcome::Succeeded {
        if cacheable && cache.writes() {
            let storing = Instant::now();
            stored = store(
                cache,
                &run.check,
                events,
                task,
                &done.log,
                started.elapsed(),
            );
            events.phase(id, Phase::Store, storing);
        }
        if !node.task.persistent {
            record_success(run, task, started.elapsed(), false);
        }
    }
    if cacheable && stored == Stored::No {
        note_outputs_written(cache, task);
    }
    finish(run, report, started)
}

fn finish(run: &TaskRun<'_>, mut report: TaskReport, started: Instant) -> TaskReport {
    report.duration = started.elapsed();
    if report.outcome == TaskOutcome::Succeeded
        && let Some(journal) = run.records.journal
        && let Err(e) = journal.succeeded(&report.id, report.key)
    {
        run.events.warn(
            &report.id,
            Warning::JournalNotUpdated {
                error: e.to_string(),
            },
        );
    }
    run.events.emit(Event::TaskFinished(report.clone()));
    report
}

/// Keeps the key and inputs of a success in the build state (the run holds the repository's
/// lock). Losing a record costs an explanation, never a build: a warning at most.
fn record_success(run: &TaskRun<'_>, task: &PlannedTask<'_>, took: Duration, cached: bool) {
    if let Err(e) =
        run.records
            .state
            .record_success(&task.manifest, took.as_millis() as u64, cached)
    {
        run.events.warn(
            task.id(),
            Warning::StateNotUpdated {
                error: e.to_string(),
            },
        );
    }
}

/// `<package>/.turbo/turbo-<task>.log`, as Turborepo writes it (never an input: `.turbo/` is
/// never walked). Failing to write it costs nothing but the file.
fn write_turbo_log(
    cache: &Cache<'_>,
    task: &PlannedTask<'_>,
    write: impl FnOnce(&std::path::Path) -> std::io::Result<()>,
) {
    if !cache.turbo_logs {
        return;
    }
    let dir = task.package_dir.join(".turbo");
    let path = dir.join(turbo_log_name(task.id().task.as_str()));
    if let Err(e) = fs_err::create_dir_all(&dir).and_then(|()| write(&path)) {
        tracing::debug!("could not write the task log: {e}");
    }
}

/// `turbo-<task>.log`, with `:` spelt `$colon$` as Turborepo spells it (`build:types` is a
/// common task name, and no file name on Windows).
pub fn turbo_log_name(task: &str) -> String {
    format!("turbo-{}.log", task.replace(':', "$colon$"))
}

fn kept_log(log: &[u8]) -> Option<String> {
    (log.len() <= MAX_KEPT_LOG).then(|| String::from_utf8_lossy(log).into_owned())
}
