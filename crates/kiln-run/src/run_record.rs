//! The run record: one JSON file per run under `.kiln/runs/` (format 2, described in
//! `docs/run-records.md`), the raw material of history, metrics and advice. It is built as
//! a subscriber of the run's own events (`events.rs` hands it the few kinds it keeps), so
//! it holds exactly what any other watcher could see; written atomically (temp file +
//! rename) once the run is over.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use kiln_core::{Event, Layout, Phase, TaskId, TaskReport};
use serde::Serialize;

/// The format of the file; bumped whenever a field changes meaning or goes away.
pub const RUN_RECORD_FORMAT: u32 = 2;

/// What the run's events said, by task.
#[derive(Default)]
pub(crate) struct RecordBuilder {
    origin: Option<Instant>,
    tasks: HashMap<TaskId, TaskTrace>,
    stages: Vec<Span<&'static str>>,
    samples: Vec<Sample>,
}

#[derive(Default, Serialize)]
struct TaskTrace {
    #[serde(skip_serializing_if = "Option::is_none")]
    worker: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    remote: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    prefetched: bool,
    phases: Vec<Span<Phase>>,
}

/// Something that took time, in milliseconds since the run started.
#[derive(Serialize)]
struct Span<T> {
    #[serde(rename = "name")]
    what: T,
    start_ms: f64,
    duration_ms: f64,
}

#[derive(Serialize)]
struct Sample {
    at_ms: f64,
    cpu_busy: f64,
    memory_total: u64,
    memory_available: u64,
    tasks_rss: u64,
    running: usize,
    budget_slots: usize,
}

impl RecordBuilder {
    /// A record of a run that started at `origin`.
    pub(crate) fn new(origin: Instant) -> Self {
        RecordBuilder {
            origin: Some(origin),
            ..Default::default()
        }
    }

    /// Whether the record keeps anything of `event` (output lines, the bulk, it does not).
    pub(crate) fn wants(event: &Event) -> bool {
        matches!(
            event,
            Event::TaskStarted { .. }
                | Event::Phase { .. }
                | Event::Stage { .. }
                | Event::CacheHit { .. }
                | Event::Resources(_)
        )
    }

    pub(crate) fn observe(&mut self, event: &Event) {
        let Some(origin) = self.origin else { return };
        let ms = |at: Instant| at.saturating_duration_since(origin).as_secs_f64() * 1e3;
        let span = |what, started: Instant, ended: Instant| Span {
            what,
            start_ms: ms(started),
            duration_ms: ended.saturating_duration_since(started).as_secs_f64() * 1e3,
        };
        match event {
            Event::TaskStarted { id, worker, .. } => {
                self.tasks.entry(id.clone()).or_default().worker = Some(*worker);
            }
            Event::Phase {
                id,
                phase,
                started,
                ended,
            } => {
                // In the order they started: an upload can end before the store phase
                // that queued it is reported.
                let phases = &mut self.tasks.entry(id.clone()).or_default().phases;
                phases.push(span(*phase, *started, *ended));
                phases.sort_by(|a, b| a.start_ms.total_cmp(&b.start_ms));
            }
            Event::Stage {
                name,
                started,
                ended,
            } => self.stages.push(Span {
                what: *name,
                start_ms: ms(*started),
                duration_ms: ended.saturating_duration_since(*started).as_secs_f64() * 1e3,
            }),
            Event::CacheHit {
                id,
                remote,
                prefetched,
                ..
            } => {
                let task = self.tasks.entry(id.clone()).or_default();
                task.remote = remote.clone();
                task.prefetched = *prefetched;
            }
            Event::Resources(sample) => self.samples.push(Sample {
                at_ms: ms(sample.at),
                cpu_busy: sample.cpu_busy,
                memory_total: sample.memory_total,
                memory_available: sample.memory_available,
                tasks_rss: sample.tasks_rss,
                running: sample.running,
                budget_slots: sample.budget_slots,
            }),
            _ => {}
        }
    }
}

/// What the record says of the run as a whole.
pub(crate) struct RunFacts<'a> {
    pub(crate) command: &'a str,
    pub(crate) requested: &'a [String],
    pub(crate) concurrency: usize,
    pub(crate) wall: Duration,
    pub(crate) interrupted: bool,
}

#[derive(Serialize)]
struct RunRecord<'a> {
    format: u32,
    kiln_version: &'static str,
    started_unix_ms: u128,
    duration_ms: u128,
    command: &'a str,
    tasks_requested: &'a [String],
    concurrency: usize,
    interrupted: bool,
    host: Host,
    stages: &'a [Span<&'static str>],
    tasks: Vec<TaskEntry<'a>>,
    resources: &'a [Sample],
}

#[derive(Serialize)]
struct Host {
    os: &'static str,
    arch: &'static str,
    cpus: usize,
}

#[derive(Serialize)]
struct TaskEntry<'a> {
    #[serde(flatten)]
    report: &'a TaskReport,
    #[serde(flatten)]
    trace: Option<&'a TaskTrace>,
}

/// Writes the record of a run to `.kiln/runs/<started ms>-<pid>.json`; returns its path.
pub(crate) fn write(
    layout: &Layout,
    record: &RecordBuilder,
    facts: &RunFacts<'_>,
    reports: &[TaskReport],
) -> std::io::Result<PathBuf> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let started = now.saturating_sub(facts.wall);
    let file = RunRecord {
        format: RUN_RECORD_FORMAT,
        kiln_version: env!("CARGO_PKG_VERSION"),
        started_unix_ms: started.as_millis(),
        duration_ms: facts.wall.as_millis(),
        command: facts.command,
        tasks_requested: facts.requested,
        concurrency: facts.concurrency,
        interrupted: facts.interrupted,
        host: Host {
            os: std::env::consts::OS,
            arch: std::env::consts::ARCH,
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        },
        stages: &record.stages,
        tasks: reports
            .iter()
            .map(|report| TaskEntry {
                report,
                trace: record.tasks.get(&report.id),
            })
            .collect(),
        resources: &record.samples,
    };
    let dir = layout.runs();
    fs_err::create_dir_all(&dir)?;
    let name = format!("{}-{}.json", started.as_millis(), std::process::id());
    write_atomically(&dir, &name, &serde_json::to_vec_pretty(&file)?)
}

fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
    let tmp = dir.join(format!(".{name}.tmp"));
    fs_err::write(&tmp, bytes)?;
    let path = dir.join(name);
    fs_err::rename(&tmp, &path)?;
    Ok(path)
}
