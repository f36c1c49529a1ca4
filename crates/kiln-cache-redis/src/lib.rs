//! A Redis cache tier for kiln: [`RedisStore`] implements [`kiln_cache::CacheStore`] over
//! `redis://` and `rediss://` (TLS via rustls, system root certificates).
//!
//! In the flow (discover → plan → hash → schedule → **execute-or-restore** → record) it is a
//! remote tier behind the local store: a local miss asks it (`fetch`, verified, into the local
//! scratch dir), a fresh result is `store`d in it. Entries are immutable, expire after a TTL
//! refreshed on use, and are capped in size; an unreachable Redis costs a few timeouts and then
//! trips a circuit breaker, never a build.
//!
//! Main types: [`RedisStore`] (layout and protocol in its module notes), [`RedisConfig`],
//! [`RedisError`].
//!
//! ```no_run
//! use kiln_cache::CacheStore;
//! use kiln_cache_redis::{RedisConfig, RedisStore};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store = RedisStore::open(RedisConfig::new("redis://127.0.0.1:6379/0"))?;
//! let hit = store.fetch("9f2c", std::path::Path::new("repo/.kiln/cache/tmp"))?;
//! # let _ = hit; Ok(()) }
//! ```

mod config;
mod conn;
mod error;
mod store;
#[cfg(test)]
mod test_server;

pub use config::{
    DEFAULT_CHUNK_BYTES, DEFAULT_MAX_ARTIFACT_BYTES, DEFAULT_TIMEOUT, DEFAULT_TTL, RedisConfig,
};
pub use error::RedisError;
pub use store::RedisStore;
