//! The run journal: which tasks of the last run succeeded, written as they finish, so that
//! `kiln run --resume` after a failure, Ctrl-C, `kill -9` or a power cut re-runs only the
//! rest.
//!
//! `.kiln/state/journal-v1` is append-only: a header line naming the run, then one line per
//! task that *succeeded* (`{"run":…,"task":…,"key":…}`), appended with a single `write` as
//! soon as the task is done. A crash can only lose or truncate the last line, and a line
//! that does not parse is ignored, so the journal can under-report successes (the task runs
//! again, or is restored from the cache) but never claim one that did not happen. Each line
//! carries the run id: when two kiln processes overlap, the one that started last owns the
//! journal and the other's lines are ignored.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use kiln_core::TaskId;
use kiln_hash::TaskKey;
use serde::{Deserialize, Serialize};

use crate::StateError;
use crate::store::now_ms;

const FILE: &str = "journal-v1";
const MAGIC: &str = "kiln-journal 1";

#[derive(Serialize, Deserialize)]
struct Header {
    run: String,
    started_unix_ms: u64,
    /// The tasks the run was asked for, for messages.
    tasks: Vec<String>,
}

#[derive(Serialize, Deserialize)]
struct Line {
    run: String,
    task: TaskId,
    key: TaskKey,
}

/// What the journal says of the last run.
#[derive(Clone, Debug, Default)]
pub struct LastRun {
    pub started_unix_ms: u64,
    pub tasks: Vec<String>,
    /// The tasks that succeeded, with the key they succeeded with.
    pub succeeded: HashMap<TaskId, TaskKey>,
}

/// The journal of the current run.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    run: String,
    file: Mutex<std::fs::File>,
}

impl Journal {
    /// Starts a new journal for this run, replacing the last one.
    pub fn start(state_dir: &Path, tasks: &[String]) -> Result<Journal, StateError> {
        let path = state_dir.join(FILE);
        let io = |source| StateError::Io {
            path: path.clone(),
            source,
        };
        fs_err::create_dir_all(state_dir).map_err(io)?;
        static STARTED: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let nth = STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let run = format!("{}-{}-{nth}", now_ms(), std::process::id());
        let header = Header {
            run: run.clone(),
            started_unix_ms: now_ms(),
            tasks: tasks.to_vec(),
        };
        let mut text = format!("{MAGIC}\n");
        text.push_str(&serde_json::to_string(&header).map_err(|e| io(std::io::Error::other(e)))?);
        text.push('\n');
        // The header replaces the old journal atomically; lines are then appended to it.
        let mut tmp = tempfile::NamedTempFile::new_in(state_dir).map_err(io)?;
        tmp.write_all(text.as_bytes()).map_err(io)?;
        tmp.persist(&path).map_err(|e| io(e.error))?;
        let file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(io)?;
        Ok(Journal {
            path,
            run,
            file: Mutex::new(file),
        })
    }

    /// Notes that `task` succeeded with `key`.
    pub fn succeeded(&self, task: &TaskId, key: TaskKey) -> Result<(), StateError> {
        let line = Line {
            run: self.run.clone(),
            task: task.clone(),
            key,
        };
        let mut text = serde_json::to_string(&line).map_err(|e| StateError::Io {
            path: self.path.clone(),
            source: std::io::Error::other(e),
        })?;
        text.push('\n');
        // One write per line: appends of one buffer are not interleaved with other writers.
        self.file
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .write_all(text.as_bytes())
            .map_err(|source| StateError::Io {
                path: self.path.clone(),
                source,
            })
    }
}

/// Reads the last run's journal; `None` when there is none or its header is unusable.
pub fn last_run(state_dir: &Path) -> Option<LastRun> {
    let path = state_dir.join(FILE);
    let text = std::fs::read(&path).ok()?;
    let text = String::from_utf8_lossy(&text);
    let mut lines = text.split('\n');
    if lines.next() != Some(MAGIC) {
        tracing::warn!("ignoring {}: not a kiln journal", path.display());
        return None;
    }
    let header: Header = match lines.next().map(serde_json::from_str) {
        Some(Ok(h)) => h,
        _ => {
            tracing::warn!("ignoring {}: its header is damaged", path.display());
            return None;
        }
    };
    let mut last = LastRun {
        started_unix_ms: header.started_unix_ms,
        tasks: header.tasks,
        succeeded: HashMap::new(),
    };
    for line in lines {
        if let Ok(line) = serde_json::from_str::<Line>(line)
            && line.run == header.run
        {
            last.succeeded.insert(line.task, line.key);
        }
    }
    Some(last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_hash::Digest;

    fn key(s: &str) -> TaskKey {
        TaskKey::from(Digest::of_bytes(s.as_bytes()))
    }

    #[test]
    fn a_new_run_replaces_the_journal_and_successes_accumulate() {
        let dir = tempfile::tempdir().unwrap();
        assert!(last_run(dir.path()).is_none());
        let j = Journal::start(dir.path(), &["build".into()]).unwrap();
        j.succeeded(&TaskId::new("a", "build"), key("a")).unwrap();
        j.succeeded(&TaskId::new("b", "build"), key("b")).unwrap();
        let last = last_run(dir.path()).unwrap();
        assert_eq!(last.tasks, ["build"]);
        assert_eq!(last.succeeded.len(), 2);
        assert_eq!(last.succeeded[&TaskId::new("a", "build")], key("a"));

        let _next = Journal::start(dir.path(), &["test".into()]).unwrap();
        let last = last_run(dir.path()).unwrap();
        assert_eq!(last.tasks, ["test"]);
        assert!(last.succeeded.is_empty());
    }

    #[test]
    fn a_torn_last_line_and_another_runs_lines_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let old = Journal::start(dir.path(), &["build".into()]).unwrap();
        let j = Journal::start(dir.path(), &["build".into()]).unwrap();
        j.succeeded(&TaskId::new("a", "build"), key("a")).unwrap();
        // The older process is still running and appends to the file it opened... which is
        // the replaced one; write a line of its run into the current file too.
        let path = dir.path().join(FILE);
        let mut foreign = serde_json::to_string(&Line {
            run: old.run.clone(),
            task: TaskId::new("x", "build"),
            key: key("x"),
        })
        .unwrap();
        foreign.push('\n');
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(foreign.as_bytes()).unwrap();
        let torn = format!("{{\"run\":\"{}\",\"task\":{{\"package\":\"b", j.run);
        f.write_all(torn.as_bytes()).unwrap();
        let last = last_run(dir.path()).unwrap();
        assert_eq!(
            last.succeeded.keys().cloned().collect::<Vec<_>>(),
            [TaskId::new("a", "build")]
        );
    }

    #[test]
    fn a_damaged_header_means_no_last_run() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE), "kiln-journal 1\n{not json\n").unwrap();
        assert!(last_run(dir.path()).is_none());
        std::fs::write(dir.path().join(FILE), "garbage").unwrap();
        assert!(last_run(dir.path()).is_none());
    }
}
