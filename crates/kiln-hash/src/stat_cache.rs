//! The stat cache: (size, mtime, ctime, inode) of a file → its BLAKE3 digest, so that an
//! unchanged tree costs one `lstat` per file and no reads.
//!
//! ## Trust
//!
//! An entry is used only when all four stat fields are equal to the file's current ones.
//! Content can still change without any of them changing when the change lands in the same
//! timestamp tick as the stat we recorded (coarse filesystem clocks; git calls this the
//! *racy clean* problem). The guard, as git's: **an entry is recorded only if the file's
//! mtime and ctime are both more than [`RACY_WINDOW`] older than the moment we stat and hash
//! it.** A file touched in the last two seconds is hashed again on every run until it settles,
//! which costs a read of a file that was being edited anyway. Because entries are recorded no
//! later than the cache is written, every persisted entry is older than the window before the
//! write too. The same rule protects lookups within one run, when a task rewrites a file that
//! another task's key already read.
//!
//! A file is also re-stat'ed through its open handle before and after reading: if it moved or
//! changed while we hashed it, the digest is used for this run but not recorded.
//!
//! ## Lifetime
//!
//! [`StatCache::load`] reads the previous run's entries (see `stat_cache_file` for the
//! format); a missing, damaged or other-version file is discarded, never trusted.
//! [`StatCache::save`] writes back only the entries looked up or recorded in this run, so
//! deleted files fall out of the cache by themselves. When that is exactly what was loaded
//! from the same file (an unchanged tree, the common case), the file is left as it is.

use std::collections::HashMap;
use std::fs::Metadata;
use std::hash::BuildHasher;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::stat_cache_file;
use crate::{Digest, HashError};

/// How long a file must have been left alone before its stat can stand for its content.
pub const RACY_WINDOW: Duration = Duration::from_secs(2);

const SHARDS: usize = 32;

/// What `lstat` says about a file, as far as the cache is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Stat {
    pub(crate) size: u64,
    pub(crate) mtime_ns: i64,
    pub(crate) ctime_ns: i64,
    pub(crate) ino: u64,
}

impl Stat {
    pub(crate) fn of(meta: &Metadata) -> Self {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            Self {
                size: meta.size(),
                mtime_ns: meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
                ctime_ns: meta.ctime() * 1_000_000_000 + meta.ctime_nsec(),
                ino: meta.ino(),
            }
        }
        #[cfg(not(unix))]
        {
            let mtime_ns = meta.modified().map(system_time_ns).unwrap_or(i64::MAX);
            Self {
                size: meta.len(),
                mtime_ns,
                ctime_ns: 0,
                ino: 0,
            }
        }
    }

    /// Whether a change could still hide from this stat (see the module doc).
    fn is_racy(&self, now_ns: i64) -> bool {
        let newest = self.mtime_ns.max(self.ctime_ns);
        now_ns.saturating_sub(newest) <= RACY_WINDOW.as_nanos() as i64
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) stat: Stat,
    pub(crate) digest: Digest,
}

/// File digests keyed by root-relative path; shared by reference across rayon threads.
pub struct StatCache {
    /// The previous run's entries, each with a flag set once this run confirms it. The map
    /// is read-only after load, so a hit (the common case) takes no lock.
    previous: HashMap<String, (Entry, AtomicBool)>,
    /// Entries recorded in this run, sharded to keep rayon threads off each other's locks.
    recorded: Vec<Mutex<HashMap<String, Entry>>>,
    shard_hasher: std::collections::hash_map::RandomState,
    hits: AtomicU64,
    misses: AtomicU64,
    /// The file `previous` was read from, when it was read whole.
    loaded_from: Option<PathBuf>,
    /// Added to the clock of the racy rule; only tests move it, to stand a minute later
    /// instead of sleeping through the window.
    clock_skew_ns: i64,
}

impl Default for StatCache {
    fn default() -> Self {
        Self::from_entries(HashMap::new())
    }
}

impl StatCache {
    /// An empty cache (nothing trusted, everything hashed).
    pub fn new() -> Self {
        Self::default()
    }

    /// The cache saved at `path` by an earlier run, or an empty one when the file is missing,
    /// unreadable, truncated, corrupt or of another format version (with one warning).
    pub fn load(path: &Path) -> Self {
        match stat_cache_file::read(path) {
            Some(entries) => Self {
                loaded_from: Some(path.to_path_buf()),
                ..Self::from_entries(entries)
            },
            None => Self::new(),
        }
    }

    pub(crate) fn from_entries(previous: HashMap<String, Entry>) -> Self {
        Self {
            previous: previous
                .into_iter()
                .map(|(k, e)| (k, (e, AtomicBool::new(false))))
                .collect(),
            recorded: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            shard_hasher: Default::default(),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            loaded_from: None,
            clock_skew_ns: 0,
        }
    }

    /// This cache, judging raciness as if it ran a minute from now.
    #[cfg(test)]
    pub(crate) fn a_minute_later(mut self) -> Self {
        self.clock_skew_ns = 60_000_000_000;
        self
    }

    /// Writes the entries seen in this run to `path`, atomically (temp file + rename); does
    /// nothing when `path` already holds exactly those entries.
    pub fn save(&self, path: &Path) -> Result<(), HashError> {
        if self.unchanged_since_load(path) {
            tracing::debug!(path = %path.display(), entries = self.previous.len(), "stat cache unchanged");
            return Ok(());
        }
        let mut entries: HashMap<String, Entry> = self
            .previous
            .iter()
            .filter(|(_, (_, seen))| seen.load(Ordering::Relaxed))
            .map(|(k, (e, _))| (k.clone(), *e))
            .collect();
        // Recorded in this run means stat'ed after the previous entry was confirmed, or the
        // previous entry did not match: either way the newer word wins.
        for shard in &self.recorded {
            let shard = shard.lock().expect("stat cache shard lock");
            entries.extend(shard.iter().map(|(k, v)| (k.clone(), *v)));
        }
        let mut entries: Vec<(String, Entry)> = entries.into_iter().collect();
        entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        stat_cache_file::write(path, &entries)
    }

    /// Whether `path` is the file this cache was loaded from and this run neither recorded
    /// an entry nor left one of the loaded entries unconfirmed: saving would rewrite the same
    /// bytes. A recorded entry (a new or changed file, even one too recent to keep) or a
    /// file gone since always means a write.
    fn unchanged_since_load(&self, path: &Path) -> bool {
        self.loaded_from.as_deref() == Some(path)
            && self.misses.load(Ordering::Relaxed) == 0
            && self
                .recorded
                .iter()
                .all(|shard| shard.lock().expect("stat cache shard lock").is_empty())
            && self
                .previous
                .values()
                .all(|(_, seen)| seen.load(Ordering::Relaxed))
    }

    /// How many files were answered from the cache without being read.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// How many files had to be read and hashed.
    pub fn misses(&self) -> u64 {
        self.misses.load(Ordering::Relaxed)
    }

    /// The digest for `key` if the cache may vouch for a file with this `stat`. Any entry
    /// whose stat matches is right for it (the racy rule kept out the rest), so the lock-free
    /// previous map is asked first.
    pub(crate) fn lookup(&self, key: &str, stat: &Stat) -> Option<Digest> {
        if let Some((entry, seen)) = self.previous.get(key)
            && entry.stat == *stat
        {
            seen.store(true, Ordering::Relaxed);
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Some(entry.digest);
        }
        let shard = self.recorded[self.shard(key)]
            .lock()
            .expect("stat cache shard lock");
        let entry = shard.get(key).filter(|e| e.stat == *stat)?;
        self.hits.fetch_add(1, Ordering::Relaxed);
        Some(entry.digest)
    }

    /// Records a freshly computed digest, unless the file is too recent to be trusted later.
    pub(crate) fn record(&self, key: &str, stat: Stat, digest: Digest) {
        self.misses.fetch_add(1, Ordering::Relaxed);
        let mut shard = self.recorded[self.shard(key)]
            .lock()
            .expect("stat cache shard lock");
        let now = system_time_ns(SystemTime::now()).saturating_add(self.clock_skew_ns);
        if stat.is_racy(now) {
            // A stale entry from an earlier hash of the same path must not survive either.
            shard.remove(key);
            return;
        }
        shard.insert(key.to_string(), Entry { stat, digest });
    }

    fn shard(&self, key: &str) -> usize {
        (self.shard_hasher.hash_one(key) as usize) % SHARDS
    }
}

fn system_time_ns(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_nanos()).unwrap_or(i64::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(age: Duration) -> Stat {
        let t = system_time_ns(SystemTime::now() - age);
        Stat {
            size: 3,
            mtime_ns: t,
            ctime_ns: t,
            ino: 7,
        }
    }

    #[test]
    fn a_settled_file_is_recorded_and_found_again_only_with_the_same_stat() {
        let cache = StatCache::new();
        let s = stat(Duration::from_secs(60));
        let d = Digest::of_bytes(b"abc");
        cache.record("a", s, d);
        assert_eq!(cache.lookup("a", &s), Some(d));
        assert_eq!(cache.lookup("a", &Stat { ino: 8, ..s }), None);
        assert_eq!(cache.lookup("a", &Stat { size: 4, ..s }), None);
        assert_eq!(cache.lookup("b", &s), None);
    }

    #[test]
    fn a_file_changed_within_the_racy_window_is_never_recorded() {
        let cache = StatCache::new();
        let s = stat(Duration::from_millis(500));
        cache.record("a", s, Digest::of_bytes(b"abc"));
        assert_eq!(cache.lookup("a", &s), None);
    }

    #[test]
    fn a_recent_ctime_is_racy_even_when_the_mtime_is_old() {
        // `cp -p` or an archive restore: old mtime, fresh ctime.
        let s = Stat {
            ctime_ns: system_time_ns(SystemTime::now()),
            ..stat(Duration::from_secs(3600))
        };
        assert!(s.is_racy(system_time_ns(SystemTime::now())));
    }

    #[test]
    fn a_future_mtime_is_racy() {
        let s = Stat {
            mtime_ns: system_time_ns(SystemTime::now() + Duration::from_secs(3600)),
            ..stat(Duration::from_secs(3600))
        };
        assert!(s.is_racy(system_time_ns(SystemTime::now())));
    }
}
