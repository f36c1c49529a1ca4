//! The run record: one JSON file per run under `.kiln/runs/`, the raw material of history,
//! metrics and advice. Written atomically (temp file + rename).

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kiln_core::TaskReport;
use serde::Serialize;

#[derive(Serialize)]
struct RunRecord<'a> {
    format: u32,
    kiln_version: &'static str,
    started_unix_ms: u128,
    duration_ms: u128,
    tasks_requested: &'a [String],
    tasks: &'a [TaskReport],
}

pub(crate) fn write(
    root: &Path,
    requested: &[String],
    reports: &[TaskReport],
    wall: Duration,
) -> std::io::Result<()> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let started = now.saturating_sub(wall);
    let record = RunRecord {
        format: 1,
        kiln_version: env!("CARGO_PKG_VERSION"),
        started_unix_ms: started.as_millis(),
        duration_ms: wall.as_millis(),
        tasks_requested: requested,
        tasks: reports,
    };
    let dir = root.join(".kiln").join("runs");
    fs_err::create_dir_all(&dir)?;
    let name = format!("{}-{}.json", started.as_millis(), std::process::id());
    let tmp = dir.join(format!(".{name}.tmp"));
    fs_err::write(
        &tmp,
        serde_json::to_vec_pretty(&record).map_err(std::io::Error::other)?,
    )?;
    fs_err::rename(&tmp, dir.join(name))
}
