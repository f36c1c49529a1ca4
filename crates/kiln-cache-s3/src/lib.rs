//! An object storage cache tier for kiln: [`S3Store`] implements [`kiln_cache::CacheStore`] on
//! an S3 bucket (AWS or any S3-compatible server: MinIO, Ceph, R2, …), and through the same
//! code on Google Cloud Storage (`gs://`) and Azure Blob Storage (`az://`), via the
//! `object_store` crate.
//!
//! In the flow (discover → plan → hash → schedule → **execute-or-restore** → record) it is a
//! remote tier behind the local store: a local miss asks it (`fetch`, streamed and verified,
//! into the local scratch dir), a fresh result is `store`d in it (multipart above a part size,
//! never the whole blob in memory). Connect, read and request timeouts, bounded retries with
//! backoff and a circuit breaker make an unreachable bucket cost a few timeouts, never a build.
//!
//! Main types: [`S3Store`] (layout and protocol in its module notes), [`S3Config`] (URL plus
//! the standard `AWS_*` variables), [`S3Error`].
//!
//! ```no_run
//! use kiln_cache::CacheStore;
//! use kiln_cache_s3::{S3Config, S3Store};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = S3Config::from_url("s3://build-cache/kiln?region=eu-west-1")?;
//! let store = S3Store::open(config)?;
//! let hit = store.fetch("9f2c", std::path::Path::new("repo/.kiln/cache/tmp"))?;
//! # let _ = hit; Ok(()) }
//! ```

mod client;
mod config;
mod error;
mod store;
mod transfer;

pub use config::{
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_PART_BYTES, DEFAULT_REQUEST_TIMEOUT, DEFAULT_RETRIES,
    DEFAULT_RETRY_TIMEOUT, DEFAULT_TRANSFER_TIMEOUT, MIN_PART_BYTES, S3Config,
};
pub use error::S3Error;
pub use store::S3Store;
