//! `--profile FILE`: the run as a Chrome trace (the Trace Event Format, read by Perfetto and
//! `chrome://tracing`), to see where the time went.
//!
//! Layout: one process, `kiln`. Track 0 holds the run-wide stages (discover, plan, hash);
//! track `worker + 1` holds what scheduler worker `worker` did: one span per task, named
//! `pkg#task` with its key, cache status, outcome and why it ran, and inside it the task's
//! phases (lock, cache lookup, restore, execute, store). Counters chart the machine's CPU,
//! its available memory against the tasks' resident memory, and the concurrency budget
//! against the tasks running. Times are microseconds from the earliest instant seen.
//!
//! Events are gathered while the run goes and the file is written once, when the run ends
//! however it ends (a task that never finished ends where the trace does), atomically, so a
//! reader never sees half a trace. A phase is clamped into its task's span: viewers nest
//! spans of one track by time and draw an overhanging child wrongly.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::time::Instant;

use kiln_core::{
    CacheSource, CacheStatus, Event, Phase, ResourceSample, TaskId, TaskOutcome, TaskReport,
};
use serde_json::{Value, json};

const PID: u32 = 1;
const STAGES_TID: usize = 0;
const MB: f64 = 1024.0 * 1024.0;

struct TaskSpan {
    id: TaskId,
    key: kiln_core::TaskKey,
    worker: usize,
    started: Instant,
    report: Option<TaskReport>,
}

/// The events of one run, gathered for the trace.
#[derive(Default)]
pub(crate) struct Trace {
    stages: Vec<(&'static str, Instant, Instant)>,
    /// In the order they started.
    tasks: Vec<TaskSpan>,
    by_id: HashMap<TaskId, usize>,
    phases: HashMap<TaskId, Vec<(Phase, Instant, Instant)>>,
    samples: Vec<ResourceSample>,
    first: Option<Instant>,
    last: Option<Instant>,
}

impl Trace {
    pub(crate) fn record(&mut self, event: &Event) {
        match event {
            Event::Stage {
                name,
                started,
                ended,
            } => {
                self.seen(*started, *ended);
                self.stages.push((name, *started, *ended));
            }
            Event::TaskStarted {
                id,
                key,
                worker,
                at,
            } => {
                self.seen(*at, *at);
                self.by_id.insert(id.clone(), self.tasks.len());
                self.tasks.push(TaskSpan {
                    id: id.clone(),
                    key: *key,
                    worker: *worker,
                    started: *at,
                    report: None,
                });
            }
            Event::Phase {
                id,
                phase,
                started,
                ended,
            } => {
                self.seen(*started, *ended);
                let phases = self.phases.entry(id.clone()).or_default();
                phases.push((*phase, *started, *ended));
            }
            Event::Resources(sample) => {
                self.seen(sample.at, sample.at);
                self.samples.push(sample.clone());
            }
            Event::TaskFinished(report) => {
                if let Some(&i) = self.by_id.get(&report.id) {
                    let task = &mut self.tasks[i];
                    let ended = task.started + report.duration;
                    task.report = Some(report.clone());
                    self.seen(ended, ended);
                }
            }
            Event::CacheHit { .. }
            | Event::Planned { .. }
            | Event::Executing { .. }
            | Event::TaskOutput { .. }
            | Event::TaskWarning { .. } => {}
        }
    }

    fn seen(&mut self, from: Instant, to: Instant) {
        self.first = Some(self.first.map_or(from, |f| f.min(from)));
        self.last = Some(self.last.map_or(to, |l| l.max(to)));
    }

    /// The trace as Trace Event Format JSON.
    pub(crate) fn to_json(&self) -> Value {
        let origin = self.first.unwrap_or_else(Instant::now);
        let last = self.last.unwrap_or(origin);
        let us = |t: Instant| t.saturating_duration_since(origin).as_micros() as u64;
        let mut events = vec![
            json!({"ph": "M", "pid": PID, "name": "process_name", "args": {"name": "kiln"}}),
            thread_name(STAGES_TID, "stages"),
        ];
        let workers: BTreeSet<usize> = self.tasks.iter().map(|t| t.worker).collect();
        for worker in workers {
            events.push(thread_name(worker + 1, &format!("worker {}", worker + 1)));
        }
        for (name, started, ended) in &self.stages {
            let ts = us(*started);
            events.push(span(
                name,
                "stage",
                STAGES_TID,
                ts,
                us(*ended).max(ts),
                json!({}),
            ));
        }
        for task in &self.tasks {
            let phases = self.phases.get(&task.id).map_or(&[][..], Vec::as_slice);
            // A task that never finished ends where the trace does.
            let mut ended = task
                .report
                .as_ref()
                .map_or(last, |r| task.started + r.duration);
            for (_, _, phase_end) in phases {
                ended = ended.max(*phase_end);
            }
            let (ts, end) = (us(task.started), us(ended));
            let tid = task.worker + 1;
            let name = task.id.to_string();
            events.push(span(&name, "task", tid, ts, end, task_args(task)));
            for (phase, started, ended) in phases {
                let p_ts = us(*started).clamp(ts, end);
                let p_end = us(*ended).clamp(p_ts, end);
                events.push(span(
                    phase.name(),
                    "phase",
                    tid,
                    p_ts,
                    p_end,
                    json!({"task": name}),
                ));
            }
        }
        for s in &self.samples {
            let ts = us(s.at);
            let busy = (s.cpu_busy * 1000.0).round() / 10.0;
            events.push(counter("cpu", ts, json!({"busy %": busy})));
            events.push(counter(
                "memory",
                ts,
                json!({
                    "available MB": (s.memory_available as f64 / MB).round(),
                    "tasks RSS MB": (s.tasks_rss as f64 / MB).round(),
                }),
            ));
            events.push(counter(
                "budget",
                ts,
                json!({"slots": s.budget_slots, "running": s.running}),
            ));
        }
        json!({"traceEvents": events, "displayTimeUnit": "ms"})
    }

    /// Writes the trace to `path` atomically (a temp file beside it, then a rename); the
    /// error says which path could not be written and why.
    pub(crate) fn write(&self, path: &Path) -> Result<(), String> {
        let fail = |e: &dyn std::fmt::Display| {
            format!("could not write the profile {}: {e}", path.display())
        };
        let bytes = serde_json::to_vec(&self.to_json()).map_err(|e| fail(&e))?;
        let name = path
            .file_name()
            .ok_or_else(|| fail(&"the path names no file"))?;
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
        if let Some(dir) = dir {
            fs_err::create_dir_all(dir).map_err(|e| fail(&e))?;
        }
        let tmp_name = format!(".{}.tmp-{}", name.to_string_lossy(), std::process::id());
        let tmp = dir.map_or_else(|| tmp_name.clone().into(), |d| d.join(&tmp_name));
        fs_err::write(&tmp, &bytes).map_err(|e| fail(&e))?;
        fs_err::rename(&tmp, path).map_err(|e| {
            let _ = fs_err::remove_file(&tmp);
            fail(&e)
        })
    }
}

fn task_args(task: &TaskSpan) -> Value {
    let Some(report) = &task.report else {
        return json!({"key": task.key, "cache": "unknown", "outcome": "did not finish", "reason": null});
    };
    let cache = match report.cache {
        CacheStatus::Hit(CacheSource::Local) => "hit (local)",
        CacheStatus::Hit(CacheSource::Remote) => "hit (remote)",
        CacheStatus::Miss => "miss",
        CacheStatus::Disabled => "disabled",
        CacheStatus::NothingToRun => "nothing to run",
        CacheStatus::Resumed => "done before --resume",
    };
    let outcome = match &report.outcome {
        TaskOutcome::Succeeded => "succeeded".to_string(),
        TaskOutcome::Failed { code } => format!("failed (exit code {code})"),
        TaskOutcome::Skipped { because } => format!("skipped ({because} failed)"),
        TaskOutcome::Cancelled => "stopped".to_string(),
    };
    json!({"key": report.key, "cache": cache, "outcome": outcome, "reason": report.reason.as_ref().map(crate::words::reason)})
}

fn span(name: &str, cat: &str, tid: usize, ts: u64, end: u64, args: Value) -> Value {
    json!({
        "ph": "X", "pid": PID, "tid": tid, "name": name, "cat": cat,
        "ts": ts, "dur": end - ts, "args": args,
    })
}

fn counter(name: &str, ts: u64, args: Value) -> Value {
    json!({"ph": "C", "pid": PID, "tid": STAGES_TID, "name": name, "ts": ts, "args": args})
}

fn thread_name(tid: usize, name: &str) -> Value {
    json!({"ph": "M", "pid": PID, "tid": tid, "name": "thread_name", "args": {"name": name}})
}

#[cfg(test)]
mod tests;
