//! A kiln cache tier that speaks the Turborepo remote cache HTTP API (v8), so a team can
//! point kiln at the cache server it already runs for Turborepo (Vercel, or a self-hosted
//! `turborepo-remote-cache`).
//!
//! In the flow (discover → plan → hash → schedule → **execute-or-restore** → record) it sits
//! behind the local store: a local miss asks [`HttpStore`], a hit is stored locally and
//! restored from there. It implements [`kiln_cache::CacheStore`] and keeps its contracts:
//! fetched blobs are verified before they are returned, every read failure is soft, and the
//! store is shared by all worker threads.
//!
//! Main types: [`HttpConfig`] (read from Turborepo's `TURBO_*` variables by
//! [`HttpConfig::from_env`]), [`HttpStore`], [`HttpConfigError`]. The object kiln stores per
//! key is described in `envelope.rs`, signatures in `signature.rs`, the protocol and failure
//! handling in `store.rs`.
//!
//! ```no_run
//! use kiln_cache::CacheStore;
//! use kiln_cache_http::{HttpConfig, HttpStore};
//!
//! if let Some(config) = HttpConfig::from_env().expect("valid TURBO_* variables") {
//!     let remote = HttpStore::new(config);
//!     if let Ok(Some(artifact)) = remote.fetch("9f2c01", std::path::Path::new(".kiln/cache/tmp")) {
//!         // store `artifact` into the local store, then restore from there
//!         # let _ = artifact;
//!     }
//! }
//! ```

mod config;
mod envelope;
mod signature;
mod store;

pub use config::{DEFAULT_API, HttpConfig, HttpConfigError};
pub use envelope::MAGIC as OBJECT_MAGIC;
pub use store::HttpStore;
