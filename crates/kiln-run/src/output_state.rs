//! Which key's outputs are on disk for each task, and their fingerprint: lets a cache hit
//! whose outputs are already in place skip the restore (see `kiln_cache::OutputsFingerprint`
//! for why a matching fingerprint is proof enough).
//!
//! Stored in `.kiln/state/outputs-v1.json`: a header line `kiln-outputs <version> <blake3 of
//! the body>`, then the JSON body. A file that is missing, truncated, corrupt or of another
//! version is ignored (with a warning when it exists): every task then restores normally. It
//! can never cause a wrong skip, because a record is only trusted after its fingerprint is
//! checked against the disk; a record lost to a concurrent kiln costs one restore.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use kiln_cache::OutputsFingerprint;
use kiln_core::TaskId;
use serde::{Deserialize, Serialize};

const MAGIC: &str = "kiln-outputs";
const VERSION: u32 = 1;

/// Logs up to this size are kept with their record, so a hit whose outputs are in place
/// needs nothing from the artifact; longer ones are read from it.
pub(crate) const MAX_KEPT_LOG: usize = 64 * 1024;

/// The outputs kiln last left on disk for one task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutputRecord {
    /// The key whose outputs these are; empty when they are what the task's own command
    /// left without being stored (a failure, a stop): never in place for any key, but still
    /// files kiln wrote, which a restore may replace.
    pub key: String,
    pub fingerprint: OutputsFingerprint,
    /// The task's log, when short (see [`MAX_KEPT_LOG`]).
    #[serde(default)]
    pub log: Option<String>,
}

/// Every task's [`OutputRecord`], loaded once per run and saved at its end.
#[derive(Debug)]
pub struct OutputState {
    path: PathBuf,
    records: Mutex<BTreeMap<String, OutputRecord>>,
    /// Whether anything changed since the load: an unchanged state is not written again.
    dirty: std::sync::atomic::AtomicBool,
}

impl OutputState {
    /// Loads the state at `path`; anything unreadable is reported and ignored.
    pub fn load(path: &Path) -> Self {
        let records = match std::fs::read(path) {
            Ok(bytes) => parse(&bytes).unwrap_or_else(|why| {
                tracing::warn!("ignoring {}: {why}", path.display());
                BTreeMap::new()
            }),
            Err(_) => BTreeMap::new(),
        };
        OutputState {
            path: path.to_path_buf(),
            records: Mutex::new(records),
            dirty: std::sync::atomic::AtomicBool::new(false),
        }
    }

    pub fn get(&self, id: &TaskId) -> Option<OutputRecord> {
        self.lock().get(&id.to_string()).cloned()
    }

    /// The records of every task of `package` (whose outputs may overlap each other's).
    pub fn of_package(&self, package: &kiln_core::PackageName) -> Vec<OutputRecord> {
        let prefix = format!("{package}#");
        self.lock()
            .iter()
            .filter(|(id, _)| id.starts_with(&prefix))
            .map(|(_, r)| r.clone())
            .collect()
    }

    pub fn set(&self, id: &TaskId, record: OutputRecord) {
        let old = self.lock().insert(id.to_string(), record.clone());
        if old.as_ref() != Some(&record) {
            self.mark_dirty();
        }
    }

    pub fn remove(&self, id: &TaskId) {
        if self.lock().remove(&id.to_string()).is_some() {
            self.mark_dirty();
        }
    }

    fn mark_dirty(&self) {
        self.dirty.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Writes the state atomically (temp file in the same directory, then rename), unless
    /// nothing changed since it was loaded or last saved (a run that released the
    /// repository early must not save its records again over a later run's).
    pub fn save(&self) -> std::io::Result<()> {
        if !self.dirty.swap(false, std::sync::atomic::Ordering::Relaxed) {
            return Ok(());
        }
        let written = self.write();
        if written.is_err() {
            self.mark_dirty();
        }
        written
    }

    fn write(&self) -> std::io::Result<()> {
        let body = serde_json::to_vec(&*self.lock()).map_err(std::io::Error::other)?;
        let mut bytes =
            format!("{MAGIC} {VERSION} {}\n", blake3::hash(&body).to_hex()).into_bytes();
        bytes.extend_from_slice(&body);
        let dir = self.path.parent().unwrap_or(Path::new("."));
        fs_err::create_dir_all(dir)?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        std::io::Write::write_all(&mut tmp, &bytes)?;
        tmp.persist(&self.path).map_err(|e| e.error)?;
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, OutputRecord>> {
        self.records.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn parse(bytes: &[u8]) -> Result<BTreeMap<String, OutputRecord>, String> {
    let newline = bytes.iter().position(|b| *b == b'\n').ok_or("no header")?;
    let header = std::str::from_utf8(&bytes[..newline]).map_err(|_| "bad header")?;
    let body = &bytes[newline + 1..];
    let mut parts = header.split(' ');
    if parts.next() != Some(MAGIC) {
        return Err("not a kiln outputs state file".into());
    }
    let version: u32 = parts
        .next()
        .and_then(|v| v.parse().ok())
        .ok_or("bad version")?;
    if version != VERSION {
        return Err(format!("format version {version}, expected {VERSION}"));
    }
    if parts.next() != Some(blake3::hash(body).to_hex().as_str()) {
        return Err("checksum mismatch (truncated or corrupt)".into());
    }
    serde_json::from_slice(body).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(dir: &Path) -> OutputRecord {
        OutputRecord {
            key: "k".repeat(64),
            fingerprint: OutputsFingerprint::take(dir, &[], &[]).unwrap(),
            log: Some("built\n".into()),
        }
    }

    #[test]
    fn round_trips_through_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/outputs-v1.json");
        let state = OutputState::load(&path);
        let id = TaskId::new("web", "build");
        state.set(&id, record(dir.path()));
        state.save().unwrap();
        let again = OutputState::load(&path);
        assert_eq!(again.get(&id).unwrap().key, "k".repeat(64));
        assert_eq!(again.get(&id).unwrap().log.as_deref(), Some("built\n"));
    }

    #[test]
    fn an_unchanged_state_is_not_written_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outputs-v1.json");
        let state = OutputState::load(&path);
        let id = TaskId::new("web", "build");
        state.set(&id, record(dir.path()));
        state.save().unwrap();
        let saved = std::fs::read(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        state.save().unwrap();
        assert!(!path.exists(), "saved once: not written again");

        std::fs::write(&path, saved).unwrap();
        let again = OutputState::load(&path);
        again.set(&id, again.get(&id).unwrap());
        std::fs::remove_file(&path).unwrap();
        again.save().unwrap();
        assert!(!path.exists(), "setting the same record changes nothing");
    }

    #[test]
    fn corrupt_truncated_or_foreign_files_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("outputs-v1.json");
        let state = OutputState::load(&path);
        let id = TaskId::new("web", "build");
        state.set(&id, record(dir.path()));
        state.save().unwrap();
        let good = std::fs::read(&path).unwrap();

        let mut flipped = good.clone();
        let last = flipped.len() - 2;
        flipped[last] ^= 1;
        let truncated = good[..good.len() / 2].to_vec();
        let other_version = String::from_utf8(good.clone())
            .unwrap()
            .replacen(" 1 ", " 9 ", 1);
        for bad in [
            flipped,
            truncated,
            other_version.into_bytes(),
            b"garbage".to_vec(),
        ] {
            std::fs::write(&path, bad).unwrap();
            assert!(OutputState::load(&path).get(&id).is_none());
        }
    }
}
