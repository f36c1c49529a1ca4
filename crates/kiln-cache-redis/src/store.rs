//! `RedisStore`: the [`CacheStore`] contracts on Redis.
//!
//! # Layout
//!
//! ```text
//! <prefix>:v<FORMAT_VERSION>:<key>:meta        ArtifactMeta as JSON          (TTL)
//! <prefix>:v<FORMAT_VERSION>:<key>:blob        the compressed blob, as is     (TTL)
//! <prefix>:v<FORMAT_VERSION>:<key>:tmp:<nonce> a blob being uploaded          (1 h TTL, refreshed)
//! ```
//!
//! # Storing: blob first, metadata last, first writer wins
//!
//! The blob is appended to a private temporary key in `chunk_bytes` pieces, then one Lua script
//! publishes it atomically: if the metadata already exists (another writer won) the temporary
//! key is dropped; otherwise it checks the uploaded length, renames the temporary key onto the
//! blob key, and sets the metadata (`SET`, TTL on both). Because the rename and the metadata
//! happen in one step, a reader never sees metadata without its blob, nor the blob of one writer
//! under the metadata of another (which a plain `RENAME` then `SET NX` would allow).
//!
//! # Fetching: verified, and damaged entries evicted
//!
//! The blob is read in `GETRANGE` pieces into a temporary file, then checked by
//! [`PackedArtifact::verify`]. Unparsable metadata, a blob of the wrong length or digest: both
//! keys are deleted and [`CacheError::Corrupt`] returned. Metadata whose blob is gone (a Redis
//! evicting under `maxmemory` may drop one key and not the other) is a plain miss, and the
//! orphan metadata is deleted. A hit refreshes the TTL of both keys, so entries in use live on.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use kiln_cache::{
    ArtifactMeta, CacheError, CacheStore, FORMAT_VERSION, PackedArtifact, validate_key,
};
use tracing::instrument;

use crate::config::RedisConfig;
use crate::conn::Pool;
use crate::error::RedisError;
use kiln_cache::Breaker;

/// Publishes an uploaded blob and its metadata in one step; see the module notes.
/// KEYS: tmp, blob, meta. ARGV: meta JSON, TTL in ms, expected blob length.
/// Returns 1 (published), 0 (an entry already existed) or -(uploaded length) - 1.
const PUBLISH: &str = r"
if redis.call('EXISTS', KEYS[3]) == 1 then
  redis.call('DEL', KEYS[1])
  return 0
end
local len = redis.call('STRLEN', KEYS[1])
if len ~= tonumber(ARGV[3]) then
  redis.call('DEL', KEYS[1])
  return -len - 1
end
redis.call('RENAME', KEYS[1], KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
redis.call('SET', KEYS[3], ARGV[1], 'PX', ARGV[2])
return 1
";

/// A cache tier on Redis (`redis://`, or `rediss://` for TLS). Cheap to share: `&self` methods,
/// one pooled connection per calling thread.
pub struct RedisStore {
    config: RedisConfig,
    pool: Pool,
    publish: redis::Script,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("url", &self.pool.url())
            .field("key_prefix", &self.config.key_prefix)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Checks the URL and sets up the store. Does not connect: an unreachable server shows up
    /// as errors of the first calls (and then trips the breaker), never as a failed build.
    pub fn open(config: RedisConfig) -> Result<Self, RedisError> {
        let breaker = Breaker::new(config.breaker_threshold, config.breaker_cooldown);
        let pool = Pool::new(&config.url, config.timeout, breaker)?;
        Ok(Self {
            config,
            pool,
            publish: redis::Script::new(PUBLISH),
        })
    }

    pub fn config(&self) -> &RedisConfig {
        &self.config
    }

    /// The Redis key of `key`'s metadata: `<prefix>:v1:<key>:meta`.
    pub fn meta_key(&self, key: &str) -> String {
        format!("{}:v{FORMAT_VERSION}:{key}:meta", self.config.key_prefix)
    }

    /// The Redis key of `key`'s blob: `<prefix>:v1:<key>:blob`.
    pub fn blob_key(&self, key: &str) -> String {
        format!("{}:v{FORMAT_VERSION}:{key}:blob", self.config.key_prefix)
    }

    fn tmp_key(&self, key: &str) -> String {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        hasher.write_u32(std::process::id());
        format!(
            "{}:v{FORMAT_VERSION}:{key}:tmp:{:016x}",
            self.config.key_prefix,
            hasher.finish()
        )
    }

    fn ttl_ms(&self) -> u64 {
        u64::try_from(self.config.ttl.as_millis())
            .unwrap_or(u64::MAX)
            .max(1)
    }

    /// Deletes both keys of `key` (best effort) and builds the matching `Corrupt` error.
    fn evict(&self, key: &str, reason: String) -> CacheError {
        let (meta, blob) = (self.meta_key(key), self.blob_key(key));
        let deleted = self.pool.call("evict a corrupt entry", |con| {
            redis::cmd("DEL").arg(&meta).arg(&blob).query::<u64>(con)
        });
        if let Err(e) = deleted {
            tracing::debug!(key, error = %e, "could not evict a corrupt Redis entry");
        }
        tracing::warn!(key, url = self.pool.url(), %reason, "evicted a corrupt Redis cache entry");
        CacheError::Corrupt {
            key: key.to_owned(),
            reason,
        }
    }
}

impl CacheStore for RedisStore {
    fn name(&self) -> &str {
        "redis"
    }

    #[instrument(skip(self), fields(url = self.pool.url()))]
    fn contains(&self, key: &str) -> Result<Option<ArtifactMeta>, CacheError> {
        validate_key(key)?;
        let (meta_key, blob_key) = (self.meta_key(key), self.blob_key(key));
        let (json, blob_exists): (Option<Vec<u8>>, bool) = self
            .pool
            .call("read metadata", |con| {
                redis::pipe()
                    .cmd("GET")
                    .arg(&meta_key)
                    .cmd("EXISTS")
                    .arg(&blob_key)
                    .query(con)
            })
            .map_err(|e| read_error(key, e))?;
        match json {
            Some(json) if blob_exists => Ok(ArtifactMeta::parse(&json, key).ok()),
            _ => Ok(None),
        }
    }

    #[instrument(skip(self, scratch_dir), fields(url = self.pool.url()))]
    fn fetch(&self, key: &str, scratch_dir: &Path) -> Result<Option<PackedArtifact>, CacheError> {
        validate_key(key)?;
        let (meta_key, blob_key) = (self.meta_key(key), self.blob_key(key));
        let (json, blob_exists, blob_len): (Option<Vec<u8>>, bool, u64) = self
            .pool
            .call("read metadata", |con| {
                redis::pipe()
                    .cmd("GET")
                    .arg(&meta_key)
                    .cmd("EXISTS")
                    .arg(&blob_key)
                    .cmd("STRLEN")
                    .arg(&blob_key)
                    .query(con)
            })
            .map_err(|e| read_error(key, e))?;
        let Some(json) = json else {
            return Ok(None);
        };
        let meta = ArtifactMeta::parse(&json, key).map_err(|reason| self.evict(key, reason))?;
        if !blob_exists {
            tracing::debug!(key, "Redis metadata without its blob: a miss; deleting it");
            if let Err(e) = self.pool.call("delete orphan metadata", |con| {
                redis::cmd("DEL").arg(&meta_key).query::<u64>(con)
            }) {
                tracing::debug!(key, error = %e, "could not delete orphan Redis metadata");
            }
            return Ok(None);
        }
        if meta.blob.size > self.config.max_artifact_bytes {
            tracing::debug!(
                key,
                size = meta.blob.size,
                limit = self.config.max_artifact_bytes,
                "Redis entry larger than the artifact size cap: not fetched"
            );
            return Ok(None);
        }
        if blob_len != meta.blob.size {
            return Err(self.evict(
                key,
                format!("blob is {blob_len} bytes, metadata says {}", meta.blob.size),
            ));
        }
        let path = self.download(key, meta.blob.size, scratch_dir)?;
        let artifact = PackedArtifact::from_parts(path, meta);
        match artifact.verify() {
            Ok(()) => {}
            Err(CacheError::Corrupt { reason, .. }) => return Err(self.evict(key, reason)),
            Err(other) => return Err(other),
        }
        let ttl = self.ttl_ms();
        if let Err(e) = self.pool.call("refresh the TTL", |con| {
            redis::pipe()
                .cmd("PEXPIRE")
                .arg(&meta_key)
                .arg(ttl)
                .ignore()
                .cmd("PEXPIRE")
                .arg(&blob_key)
                .arg(ttl)
                .ignore()
                .query::<()>(con)
        }) {
            tracing::debug!(key, error = %e, "could not refresh the TTL of a Redis entry");
        }
        Ok(Some(artifact))
    }

    #[instrument(skip_all, fields(key = %artifact.meta().key, url = self.pool.url()))]
    fn store(&self, artifact: &PackedArtifact) -> Result<(), CacheError> {
        let meta = artifact.meta();
        let key = meta.key.as_str();
        validate_key(key)?;
        if meta.blob.size > self.config.max_artifact_bytes {
            tracing::debug!(
                size = meta.blob.size,
                limit = self.config.max_artifact_bytes,
                "artifact larger than the Redis size cap: not stored"
            );
            return Ok(());
        }
        let meta_key = self.meta_key(key);
        let present: bool = self
            .pool
            .call("check for an entry", |con| {
                redis::cmd("EXISTS").arg(&meta_key).query(con)
            })
            .map_err(|e| store_error(key, e))?;
        if present {
            tracing::debug!("already in Redis");
            return Ok(());
        }
        let tmp = self.tmp_key(key);
        if let Err(e) = self.upload(key, &tmp, artifact.path()) {
            // Best effort: the temporary key also expires on its own.
            let _ = self.pool.call("drop a failed upload", |con| {
                redis::cmd("DEL").arg(&tmp).query::<u64>(con)
            });
            return Err(e);
        }
        let json = serde_json::to_vec(meta).map_err(|e| CacheError::Store {
            key: key.to_owned(),
            source: io::Error::other(e),
        })?;
        let ttl = self.ttl_ms();
        let blob_key = self.blob_key(key);
        let outcome: i64 = self
            .pool
            .call("publish an entry", |con| {
                self.publish
                    .key(&tmp)
                    .key(&blob_key)
                    .key(&meta_key)
                    .arg(&json)
                    .arg(ttl)
                    .arg(meta.blob.size)
                    .invoke(con)
            })
            .map_err(|e| store_error(key, e))?;
        match outcome {
            1 => tracing::debug!(size = meta.blob.size, "stored in Redis"),
            0 => tracing::debug!("another writer stored this key first"),
            negative => {
                return Err(store_error(
                    key,
                    RedisError::ShortUpload {
                        url: self.pool.url().to_owned(),
                        key: key.to_owned(),
                        expected: meta.blob.size,
                        uploaded: u64::try_from(-negative - 1).unwrap_or(0),
                    },
                ));
            }
        }
        Ok(())
    }
}

fn read_error(key: &str, e: RedisError) -> CacheError {
    CacheError::Read {
        key: key.to_owned(),
        source: io::Error::other(e),
    }
}

fn store_error(key: &str, e: RedisError) -> CacheError {
    CacheError::Store {
        key: key.to_owned(),
        source: io::Error::other(e),
    }
}

#[cfg(test)]
mod tests;
mod transfer;
