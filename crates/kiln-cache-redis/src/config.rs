//! Configuration of the Redis tier.

use std::time::Duration;

/// Default [`RedisConfig::ttl`]: 7 days.
pub const DEFAULT_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// Default [`RedisConfig::max_artifact_bytes`]: 512 MiB.
pub const DEFAULT_MAX_ARTIFACT_BYTES: u64 = 512 << 20;
/// Default [`RedisConfig::timeout`]: 2 s.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
/// Default [`RedisConfig::chunk_bytes`]: 4 MiB.
pub const DEFAULT_CHUNK_BYTES: usize = 4 << 20;

/// Where and how the Redis tier stores artifacts.
#[derive(Clone, Debug)]
pub struct RedisConfig {
    /// `redis://[user:password@]host[:port][/db]` or `rediss://…` (TLS, system roots).
    pub url: String,
    /// Lifetime of an entry; refreshed on every hit, so entries in use do not expire.
    pub ttl: Duration,
    /// Artifacts whose compressed blob is larger are neither stored nor fetched.
    pub max_artifact_bytes: u64,
    /// Bound on connecting and on each read or write of a command.
    pub timeout: Duration,
    /// First segment of every key (`<prefix>:v<format>:<key>:meta`), so several caches or
    /// projects can share one Redis.
    pub key_prefix: String,
    /// Blobs move in pieces of this size (`APPEND` up, `GETRANGE` down), so neither side ever
    /// holds a whole artifact in memory.
    pub chunk_bytes: usize,
    /// After this many consecutive connection failures the store stops calling Redis.
    pub breaker_threshold: u32,
    /// How long the tripped breaker answers errors before letting one call try again
    /// (default: longer than any run, so a failing Redis is off for the rest of the run).
    pub breaker_cooldown: Duration,
}

impl RedisConfig {
    /// A configuration with every default but the URL.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            ttl: DEFAULT_TTL,
            max_artifact_bytes: DEFAULT_MAX_ARTIFACT_BYTES,
            timeout: DEFAULT_TIMEOUT,
            key_prefix: "kiln".into(),
            chunk_bytes: DEFAULT_CHUNK_BYTES,
            breaker_threshold: kiln_cache::DEFAULT_BREAKER_THRESHOLD,
            breaker_cooldown: Duration::from_secs(24 * 3600),
        }
    }
}
