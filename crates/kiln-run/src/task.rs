//! One task's life: cache lookup → restore and replay, or execute → store.
//!
//! Everything that happens is told as [`Event`]s; the caller's subscribers print or record
//! it. A broken cache never fails a task: a corrupt or unsafe entry is evicted and the task
//! runs; a failure to store is a warning. A task stopped by Ctrl-C is never stored, so no
//! half-written output reaches the cache.

use std::ffi::OsString;
use std::sync::mpsc::SyncSender;
use std::time::{Duration, Instant};

use kiln_cache::{ArtifactInfo, CacheError, LocalStore, OutputsFingerprint, TaskLog, pack};
use kiln_core::{
    CacheSource, CacheStatus, Event, Phase, TaskId, TaskOutcome, TaskReport, TaskResources,
};
use kiln_graph::TaskNode;
use kiln_hash::{GlobalInputs, StatCache, TaskKey};
use kiln_process::{ProcessError, ProcessRegistry, RunOptions, TaskCommand};
use kiln_state::{BuildState, Explainer, Journal, summarize};
use kiln_workspace::Workspace;

use crate::output_state::{MAX_KEPT_LOG, OutputRecord, OutputState};
use crate::script_env::{script_env, task_steps};
use crate::task_env::task_env;
use crate::task_lock::lock_named;
use crate::{HashedTask, current_input_files};

/// Read and write switches for the local cache. With local reads off, a task may still be
/// a hit from a remote that may be read (Turborepo's `--cache=remote:r`): the local store
/// then only stages what this run fetched, and nothing it held before is used.
#[derive(Clone, Copy, Debug)]
pub struct CacheMode {
    pub read: bool,
    pub write: bool,
}

/// What every task of a run shares.
pub struct TaskContext<'a> {
    pub workspace: &'a Workspace,
    pub store: &'a LocalStore,
    /// Which outputs are on disk for each task, so hits already in place skip the restore.
    pub outputs: &'a OutputState,
    /// Digests of input files, to check that a task's inputs did not change while it ran.
    pub stat_cache: &'a StatCache,
    pub registry: &'a ProcessRegistry,
    pub events: &'a SyncSender<Event>,
    pub cache: CacheMode,
    /// kiln's environment, which each task sees through its env mode (see
    /// [`crate::task_env`]) before the script variables are added.
    pub env: &'a [(OsString, OsString)],
    /// Replay the logs of cache hits (they are still checked when not replayed).
    pub replay_logs: bool,
    /// Each task's last successful keys and inputs: to say why a task runs, and updated
    /// when it succeeds.
    pub state: &'a BuildState,
    /// The global inputs of this run (to name the one that changed).
    pub global: &'a GlobalInputs,
    /// What git tracks, as hashing asked it ([`crate::HashedPlan::git`]).
    pub git: &'a crate::GitFiles,
    /// Where this run notes each task that succeeds (for `--resume`).
    pub journal: Option<&'a Journal>,
    /// `--resume`: the tasks that succeeded in the run being resumed, with their keys; a
    /// task found here with the same key is not run again.
    pub resumed: Option<&'a std::collections::HashMap<TaskId, TaskKey>>,
    /// What the resource monitor saw of each process group, to report what a task used.
    pub trees: Option<&'a std::sync::Mutex<kiln_process::TreeTracker>>,
    /// The remote cache behind the local one, if any.
    pub remote: Option<&'a crate::RemoteTier>,
    /// Write each task's log to `<package>/.turbo/turbo-<task>.log`, where Turborepo keeps
    /// it (and CI scripts of a Turborepo repository read it).
    pub turbo_logs: bool,
}

impl TaskContext<'_> {
    fn emit(&self, event: Event) {
        // A subscriber that has gone away must not stop the build.
        let _ = self.events.send(event);
    }

    /// Tells subscribers that `phase` of task `id` ran from `started` until now.
    fn phase(&self, id: &TaskId, phase: Phase, started: Instant) {
        self.emit(Event::Phase {
            id: id.clone(),
            phase,
            started,
            ended: Instant::now(),
        });
    }

    fn warn(&self, id: &TaskId, message: String) {
        self.emit(Event::TaskWarning {
            id: id.clone(),
            message,
        });
    }
}

/// Runs one task (or restores it) on scheduler worker `worker` and reports how it ended;
/// also sent as [`Event::TaskFinished`].
pub fn run_task(
    ctx: &TaskContext<'_>,
    node: &TaskNode,
    hashed: &HashedTask,
    worker: usize,
) -> TaskReport {
    let started = Instant::now();
    let id = &node.id;
    let key = hashed.key.to_hex();
    ctx.emit(Event::TaskStarted {
        id: id.clone(),
        key: key.clone(),
        worker,
        at: started,
    });
    let cacheable = node.is_cacheable();
    let mut report = TaskReport {
        id: id.clone(),
        key: key.clone(),
        outcome: TaskOutcome::Succeeded,
        cache: if cacheable {
            CacheStatus::Miss
        } else {
            CacheStatus::Disabled
        },
        duration: Duration::ZERO,
        saved: Duration::ZERO,
        reason: None,
        resources: None,
        started_unix_ms: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()
            .map(|d| d.as_millis() as u64),
    };

    if ctx
        .resumed
        .is_some_and(|done| done.get(id) == Some(&hashed.key))
    {
        report.cache = CacheStatus::Resumed;
        return finish(ctx, report, started);
    }
    if node.is_noop() {
        report.cache = CacheStatus::NothingToRun;
        return finish(ctx, report, started);
    }
    let reads = ctx.cache.read || ctx.remote.is_some_and(|r| r.can_read());
    // A hit whose outputs are provably in place writes nothing.
    if cacheable
        && ctx.cache.read
        && let Some((saved, source)) = restore(ctx, node, hashed, &key, Lookup::InPlaceOnly)
    {
        ctx.phase(id, Phase::Restore, started);
        report.cache = CacheStatus::Hit(source);
        report.saved = saved;
        return finish(ctx, report, started);
    }
    let lookup = Instant::now();
    let hit = if cacheable && reads {
        restore(ctx, node, hashed, &key, Lookup::Full)
    } else {
        None
    };
    ctx.phase(
        id,
        if hit.is_some() {
            Phase::Restore
        } else {
            Phase::CacheLookup
        },
        lookup,
    );
    if let Some((saved, source)) = hit {
        report.cache = CacheStatus::Hit(source);
        report.saved = saved;
        record_success(ctx, node, hashed, saved, true);
        return finish(ctx, report, started);
    }

    let reason = why_it_runs(ctx, node, hashed, cacheable);
    report.reason = Some(reason.clone());
    let env = task_env(ctx.workspace, node, ctx.env);
    ctx.emit(Event::Executing {
        id: id.clone(),
        key: key.clone(),
        reason,
        bypassed: !cacheable || !reads,
        hidden_env: env.hidden.clone(),
    });
    // Tasks sharing a named lock (a database, a port) never run at once, in this process
    // (the scheduler) or any other kiln on the repository (these file locks).
    let named_wait = Instant::now();
    let _named = if node.task.locks.is_empty() {
        None
    } else {
        let taken = lock_named(
            &ctx.workspace.root,
            &node.task.locks,
            || ctx.registry.is_terminating(),
            |name| {
                ctx.warn(
                    id,
                    format!("waiting for lock `{name}`, held by another kiln process"),
                )
            },
        );
        match held(ctx, id, taken, "its named locks", "running anyway") {
            Some(locks) => locks,
            None => {
                report.outcome = TaskOutcome::Cancelled;
                return finish(ctx, report, started);
            }
        }
    };
    if !node.task.locks.is_empty() {
        ctx.phase(id, Phase::Lock, named_wait);
    }
    // Whatever was on disk is about to change.
    ctx.outputs.remove(id);
    let executing = Instant::now();
    let (outcome, log, resources) = execute(ctx, node, hashed, &env.vars);
    ctx.phase(id, Phase::Execute, executing);
    write_turbo_log(ctx, node, hashed, |path| fs_err::write(path, &log));
    report.outcome = outcome;
    report.resources = resources;
    let mut recorded = false;
    if report.outcome == TaskOutcome::Succeeded {
        if cacheable && (ctx.cache.write || ctx.remote.is_some_and(|r| r.can_write())) {
            let storing = Instant::now();
            recorded = store(ctx, node, hashed, &key, &log, started.elapsed());
            ctx.phase(id, Phase::Store, storing);
        }
        if !node.task.persistent {
            record_success(ctx, node, hashed, started.elapsed(), false);
        }
    }
    if cacheable && !recorded {
        note_outputs_written(ctx, node, hashed);
    }
    finish(ctx, report, started)
}

/// A lock attempt as the task sees it: `None` when the run stopped while it waited (the
/// task is then cancelled), `Some(None)` when the lock could not be taken at all (warned:
/// the task runs without it rather than not at all), `Some(Some(lock))` when held.
fn held<T>(
    ctx: &TaskContext<'_>,
    id: &TaskId,
    taken: std::io::Result<Option<T>>,
    what: &str,
    fallback: &str,
) -> Option<Option<T>> {
    match taken {
        Ok(Some(lock)) => Some(Some(lock)),
        Ok(None) => None,
        Err(e) => {
            ctx.warn(id, format!("could not take {what} ({e}); {fallback}"));
            Some(None)
        }
    }
}

fn finish(ctx: &TaskContext<'_>, mut report: TaskReport, started: Instant) -> TaskReport {
    report.duration = started.elapsed();
    if report.outcome == TaskOutcome::Succeeded
        && let Some(journal) = ctx.journal
        && let Ok(key) = report.key.parse::<TaskKey>()
        && let Err(e) = journal.succeeded(&report.id, key)
    {
        ctx.warn(&report.id, format!("could not update the run journal: {e}"));
    }
    ctx.emit(Event::TaskFinished(report.clone()));
    report
}

/// Keeps the key and inputs of a success in the build state (the run holds the repository's
/// lock). Losing a record costs an explanation, never a build: a warning at most.
fn record_success(
    ctx: &TaskContext<'_>,
    node: &TaskNode,
    hashed: &HashedTask,
    took: Duration,
    cached: bool,
) {
    if let Err(e) = ctx
        .state
        .record_success(&hashed.manifest, took.as_millis() as u64, cached)
    {
        ctx.warn(&node.id, format!("could not update the build state: {e}"));
    }
}

/// One line on why the task's command runs instead of coming from the cache.
fn why_it_runs(
    ctx: &TaskContext<'_>,
    node: &TaskNode,
    hashed: &HashedTask,
    cacheable: bool,
) -> String {
    if node.task.persistent {
        return "persistent task (never cached)".into();
    }
    if !cacheable {
        return "caching is off for this task (`cache: false`)".into();
    }
    if !ctx.cache.read && !ctx.remote.is_some_and(|r| r.can_read()) {
        return "forced (--force, or a cache that is not read)".into();
    }
    let Some(last) = ctx.state.task(&node.id).and_then(|s| s.last().cloned()) else {
        return "no earlier run recorded".into();
    };
    if last.key == hashed.key {
        return "inputs unchanged since its last run, but the result is not in the cache".into();
    }
    let explainer = Explainer::new(ctx.state, [&hashed.manifest], ctx.global);
    match explainer.reasons(&node.id) {
        Some(reasons) => summarize(&reasons),
        None => "inputs changed (the earlier inputs are no longer recorded)".into(),
    }
}

/// How far a cache lookup may go.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lookup {
    /// Only a hit whose outputs are already in place (writes nothing).
    InPlaceOnly,
    /// Restore the outputs when they are not in place.
    Full,
}

/// Restores the outputs (unless the fingerprint proves they are in place) and replays the
/// log; `None` on a miss, or for an entry that could not be used (after a warning).
fn restore(
    ctx: &TaskContext<'_>,
    node: &TaskNode,
    hashed: &HashedTask,
    key: &str,
    lookup: Lookup,
) -> Option<(Duration, CacheSource)> {
    let dir = &hashed.package_dir;
    let outputs = &node.task.outputs;
    let local_reads = ctx.cache.read;
    let last = ctx.outputs.get(&node.id);
    let in_place = last
        .clone()
        .filter(|r| local_reads && r.key == key && r.fingerprint.still_matches(dir));
    if in_place.is_none() && lookup == Lookup::InPlaceOnly {
        return None;
    }
    // A local miss may be a remote hit: it is written into the local store, then restored
    // from there like any local entry (with all of the local store's checks).
    let mut source = CacheSource::Local;
    // Whether this run put the entry into the local store (to take it out again when the
    // local cache is not to be written).
    let mut staged = false;
    if in_place.is_none()
        && let Some(remote) = ctx.remote
    {
        // Fetched now, or earlier by the prefetch (which only fetches what the local store
        // lacks): either way the remote saved this run.
        if remote.fetched(key) {
            source = CacheSource::Remote;
            staged = true;
        } else {
            let held = matches!(ctx.store.get(key), Ok(Some(_)));
            if !(local_reads && held) && remote.pull_into(ctx.store, key) {
                source = CacheSource::Remote;
                staged = !held;
            }
        }
    }
    if !local_reads && source != CacheSource::Remote {
        return None;
    }
    let result = match &in_place {
        Some(record) => match (ctx.replay_logs, &record.log) {
            // The outputs are in place and the log is kept: only confirm the entry exists.
            (false, _) | (true, Some(_)) => match ctx.store.get(key) {
                Ok(Some(meta)) => Ok((
                    TaskLog::Memory(record.log.clone().unwrap_or_default().into_bytes()),
                    meta.duration(),
                )),
                Ok(None) => Err(CacheError::Missing { key: key.into() }),
                Err(e) => Err(e),
            },
            (true, None) => ctx
                .store
                .read_log(key, outputs, &hashed.nested)
                .map(|r| (r.log, r.meta.duration())),
        },
        None => {
            // Only what kiln left on disk (for any key, as this task's outputs or those of
            // another task of the package that overlap them) may be replaced: never an edit.
            let unchanged = std::cell::OnceCell::new();
            let may_replace = |rel: &str| {
                unchanged
                    .get_or_init(|| {
                        let mut paths = std::collections::HashSet::new();
                        for record in ctx.outputs.of_package(&node.id.package) {
                            paths.extend(record.fingerprint.unchanged_paths(dir));
                        }
                        paths
                    })
                    .contains(rel)
            };
            ctx.store
                .restore_over(key, dir, outputs, &hashed.nested, &may_replace)
                .map(|r| (r.log, r.meta.duration()))
        }
    };
    if staged
        && !ctx.cache.write
        && let Err(e) = ctx.store.evict(key)
    {
        tracing::debug!("could not drop a remote hit from the local store: {e}");
    }
    let (log, saved) = match result {
        Ok(r) => r,
        Err(CacheError::Missing { .. }) => return None,
        Err(CacheError::WouldReplace { path, .. }) => {
            ctx.warn(
                &node.id,
                format!(
                    "kept `{path}`: it changed since kiln last wrote it (or kiln never wrote \
                     it), and restoring the cached outputs would replace it; running the task \
                     instead"
                ),
            );
            return None;
        }
        Err(e) => {
            let what = if e.is_unusable_entry() {
                "discarded the cache entry"
            } else {
                "could not read the cache"
            };
            ctx.warn(
                &node.id,
                format!("{what} ({}); running the task", error_chain(&e)),
            );
            return None;
        }
    };
    let record = match in_place {
        Some(mut record) => {
            if record.fingerprint.is_racy() {
                record.fingerprint.refresh();
            }
            Some(record)
        }
        None => {
            write_turbo_log(ctx, node, hashed, |path| log.write_to(path));
            OutputsFingerprint::take(dir, outputs, &hashed.nested)
                .ok()
                .map(|fingerprint| OutputRecord {
                    key: key.to_string(),
                    fingerprint,
                    log: log.as_bytes().and_then(kept_log),
                })
        }
    };
    match record {
        Some(record) => ctx.outputs.set(&node.id, record),
        None => ctx.outputs.remove(&node.id),
    }
    ctx.emit(Event::CacheHit {
        id: node.id.clone(),
        key: key.to_string(),
        source,
    });
    let replayed = log.for_each_line(|line| {
        ctx.emit(Event::TaskOutput {
            id: node.id.clone(),
            line: String::from_utf8_lossy(line).into_owned(),
            replayed: true,
        })
    });
    if let Err(e) = replayed {
        ctx.warn(&node.id, format!("could not replay the cached log: {e}"));
    }
    Some((saved, source))
}

/// Runs the task's script steps in order; stops at the first that fails. Also returns what
/// its processes used (summed over the steps), when the monitor sampled them.
fn execute(
    ctx: &TaskContext<'_>,
    node: &TaskNode,
    hashed: &HashedTask,
    env: &[(OsString, OsString)],
) -> (TaskOutcome, Vec<u8>, Option<TaskResources>) {
    let mut used: Option<TaskResources> = None;
    let (outcome, log) = execute_steps(ctx, node, hashed, env, &mut used);
    (outcome, log, used)
}

fn execute_steps(
    ctx: &TaskContext<'_>,
    node: &TaskNode,
    hashed: &HashedTask,
    env: &[(OsString, OsString)],
    used: &mut Option<TaskResources>,
) -> (TaskOutcome, Vec<u8>) {
    let ws = ctx.workspace;
    let (Some(package), Some(steps)) = (ws.package(&node.id.package), task_steps(ws, node)) else {
        ctx.warn(
            &node.id,
            "the task's package is not in the workspace".into(),
        );
        return (TaskOutcome::Failed { code: 1 }, Vec::new());
    };
    let mut log = Vec::new();
    for step in steps {
        let cmd = TaskCommand {
            command: step.command.clone(),
            cwd: hashed.package_dir.clone(),
            env: script_env(env, &ws.root, package, &step),
        };
        let on_line = |line: &[u8]| {
            ctx.emit(Event::TaskOutput {
                id: node.id.clone(),
                line: String::from_utf8_lossy(line).into_owned(),
                replayed: false,
            });
        };
        let opts = RunOptions {
            timeout: node.task.timeout,
        };
        match kiln_process::run(&cmd, &opts, ctx.registry, on_line) {
            Ok(out) => {
                log.extend_from_slice(&out.output);
                add_usage(ctx, out.exit.pid, used);
                if ctx.registry.is_terminating() {
                    return (TaskOutcome::Cancelled, log);
                }
                if out.exit.stopped_by == Some(kiln_process::StopReason::TimedOut) {
                    ctx.warn(
                        &node.id,
                        format!(
                            "timed out after {:?} (`timeout` in its definition); stopped",
                            node.task.timeout.unwrap_or_default()
                        ),
                    );
                }
                if !out.exit.success() {
                    return (
                        TaskOutcome::Failed {
                            code: out.exit.exit_code(),
                        },
                        log,
                    );
                }
            }
            Err(ProcessError::ShuttingDown { .. }) => return (TaskOutcome::Cancelled, log),
            Err(e) => {
                ctx.warn(
                    &node.id,
                    format!("could not start `{}`: {}", step.command, error_chain(&e)),
                );
                return (TaskOutcome::Failed { code: 127 }, log);
            }
        }
    }
    (TaskOutcome::Succeeded, log)
}

/// Records what the task's own command left in its outputs (it failed, was stopped, or its
/// result was not stored), under no key: never a hit in place, but a later restore may
/// replace these files, which kiln's run wrote and nobody has touched since.
fn note_outputs_written(ctx: &TaskContext<'_>, node: &TaskNode, hashed: &HashedTask) {
    match OutputsFingerprint::take(&hashed.package_dir, &node.task.outputs, &hashed.nested) {
        Ok(fingerprint) => ctx.outputs.set(
            &node.id,
            OutputRecord {
                key: String::new(),
                fingerprint,
                log: None,
            },
        ),
        Err(e) => tracing::debug!("cannot fingerprint the outputs of {}: {e}", node.id),
    }
}

/// Packs and stores the outputs; `true` when they were stored and their fingerprint
/// recorded.
fn store(
    ctx: &TaskContext<'_>,
    node: &TaskNode,
    hashed: &HashedTask,
    key: &str,
    log: &[u8],
    took: Duration,
) -> bool {
    // The key was computed before the task ran. If an input changed since (an edit during
    // the run, or a task that writes into its own inputs), the outputs do not belong to it.
    match current_input_files(ctx.workspace, ctx.stat_cache, node, ctx.git) {
        Ok(now) => {
            if let Some(path) = first_difference(&now, &hashed.manifest.files) {
                ctx.warn(
                    &node.id,
                    format!(
                        "input `{path}` changed while the task ran; result not cached \
                         (if the task writes it, declare it in `outputs`)"
                    ),
                );
                return false;
            }
        }
        Err(e) => {
            ctx.warn(&node.id, format!("result not cached: {}", error_chain(&e)));
            return false;
        }
    }
    let info = ArtifactInfo {
        key: key.to_string(),
        duration_ms: took.as_millis() as u64,
        exit_code: 0,
    };
    let upload = ctx.remote.filter(|r| r.can_write());
    let stored = pack(
        &hashed.package_dir,
        &node.task.outputs,
        &hashed.nested,
        log,
        &info,
        ctx.store.scratch_dir(),
    )
    .and_then(|packed| {
        if ctx.cache.write {
            // A forced run replaces what is stored: `--force` is how a bad entry gets
            // repaired.
            if ctx.cache.read {
                ctx.store.put(key, &packed)?;
            } else {
                ctx.store.put_replacing(key, &packed)?;
            }
        }
        if let Some(remote) = upload {
            remote.push(packed);
        }
        Ok(())
    })
    .and_then(|()| {
        OutputsFingerprint::take(&hashed.package_dir, &node.task.outputs, &hashed.nested)
    });
    match stored {
        Ok(fingerprint) => {
            ctx.outputs.set(
                &node.id,
                OutputRecord {
                    key: key.to_string(),
                    fingerprint,
                    log: kept_log(log),
                },
            );
            true
        }
        Err(e) => {
            ctx.warn(&node.id, format!("result not cached: {}", error_chain(&e)));
            false
        }
    }
}

/// Adds what the monitor saw of process group `pid` (one step of the task) to `used`.
fn add_usage(ctx: &TaskContext<'_>, pid: u32, used: &mut Option<TaskResources>) {
    let Some(trees) = ctx.trees else { return };
    let totals = trees
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .finish(pid as i32);
    if let Some(t) = totals {
        let sum = used.get_or_insert_with(TaskResources::default);
        sum.peak_rss = sum.peak_rss.max(t.peak_rss);
        sum.cpu_seconds += t.cpu_seconds;
        sum.read_bytes += t.read_bytes;
        sum.write_bytes += t.write_bytes;
    }
}

/// `<package>/.turbo/turbo-<task>.log`, as Turborepo writes it (never an input: `.turbo/` is
/// never walked). Failing to write it costs nothing but the file.
fn write_turbo_log(
    ctx: &TaskContext<'_>,
    node: &TaskNode,
    hashed: &HashedTask,
    write: impl FnOnce(&std::path::Path) -> std::io::Result<()>,
) {
    if !ctx.turbo_logs {
        return;
    }
    let dir = hashed.package_dir.join(".turbo");
    let path = dir.join(turbo_log_name(node.id.task.as_str()));
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

/// The first input path whose digest differs between `now` and `then` (added, removed or
/// modified), if any.
fn first_difference(
    now: &[(String, kiln_hash::Digest)],
    then: &std::collections::BTreeMap<String, kiln_hash::Digest>,
) -> Option<String> {
    if let Some((path, _)) = now.iter().find(|(p, d)| then.get(p) != Some(d)) {
        return Some(path.clone());
    }
    let current: std::collections::HashSet<&str> = now.iter().map(|(p, _)| p.as_str()).collect();
    then.keys().find(|p| !current.contains(p.as_str())).cloned()
}

/// An error and its sources on one line.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::first_difference;
    use kiln_hash::Digest;

    #[test]
    fn input_differences_name_the_first_changed_added_or_removed_path() {
        let d = |s: &str| Digest::of_bytes(s.as_bytes());
        let then = [("a".to_string(), d("1")), ("b".to_string(), d("2"))]
            .into_iter()
            .collect();
        assert_eq!(
            first_difference(&[("a".into(), d("1")), ("b".into(), d("2"))], &then),
            None
        );
        assert_eq!(
            first_difference(&[("a".into(), d("1")), ("b".into(), d("9"))], &then).as_deref(),
            Some("b")
        );
        assert_eq!(
            first_difference(&[("a".into(), d("1"))], &then).as_deref(),
            Some("b")
        );
        assert_eq!(
            first_difference(
                &[
                    ("a".into(), d("1")),
                    ("b".into(), d("2")),
                    ("c".into(), d("3"))
                ],
                &then
            )
            .as_deref(),
            Some("c")
        );
    }
}
