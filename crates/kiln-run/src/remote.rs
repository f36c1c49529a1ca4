//! The remote cache tier behind the local store.
//!
//! ```text
//! lookup:  local ──miss──▶ remote ──hit──▶ written into local ──▶ restored from local
//! store:   local (now) ──▶ upload queue (bounded) ──▶ remote (background thread)
//! ```
//!
//! A remote never hurts a build: its errors are reported once per run and the run goes on
//! with the local cache (each store also has its own circuit breaker). Downloads are verified
//! by the store before they reach the local store, and every restore goes through the local
//! store's checks, so nothing from a remote is trusted more than a local entry. Uploads run on
//! one background thread behind a bounded queue (a task that finds it full waits: the queue
//! bounds memory and temp files, and a dead remote is switched off by its breaker); `finish`
//! drains the queue before kiln exits.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use kiln_cache::{CacheError, CacheStore, LocalStore, PackedArtifact};

use crate::task::error_chain;

/// How many finished artifacts may wait for upload.
const QUEUE: usize = 64;

/// A remote store and what this run may do with it.
pub struct RemoteTier {
    store: Arc<dyn CacheStore>,
    read: bool,
    write: bool,
    warned: Arc<AtomicBool>,
    /// The upload queue; taken (closed) by `finish`.
    uploads: Mutex<Option<SyncSender<PackedArtifact>>>,
    uploader: Mutex<Option<JoinHandle<()>>>,
    uploaded: Arc<AtomicU64>,
}

impl RemoteTier {
    pub fn new(store: Arc<dyn CacheStore>, read: bool, write: bool) -> Self {
        let warned = Arc::new(AtomicBool::new(false));
        let uploaded = Arc::new(AtomicU64::new(0));
        let (uploads, uploader) = if write {
            let (tx, rx) = sync_channel::<PackedArtifact>(QUEUE);
            let handle = spawn_uploader(
                Arc::clone(&store),
                rx,
                Arc::clone(&warned),
                Arc::clone(&uploaded),
            );
            (Some(tx), handle)
        } else {
            (None, None)
        };
        RemoteTier {
            store,
            read,
            write,
            warned,
            uploads: Mutex::new(uploads),
            uploader: Mutex::new(uploader),
            uploaded,
        }
    }

    pub fn name(&self) -> &str {
        self.store.name()
    }

    pub fn can_write(&self) -> bool {
        self.write
    }

    /// On a local miss: fetches `key` from the remote into the local store. `true` when the
    /// local store now holds it.
    pub fn pull_into(&self, local: &LocalStore, key: &str) -> bool {
        if !self.read {
            return false;
        }
        let fetched = self.store.fetch(key, local.scratch_dir());
        match fetched {
            Ok(Some(artifact)) => match local.put(key, &artifact) {
                Ok(()) => true,
                Err(e) => {
                    tracing::warn!("could not keep a {} cache hit locally: {e}", self.name());
                    false
                }
            },
            Ok(None) => false,
            Err(e @ CacheError::Corrupt { .. }) => {
                tracing::warn!("{} cache: {e}; running the task", self.name());
                false
            }
            Err(e) => {
                self.warn_once(&e);
                false
            }
        }
    }

    /// Queues `artifact` for upload (waits when the queue is full).
    pub fn push(&self, artifact: PackedArtifact) {
        // Clone the sender so a full queue blocks only this task, not the lock.
        let tx = self
            .uploads
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some(tx) = tx {
            let _ = tx.send(artifact);
        }
    }

    /// Waits for every queued upload; returns how many artifacts were uploaded.
    pub fn finish(&self) -> u64 {
        // Closing the queue ends the uploader once it has drained it.
        drop(
            self.uploads
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take(),
        );
        if let Some(handle) = self
            .uploader
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            let _ = handle.join();
        }
        self.uploaded.load(Ordering::Relaxed)
    }

    fn warn_once(&self, e: &CacheError) {
        warn_once(&self.warned, self.store.name(), e);
    }
}

fn warn_once(warned: &AtomicBool, name: &str, e: &CacheError) {
    if !warned.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            "the {name} cache is not answering ({}); going on with the local cache",
            error_chain(e)
        );
    } else {
        tracing::debug!("{name} cache: {}", error_chain(e));
    }
}

fn spawn_uploader(
    store: Arc<dyn CacheStore>,
    rx: Receiver<PackedArtifact>,
    warned: Arc<AtomicBool>,
    uploaded: Arc<AtomicU64>,
) -> Option<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("kiln-upload".into())
        .spawn(move || {
            for artifact in rx {
                match store.store(&artifact) {
                    Ok(()) => {
                        uploaded.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => warn_once(&warned, store.name(), &e),
                }
            }
        })
        .map_err(|e| tracing::warn!("cannot start the upload thread: {e}"))
        .ok()
}

/// `--cache` / `KILN_CACHE`: `local:rw,remote:r` → read/write switches per tier. Missing
/// tiers keep `rw`; `local:` or `remote:` alone (or `none`) turns a tier off.
pub fn parse_cache_modes(text: &str) -> Result<CacheModes, String> {
    let mut modes = CacheModes::default();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (tier, mode) = part
            .split_once(':')
            .ok_or_else(|| format!("`{part}`: expected `tier:mode`, like `remote:r`"))?;
        let (read, write) = match mode {
            "rw" | "wr" => (true, true),
            "r" => (true, false),
            "w" => (false, true),
            "" | "none" | "off" => (false, false),
            _ => return Err(format!("`{part}`: the mode is `r`, `w`, `rw` or `none`")),
        };
        match tier {
            "local" => modes.local = (read, write),
            "remote" => modes.remote = (read, write),
            _ => return Err(format!("`{part}`: the tiers are `local` and `remote`")),
        }
    }
    Ok(modes)
}

/// Read/write per tier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheModes {
    pub local: (bool, bool),
    pub remote: (bool, bool),
}

impl Default for CacheModes {
    fn default() -> Self {
        CacheModes {
            local: (true, true),
            remote: (true, true),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_modes_parse_per_tier() {
        assert_eq!(parse_cache_modes("").unwrap(), CacheModes::default());
        let m = parse_cache_modes("local:rw,remote:r").unwrap();
        assert_eq!((m.local, m.remote), ((true, true), (true, false)));
        let m = parse_cache_modes("remote:none").unwrap();
        assert_eq!(m.remote, (false, false));
        assert!(parse_cache_modes("remote").is_err());
        assert!(parse_cache_modes("cloud:r").is_err());
        assert!(parse_cache_modes("remote:x").is_err());
    }
}
