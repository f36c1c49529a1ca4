//! When an entry was last used: the mtime of its metadata file.
//!
//! Why the mtime and not a field in the metadata or a database: the metadata is immutable
//! (it is what makes an entry trustworthy; rewriting it on a hit would reopen the torn-write
//! window the blob-then-metadata order closes), an access-time database would be one more
//! file to lock and repair, and `atime` is off on most mounts (`noatime`, `relatime`). Setting
//! an mtime is one `futimens` on a descriptor the hit already opened, and pruning reads it back
//! with the `stat` it does anyway.
//!
//! It is moved forward at most once per [`LAST_USE_RESOLUTION`]: a warm rerun touches nothing,
//! and eviction order only needs hours, not seconds.

use std::fs::File;
use std::time::{Duration, SystemTime};

/// How stale an entry's last use must be before a hit records a new one.
pub const LAST_USE_RESOLUTION: Duration = Duration::from_secs(60 * 60);

/// Records a use at `now` of the entry whose metadata `file` is, if its recorded last use is
/// older than [`LAST_USE_RESOLUTION`]. Failing (a read-only cache, a file owned by someone
/// else) only costs eviction accuracy.
pub(super) fn refresh(file: &File, now: SystemTime) {
    let Ok(modified) = file.metadata().and_then(|m| m.modified()) else {
        return;
    };
    if now
        .duration_since(modified)
        .is_ok_and(|age| age > LAST_USE_RESOLUTION)
        && let Err(error) = file.set_modified(now)
    {
        tracing::debug!(%error, "cannot record the last use of a cache entry");
    }
}
