//! kiln-hash: what a task's result depends on, reduced to one key.
//!
//! This is the *hash* stage of kiln's flow (discover → plan → **hash** → schedule →
//! execute-or-restore → record). For each task it:
//!
//! 1. lists the input files ([`collect_inputs`], [`collect_global_inputs`]): git's ignore
//!    rules, Turborepo's `inputs` globs with `$TURBO_DEFAULT$` and `!negation`, the task's own
//!    outputs left out; a [`RepoListing`] walks the workspace once for
//!    all packages, so that hashing many packages does not walk (and re-read the parent
//!    ignore files) once per package;
//! 2. digests them ([`hash_files()`]) in parallel through a [`StatCache`], so an unchanged tree
//!    costs one `lstat` per file and no reads (with git's racy-clean guard);
//! 3. digests the declared env vars ([`env_digests`]), values never kept;
//! 4. folds all of it, with the task definition, the dependencies' keys, the global inputs,
//!    the resolved third-party versions and the platform, into a [`TaskKey`] ([`KeyInputs::key`]), and keeps the
//!    [`InputManifest`] of what went in, whose [`InputManifest::diff`] explains a miss as a
//!    list of [`ChangeReason`]s.
//!
//! `key.rs` holds the table of what goes into a key and what must never go in.
//!
//! ```
//! use kiln_core::TaskId;
//! use kiln_hash::*;
//!
//! # fn main() -> Result<(), HashError> {
//! let tmp = tempfile::tempdir().unwrap();
//! let root = tmp.path();
//! fs_err::create_dir_all(root.join("packages/web/src")).unwrap();
//! fs_err::write(root.join("packages/web/package.json"), "{}").unwrap();
//! fs_err::write(root.join("packages/web/src/index.ts"), "export {}").unwrap();
//!
//! let outputs = vec!["dist/**".to_string()];
//! let files = collect_inputs(&InputOptions {
//!     root,
//!     package_dir: "packages/web",
//!     inputs: &[],
//!     outputs: &outputs,
//!     listing: None,
//!     tracked_ignored: &[],
//!     is_tracked: None,
//! })?;
//! let cache = StatCache::load(&root.join(".kiln/state/stat-cache-v1.bin"));
//! let inputs = KeyInputs {
//!     task_id: TaskId::new("web", "build"),
//!     definition: DefinitionInputs {
//!         command: Some("tsc".into()),
//!         outputs,
//!         cache: true,
//!         ..Default::default()
//!     },
//!     files: hash_files(&files, &cache, root)?,
//!     dependencies: vec![],
//!     env: env_digests(&["NODE_ENV".to_string()], &process_env()),
//!     global: global_digest(&[], &[]),
//!     external: Default::default(),
//!     platform: Platform::current(),
//! };
//! cache.save(&root.join(".kiln/state/stat-cache-v1.bin"))?;
//!
//! let manifest = inputs.manifest();
//! assert_eq!(manifest.key, inputs.key());
//! assert_eq!(manifest.files.len(), 2);
//! # Ok(())
//! # }
//! ```

mod digest;
mod encode;
mod env;
mod error;
mod glob;
mod hash_files;
mod input_matcher;
mod inputs;
mod key;
mod listing;
mod manifest;
mod output_overlap;
mod stat_cache;
mod stat_cache_file;
mod walk;

pub use digest::{Digest, ParseDigestError};
pub use env::{EnvPatterns, env_digests, env_value_digest, process_env};
pub use error::HashError;
pub use glob::TURBO_DEFAULT;
pub use hash_files::hash_files;
pub use input_matcher::{InputMatcher, never_walked};
pub use inputs::{InputFile, InputOptions, collect_global_inputs, collect_inputs};
pub use key::{DefinitionInputs, GlobalInputs, KEY_FORMAT_VERSION, KeyInputs, global_digest};
pub use kiln_core::{ChangeReason, Platform, TaskKey};
pub use listing::RepoListing;
pub use manifest::{DependencyKey, InputManifest};
pub use output_overlap::outputs_overlap;
pub use stat_cache::{RACY_WINDOW, StatCache};
pub use walk::ALWAYS_EXCLUDED;
