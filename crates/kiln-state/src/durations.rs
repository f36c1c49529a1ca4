//! How long each task took the last time its command ran: the weights that put the
//! critical path first, and the estimates behind the live view's ETA.
//!
//! One small file, `.kiln/state/durations-v1`, read once per run and merged at its end
//! (read, update, write atomically): a task's record in `tasks/` holds the same figure, but
//! reading thousands of files to plan a run would cost more than the plan. Two kiln
//! processes finishing at once may lose one's update; that costs an estimate, nothing else.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use kiln_core::TaskId;
use serde::{Deserialize, Serialize};

use crate::framed;

const KIND: &str = "durations";
const VERSION: u32 = 1;

#[derive(Default, Serialize, Deserialize)]
struct Body {
    /// `pkg#task` → milliseconds.
    tasks: HashMap<String, u64>,
}

/// Execution times of tasks, by task.
#[derive(Debug, Default, Clone)]
pub struct Durations {
    path: PathBuf,
    by_task: HashMap<TaskId, Duration>,
}

impl Durations {
    /// Reads `.kiln/state/durations-v1` under `state_dir`; a missing or damaged file gives
    /// no durations (a damaged one with a warning).
    pub fn load(state_dir: &Path) -> Self {
        let path = state_dir.join("durations-v1");
        let body: Body = match framed::read(&path, KIND, VERSION) {
            Ok(body) => body.unwrap_or_default(),
            Err(e) => {
                tracing::warn!("ignoring build state: {e}");
                Body::default()
            }
        };
        let by_task = body
            .tasks
            .into_iter()
            .filter_map(|(id, ms)| Some((TaskId::parse(&id).ok()?, Duration::from_millis(ms))))
            .collect();
        Durations { path, by_task }
    }

    pub fn get(&self, task: &TaskId) -> Option<Duration> {
        self.by_task.get(task).copied()
    }

    pub fn all(&self) -> &HashMap<TaskId, Duration> {
        &self.by_task
    }

    /// Merges `executed` (tasks whose command ran to success, and how long it took) into the
    /// file as it is now on disk, and writes it back.
    pub fn record(&self, executed: &[(TaskId, Duration)]) -> Result<(), crate::StateError> {
        if executed.is_empty() {
            return Ok(());
        }
        let mut body: Body = framed::read(&self.path, KIND, VERSION)
            .ok()
            .flatten()
            .unwrap_or_default();
        for (id, took) in executed {
            body.tasks.insert(id.to_string(), took.as_millis() as u64);
        }
        framed::write(&self.path, KIND, VERSION, &body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_merge_with_what_is_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let a = TaskId::new("a", "build");
        let b = TaskId::new("b", "build");
        let first = Durations::load(dir.path());
        assert_eq!(first.get(&a), None);
        first
            .record(&[(a.clone(), Duration::from_millis(1500))])
            .unwrap();
        // Another process, loaded before the first wrote, adds its own task.
        Durations::load(dir.path())
            .record(&[(b.clone(), Duration::from_millis(20))])
            .unwrap();
        let now = Durations::load(dir.path());
        assert_eq!(now.get(&a), Some(Duration::from_millis(1500)));
        assert_eq!(now.get(&b), Some(Duration::from_millis(20)));
        std::fs::write(dir.path().join("durations-v1"), "junk").unwrap();
        assert!(Durations::load(dir.path()).all().is_empty());
    }
}
