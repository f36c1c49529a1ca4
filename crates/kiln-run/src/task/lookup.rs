//! Phase one of a task: look its key up and, on a hit, put its outputs in place and replay
//! its log. A hit whose outputs are provably in place writes nothing; a local miss may be a
//! remote hit, written into the local store and restored from there with all of the local
//! store's checks. An entry that cannot be used is a miss (after a warning), never a failure.

use std::time::Duration;

use kiln_cache::{CacheError, LocalStore, OutputsFingerprint, TaskLog};
use kiln_core::{CacheSource, Event, Warning, error_chain};

use super::{CacheMode, write_turbo_log};
use crate::events::Emitter;
use crate::output_state::{OutputRecord, OutputState};
use crate::{PlannedTask, RemoteTier};

/// What the lookup and store phases read and write.
pub(crate) struct Cache<'a> {
    pub(crate) store: &'a LocalStore,
    /// Which outputs are on disk for each task, so hits already in place skip the restore.
    pub(crate) outputs: &'a OutputState,
    /// The remote cache behind the local one, if any.
    pub(crate) remote: Option<&'a RemoteTier>,
    pub(crate) mode: CacheMode,
    /// Replay the logs of cache hits (they are still checked when not replayed).
    pub(crate) replay_logs: bool,
    /// Write each task's log where Turborepo keeps it (`<package>/.turbo/turbo-<task>.log`).
    pub(crate) turbo_logs: bool,
}

impl Cache<'_> {
    /// Whether any cache may be read.
    pub(crate) fn reads(&self) -> bool {
        self.mode.read || self.remote.is_some_and(|r| r.can_read())
    }

    /// Whether any cache may be written.
    pub(crate) fn writes(&self) -> bool {
        self.mode.write || self.remote.is_some_and(|r| r.can_write())
    }
}

/// How far a lookup may go.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reach {
    /// Only a hit whose outputs are already in place (writes nothing).
    InPlaceOnly,
    /// Restore the outputs when they are not in place.
    Full,
}

/// A hit: the outputs are in place and the log replayed.
#[derive(Clone, Debug)]
pub(crate) struct Hit {
    /// How long the original execution took.
    pub(crate) saved: Duration,
    pub(crate) source: CacheSource,
}

/// Restores the outputs (unless the fingerprint proves they are in place) and replays the
/// log; `None` on a miss, or for an entry that could not be used (after a warning).
pub(crate) fn lookup(
    cache: &Cache<'_>,
    events: &Emitter,
    task: &PlannedTask<'_>,
    reach: Reach,
) -> Option<Hit> {
    let id = task.id();
    let key = task.key.to_hex();
    let dir = &task.package_dir;
    let outputs = &task.node.task.outputs;
    let local_reads = cache.mode.read;
    let in_place = cache
        .outputs
        .get(id)
        .filter(|r| local_reads && r.key == key && r.fingerprint.still_matches(dir));
    if in_place.is_none() && reach == Reach::InPlaceOnly {
        return None;
    }
    let mut source = CacheSource::Local;
    let mut prefetched = false;
    // Whether this run put the entry into the local store (to take it out again when the
    // local cache is not to be written).
    let mut staged = false;
    if in_place.is_none()
        && let Some(remote) = cache.remote
    {
        // Fetched now, or earlier by the prefetch (which only fetches what the local store
        // lacks): either way the remote saved this run.
        if remote.fetched(&key) {
            source = CacheSource::Remote;
            prefetched = true;
            staged = true;
        } else {
            let held = matches!(cache.store.get(&key), Ok(Some(_)));
            if !(local_reads && held) && remote.pull_into(cache.store, &key) {
                source = CacheSource::Remote;
                staged = !held;
            }
        }
    }
    if !local_reads && source != CacheSource::Remote {
        return None;
    }
    let result = match &in_place {
        Some(record) => match (cache.replay_logs, &record.log) {
            // The outputs are in place and the log is kept: only confirm the entry exists.
            (false, _) | (true, Some(_)) => match cache.store.get(&key) {
                Ok(Some(meta)) => Ok((
                    TaskLog::Memory(record.log.clone().unwrap_or_default().into_bytes()),
                    meta.duration(),
                )),
                Ok(None) => Err(CacheError::Missing { key: key.clone() }),
                Err(e) => Err(e),
            },
            (true, None) => cache
                .store
                .read_log(&key, outputs, &task.nested)
                .map(|r| (r.log, r.meta.duration())),
        },
        None => {
            // Only what kiln left on disk (for any key, as this task's outputs or those of
            // another task of the package that overlap them) may be replaced: never an edit.
            let unchanged = std::cell::OnceCell::new();
            let may_replace = |rel: &str| {
                unchanged
                    .get_or_init(|| {
                        let mut paths = std::collections::HashSet::new();
                        for record in cache.outputs.of_package(&id.package) {
                            paths.extend(record.fingerprint.unchanged_paths(dir));
                        }
                        paths
                    })
                    .contains(rel)
            };
            cache
                .store
                .restore_over(&key, dir, outputs, &task.nested, &may_replace)
                .map(|r| (r.log, r.meta.duration()))
        }
    };
    if staged
        && !cache.mode.write
        && let Err(e) = cache.store.evict(&key)
    {
        tracing::debug!("could not drop a remote hit from the local store: {e}");
    }
    let (log, saved) = match result {
        Ok(r) => r,
        Err(CacheError::Missing { .. }) => return None,
        Err(CacheError::WouldReplace { path, .. }) => {
            events.warn(id, Warning::KeptChangedOutput { path });
            return None;
        }
        Err(e) => {
            let error = error_chain(&e);
            events.warn(
                id,
                if e.is_unusable_entry() {
                    Warning::EntryDiscarded { error }
                } else {
                    Warning::CacheUnreadable { error }
                },
            );
            return None;
        }
    };
    let record = match in_place {
        Some(mut record) => {
            if record.fingerprint.is_racy() {
                record.fingerprint.refresh();
            }
            Some(record)
        }
        None => {
            write_turbo_log(cache, task, |path| log.write_to(path));
            OutputsFingerprint::take(dir, outputs, &task.nested)
                .ok()
                .map(|fingerprint| OutputRecord {
                    key: key.clone(),
                    fingerprint,
                    log: log.as_bytes().and_then(super::kept_log),
                })
        }
    };
    match record {
        Some(record) => cache.outputs.set(id, record),
        None => cache.outputs.remove(id),
    }
    events.emit(Event::CacheHit {
        id: id.clone(),
        key: task.key,
        source,
        remote: match source {
            CacheSource::Remote => cache.remote.map(|r| r.name().to_string()),
            CacheSource::Local => None,
        },
        prefetched,
    });
    let replayed = log.for_each_line(|line| {
        events.emit(Event::TaskOutput {
            id: id.clone(),
            line: String::from_utf8_lossy(line).into_owned(),
            replayed: true,
        })
    });
    if let Err(e) = replayed {
        events.warn(
            id,
            Warning::LogNotReplayed {
                error: e.to_string(),
            },
        );
    }
    Some(Hit { saved, source })
}
