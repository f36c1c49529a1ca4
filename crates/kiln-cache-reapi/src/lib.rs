//! A kiln cache tier over the Bazel Remote Execution API v2 (REAPI) action cache and CAS, so
//! kiln shares the cache server a team already runs for Bazel: BuildGrid, Buildbarn,
//! BuildBuddy, NativeLink, bazel-remote.
//!
//! In the flow (discover → plan → hash → schedule → **execute-or-restore** → record) it sits
//! behind the local store like the other remote tiers: a local miss asks [`ReapiStore`], a hit
//! is stored locally and restored from there. It implements [`kiln_cache::CacheStore`] and
//! keeps its contracts (blobs before metadata, first writer wins, verified fetches, soft
//! failures, shared by all worker threads).
//!
//! # Mapping kiln entries onto REAPI
//!
//! | kiln                    | REAPI                                                              |
//! |-------------------------|--------------------------------------------------------------------|
//! | key `K`                 | Action digest: SHA-256 of `Action { command_digest, input_root_digest = empty Directory }` over `Command { arguments: ["kiln-cache", K], env KILN_ARTIFACT_FORMAT, output_paths }` (see `action.rs`; pinned by a golden test) |
//! | artifact blob           | CAS blob (SHA-256), output file `kiln/artifact.tar.zst`            |
//! | `ArtifactMeta` JSON     | CAS blob (SHA-256), output file `kiln/meta.json`                   |
//! | the entry               | `ActionResult { output_files: [artifact, meta], exit_code, execution_metadata { worker: "kiln", start/end from the meta } }` via UpdateActionResult, after the blobs |
//!
//! The Action and Command messages are uploaded too, so the entry is a well-formed action for
//! servers that check. Small blobs travel in BatchUpdateBlobs/BatchReadBlobs (below the
//! server's `max_batch_total_size_bytes`, 4 MiB less framing when it announces none), larger
//! ones through ByteStream in 1 MiB chunks, streamed from and to disk. Every downloaded blob is
//! checked against its SHA-256, then the artifact against the meta's BLAKE3 and size.
//!
//! Misses and damage: no ActionResult, or one whose blobs the CAS no longer has, is a miss.
//! A blob that does not match its digest, unreadable or foreign metadata, or an ActionResult
//! without kiln's outputs is [`kiln_cache::CacheError::Corrupt`]. REAPI cannot delete, so such
//! an entry is not evicted; it is never used, and the next `store` of that key by the same
//! store overwrites the ActionResult and re-sends its blobs (a blob rotten inside the server
//! under its right digest can only be repaired by the server).
//!
//! Main types: [`ReapiConfig`] (from a `grpc://`/`grpcs://` URL and `KILN_REAPI_*` variables),
//! [`ReapiStore`], [`ReapiClient`] (the low-level calls), [`ReapiConfigError`].
//!
//! ```no_run
//! use kiln_cache::CacheStore;
//! use kiln_cache_reapi::{ReapiConfig, ReapiStore};
//!
//! let config = ReapiConfig::from_url("grpc://127.0.0.1:8980?instance=main").expect("valid URL");
//! let remote = ReapiStore::open(config).expect("client set up");
//! if let Ok(Some(artifact)) = remote.fetch("9f2c01", std::path::Path::new(".kiln/cache/tmp")) {
//!     // store `artifact` into the local store, then restore from there
//!     # let _ = artifact;
//! }
//! ```

mod action;
mod client;
mod config;
mod store;
mod transfer;

pub use action::{
    ARTIFACT_PATH, KeyAction, META_PATH, action_digest, digest_of, digest_of_file, key_action,
};
pub use bazel_remote_apis::build::bazel::remote::execution::v2 as proto;
pub use client::{ReapiClient, ServerCapabilities};
pub use config::{ReapiConfig, ReapiConfigError};
pub use store::ReapiStore;
