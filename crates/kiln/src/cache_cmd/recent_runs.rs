//! The cache's effect on recent runs, from the run records in `.kiln/runs/`.

use std::path::Path;
use std::time::Duration;

use kiln_core::{CacheSource, CacheStatus};
use serde::{Deserialize, Serialize};

/// How many of the newest runs the hit rate covers.
pub(crate) const RECENT_RUNS: usize = 20;

/// Cache outcomes over the last [`RECENT_RUNS`] runs.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub(crate) struct HitRate {
    pub(crate) runs: usize,
    pub(crate) local_hits: usize,
    pub(crate) remote_hits: usize,
    /// Cacheable tasks that ran (tasks with the cache off are not counted).
    pub(crate) misses: usize,
    /// Hits over hits and misses; `None` before any cacheable task.
    pub(crate) hit_rate: Option<f64>,
    /// The original durations of the hits: the time the cache saved.
    pub(crate) saved_ms: u64,
}

/// The part of a run record read here (see `record.rs`).
#[derive(Deserialize)]
struct Record {
    #[serde(default)]
    tasks: Vec<Task>,
}

#[derive(Deserialize)]
struct Task {
    cache: CacheStatus,
    #[serde(default)]
    saved: Duration,
}

/// Reads the newest [`RECENT_RUNS`] records of `runs_dir`; unreadable ones are skipped.
pub(crate) fn hit_rate(runs_dir: &Path) -> HitRate {
    let mut names: Vec<(u128, String)> = fs_err::read_dir(runs_dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|name| !name.starts_with('.') && name.ends_with(".json"))
                // Named `<started ms>-<pid>.json`: newest last by number, not by text.
                .filter_map(|name| Some((name.split('-').next()?.parse().ok()?, name)))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let mut rate = HitRate::default();
    for (_, name) in names.iter().rev().take(RECENT_RUNS) {
        let path = runs_dir.join(name);
        let record: Record = match fs_err::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
        {
            Ok(record) => record,
            Err(error) => {
                tracing::debug!(%error, "skipping a run record");
                continue;
            }
        };
        rate.runs += 1;
        for task in record.tasks {
            match task.cache {
                CacheStatus::Hit(source) => {
                    match source {
                        CacheSource::Local => rate.local_hits += 1,
                        CacheSource::Remote => rate.remote_hits += 1,
                    }
                    rate.saved_ms += u64::try_from(task.saved.as_millis()).unwrap_or(u64::MAX);
                }
                CacheStatus::Miss => rate.misses += 1,
                CacheStatus::Disabled | CacheStatus::Resumed | CacheStatus::NothingToRun => {}
            }
        }
    }
    let hits = rate.local_hits + rate.remote_hits;
    rate.hit_rate = (hits + rate.misses > 0).then(|| hits as f64 / (hits + rate.misses) as f64);
    rate
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(cache: &str, saved_secs: u64) -> String {
        format!(
            r#"{{"id": "a#build", "key": "k", "outcome": {{"kind": "succeeded"}}, "cache": {cache},
               "duration": {{"secs": 0, "nanos": 0}}, "saved": {{"secs": {saved_secs}, "nanos": 0}}}}"#
        )
    }

    #[test]
    fn counts_the_newest_runs_only_and_skips_damaged_records() {
        let dir = tempfile::tempdir().unwrap();
        let local = task(r#"{"status": "hit", "source": "local"}"#, 3);
        let remote = task(r#"{"status": "hit", "source": "remote"}"#, 5);
        let miss = task(r#"{"status": "miss"}"#, 0);
        let off = task(r#"{"status": "disabled"}"#, 0);
        // The oldest run is beyond the window: 21 runs of one miss, then ones of hits.
        for i in 0..RECENT_RUNS + 1 {
            let tasks = if i == 0 { &miss } else { &local };
            let text = format!(r#"{{"format": 1, "tasks": [{tasks}, {off}]}}"#);
            // Numbers of unequal lengths, to sort by value.
            let started = 900 + i * 100;
            fs_err::write(dir.path().join(format!("{started}-1.json")), text).unwrap();
        }
        let text = format!(r#"{{"format": 1, "tasks": [{remote}, {miss}]}}"#);
        fs_err::write(dir.path().join("99999-2.json"), text).unwrap();
        fs_err::write(dir.path().join("99998-3.json"), "{ torn").unwrap();
        fs_err::write(dir.path().join(".99999-4.json.tmp"), "{}").unwrap();

        let rate = hit_rate(dir.path());
        // Newest 20 names: 99999, 99998 (skipped), then 18 runs of a local hit.
        assert_eq!(rate.runs, 19);
        assert_eq!((rate.local_hits, rate.remote_hits, rate.misses), (18, 1, 1));
        assert_eq!(rate.saved_ms, (18 * 3 + 5) * 1000);
        assert!((rate.hit_rate.unwrap() - 19.0 / 20.0).abs() < 1e-9);
        assert_eq!(hit_rate(&dir.path().join("none")), HitRate::default());
    }
}
