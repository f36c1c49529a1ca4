//! One task's life: cache lookup → restore and replay, or execute → store.
//!
//! Everything that happens is told as [`Event`]s; the caller's subscribers print or record
//! it. A broken cache never fails a task: a corrupt or unsafe entry is evicted and the task
//! runs; a failure to store is a warning. A task stopped by Ctrl-C is never stored, so no
//! half-written output reaches the cache.

use std::ffi::OsString;
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use kiln_cache::{ArtifactInfo, CacheError, LocalStore, OutputsFingerprint, pack};
use kiln_core::{CacheSource, CacheStatus, Event, TaskId, TaskOutcome, TaskReport};
use kiln_graph::TaskNode;
use kiln_process::{ProcessError, ProcessRegistry, RunOptions, TaskCommand};
use kiln_workspace::Workspace;

use crate::HashedTask;
use crate::output_state::{OutputRecord, OutputState};
use crate::script_env::{script_env, script_steps};

/// Read and write switches for the cache.
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
    pub registry: &'a ProcessRegistry,
    pub events: &'a Sender<Event>,
    pub cache: CacheMode,
    /// The environment tasks run with (before the script variables are added).
    pub env: &'a [(OsString, OsString)],
    /// Replay the logs of cache hits (they are still checked when not replayed).
    pub replay_logs: bool,
}

impl TaskContext<'_> {
    fn emit(&self, event: Event) {
        // A subscriber that has gone away must not stop the build.
        let _ = self.events.send(event);
    }

    fn warn(&self, id: &TaskId, message: String) {
        self.emit(Event::TaskWarning {
            id: id.clone(),
            message,
        });
    }
}

/// Runs one task (or restores it) and reports how it ended; also sent as
/// [`Event::TaskFinished`].
pub fn run_task(ctx: &TaskContext<'_>, node: &TaskNode, hashed: &HashedTask) -> TaskReport {
    let started = Instant::now();
    let id = &node.id;
    let key = hashed.key.to_hex();
    ctx.emit(Event::TaskStarted {
        id: id.clone(),
        key: key.clone(),
    });
    let cacheable = node.task.cache && !node.task.persistent && !node.is_noop();
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
    };

    if node.is_noop() {
        return finish(ctx, report, started);
    }
    if cacheable
        && ctx.cache.read
        && let Some(saved) = restore(ctx, node, hashed, &key)
    {
        report.cache = CacheStatus::Hit(CacheSource::Local);
        report.saved = saved;
        return finish(ctx, report, started);
    }

    ctx.emit(Event::Executing {
        id: id.clone(),
        key: key.clone(),
    });
    // Whatever was on disk is about to change.
    ctx.outputs.remove(id);
    let (outcome, log) = execute(ctx, node, hashed);
    report.outcome = outcome;
    if cacheable && ctx.cache.write && report.outcome == TaskOutcome::Succeeded {
        store(ctx, node, hashed, &key, &log, started.elapsed());
    }
    finish(ctx, report, started)
}

fn finish(ctx: &TaskContext<'_>, mut report: TaskReport, started: Instant) -> TaskReport {
    report.duration = started.elapsed();
    ctx.emit(Event::TaskFinished(report.clone()));
    report
}

/// Restores the outputs (unless the fingerprint proves they are in place) and replays the
/// log; `None` on a miss, or for an entry that could not be used (after a warning).
fn restore(
    ctx: &TaskContext<'_>,
    node: &TaskNode,
    hashed: &HashedTask,
    key: &str,
) -> Option<Duration> {
    let dir = &hashed.package_dir;
    let outputs = &node.task.outputs;
    let in_place = ctx
        .outputs
        .get(&node.id)
        .filter(|r| r.key == key && r.fingerprint.still_matches(dir));
    let result = match &in_place {
        Some(_) if !ctx.replay_logs => match ctx.store.get(key) {
            Ok(Some(meta)) => Ok((Vec::new(), meta.duration())),
            Ok(None) => Err(CacheError::Missing { key: key.into() }),
            Err(e) => Err(e),
        },
        Some(_) => ctx
            .store
            .read_log(key, outputs)
            .map(|r| (r.log, r.meta.duration())),
        None => ctx
            .store
            .restore(key, dir, outputs)
            .map(|r| (r.log, r.meta.duration())),
    };
    let (log, saved) = match result {
        Ok(r) => r,
        Err(CacheError::Missing { .. }) => return None,
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
    let fingerprint = match in_place {
        Some(mut record) => {
            if record.fingerprint.is_racy() {
                record.fingerprint.refresh();
            }
            Some(record.fingerprint)
        }
        None => OutputsFingerprint::take(dir, outputs).ok(),
    };
    if let Some(fingerprint) = fingerprint {
        ctx.outputs.set(
            &node.id,
            OutputRecord {
                key: key.to_string(),
                fingerprint,
            },
        );
    }
    ctx.emit(Event::CacheHit {
        id: node.id.clone(),
        key: key.to_string(),
        source: CacheSource::Local,
    });
    for line in lines(&log) {
        ctx.emit(Event::TaskOutput {
            id: node.id.clone(),
            line,
            replayed: true,
        });
    }
    Some(saved)
}

/// Runs the task's script steps in order; stops at the first that fails.
fn execute(ctx: &TaskContext<'_>, node: &TaskNode, hashed: &HashedTask) -> (TaskOutcome, Vec<u8>) {
    let ws = ctx.workspace;
    let Some(package) = ws.package(&node.id.package) else {
        return (TaskOutcome::Failed { code: 1 }, Vec::new());
    };
    let command = node.task.command.as_deref().unwrap_or_default();
    let steps = script_steps(
        package,
        node.id.task.as_str(),
        command,
        ws.pipeline.runner,
        ws.package_manager,
    );
    let mut log = Vec::new();
    for step in steps {
        let cmd = TaskCommand {
            command: step.command.clone(),
            cwd: hashed.package_dir.clone(),
            env: script_env(ctx.env, &ws.root, package, &step),
        };
        let on_line = |line: &[u8]| {
            ctx.emit(Event::TaskOutput {
                id: node.id.clone(),
                line: String::from_utf8_lossy(line).into_owned(),
                replayed: false,
            });
        };
        match kiln_process::run(&cmd, &RunOptions::default(), ctx.registry, on_line) {
            Ok(out) => {
                log.extend_from_slice(&out.output);
                if ctx.registry.is_terminating() {
                    return (TaskOutcome::Cancelled, log);
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

fn store(
    ctx: &TaskContext<'_>,
    node: &TaskNode,
    hashed: &HashedTask,
    key: &str,
    log: &[u8],
    took: Duration,
) {
    let info = ArtifactInfo {
        key: key.to_string(),
        duration_ms: took.as_millis() as u64,
        exit_code: 0,
    };
    let stored = pack(
        &hashed.package_dir,
        &node.task.outputs,
        log,
        &info,
        ctx.store.scratch_dir(),
    )
    .and_then(|packed| ctx.store.put(key, &packed))
    .and_then(|()| OutputsFingerprint::take(&hashed.package_dir, &node.task.outputs));
    match stored {
        Ok(fingerprint) => ctx.outputs.set(
            &node.id,
            OutputRecord {
                key: key.to_string(),
                fingerprint,
            },
        ),
        Err(e) => ctx.warn(&node.id, format!("result not cached: {}", error_chain(&e))),
    }
}

fn lines(log: &[u8]) -> impl Iterator<Item = String> + '_ {
    let trimmed = log.strip_suffix(b"\n").unwrap_or(log);
    let empty = trimmed.is_empty();
    trimmed
        .split(|b| *b == b'\n')
        .filter(move |_| !empty)
        .map(|l| String::from_utf8_lossy(l.strip_suffix(b"\r").unwrap_or(l)).into_owned())
}

/// An error and its sources on one line.
fn error_chain(e: &dyn std::error::Error) -> String {
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
    use super::lines;

    #[test]
    fn log_lines_drop_the_final_newline_only() {
        let got: Vec<String> = lines(b"a\n\nb\n").collect();
        assert_eq!(got, ["a", "", "b"]);
        assert_eq!(lines(b"").count(), 0);
        assert_eq!(lines(b"x").collect::<Vec<_>>(), ["x"]);
    }
}
