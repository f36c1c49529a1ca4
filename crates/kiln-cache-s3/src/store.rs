//! `S3Store`: the [`CacheStore`] contracts on an object store bucket.
//!
//! # Layout
//!
//! ```text
//! <prefix>/kiln-v<FORMAT_VERSION>/<first two chars of key>/<key>.tar.zst   the compressed blob
//! <prefix>/kiln-v<FORMAT_VERSION>/<first two chars of key>/<key>.json      ArtifactMeta (JSON)
//! ```
//!
//! The version in the path keeps a future format from ever being misread; the two-character
//! shard keeps listings (and a human browsing the bucket) manageable.
//!
//! # Storing: blob first, metadata last, first writer wins
//!
//! A `HEAD` of the metadata first: if it exists, another writer won and storing is done. Else the
//! blob is uploaded (one PUT, or multipart above `part_bytes`), and only once it is complete the
//! metadata is PUT. Object PUTs are atomic, so whoever sees the metadata finds the whole blob.
//!
//! Two writers racing past the `HEAD` both upload: the loser overwrites an equivalent result
//! (same key, same inputs). If the two blobs differ in bytes (a task whose output is not
//! reproducible), a reader between the two writes may pair one writer's metadata with the
//! other's blob: the digest check catches it, the entry is evicted and the task re-runs. A
//! wrong hit is never possible; a rare wasted run is the price of not needing conditional
//! writes, which not every S3-compatible server has.
//!
//! # Fetching: verified, and damaged entries evicted
//!
//! The metadata is read and parsed (unparsable: evicted, `Corrupt`), the blob streamed into a
//! temporary file under the caller's scratch directory (its size checked against the metadata
//! from the response headers first), then [`PackedArtifact::verify`]ed. A mismatch deletes the
//! metadata first (so no reader trusts the entry any longer), then the blob. Metadata whose
//! blob is gone (deleted by a lifecycle rule, say) is a miss and the orphan is deleted.

use std::io;
use std::path::Path as LocalPath;

use kiln_cache::staging::temp_in;
use kiln_cache::{ArtifactMeta, CacheError, CacheStore, PackedArtifact, validate_key};
use object_store::ObjectStoreExt;
use object_store::path::Path;
use tracing::instrument;

use crate::client::Client;
use crate::config::{MIN_PART_BYTES, S3Config};
use crate::error::S3Error;
use crate::transfer::{self, Downloaded};

/// A cache tier in an object store bucket (`s3://`, `gs://`, `az://`). Cheap to share: `&self`
/// methods, callable from many threads at once.
pub struct S3Store {
    config: S3Config,
    client: Client,
}

impl std::fmt::Debug for S3Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Store")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl S3Store {
    /// Checks the URL and sets up the client. Does not touch the network: an unreachable
    /// service shows up as errors of the first calls (and then trips the breaker).
    pub fn open(mut config: S3Config) -> Result<Self, S3Error> {
        config.part_bytes = config.part_bytes.max(MIN_PART_BYTES);
        let client = Client::new(&config)?;
        Ok(Self { config, client })
    }

    pub fn config(&self) -> &S3Config {
        &self.config
    }

    /// Object name (inside the bucket) of `key`'s blob: `<prefix>/kiln-v1/ab/<key>.tar.zst`.
    pub fn blob_object(&self, key: &str) -> String {
        self.object(key, "tar.zst").to_string()
    }

    /// Object name (inside the bucket) of `key`'s metadata: `<prefix>/kiln-v1/ab/<key>.json`.
    pub fn meta_object(&self, key: &str) -> String {
        self.object(key, "json").to_string()
    }

    /// `key` must have passed [`validate_key`] (ASCII, at least two characters).
    fn object(&self, key: &str, extension: &str) -> Path {
        self.client
            .root
            .clone()
            .join(&key[..2])
            .join(format!("{key}.{extension}"))
    }

    /// The metadata object of `key`, unparsed; `None` when it does not exist.
    fn read_meta(&self, key: &str) -> Result<Option<Vec<u8>>, S3Error> {
        let path = self.object(key, "json");
        let store = &*self.client.store;
        match self
            .client
            .call("read", &path, transfer::read_small(store, &path))
        {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Best-effort delete of one object: a failure leaves a damaged entry for the next reader.
    fn delete(&self, path: &Path) {
        let store = &*self.client.store;
        match self.client.call("delete", path, store.delete(path)) {
            Ok(()) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => tracing::debug!(%path, error = %e, "could not delete an object"),
        }
    }

    /// Deletes both objects of `key` (metadata first) and builds the matching `Corrupt` error.
    fn evict(&self, key: &str, reason: String) -> CacheError {
        self.delete(&self.object(key, "json"));
        self.delete(&self.object(key, "tar.zst"));
        tracing::warn!(key, url = %self.client.url, %reason, "evicted a corrupt cache entry from object storage");
        CacheError::Corrupt {
            key: key.to_owned(),
            reason,
        }
    }

    fn download(
        &self,
        meta: ArtifactMeta,
        scratch_dir: &LocalPath,
    ) -> Result<Option<PackedArtifact>, CacheError> {
        let key = meta.key.clone();
        let local = |source: io::Error| CacheError::Read {
            key: key.clone(),
            source,
        };
        let (file, temp_path) = temp_in(scratch_dir, ".s3-").map_err(local)?;
        let mut out = io::BufWriter::new(file);
        let path = self.object(&key, "tar.zst");
        let store = &*self.client.store;
        let outcome = self.client.call(
            "download",
            &path,
            transfer::download(store, &path, meta.blob.size, &mut out),
        );
        match outcome {
            Ok(Ok(Downloaded::Complete)) => {}
            Ok(Ok(Downloaded::WrongSize(size))) => {
                let reason = format!("blob is {size} bytes, metadata says {}", meta.blob.size);
                return Err(self.evict(&key, reason));
            }
            Ok(Err(e)) => return Err(local(e)),
            Err(e) if e.is_not_found() => {
                tracing::debug!(key, "metadata without its blob: a miss; deleting it");
                self.delete(&self.object(&key, "json"));
                return Ok(None);
            }
            Err(e) => return Err(read_error(&key, e)),
        }
        drop(out);
        let artifact = PackedArtifact::from_parts(temp_path, meta);
        match artifact.verify() {
            Ok(()) => Ok(Some(artifact)),
            Err(CacheError::Corrupt { reason, .. }) => Err(self.evict(&key, reason)),
            Err(other) => Err(other),
        }
    }
}

impl CacheStore for S3Store {
    fn name(&self) -> &str {
        "s3"
    }

    #[instrument(skip(self), fields(url = %self.client.url))]
    fn contains(&self, key: &str) -> Result<Option<ArtifactMeta>, CacheError> {
        validate_key(key)?;
        let json = self.read_meta(key).map_err(|e| read_error(key, e))?;
        Ok(json.and_then(|json| ArtifactMeta::parse(&json, key).ok()))
    }

    #[instrument(skip(self, scratch_dir), fields(url = %self.client.url))]
    fn fetch(
        &self,
        key: &str,
        scratch_dir: &LocalPath,
    ) -> Result<Option<PackedArtifact>, CacheError> {
        validate_key(key)?;
        let Some(json) = self.read_meta(key).map_err(|e| read_error(key, e))? else {
            return Ok(None);
        };
        let meta = ArtifactMeta::parse(&json, key).map_err(|reason| self.evict(key, reason))?;
        self.download(meta, scratch_dir)
    }

    #[instrument(skip_all, fields(key = %artifact.meta().key, url = %self.client.url))]
    fn store(&self, artifact: &PackedArtifact) -> Result<(), CacheError> {
        let meta = artifact.meta();
        let key = meta.key.as_str();
        validate_key(key)?;
        let store = &*self.client.store;
        let meta_path = self.object(key, "json");
        match self
            .client
            .call("check", &meta_path, store.head(&meta_path))
        {
            Ok(_) => {
                tracing::debug!("already in object storage");
                return Ok(());
            }
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(store_error(key, e)),
        }

        let blob_path = self.object(key, "tar.zst");
        let uploaded = self
            .client
            .call(
                "upload",
                &blob_path,
                transfer::upload(
                    store,
                    &blob_path,
                    artifact.path(),
                    meta.blob.size,
                    self.config.part_bytes,
                ),
            )
            .map_err(|e| store_error(key, e))?
            .map_err(|source| CacheError::Store {
                key: key.to_owned(),
                source,
            })?;
        if uploaded != meta.blob.size {
            return Err(store_error(
                key,
                S3Error::BlobChanged {
                    url: self.client.url.clone(),
                    key: key.to_owned(),
                    expected: meta.blob.size,
                    uploaded,
                },
            ));
        }

        let json = serde_json::to_vec_pretty(meta).map_err(|e| CacheError::Store {
            key: key.to_owned(),
            source: io::Error::other(e),
        })?;
        self.client
            .call("upload", &meta_path, store.put(&meta_path, json.into()))
            .map_err(|e| store_error(key, e))?;
        tracing::debug!(size = meta.blob.size, "stored in object storage");
        Ok(())
    }
}

fn read_error(key: &str, e: S3Error) -> CacheError {
    CacheError::Read {
        key: key.to_owned(),
        source: io::Error::other(e),
    }
}

fn store_error(key: &str, e: S3Error) -> CacheError {
    CacheError::Store {
        key: key.to_owned(),
        source: io::Error::other(e),
    }
}
