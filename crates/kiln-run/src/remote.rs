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
use std::time::Instant;

use kiln_cache::{
    ArtifactSigner, CacheError, CacheStore, LocalStore, PackedArtifact, SignatureError,
};

use kiln_core::error_chain;

mod prefetch;

use prefetch::{Claim, PREFETCH_THREADS, Prefetch};

/// How many finished artifacts may wait for upload.
const QUEUE: usize = 64;

/// A remote store and what this run may do with it.
pub struct RemoteTier {
    store: Arc<dyn CacheStore>,
    read: bool,
    write: bool,
    /// With a signing key: uploads are signed, downloads not signed with it are misses.
    signer: Option<ArtifactSigner>,
    warned: Arc<AtomicBool>,
    /// One warning per kind of refused signature per run (a team that just turned signing on
    /// would otherwise get one per task).
    warned_unsigned: AtomicBool,
    warned_wrong: AtomicBool,
    warned_corrupt: AtomicBool,
    /// The upload queue; taken (closed) by `finish`.
    uploads: Mutex<Option<SyncSender<Upload>>>,
    uploader: Mutex<Option<JoinHandle<()>>>,
    uploaded: Arc<AtomicU64>,
    prefetch: Prefetch,
}

impl RemoteTier {
    pub fn new(store: Arc<dyn CacheStore>, read: bool, write: bool) -> Self {
        let warned = Arc::new(AtomicBool::new(false));
        let uploaded = Arc::new(AtomicU64::new(0));
        let (uploads, uploader) = if write {
            let (tx, rx) = sync_channel::<Upload>(QUEUE);
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
            signer: None,
            warned,
            warned_unsigned: AtomicBool::new(false),
            warned_wrong: AtomicBool::new(false),
            warned_corrupt: AtomicBool::new(false),
            uploads: Mutex::new(uploads),
            uploader: Mutex::new(uploader),
            uploaded,
            prefetch: Prefetch::default(),
        }
    }

    /// Signs every upload with `signer` and accepts only downloads it signed.
    pub fn with_signer(mut self, signer: Option<ArtifactSigner>) -> Self {
        self.signer = signer;
        self
    }

    pub fn name(&self) -> &str {
        self.store.name()
    }

    pub fn can_write(&self) -> bool {
        self.write
    }

    pub fn can_read(&self) -> bool {
        self.read
    }

    /// Starts fetching `keys` (in plan order) into `local` on a few threads of `scope`, ahead
    /// of the tasks that will look them up; keys the local cache holds are skipped. The
    /// threads end when the keys are done or [`stop_prefetch`](Self::stop_prefetch) is called.
    pub fn prefetch<'scope>(
        &'scope self,
        scope: &'scope std::thread::Scope<'scope, '_>,
        local: &'scope LocalStore,
        keys: Vec<String>,
    ) {
        if !self.read || keys.is_empty() {
            return;
        }
        // `KILN_REMOTE_CACHE_PREFETCH`: how many threads fetch ahead (0: only tasks fetch).
        let threads = std::env::var("KILN_REMOTE_CACHE_PREFETCH")
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(PREFETCH_THREADS)
            .min(keys.len());
        if threads == 0 {
            return;
        }
        self.prefetch.enqueue(keys);
        for _ in 0..threads {
            let spawned = std::thread::Builder::new()
                .name("kiln-prefetch".into())
                .spawn_scoped(scope, move || {
                    while let Some(key) = self.prefetch.next() {
                        if matches!(local.peek(&key), Ok(Some(_))) {
                            self.prefetch.release(&key);
                            continue;
                        }
                        let hit = self.fetch_into(local, &key);
                        self.prefetch.complete(&key, hit);
                    }
                });
            if let Err(e) = spawned {
                tracing::debug!("cannot start a prefetch thread: {e}");
                break;
            }
        }
    }

    /// Ends prefetching (after the fetches in flight), e.g. when the build is over.
    pub fn stop_prefetch(&self) {
        self.prefetch.stop();
    }

    /// True when this run brought `key` from the remote into the local store (a prefetch or
    /// an earlier lookup): a local hit on it is a remote hit.
    pub fn fetched(&self, key: &str) -> bool {
        self.prefetch.fetched(key)
    }

    /// On a local miss: fetches `key` from the remote into the local store (or waits for the
    /// prefetch of it). `true` when the local store now holds it.
    pub fn pull_into(&self, local: &LocalStore, key: &str) -> bool {
        if !self.read {
            return false;
        }
        match self.prefetch.claim(key) {
            Claim::Done(hit) => hit,
            Claim::Mine => {
                let hit = self.fetch_into(local, key);
                self.prefetch.complete(key, hit);
                hit
            }
        }
    }

    fn fetch_into(&self, local: &LocalStore, key: &str) -> bool {
        let fetched = self.store.fetch(key, local.scratch_dir());
        match fetched {
            Ok(Some(artifact)) if !self.signature_accepted(&artifact) => false,
            Ok(Some(artifact)) => match local.put(key, &artifact) {
                Ok(()) => true,
                Err(e) => {
                    tracing::warn!("could not keep a {} cache hit locally: {e}", self.name());
                    false
                }
            },
            Ok(None) => false,
            Err(e @ CacheError::Corrupt { .. }) => {
                warn_first(
                    &self.warned_corrupt,
                    format_args!(
                        "{} cache: {e}; the task runs (further ones are not reported)",
                        self.name()
                    ),
                );
                false
            }
            Err(e) => {
                self.warn_once(&e);
                false
            }
        }
    }

    /// With a signing key, whether `artifact` carries its signature (else a warning).
    fn signature_accepted(&self, artifact: &PackedArtifact) -> bool {
        let Some(signer) = &self.signer else {
            return true;
        };
        let Err(e) = signer.verify(artifact.meta()) else {
            return true;
        };
        let warned = match e {
            SignatureError::Missing => &self.warned_unsigned,
            SignatureError::Wrong => &self.warned_wrong,
        };
        warn_first(
            warned,
            format_args!(
                "{} cache: {e} (key {}); not used, the task runs (further ones are not reported)",
                self.name(),
                artifact.meta().key
            ),
        );
        false
    }

    /// Queues `artifact` for upload (waits when the queue is full), signed when a signing
    /// key is set; `uploaded(started, ended)` is called once it is sent.
    pub fn push(
        &self,
        mut artifact: PackedArtifact,
        uploaded: impl FnOnce(Instant, Instant) + Send + 'static,
    ) {
        if let Some(signer) = &self.signer {
            artifact.sign(signer);
        }
        // Clone the sender so a full queue blocks only this task, not the lock.
        let tx = self
            .uploads
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some(tx) = tx {
            let _ = tx.send(Upload {
                artifact,
                uploaded: Box::new(uploaded),
            });
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
    warn_first(
        warned,
        format_args!(
            "the {name} cache is not answering ({}); going on with the local cache",
            error_chain(e)
        ),
    );
}

/// Warns the first time `flag` is raised in a run; later occurrences go to the debug log,
/// so a remote failing for every task costs one warning.
fn warn_first(flag: &AtomicBool, message: std::fmt::Arguments<'_>) {
    if flag.swap(true, Ordering::Relaxed) {
        tracing::debug!("{message}");
    } else {
        tracing::warn!("{message}");
    }
}

/// An artifact waiting for the uploader, with what to tell once it is sent.
struct Upload {
    artifact: PackedArtifact,
    uploaded: Box<dyn FnOnce(Instant, Instant) + Send>,
}

fn spawn_uploader(
    store: Arc<dyn CacheStore>,
    rx: Receiver<Upload>,
    warned: Arc<AtomicBool>,
    uploaded: Arc<AtomicU64>,
) -> Option<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("kiln-upload".into())
        .spawn(move || {
            for upload in rx {
                let started = Instant::now();
                match store.store(&upload.artifact) {
                    Ok(()) => {
                        uploaded.fetch_add(1, Ordering::Relaxed);
                        (upload.uploaded)(started, Instant::now());
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
    if text.trim().is_empty() {
        return Ok(CacheModes::default());
    }
    // As in Turborepo, a tier the list leaves out is off.
    let mut modes = CacheModes {
        local: (false, false),
        remote: (false, false),
    };
    let mut seen: Vec<&str> = Vec::new();
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
        if seen.contains(&tier) {
            return Err(format!("`{tier}` is given twice"));
        }
        seen.push(tier);
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
        // Turborepo's rule: a tier left out is off.
        let m = parse_cache_modes("remote:r").unwrap();
        assert_eq!((m.local, m.remote), ((false, false), (true, false)));
        assert!(parse_cache_modes("local:rw,local:r").is_err());
        assert!(parse_cache_modes("remote").is_err());
        assert!(parse_cache_modes("cloud:r").is_err());
        assert!(parse_cache_modes("remote:x").is_err());
    }
}
