//! The task cache of kiln: the artifact format, the [`CacheStore`] trait every cache tier
//! implements, and the local store under `<repo>/.kiln/cache/`.
//!
//! In the flow (discover → plan → hash → schedule → **execute-or-restore** → record) this crate
//! serves the fifth stage. On a miss, `kiln-run` runs the task, then [`pack`]s its declared
//! outputs and its log into a [`PackedArtifact`] (a zstd tar plus [`ArtifactMeta`]) and
//! [`LocalStore::put`]s it ([`LocalStore::put_replacing`] under `--force`, so a fresh result
//! repairs a bad entry). On a hit, [`LocalStore::restore`] verifies the blob's digest,
//! checks every entry, brings the package's outputs in line (leaving identical ones
//! untouched, so a concurrent reader is never disturbed) and hands back the log to replay.
//!
//! The local store is bounded: a hit records the entry's last use (cheaply, see
//! [`LocalStore`]), [`LocalStore::prune`] evicts by age and least recent use under a
//! [`PrunePolicy`] ([`LocalStore::auto_prune`] after runs), [`LocalStore::verify`] re-checks
//! every blob, and [`LocalStore::usage`]/[`LocalStore::list`] say what is stored.
//!
//! Main types: [`LocalStore`] (layout documented on it), [`PackedArtifact`], [`ArtifactMeta`],
//! [`OutputGlobs`] (what counts as an output), [`CacheStore`] (contracts for tiers; they stage
//! their downloads with [`staging::temp_in`], as [`pack`] does), [`CacheError`]. The format and the restore checks are described in the design notes of
//! `artifact.rs` and `extract.rs`. The crate knows nothing of graphs or processes: it is given
//! a key, a package directory, output globs and the directories of the packages nested in it
//! (which no walk, pack, restore or fingerprint ever enters).
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
//! let pkg = Path::new("repo/packages/web");
//! // Directories of packages nested in this one (all others, for the root package).
//! let nested: Vec<String> = vec![];
//! let packed = pack(pkg, &outputs, &nested, b"built\n", &info, store.scratch_dir())?;
//! store.put(&key, &packed)?; // `put_replacing` under `--force`
//! let restored = store.restore(&key, pkg, &outputs, &nested)?;
//! assert_eq!(restored.log.to_vec().unwrap(), b"built\n");
//! # Ok(()) }
//! ```

mod artifact;
mod breaker;
mod damaged;
mod digest;
mod error;
mod extract;
mod fingerprint;
mod local;
mod meta;
mod outputs;
mod signature;
pub mod staging;
mod store;
mod task_log;

pub use artifact::{PackedArtifact, pack};
pub use breaker::{Breaker, DEFAULT_BREAKER_THRESHOLD};
pub use damaged::DamagedKeys;
pub use digest::BlobDigest;
pub use error::CacheError;
pub use fingerprint::{FINGERPRINT_VERSION, OutputsFingerprint, RACY_WINDOW};
pub use local::{
    AUTO_PRUNE_TARGET_PERCENT, BadEntry, CacheEntry, CacheUsage, DEFAULT_MAX_UNPACKED_BYTES,
    LAST_USE_RESOLUTION, LocalStore, LocalStoreOptions, PrunePolicy, PruneReport, Restored,
    STALE_TEMP_AGE, VerifyReport, validate_key,
};
pub use meta::{ArtifactInfo, ArtifactMeta, FORMAT_VERSION};
pub use outputs::OutputGlobs;
pub use signature::{ArtifactSigner, SignatureError};
pub use store::CacheStore;
pub use task_log::{SPILL_OVER, TaskLog};
