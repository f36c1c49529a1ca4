//! What the local store holds, read from the directory tree: one `stat` per file, and the
//! metadata parsed only when the caller wants the details.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::scratch::is_temp_name;
use super::{LocalStore, validate_key};
use crate::error::CacheError;
use crate::meta::ArtifactMeta;

/// One complete entry (metadata and blob both present) of the local store.
#[derive(Clone, Debug)]
pub struct CacheEntry {
    pub key: String,
    /// Blob plus metadata, in bytes.
    pub bytes: u64,
    /// When a run last used it (see [`LocalStore`]'s layout); its creation for an entry
    /// never hit.
    pub last_used: SystemTime,
    /// The parsed metadata, from [`LocalStore::list`] (`None` from [`LocalStore::usage`], or
    /// when it does not parse: `verify` evicts such entries).
    pub meta: Option<ArtifactMeta>,
}

/// Everything on disk in the store.
#[derive(Clone, Debug, Default)]
pub struct CacheUsage {
    /// Complete entries, by key.
    pub entries: Vec<CacheEntry>,
    /// Files that belong to no complete entry: writes in progress, leftovers of killed
    /// processes, blobs without metadata and metadata without blob.
    pub loose_files: usize,
    pub loose_bytes: u64,
}

impl CacheUsage {
    /// Bytes of the complete entries: what size limits apply to.
    pub fn entry_bytes(&self) -> u64 {
        self.entries.iter().map(|e| e.bytes).sum()
    }

    /// Every byte the store takes (entries and loose files).
    pub fn total_bytes(&self) -> u64 {
        self.entry_bytes() + self.loose_bytes
    }
}

/// One file seen by a scan.
#[derive(Clone, Debug)]
pub(super) struct Seen {
    pub(super) path: PathBuf,
    pub(super) bytes: u64,
    pub(super) modified: SystemTime,
}

/// The two files of one key, either of which may be missing.
#[derive(Clone, Debug, Default)]
pub(super) struct Pair {
    pub(super) blob: Option<Seen>,
    pub(super) meta: Option<Seen>,
}

/// A walk of the store.
#[derive(Debug, Default)]
pub(super) struct Scan {
    pub(super) keys: BTreeMap<String, Pair>,
    /// Our temp files, in shards and in `tmp/`.
    pub(super) temps: Vec<Seen>,
    /// Something other than a regular file (a directory, a symlink) where an entry's blob or
    /// metadata goes: it makes that key unstorable, so `verify` removes it.
    pub(super) obstructions: Vec<(String, PathBuf)>,
    /// Anything else (not ours, or not a regular file): counted, never removed.
    pub(super) foreign_bytes: u64,
    pub(super) foreign_files: usize,
}

impl Scan {
    pub(super) fn usage(&self) -> CacheUsage {
        let mut usage = CacheUsage {
            loose_files: self.temps.len() + self.foreign_files,
            loose_bytes: self.temps.iter().map(|t| t.bytes).sum::<u64>() + self.foreign_bytes,
            ..CacheUsage::default()
        };
        for (key, pair) in &self.keys {
            match (&pair.blob, &pair.meta) {
                (Some(blob), Some(meta)) => usage.entries.push(CacheEntry {
                    key: key.clone(),
                    bytes: blob.bytes + meta.bytes,
                    last_used: meta.modified,
                    meta: None,
                }),
                (blob, meta) => {
                    for file in [blob, meta].into_iter().flatten() {
                        usage.loose_files += 1;
                        usage.loose_bytes += file.bytes;
                    }
                }
            }
        }
        usage
    }
}

impl LocalStore {
    /// The store's entries and loose files, from one `stat` per file (no file is read): cheap
    /// enough to run after a build.
    pub fn usage(&self) -> Result<CacheUsage, CacheError> {
        Ok(self.scan()?.usage())
    }

    /// Like [`usage`](Self::usage), with every entry's metadata read and parsed.
    pub fn list(&self) -> Result<CacheUsage, CacheError> {
        let mut usage = self.usage()?;
        for entry in &mut usage.entries {
            entry.meta = fs_err::read(self.meta_path(&entry.key))
                .ok()
                .and_then(|bytes| ArtifactMeta::parse(&bytes, &entry.key).ok());
        }
        Ok(usage)
    }

    pub(super) fn scan(&self) -> Result<Scan, CacheError> {
        let fail = |source| CacheError::Open {
            dir: self.dir.clone(),
            source,
        };
        let mut scan = Scan::default();
        for shard in read_dir(&self.artifacts).map_err(fail)? {
            let is_shard = shard.file_name().to_str().is_some_and(|n| n.len() == 2);
            if !is_shard || !shard.file_type().is_ok_and(|t| t.is_dir()) {
                scan.foreign_files += 1;
                continue;
            }
            let shard_name = shard.file_name();
            for file in read_dir(&shard.path()).map_err(fail)? {
                scan.add_shard_file(&shard_name.to_string_lossy(), &file);
            }
        }
        for file in read_dir(&self.scratch).map_err(fail)? {
            if let Some(seen) = seen(&file) {
                if file.file_name().to_str().is_some_and(is_temp_name) {
                    scan.temps.push(seen);
                } else {
                    scan.foreign_files += 1;
                    scan.foreign_bytes += seen.bytes;
                }
            }
        }
        Ok(scan)
    }
}

impl Scan {
    fn add_shard_file(&mut self, shard: &str, file: &fs_err::DirEntry) {
        let name = file.file_name();
        let Some(name) = name.to_str() else {
            self.foreign_files += 1;
            return;
        };
        if name == ".lock" {
            return;
        }
        let (key, is_blob) = match (name.strip_suffix(".tar.zst"), name.strip_suffix(".json")) {
            (Some(key), _) => (key, true),
            (None, Some(key)) => (key, false),
            (None, None) => ("", false),
        };
        // A file that vanished since the listing was evicted meanwhile: not there.
        let Some(seen) = seen(file) else {
            let here = file.path().symlink_metadata().is_ok();
            if here && validate_key(key).is_ok() && key.starts_with(shard) {
                self.obstructions.push((key.to_string(), file.path()));
            }
            return;
        };
        if is_temp_name(name) {
            self.temps.push(seen);
            return;
        }
        // A key outside its shard is not where lookups go: not an entry.
        if validate_key(key).is_err() || !key.starts_with(shard) {
            self.foreign_files += 1;
            self.foreign_bytes += seen.bytes;
            return;
        }
        let pair = self.keys.entry(key.to_string()).or_default();
        if is_blob {
            pair.blob = Some(seen);
        } else {
            pair.meta = Some(seen);
        }
    }
}

/// The entries of `dir`; a directory that does not exist (yet) has none.
fn read_dir(dir: &Path) -> io::Result<Vec<fs_err::DirEntry>> {
    match fs_err::read_dir(dir) {
        Ok(entries) => entries.collect(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// One `lstat` of a regular file; `None` for anything else or a file gone meanwhile.
fn seen(file: &fs_err::DirEntry) -> Option<Seen> {
    let meta = file.metadata().ok()?;
    meta.is_file().then(|| Seen {
        path: file.path(),
        bytes: meta.len(),
        modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
    })
}
