//! `--summarize`: the run summary in Turborepo's shape, at `.turbo/runs/<id>.json` under
//! the workspace root, where scripts written for `turbo run --summarize` look for it.
//!
//! It is the `--dry=json` document (see `dry_run.rs`) with what happened: an `execution`
//! block for the run (command, counts, times, exit code) and one per task, each task's real
//! cache status, and only the tasks that ran or came from the cache (no `<NONEXISTENT>`
//! ones, as in Turborepo). kiln's own run record stays in `.kiln/runs/`.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kiln_core::{CacheSource, CacheStatus, TaskOutcome, TaskReport};
use serde_json::{Value, json};

use crate::dry_run::{RunView, to_json};

/// What the run's `execution` block says beyond the reports.
pub(crate) struct RunFacts<'a> {
    /// The command as Turborepo would reconstruct it (`kiln run build --filter=web`).
    pub(crate) command: String,
    /// Where kiln ran, relative to the root.
    pub(crate) repo_path: &'a str,
    pub(crate) wall: Duration,
    pub(crate) exit_code: i32,
}

/// Writes the summary; returns its path.
pub(crate) fn write(
    view: &RunView<'_>,
    reports: &[TaskReport],
    facts: &RunFacts<'_>,
) -> std::io::Result<PathBuf> {
    let now = unix_ms(SystemTime::now());
    let start = now.saturating_sub(facts.wall.as_millis() as u64);
    let id = format!("{start:x}{:x}", std::process::id());
    let cached: Vec<bool> = reports
        .iter()
        .map(|r| matches!(r.cache, CacheStatus::Hit(_)))
        .collect();
    let mut doc = to_json(view, &cached);
    let attempted: Vec<&TaskReport> = reports
        .iter()
        .filter(|r| r.cache != CacheStatus::NothingToRun && r.started_unix_ms.is_some())
        .collect();
    let count = |f: &dyn Fn(&TaskReport) -> bool| attempted.iter().filter(|r| f(r)).count();
    let execution = json!({
        "command": facts.command,
        "repoPath": facts.repo_path,
        "success": count(&|r| r.outcome == TaskOutcome::Succeeded && !matches!(r.cache, CacheStatus::Hit(_))),
        "failed": count(&|r| matches!(r.outcome, TaskOutcome::Failed { .. })),
        "cached": count(&|r| matches!(r.cache, CacheStatus::Hit(_))),
        "attempted": attempted.len(),
        "startTime": start,
        "endTime": now,
        "exitCode": facts.exit_code,
    });
    if let Some(fields) = doc.as_object_mut() {
        fields.insert("id".into(), json!(id));
        fields.insert("execution".into(), execution);
        if let Some(Value::Array(tasks)) = fields.get_mut("tasks") {
            let mut kept = Vec::with_capacity(tasks.len());
            for (task, report) in tasks.drain(..).zip(reports) {
                if report.cache == CacheStatus::NothingToRun || report.started_unix_ms.is_none() {
                    continue;
                }
                kept.push(with_execution(task, report));
            }
            *tasks = kept;
        }
    }
    let dir = view.ws.root.join(".turbo").join("runs");
    fs_err::create_dir_all(&dir)?;
    let path = dir.join(format!("{id}.json"));
    let tmp = dir.join(format!(".{id}.json.tmp"));
    let mut text = serde_json::to_vec_pretty(&doc).map_err(std::io::Error::other)?;
    text.push(b'\n');
    fs_err::write(&tmp, text)?;
    fs_err::rename(&tmp, &path)?;
    Ok(path)
}

fn with_execution(mut task: Value, report: &TaskReport) -> Value {
    let start = report.started_unix_ms.unwrap_or_default();
    let end = start + report.duration.as_millis() as u64;
    let mut execution = json!({ "startTime": start, "endTime": end });
    let exit_code = match &report.outcome {
        TaskOutcome::Failed { code } => {
            execution["error"] = json!(format!("{} exited ({code})", report.id));
            *code
        }
        _ => 0,
    };
    execution["exitCode"] = json!(exit_code);
    if let Some(fields) = task.as_object_mut() {
        fields.insert("cache".into(), cache_json(report));
        fields.insert("execution".into(), execution);
    }
    task
}

fn cache_json(report: &TaskReport) -> Value {
    let saved = report.saved.as_millis() as u64;
    match report.cache {
        CacheStatus::Hit(source) => {
            let (local, remote, name) = match source {
                CacheSource::Local => (true, false, "LOCAL"),
                CacheSource::Remote => (false, true, "REMOTE"),
            };
            json!({ "local": local, "remote": remote, "status": "HIT", "source": name, "timeSaved": saved })
        }
        _ => json!({ "local": false, "remote": false, "status": "MISS", "timeSaved": 0 }),
    }
}

fn unix_ms(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
