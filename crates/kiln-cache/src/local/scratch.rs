//! Cleaning up after killed processes: a pack, download or store interrupted by a kill leaves
//! its temp file behind (the drop that deletes it never runs). Those in the scratch directory
//! are removed when a store is opened; checking only `tmp/`, never the shards, keeps opening
//! a large cache cheap.

use std::path::Path;
use std::time::{Duration, SystemTime};

/// How old a temp file in `tmp/` must be for [`LocalStore::open`](crate::LocalStore::open) to
/// remove it: no pack or download in progress goes that long without writing.
pub const STALE_TEMP_AGE: Duration = Duration::from_secs(60 * 60);

/// Name prefixes of the temp files this crate creates.
const TEMP_PREFIXES: [&str; 3] = [".pack-", ".blob-", ".meta-"];

/// Removes the temp files of killed processes from the scratch directory (only its top level,
/// only our prefixes, only if it exists): a failure here costs disk space, never a run.
pub(super) fn remove_stale_temp_files(scratch: &Path, now: SystemTime) {
    let Ok(entries) = fs_err::read_dir(scratch) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let ours = name
            .to_str()
            .is_some_and(|n| TEMP_PREFIXES.iter().any(|p| n.starts_with(p)));
        let stale = || {
            let meta = entry.metadata().ok()?;
            let age = now.duration_since(meta.modified().ok()?).ok()?;
            Some(meta.is_file() && age > STALE_TEMP_AGE)
        };
        if ours && stale() == Some(true) {
            match fs_err::remove_file(entry.path()) {
                Ok(()) => {
                    tracing::debug!(path = %entry.path().display(), "removed stale temp file")
                }
                Err(error) => tracing::debug!(%error, "cannot remove stale temp file"),
            }
        }
    }
}
