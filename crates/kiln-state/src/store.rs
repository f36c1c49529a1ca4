//! [`BuildState`]: for every task, its last successful keys, and the input manifest behind
//! each of them.
//!
//! ```text
//! .kiln/state/tasks/<task slug>      TaskState: the last keys, newest first
//! .kiln/state/manifests/<kk>/<key>   InputManifest of one key (immutable)
//! .kiln/state/global/<digest>        GlobalInputs of one global digest (immutable)
//! ```
//!
//! A task's file is rewritten only when it succeeds with a key that is not already its
//! newest, under the task lock the run already holds, so concurrent kiln processes never
//! lose each other's records; manifests and global inputs are written once under their
//! own digest, so writers can only race to write the same bytes. Keeping manifests by key
//! (not just the newest) is what lets `kiln why` follow a chain: a dependency's manifest at
//! the key a dependent last saw explains what changed in it since.
//!
//! A file that is unreadable is reported once (per run) and treated as absent: the task
//! counts as never run, which can cost a rebuild but never a wrong skip (the state explains
//! decisions; cache keys make them).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use kiln_core::TaskId;
use kiln_hash::{Digest, GlobalInputs, InputManifest, TaskKey};
use serde::{Deserialize, Serialize};

use crate::{StateError, framed};

const TASK_KIND: &str = "task";
const TASK_VERSION: u32 = 1;
const MANIFEST_KIND: &str = "manifest";
const MANIFEST_VERSION: u32 = 1;
const GLOBAL_KIND: &str = "global";
const GLOBAL_VERSION: u32 = 1;

/// How many past keys (and their manifests) each task keeps.
pub const KEPT_RUNS: usize = 8;
/// How many global-input records are kept.
const KEPT_GLOBALS: usize = 16;

/// One successful run of a task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PastRun {
    pub key: TaskKey,
    pub finished_unix_ms: u64,
    pub duration_ms: u64,
    /// Whether the result came from the cache rather than from running the command.
    pub cached: bool,
}

/// What is kept about one task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskState {
    pub task: TaskId,
    /// Newest first, at most [`KEPT_RUNS`], one per key.
    pub runs: Vec<PastRun>,
}

impl TaskState {
    /// The last successful run.
    pub fn last(&self) -> Option<&PastRun> {
        self.runs.first()
    }
}

/// The build state of one workspace (`.kiln/state/`).
#[derive(Debug)]
pub struct BuildState {
    dir: PathBuf,
    reported: Mutex<HashSet<PathBuf>>,
}

impl BuildState {
    /// The state under `dir` (usually `<root>/.kiln/state`); nothing is read yet.
    pub fn new(dir: &Path) -> Self {
        BuildState {
            dir: dir.to_path_buf(),
            reported: Mutex::new(HashSet::new()),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The state of `task`, or `None` when it never succeeded (or its file is unusable,
    /// which is reported once).
    pub fn task(&self, task: &TaskId) -> Option<TaskState> {
        let path = self.task_path(task);
        let state: Option<TaskState> = self.tolerant(framed::read(&path, TASK_KIND, TASK_VERSION));
        // A file under another task's name (a slug collision) is not this task's.
        state.filter(|s| &s.task == task)
    }

    /// The manifest recorded for `key`, if kept.
    pub fn manifest(&self, key: &TaskKey) -> Option<InputManifest> {
        let path = self.manifest_path(key);
        let manifest: Option<InputManifest> =
            self.tolerant(framed::read(&path, MANIFEST_KIND, MANIFEST_VERSION));
        manifest.filter(|m| &m.key == key)
    }

    /// The global inputs recorded under `digest`, if kept.
    pub fn global(&self, digest: &Digest) -> Option<GlobalInputs> {
        let path = self.dir.join("global").join(digest.to_hex());
        let global: Option<GlobalInputs> =
            self.tolerant(framed::read(&path, GLOBAL_KIND, GLOBAL_VERSION));
        global.filter(|g| &g.digest() == digest)
    }

    /// The manifest of the task's last successful run.
    pub fn last_manifest(&self, task: &TaskId) -> Option<InputManifest> {
        self.task(task)
            .and_then(|s| s.last().map(|r| r.key))
            .and_then(|key| self.manifest(&key))
    }

    /// Records a successful run of `manifest.task` with `manifest.key`. Callers hold the
    /// task's lock. Nothing is written when that key is already the newest.
    pub fn record_success(
        &self,
        manifest: &InputManifest,
        duration_ms: u64,
        cached: bool,
    ) -> Result<(), StateError> {
        let mut state = self.task(&manifest.task).unwrap_or(TaskState {
            task: manifest.task.clone(),
            runs: Vec::new(),
        });
        if state.last().is_some_and(|r| r.key == manifest.key)
            && self.manifest_path(&manifest.key).exists()
        {
            return Ok(());
        }
        let manifest_path = self.manifest_path(&manifest.key);
        if !manifest_path.exists() {
            framed::write(&manifest_path, MANIFEST_KIND, MANIFEST_VERSION, manifest)?;
        }
        state.runs.retain(|r| r.key != manifest.key);
        state.runs.insert(
            0,
            PastRun {
                key: manifest.key,
                finished_unix_ms: now_ms(),
                duration_ms,
                cached,
            },
        );
        let dropped: Vec<PastRun> = state
            .runs
            .drain(KEPT_RUNS.min(state.runs.len())..)
            .collect();
        framed::write(
            &self.task_path(&manifest.task),
            TASK_KIND,
            TASK_VERSION,
            &state,
        )?;
        for run in dropped {
            // A manifest belongs to one task (the task id is in the key): nobody else needs it.
            let _ = std::fs::remove_file(self.manifest_path(&run.key));
        }
        Ok(())
    }

    /// Records the global inputs of a run (once per distinct digest).
    pub fn record_global(&self, global: &GlobalInputs) -> Result<(), StateError> {
        let dir = self.dir.join("global");
        let path = dir.join(global.digest().to_hex());
        if path.exists() {
            return Ok(());
        }
        framed::write(&path, GLOBAL_KIND, GLOBAL_VERSION, global)?;
        prune_oldest(&dir, KEPT_GLOBALS);
        Ok(())
    }

    /// Forgets `task` (its file and manifests).
    pub fn forget(&self, task: &TaskId) -> Result<bool, StateError> {
        let Some(state) = self.task(task) else {
            return Ok(false);
        };
        for run in &state.runs {
            let _ = std::fs::remove_file(self.manifest_path(&run.key));
        }
        remove(&self.task_path(task))?;
        Ok(true)
    }

    /// Every task file: its path and what reading it gave.
    pub fn list(&self) -> Vec<(PathBuf, Result<TaskState, StateError>)> {
        let dir = self.dir.join("tasks");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Vec::new();
        };
        let mut out: Vec<(PathBuf, Result<TaskState, StateError>)> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| !is_temp(p))
            .map(|path| {
                let read = framed::read(&path, TASK_KIND, TASK_VERSION).and_then(|s| {
                    s.ok_or_else(|| StateError::Invalid {
                        path: path.clone(),
                        why: "vanished while reading".into(),
                    })
                });
                (path, read)
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Every manifest file that cannot be read, or that no task refers to.
    pub fn manifest_files(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let Ok(shards) = std::fs::read_dir(self.dir.join("manifests")) else {
            return out;
        };
        for shard in shards.flatten() {
            if let Ok(files) = std::fs::read_dir(shard.path()) {
                out.extend(files.flatten().map(|f| f.path()).filter(|p| !is_temp(p)));
            }
        }
        out.sort();
        out
    }

    /// Checks a manifest file in full: `Ok` when it is intact and lives under its own key.
    pub fn check_manifest_file(&self, path: &Path) -> Result<InputManifest, StateError> {
        let manifest: InputManifest = framed::read(path, MANIFEST_KIND, MANIFEST_VERSION)?
            .ok_or_else(|| StateError::Invalid {
                path: path.to_path_buf(),
                why: "vanished while reading".into(),
            })?;
        if path.file_name().and_then(|n| n.to_str()) != Some(manifest.key.to_hex().as_str()) {
            return Err(StateError::Invalid {
                path: path.to_path_buf(),
                why: format!("holds the manifest of key {}", manifest.key),
            });
        }
        Ok(manifest)
    }

    /// Deletes the whole state directory (the stat cache and output records included).
    pub fn clean(&self) -> Result<(), StateError> {
        match fs_err::remove_dir_all(&self.dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(StateError::Io {
                path: self.dir.clone(),
                source,
            }),
        }
    }

    pub fn task_path(&self, task: &TaskId) -> PathBuf {
        self.dir.join("tasks").join(slug(task))
    }

    fn manifest_path(&self, key: &TaskKey) -> PathBuf {
        let hex = key.to_hex();
        self.dir.join("manifests").join(&hex[..2]).join(hex)
    }

    /// A read whose failure is reported once and then treated as "nothing recorded".
    fn tolerant<T>(&self, read: Result<Option<T>, StateError>) -> Option<T> {
        match read {
            Ok(value) => value,
            Err(e) => {
                let path = match &e {
                    StateError::Io { path, .. } | StateError::Invalid { path, .. } => path,
                };
                let first = self
                    .reported
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(path.clone());
                if first {
                    tracing::warn!("ignoring build state: {e}");
                }
                None
            }
        }
    }
}

/// A file name for a task: readable, filesystem-safe, and unique (a short digest of the id
/// tells `a/b#c` from `a-b#c`).
fn slug(task: &TaskId) -> String {
    let id = task.to_string();
    let readable: String = id
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '.' | '_' | '-' | '#' => c,
            _ => '_',
        })
        .take(80)
        .collect();
    let digest = blake3::hash(id.as_bytes()).to_hex();
    format!("{readable}.{}", &digest[..12])
}

fn is_temp(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with(".tmp"))
}

fn remove(path: &Path) -> Result<(), StateError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(StateError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Keeps the `keep` most recently modified files of `dir`.
fn prune_oldest(dir: &Path, keep: usize) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut files: Vec<(SystemTime, PathBuf)> = entries
        .flatten()
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    if files.len() <= keep {
        return;
    }
    files.sort_by_key(|f| std::cmp::Reverse(f.0));
    for (_, path) in files.drain(keep..) {
        let _ = std::fs::remove_file(path);
    }
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use kiln_hash::{DefinitionInputs, KeyInputs, Platform};

    pub(crate) fn manifest(task: &str, file: &str, deps: &[&InputManifest]) -> InputManifest {
        let id = TaskId::parse(task).unwrap();
        KeyInputs {
            task_id: id,
            definition: DefinitionInputs::default(),
            files: vec![("src/a.ts".into(), Digest::of_bytes(file.as_bytes()))],
            dependencies: deps.iter().map(|m| (m.task.clone(), m.key)).collect(),
            env: vec![],
            global: GlobalInputs::default().digest(),
            external: Default::default(),
            platform: Platform::current(),
        }
        .into_manifest()
    }

    #[test]
    fn records_the_newest_key_first_and_prunes_old_manifests() {
        let dir = tempfile::tempdir().unwrap();
        let state = BuildState::new(dir.path());
        let id = TaskId::new("web", "build");
        assert!(state.task(&id).is_none());
        let mut all = Vec::new();
        for i in 0..KEPT_RUNS + 2 {
            let m = manifest("web#build", &i.to_string(), &[]);
            state.record_success(&m, 5, false).unwrap();
            all.push(m);
        }
        let recorded = state.task(&id).unwrap();
        assert_eq!(recorded.runs.len(), KEPT_RUNS);
        assert_eq!(recorded.last().unwrap().key, all.last().unwrap().key);
        assert_eq!(state.last_manifest(&id).as_ref(), all.last());
        assert!(state.manifest(&all[0].key).is_none(), "pruned with its run");
        assert!(state.manifest(&all[2].key).is_some());
        // The same key again moves to the front without a duplicate.
        state.record_success(&all[3], 5, true).unwrap();
        let recorded = state.task(&id).unwrap();
        assert_eq!(recorded.runs.len(), KEPT_RUNS);
        assert_eq!(recorded.last().unwrap().key, all[3].key);
        assert!(recorded.last().unwrap().cached);
    }

    #[test]
    fn a_damaged_task_file_counts_as_never_run_and_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let state = BuildState::new(dir.path());
        let m = manifest("web#build", "1", &[]);
        state.record_success(&m, 5, false).unwrap();
        let path = state.task_path(&m.task);
        let good = std::fs::read(&path).unwrap();
        std::fs::write(&path, &good[..good.len() - 5]).unwrap();
        assert!(state.task(&m.task).is_none());
        assert!(state.list()[0].1.is_err());
        state.record_success(&m, 5, false).unwrap();
        assert_eq!(state.task(&m.task).unwrap().runs.len(), 1);
        assert!(state.list()[0].1.is_ok());
    }

    #[test]
    fn global_inputs_are_kept_by_digest() {
        let dir = tempfile::tempdir().unwrap();
        let state = BuildState::new(dir.path());
        let mut g = GlobalInputs::default();
        g.files
            .insert("tsconfig.json".into(), Digest::of_bytes(b"{}"));
        state.record_global(&g).unwrap();
        assert_eq!(state.global(&g.digest()), Some(g.clone()));
        assert!(state.global(&GlobalInputs::default().digest()).is_none());
    }

    #[test]
    fn forget_and_clean_remove_what_they_say() {
        let dir = tempfile::tempdir().unwrap();
        let state = BuildState::new(&dir.path().join("state"));
        let m = manifest("web#build", "1", &[]);
        state.record_success(&m, 5, false).unwrap();
        assert!(state.forget(&m.task).unwrap());
        assert!(state.task(&m.task).is_none() && state.manifest(&m.key).is_none());
        assert!(!state.forget(&m.task).unwrap());
        state.record_success(&m, 5, false).unwrap();
        state.clean().unwrap();
        assert!(!dir.path().join("state").exists());
        state.clean().unwrap();
    }
}
