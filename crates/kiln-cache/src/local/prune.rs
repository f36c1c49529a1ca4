//! Bounding the local store: evict what was not used for a while, then the least recently
//! used entries until the rest fits.
//!
//! Every decision comes from one `stat` per file (sizes, and the metadata mtime that records
//! the last use): no blob or metadata is read, so checking a large cache after a run costs
//! milliseconds. Each eviction takes the shard lock, re-reads the entry's last use and keeps
//! it if another process used it since the scan; it removes the metadata first, so a
//! concurrent reader sees a miss, never half an entry. Temp files of writes in progress are
//! never touched (only leftovers older than [`STALE_TEMP_AGE`](super::STALE_TEMP_AGE)).

use std::io;
use std::time::{Duration, SystemTime};

use super::inventory::{CacheEntry, CacheUsage, Scan};
use super::scratch::{is_stale, remove_quietly};
use super::{LocalStore, lock};
use crate::error::CacheError;

/// Automatic pruning brings the store down to this share of its size limit, so that the next
/// few runs do not find it over the limit again at once.
pub const AUTO_PRUNE_TARGET_PERCENT: u64 = 90;

/// Limits on the store; `None` is no limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PrunePolicy {
    /// The most bytes the complete entries (blobs and metadata) may take together.
    pub max_size: Option<u64>,
    /// Entries not used for longer than this are evicted.
    pub max_age: Option<Duration>,
}

impl PrunePolicy {
    pub fn is_unbounded(&self) -> bool {
        self.max_size.is_none() && self.max_age.is_none()
    }

    /// The entries to evict, in eviction order: those unused for longer than `max_age`, then
    /// the least recently used (ties: the smaller key first, for a stable order) until the
    /// rest fits in `max_size`.
    pub fn select<'a>(&self, entries: &'a [CacheEntry], now: SystemTime) -> Vec<&'a CacheEntry> {
        let mut order: Vec<&CacheEntry> = entries.iter().collect();
        order.sort_by(|a, b| a.last_used.cmp(&b.last_used).then(a.key.cmp(&b.key)));
        let mut total: u64 = entries.iter().map(|e| e.bytes).sum();
        let mut chosen = Vec::new();
        for entry in order {
            let too_old = self.max_age.is_some_and(|max| {
                now.duration_since(entry.last_used)
                    .is_ok_and(|age| age > max)
            });
            let too_big = self.max_size.is_some_and(|max| total > max);
            if !too_old && !too_big {
                // Sorted by last use: every later entry is younger, and the total only shrank.
                break;
            }
            total -= entry.bytes;
            chosen.push(entry);
        }
        chosen
    }

    /// This policy with the size limit lowered to [`AUTO_PRUNE_TARGET_PERCENT`].
    fn with_headroom(self) -> Self {
        let lowered =
            |max: u64| (u128::from(max) * u128::from(AUTO_PRUNE_TARGET_PERCENT) / 100) as u64;
        Self {
            max_size: self.max_size.map(lowered),
            ..self
        }
    }
}

/// What a prune (or clear) removed and left.
#[derive(Clone, Debug, Default)]
pub struct PruneReport {
    /// Entries evicted (on a dry run: that would be), in eviction order.
    pub removed: Vec<CacheEntry>,
    pub removed_bytes: u64,
    /// Entries chosen but used by another process since the scan: kept.
    pub spared: usize,
    /// Complete entries left, and their bytes.
    pub kept: usize,
    pub kept_bytes: u64,
    /// Loose files removed (would be, on a dry run): temp files older than
    /// [`STALE_TEMP_AGE`](super::STALE_TEMP_AGE), blobs without metadata, metadata without
    /// blob.
    pub loose_removed: usize,
    pub loose_bytes_removed: u64,
}

impl LocalStore {
    /// Evicts the entries `policy` selects (see [`PrunePolicy::select`]) and loose files left
    /// by killed processes. With `dry_run`, only reports what it would remove.
    #[tracing::instrument(skip(self))]
    pub fn prune(&self, policy: &PrunePolicy, dry_run: bool) -> Result<PruneReport, CacheError> {
        let now = SystemTime::now();
        let scan = self.scan()?;
        let usage = scan.usage();
        let chosen = policy.select(&usage.entries, now);
        self.remove(&scan, &usage, &chosen, dry_run, now, false)
    }

    /// Evicts every entry, blobs without metadata, and stale temp files (those of writes in
    /// progress stay).
    #[tracing::instrument(skip(self))]
    pub fn clear(&self) -> Result<PruneReport, CacheError> {
        let now = SystemTime::now();
        let scan = self.scan()?;
        let usage = scan.usage();
        let all: Vec<&CacheEntry> = usage.entries.iter().collect();
        self.remove(&scan, &usage, &all, false, now, true)
    }

    /// The pruning after a run: at most once per `every` (the mtime of `prune.stamp`), sums the
    /// entries' sizes and, only when `policy` is broken, prunes down to
    /// [`AUTO_PRUNE_TARGET_PERCENT`] of its size limit. `None` when it did not prune.
    pub fn auto_prune(
        &self,
        policy: &PrunePolicy,
        every: Duration,
    ) -> Result<Option<PruneReport>, CacheError> {
        if policy.is_unbounded() {
            return Ok(None);
        }
        let now = SystemTime::now();
        let stamp = self.dir.join("prune.stamp");
        let checked = fs_err::metadata(&stamp).and_then(|m| m.modified()).ok();
        // A stamp from the future (a clock set back) counts as due, or pruning would stop.
        if checked.is_some_and(|at| now.duration_since(at).is_ok_and(|age| age < every)) {
            return Ok(None);
        }
        let touched = fs_err::File::create(&stamp).and_then(|f| f.file().set_modified(now));
        if let Err(error) = touched {
            tracing::debug!(%error, "cannot update the prune stamp");
        }
        let usage = self.usage()?;
        if policy.select(&usage.entries, now).is_empty() {
            tracing::debug!(bytes = usage.entry_bytes(), "cache within its limits");
            return Ok(None);
        }
        self.prune(&policy.with_headroom(), false).map(Some)
    }

    fn remove(
        &self,
        scan: &Scan,
        usage: &CacheUsage,
        chosen: &[&CacheEntry],
        dry_run: bool,
        now: SystemTime,
        clearing: bool,
    ) -> Result<PruneReport, CacheError> {
        let mut report = PruneReport::default();
        for entry in chosen {
            let seen = (!clearing).then_some(entry.last_used);
            if dry_run || self.evict_unused_since(&entry.key, seen)? {
                report.removed_bytes += entry.bytes;
                report.removed.push((*entry).clone());
            } else {
                report.spared += 1;
            }
        }
        report.kept = usage.entries.len() - report.removed.len();
        report.kept_bytes = usage.entry_bytes() - report.removed_bytes;
        (report.loose_removed, report.loose_bytes_removed) =
            self.remove_loose(scan, now, clearing, dry_run);
        tracing::debug!(
            removed = report.removed.len(),
            bytes = report.removed_bytes,
            spared = report.spared,
            "pruned"
        );
        Ok(report)
    }

    /// Evicts `key` under its shard lock (metadata first) unless it was used after `seen`
    /// (`None`: whatever its last use). False when it was spared or is already gone.
    pub(super) fn evict_unused_since(
        &self,
        key: &str,
        seen: Option<SystemTime>,
    ) -> Result<bool, CacheError> {
        let fail = |source: io::Error| CacheError::Store {
            key: key.into(),
            source,
        };
        let _lock = match lock(&self.shard(key)) {
            Ok(lock) => lock,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(fail(e)),
        };
        let meta_path = self.meta_path(key);
        let last_used = match fs_err::metadata(&meta_path).and_then(|m| m.modified()) {
            Ok(at) => at,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(fail(e)),
        };
        if seen.is_some_and(|seen| last_used > seen) {
            tracing::debug!(key, "used since the scan: kept");
            return Ok(false);
        }
        fs_err::remove_file(&meta_path).map_err(fail)?;
        match fs_err::remove_file(self.blob_path(key)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(fail(e)),
            _ => Ok(true),
        }
    }

    /// Removes (or counts, on a dry run) the loose files of `scan` that no write in progress
    /// can own: our temp files older than `STALE_TEMP_AGE`, and, under their shard lock
    /// (writers hold it across both renames), half entries: old ones, or any with
    /// `any_age`. Failures only cost disk space.
    pub(super) fn remove_loose(
        &self,
        scan: &Scan,
        now: SystemTime,
        any_age: bool,
        dry_run: bool,
    ) -> (usize, u64) {
        let (mut count, mut bytes) = (0, 0);
        for temp in scan.temps.iter().filter(|t| is_stale(t.modified, now)) {
            if dry_run || remove_quietly(&temp.path) {
                count += 1;
                bytes += temp.bytes;
            }
        }
        for (key, pair) in &scan.keys {
            let half = match (&pair.blob, &pair.meta) {
                (Some(blob), None) => blob,
                (None, Some(meta)) => meta,
                _ => continue,
            };
            if !(any_age || is_stale(half.modified, now)) {
                continue;
            }
            if dry_run {
                count += 1;
                bytes += half.bytes;
                continue;
            }
            let Ok(_lock) = lock(&self.shard(key)) else {
                continue;
            };
            // Completed (or finished being evicted) since the scan: not loose any more.
            let other = if pair.blob.is_some() {
                self.meta_path(key)
            } else {
                self.blob_path(key)
            };
            if fs_err::symlink_metadata(&other).is_err() && remove_quietly(&half.path) {
                count += 1;
                bytes += half.bytes;
            }
        }
        (count, bytes)
    }
}
