//! [`ReapiStore`]: a [`CacheStore`] over the REAPI action cache and CAS.
//!
//! # Design note
//!
//! - `contains`: GetActionResult (asking the server to inline `kiln/meta.json`), then, at the
//!   same time, the meta blob (BatchReadBlobs, unless inlined) and FindMissingBlobs for the
//!   artifact blob, so `Some` means a complete entry at the cost of two round trips.
//! - `fetch`: GetActionResult, the meta blob, then the artifact blob into a temp file under
//!   `scratch_dir` (batch or ByteStream by size); its SHA-256 is checked, then BLAKE3 and size
//!   against the meta ([`PackedArtifact::verify`]).
//! - `store`: first writer wins (an existing ActionResult ends it), then FindMissingBlobs over
//!   the artifact, the meta, the Action and the Command; the missing small ones go in one
//!   BatchUpdateBlobs, a large artifact through ByteStream; the ActionResult last, so a result
//!   is never visible before its blobs.
//! - A blob referenced by an ActionResult but gone from the CAS is a plain miss (CAS entries
//!   expire independently of the action cache). Anything that does not check out (digest,
//!   JSON, key, size) is [`CacheError::Corrupt`]. REAPI has no delete: the entry cannot be
//!   evicted, so the store remembers the key, and its next `store` of a freshly built result
//!   overwrites the bad ActionResult instead of deferring to it, sending every blob again
//!   (the repair). A blob damaged inside the server's storage under its right digest (bit
//!   rot) stays damaged on servers that skip uploads of blobs they think they have (BuildGrid
//!   does): that is the server's to scrub; kiln keeps reporting it corrupt and never uses it.
//! - A server that does not allow UpdateActionResult makes the store read-only: one warning,
//!   then `store` is a no-op.
//! - Each operation that fails talking to the server counts once towards the [`Breaker`];
//!   once open, every call fails at once without touching the network.

use std::future::Future;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use bazel_remote_apis::build::bazel::remote::execution::v2::{
    ActionResult, Digest, ExecutedActionMetadata, OutputFile,
};
use bazel_remote_apis::google::protobuf::Timestamp;
use kiln_cache::staging::temp_in;
use kiln_cache::{
    ArtifactMeta, Breaker, CacheError, CacheStore, DamagedKeys, PackedArtifact, validate_key,
};
use tonic::{Code, Status};

use crate::action::{ARTIFACT_PATH, META_PATH, digest_of, digest_of_file, key_action};
use crate::client::ReapiClient;
use crate::config::{ReapiConfig, ReapiConfigError};

/// A remote cache tier over a REAPI server. Cheap to share across threads.
#[derive(Debug)]
pub struct ReapiStore {
    client: ReapiClient,
    breaker: Breaker,
    /// Keys found corrupt by this store: their next `store` overwrites the entry.
    corrupt: DamagedKeys,
    read_only_warned: AtomicBool,
}

/// How an operation went wrong, before it becomes a [`CacheError`].
enum Failure {
    /// The server could not be reached or answered with an error.
    Remote(Status),
    /// The entry is damaged.
    Corrupt(String),
    /// Local file I/O.
    Local(io::Error),
}

impl From<Status> for Failure {
    fn from(status: Status) -> Self {
        Failure::Remote(status)
    }
}

/// A complete-looking entry: its metadata and where its artifact blob is.
struct Entry {
    meta: ArtifactMeta,
    artifact: Digest,
}

impl ReapiStore {
    /// Opens the store: builds the client and its runtime, without touching the network
    /// (the first call connects).
    pub fn open(config: ReapiConfig) -> Result<Self, ReapiConfigError> {
        let breaker = Breaker::for_run(config.breaker_threshold);
        Ok(Self {
            client: ReapiClient::new(config)?,
            breaker,
            corrupt: DamagedKeys::default(),
            read_only_warned: AtomicBool::new(false),
        })
    }

    pub fn config(&self) -> &ReapiConfig {
        self.client.config()
    }

    /// The low-level client (diagnostics, tests).
    pub fn client(&self) -> &ReapiClient {
        &self.client
    }

    /// True once the circuit breaker has given up on the server for this store's life.
    pub fn is_disabled(&self) -> bool {
        self.breaker.is_open()
    }

    /// Runs one operation on the runtime, behind the breaker, and feeds it the outcome.
    fn run<T>(
        &self,
        key: &str,
        operation: impl Future<Output = Result<T, Failure>>,
    ) -> Result<T, Failure> {
        if self.breaker.is_open() {
            return Err(Failure::Remote(Status::unavailable(format!(
                "remote cache {} disabled for this run after repeated failures",
                self.config().endpoint
            ))));
        }
        let result = self.client.runtime.block_on(operation);
        match &result {
            Err(Failure::Remote(status)) => {
                self.breaker
                    .failure(&self.config().endpoint, &describe(status));
            }
            Err(Failure::Corrupt(reason)) => {
                self.breaker.success();
                tracing::debug!(key, reason, "corrupt REAPI cache entry");
                self.corrupt.mark(key);
            }
            // A local disk problem says nothing about the server.
            Err(Failure::Local(_)) => {}
            Ok(_) => self.breaker.success(),
        }
        result
    }

    /// The ActionResult of `key` read down to its metadata; `None` on any kind of miss.
    async fn lookup(&self, key: &str, check_blob: bool) -> Result<Option<Entry>, Failure> {
        let action = key_action(key).digest;
        let Some(result) = self
            .client
            .get_action_result_async(&action, &[META_PATH])
            .await?
        else {
            return Ok(None);
        };
        let output = |path: &str| {
            result
                .output_files
                .iter()
                .find(|f| f.path == path)
                .and_then(|f| f.digest.clone().map(|d| (d, f.contents.clone())))
                .ok_or_else(|| Failure::Corrupt(format!("its ActionResult has no `{path}`")))
        };
        let (artifact, _) = output(ARTIFACT_PATH)?;
        let (meta_digest, inlined) = output(META_PATH)?;
        let read_meta = async {
            if !inlined.is_empty() && digest_of(&inlined) == meta_digest {
                return Ok(Some(inlined));
            }
            self.client.batch_read(&meta_digest).await
        };
        let find_blob = async {
            if check_blob {
                self.client
                    .find_missing(std::slice::from_ref(&artifact))
                    .await
            } else {
                Ok(Vec::new())
            }
        };
        let (meta_bytes, missing) = tokio::join!(read_meta, find_blob);
        let Some(meta_bytes) = meta_bytes? else {
            return Ok(None);
        };
        if !missing?.is_empty() {
            return Ok(None);
        }
        let got = digest_of(&meta_bytes);
        if got != meta_digest {
            return Err(Failure::Corrupt(format!(
                "`{META_PATH}` has SHA-256 {}, not {}",
                got.hash, meta_digest.hash
            )));
        }
        let meta = ArtifactMeta::parse(&meta_bytes, key).map_err(Failure::Corrupt)?;
        if i64::try_from(meta.blob.size) != Ok(artifact.size_bytes) {
            return Err(Failure::Corrupt(format!(
                "`{ARTIFACT_PATH}` is {} bytes in the ActionResult, {} in the metadata",
                artifact.size_bytes, meta.blob.size
            )));
        }
        Ok(Some(Entry { meta, artifact }))
    }

    async fn fetch_async(
        &self,
        key: &str,
        scratch_dir: &Path,
    ) -> Result<Option<PackedArtifact>, Failure> {
        let Some(entry) = self.lookup(key, false).await? else {
            return Ok(None);
        };
        let (file, path) = temp_in(scratch_dir, ".reapi-").map_err(Failure::Local)?;
        // The client writes the blob through a (tokio) file of its own: only the path is kept.
        drop(file);
        let Some(got) = self.client.read_to_file(&entry.artifact, &path).await? else {
            return Ok(None);
        };
        if got != entry.artifact {
            return Err(Failure::Corrupt(format!(
                "`{ARTIFACT_PATH}` arrived as {} ({} bytes), expected {} ({} bytes)",
                got.hash, got.size_bytes, entry.artifact.hash, entry.artifact.size_bytes
            )));
        }
        let artifact = PackedArtifact::from_parts(path, entry.meta);
        match artifact.verify() {
            Ok(()) => Ok(Some(artifact)),
            Err(CacheError::Corrupt { reason, .. }) => Err(Failure::Corrupt(reason)),
            Err(other) => Err(Failure::Local(io::Error::other(other.to_string()))),
        }
    }

    async fn store_async(&self, artifact: &PackedArtifact, blob: Digest) -> Result<(), Failure> {
        let meta = artifact.meta();
        let key = meta.key.as_str();
        if !self.client.capabilities().await?.update_enabled {
            if !self.read_only_warned.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    server = %self.config().endpoint,
                    "the REAPI server does not allow action cache updates; its cache is read-only for kiln"
                );
            }
            return Ok(());
        }
        let action = key_action(key);
        let repair = self.corrupt.contains(key);
        if !repair
            && self
                .client
                .get_action_result_async(&action.digest, &[])
                .await?
                .is_some()
        {
            tracing::debug!(key, "already in the REAPI cache");
            return Ok(());
        }
        // Stored exactly as serde writes it, so fields kiln adds later round-trip.
        let meta_json =
            serde_json::to_vec_pretty(meta).map_err(|e| Failure::Local(io::Error::other(e)))?;
        let meta_digest = digest_of(&meta_json);
        let small = [
            (meta_digest.clone(), meta_json),
            (action.digest.clone(), action.action.clone()),
            (digest_of(&action.command), action.command.clone()),
        ];
        let mut wanted: Vec<Digest> = small.iter().map(|(d, _)| d.clone()).collect();
        wanted.push(blob.clone());
        // A repair sends every blob again: the damaged one may be in the CAS under the very
        // digest it should have (bit rot), and FindMissingBlobs would call it present.
        let missing = if repair {
            wanted
        } else {
            self.client.find_missing(&wanted).await?
        };
        let mut batch: Vec<(Digest, Vec<u8>)> = small
            .into_iter()
            .filter(|(d, _)| missing.contains(d))
            .collect();
        if missing.contains(&blob) {
            if self.client.fits_batch(blob.size_bytes).await? {
                let bytes = fs_err::read(artifact.path()).map_err(Failure::Local)?;
                batch.push((blob.clone(), bytes));
            } else {
                self.client.write_file(artifact.path(), &blob).await?;
            }
        }
        self.upload_batches(batch).await?;
        let result = action_result(meta, blob, meta_digest);
        self.client
            .update_action_result_async(&action.digest, &result)
            .await?;
        self.corrupt.repaired(key);
        Ok(())
    }

    /// Sends small blobs in as few BatchUpdateBlobs calls as the server's limit allows.
    async fn upload_batches(&self, blobs: Vec<(Digest, Vec<u8>)>) -> Result<(), Failure> {
        let limit = self.client.capabilities().await?.batch_limit;
        let mut pending: Vec<(Digest, Vec<u8>)> = Vec::new();
        let mut pending_size = 0u64;
        for (digest, bytes) in blobs {
            let size = bytes.len() as u64 + 1024;
            if !pending.is_empty() && pending_size + size > limit {
                self.client
                    .batch_update(&std::mem::take(&mut pending))
                    .await?;
                pending_size = 0;
            }
            pending_size += size;
            pending.push((digest, bytes));
        }
        self.client.batch_update(&pending).await?;
        Ok(())
    }

    fn to_error(&self, key: &str, failure: Failure, storing: bool) -> CacheError {
        let source = match failure {
            Failure::Corrupt(reason) => {
                return CacheError::Corrupt {
                    key: key.to_string(),
                    reason,
                };
            }
            Failure::Local(e) => e,
            Failure::Remote(status) => remote_io(&self.config().endpoint, &status),
        };
        let key = key.to_string();
        if storing {
            CacheError::Store { key, source }
        } else {
            CacheError::Read { key, source }
        }
    }
}

impl CacheStore for ReapiStore {
    fn name(&self) -> &str {
        "reapi"
    }

    fn contains(&self, key: &str) -> Result<Option<ArtifactMeta>, CacheError> {
        validate_key(key)?;
        self.run(key, self.lookup(key, true))
            .map(|entry| entry.map(|e| e.meta))
            .map_err(|f| self.to_error(key, f, false))
    }

    fn fetch(&self, key: &str, scratch_dir: &Path) -> Result<Option<PackedArtifact>, CacheError> {
        validate_key(key)?;
        self.run(key, self.fetch_async(key, scratch_dir))
            .map_err(|f| self.to_error(key, f, false))
    }

    fn store(&self, artifact: &PackedArtifact) -> Result<(), CacheError> {
        let meta = artifact.meta();
        let key = meta.key.as_str();
        validate_key(key)?;
        let store_err = |source| CacheError::Store {
            key: key.to_string(),
            source,
        };
        // Hashed on the calling thread: the runtime's two workers are for the network.
        let blob = digest_of_file(artifact.path()).map_err(store_err)?;
        if u64::try_from(blob.size_bytes) != Ok(meta.blob.size) {
            return Err(store_err(io::Error::other(format!(
                "{} is {} bytes, its metadata says {}",
                artifact.path().display(),
                blob.size_bytes,
                meta.blob.size
            ))));
        }
        self.run(key, self.store_async(artifact, blob))
            .map_err(|f| self.to_error(key, f, true))
    }
}

/// The ActionResult kiln files for an artifact: its two outputs and when it was built.
fn action_result(meta: &ArtifactMeta, blob: Digest, meta_digest: Digest) -> ActionResult {
    let timestamp = |unix_ms: u64| Timestamp {
        seconds: (unix_ms / 1000) as i64,
        nanos: ((unix_ms % 1000) * 1_000_000) as i32,
    };
    let completed = meta.created_unix_ms;
    let started = completed.saturating_sub(meta.duration_ms);
    ActionResult {
        output_files: vec![
            OutputFile {
                path: ARTIFACT_PATH.into(),
                digest: Some(blob),
                ..Default::default()
            },
            OutputFile {
                path: META_PATH.into(),
                digest: Some(meta_digest),
                ..Default::default()
            },
        ],
        exit_code: meta.exit_code,
        execution_metadata: Some(ExecutedActionMetadata {
            worker: "kiln".into(),
            execution_start_timestamp: Some(timestamp(started)),
            execution_completed_timestamp: Some(timestamp(completed)),
            worker_start_timestamp: Some(timestamp(started)),
            worker_completed_timestamp: Some(timestamp(completed)),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn describe(status: &Status) -> String {
    format!("{:?}: {}", status.code(), status.message())
}

fn remote_io(endpoint: &str, status: &Status) -> io::Error {
    let message = format!("{endpoint}: {}", describe(status));
    let kind = match status.code() {
        Code::Unauthenticated | Code::PermissionDenied => {
            return io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("{message} (check KILN_REAPI_TOKEN / KILN_REAPI_HEADERS)"),
            );
        }
        Code::Unavailable => io::ErrorKind::ConnectionRefused,
        Code::DeadlineExceeded => io::ErrorKind::TimedOut,
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, message)
}
