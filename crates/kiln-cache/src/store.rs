//! The `CacheStore` trait: what every cache tier (local disk now; Redis, HTTP, S3, REAPI later)
//! promises, so tiers can be stacked behind one another.
//!
//! ```text
//!   kiln-run ──▶ local (LocalStore) ──miss──▶ remote tier(s) ──hit──▶ store into local ──▶ restore
//! ```
//!
//! A store moves whole artifacts (a blob plus its [`ArtifactMeta`]); only the local store
//! restores them into a package, so the checks of `extract.rs` run on every restore whatever
//! tier the bytes came from.

use std::path::Path;

use crate::artifact::PackedArtifact;
use crate::error::CacheError;
use crate::meta::ArtifactMeta;

/// A place artifacts can be stored in and fetched from, addressed by task key.
///
/// # Contracts
///
/// - **Entries are immutable and complete.** A key names one task result. `store` writes the
///   blob first and the metadata last, each atomically, so whoever can see the metadata can
///   fetch the whole blob; a reader never sees a half-written entry. Storing a key that is
///   already present is a successful no-op (first writer wins: any result for a key is as good
///   as another), which also makes concurrent `store`s of one key from several kiln processes
///   safe.
/// - **`contains` is cheap.** It reads only metadata (no blob transfer) and answers `Some`
///   only for a complete entry. It is a hint: the entry may vanish before `fetch`.
/// - **`fetch` verifies.** A returned artifact's blob has been checked against its metadata
///   (BLAKE3 digest and size) after it reached local disk, so it can be stored in a lower tier
///   as is. A damaged entry is evicted where the store can, and reported as
///   [`CacheError::Corrupt`]; `Ok(None)` is a plain miss.
/// - **Reads may fail soft.** An `Err` from `contains` or `fetch` (an unreachable remote, a
///   corrupt entry) means "no hit from this tier": callers warn, try the next tier or run the
///   task, and never fail a build over it. `store` errors are likewise warnings: the result
///   is lost for next time, nothing else.
/// - **Stores are shared.** Methods take `&self` and may be called from many threads.
pub trait CacheStore: Send + Sync {
    /// A short name for messages and run records (`local`, `redis`, `http`).
    fn name(&self) -> &str;

    /// The metadata of a complete entry for `key`, or `None`.
    fn contains(&self, key: &str) -> Result<Option<ArtifactMeta>, CacheError>;

    /// Fetches the entry for `key` into a temporary file under `scratch_dir` and verifies it.
    fn fetch(&self, key: &str, scratch_dir: &Path) -> Result<Option<PackedArtifact>, CacheError>;

    /// Stores `artifact` under `artifact.meta().key`, blob before metadata. The artifact is
    /// left as it was, so the same one can be stored in several tiers.
    fn store(&self, artifact: &PackedArtifact) -> Result<(), CacheError>;
}
