//! The task cache of kiln: the artifact format, the [`CacheStore`] trait every cache tier
//! implements, and the local store under `<repo>/.kiln/cache/`.
//!
//! In the flow (discover → plan → hash → schedule → **execute-or-restore** → record) this crate
//! serves the fifth stage. On a miss, `kiln-run` runs the task, then [`pack`]s its declared
//! outputs and its log into a [`PackedArtifact`] (a zstd tar plus [`ArtifactMeta`]) and
//! [`LocalStore::put`]s it. On a hit, [`LocalStore::restore`] verifies the blob's digest,
//! checks every entry, replaces the package's outputs and hands back the log to replay.
//!
//! Main types: [`LocalStore`] (layout documented on it), [`PackedArtifact`], [`ArtifactMeta`],
//! [`OutputGlobs`] (what counts as an output), [`CacheStore`] (contracts for tiers),
//! [`CacheError`]. The format and the restore checks are described in the design notes of
//! `artifact.rs` and `extract.rs`. The crate knows nothing of graphs or processes: it is given
//! a key, a package directory and output globs.
//!
//! ```no_run
//! # fn main() -> Result<(), kiln_cache::CacheError> {
//! use std::path::Path;
//! use kiln_cache::{ArtifactInfo, LocalStore, pack};
//!
//! let store = LocalStore::open(Path::new("repo/.kiln/cache"))?;
//! let outputs = vec!["dist/**".to_string(), "!dist/cache/**".to_string()];
//! let key = "9f2c…".to_string();
//! let info = ArtifactInfo { key: key.clone(), duration_ms: 4200, exit_code: 0 };
//! let packed = pack(Path::new("repo/packages/web"), &outputs, b"built\n", &info, store.scratch_dir())?;
//! store.put(&key, &packed)?;
//! let restored = store.restore(&key, Path::new("repo/packages/web"), &outputs)?;
//! assert_eq!(restored.log, b"built\n");
//! # Ok(()) }
//! ```

mod artifact;
mod digest;
mod error;
mod extract;
mod fingerprint;
mod local;
mod meta;
mod outputs;
mod store;

pub use artifact::{PackedArtifact, pack};
pub use digest::BlobDigest;
pub use error::CacheError;
pub use fingerprint::{OutputsFingerprint, RACY_WINDOW};
pub use local::{DEFAULT_MAX_UNPACKED_BYTES, LocalStore, LocalStoreOptions, Restored};
pub use meta::{ArtifactInfo, ArtifactMeta, FORMAT_VERSION};
pub use outputs::OutputGlobs;
pub use store::CacheStore;
