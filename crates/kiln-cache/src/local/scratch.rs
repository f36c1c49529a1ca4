//! Cleaning up after killed processes: a pack, download or store interrupted by a kill leaves
//! its temp file behind (the drop that deletes it never runs). Those in the scratch directory
//! are removed when a store is opened; checking only `tmp/` there, never the shards, keeps
//! opening a large cache cheap. Those in shards are removed by prune, verify and clear, which
//! walk the shards anyway.

use std::path::Path;
use std::time::{Duration, SystemTime};

/// How old a temp file must be for the store to remove it (in `tmp/` when the store is
/// opened; in shards too when pruning, verifying or clearing): no pack or download in progress
/// goes that long without writing.
pub const STALE_TEMP_AGE: Duration = Duration::from_secs(60 * 60);

/// Name prefixes of the temp files kiln creates in a store: this crate's, and the downloads
/// the remote tiers stage here (`staging::temp_in` with their own prefix), which a killed
/// run leaves behind like any other.
const TEMP_PREFIXES: [&str; 8] = [
    ".pack-",
    ".blob-",
    ".meta-",
    crate::task_log::SPILL_PREFIX,
    ".http-",
    ".reapi-",
    ".redis-",
    ".s3-",
];

/// Whether `name` is one of our temp files (a write in progress, or a killed one's leftover).
pub(super) fn is_temp_name(name: &str) -> bool {
    TEMP_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// Whether a file last modified at `modified` is old enough to be a leftover.
pub(super) fn is_stale(modified: SystemTime, now: SystemTime) -> bool {
    now.duration_since(modified)
        .is_ok_and(|age| age > STALE_TEMP_AGE)
}

/// Removes the temp files of killed processes from the scratch directory (only its top level,
/// only our prefixes, only if it exists): a failure here costs disk space, never a run.
pub(super) fn remove_stale_temp_files(scratch: &Path, now: SystemTime) {
    let Ok(entries) = fs_err::read_dir(scratch) else {
        return;
    };
    for entry in entries.flatten() {
        let ours = entry.file_name().to_str().is_some_and(is_temp_name);
        let stale = || {
            let meta = entry.metadata().ok()?;
            Some(meta.is_file() && is_stale(meta.modified().ok()?, now))
        };
        if ours && stale() == Some(true) {
            remove_quietly(&entry.path());
        }
    }
}

/// Removes a leftover file; failing (or finding it gone) only costs disk space.
pub(super) fn remove_quietly(path: &Path) -> bool {
    match fs_err::remove_file(path) {
        Ok(()) => {
            tracing::debug!(path = %path.display(), "removed stale temp file");
            true
        }
        Err(error) => {
            tracing::debug!(%error, "cannot remove stale temp file");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::is_temp_name;

    #[test]
    fn downloads_staged_by_the_remote_tiers_are_temp_files_too() {
        for name in [
            ".pack-x", ".log-x", ".http-x", ".reapi-x", ".redis-x", ".s3-x",
        ] {
            assert!(is_temp_name(name), "{name}");
        }
        assert!(!is_temp_name("ab12.meta.json"));
    }
}
