use std::io;
use std::path::PathBuf;

/// Everything that can go wrong packing, storing or restoring a cache entry.
///
/// Reading is fail-soft by design: [`CacheError::Missing`], [`CacheError::Corrupt`],
/// [`CacheError::Unsafe`] and [`CacheError::TooLarge`] all mean "this entry cannot be used, run
/// the task" ([`CacheError::is_unusable_entry`]); the last three have already evicted the entry.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("invalid output glob `{pattern}`: {reason}")]
    Glob { pattern: String, reason: String },

    #[error("invalid cache key `{key}`: keys are 2 to 128 ASCII letters, digits, `-` or `_`")]
    InvalidKey { key: String },

    #[error("packed artifact is for key `{found}`, not `{key}`")]
    KeyMismatch { key: String, found: String },

    #[error("cannot pack the outputs of {package_dir}")]
    Pack {
        package_dir: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("cannot open the cache at {dir}")]
    Open {
        dir: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("cannot read cache entry `{key}`")]
    Read {
        key: String,
        #[source]
        source: io::Error,
    },

    #[error("cannot store cache entry `{key}`")]
    Store {
        key: String,
        #[source]
        source: io::Error,
    },

    /// Writing into the package failed, or something on disk is in the way (a symlink or file
    /// where the artifact needs a directory, a directory where it has a file). The entry is
    /// fine and kept; run the task.
    #[error("cannot restore cache entry `{key}` into {package_dir}")]
    Restore {
        key: String,
        package_dir: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("no cache entry `{key}`")]
    Missing { key: String },

    /// The restore would replace or remove `path`, an output that kiln did not leave there
    /// (the user edited it, or another tool wrote it). Nothing was written; the entry is fine
    /// and kept. Run the task instead.
    #[error(
        "restoring cache entry `{key}` would replace `{path}` in {package_dir}, which changed since kiln last wrote it (or kiln never wrote it); it was left as it is"
    )]
    WouldReplace {
        key: String,
        package_dir: PathBuf,
        path: String,
    },

    /// The blob or its metadata is damaged (digest mismatch, truncated, unparsable). Evicted
    /// where the store can delete (the Turborepo HTTP API cannot); never used either way.
    #[error("cache entry `{key}` is corrupt ({reason}); it is not used")]
    Corrupt { key: String, reason: String },

    /// The artifact holds an entry that could write outside its outputs. Evicted, nothing of
    /// it was written.
    #[error("cache entry `{key}` holds an unsafe entry `{entry}` ({reason}); it was evicted")]
    Unsafe {
        key: String,
        entry: String,
        reason: &'static str,
    },

    /// The artifact expands past the configured limit (a decompression bomb, or a limit set too
    /// low). Evicted, nothing of it was written.
    #[error("cache entry `{key}` expands past the {limit}-byte limit; it was evicted")]
    TooLarge { key: String, limit: u64 },

    /// A fresh result larger than the store restores: storing it would only make every later
    /// restore refuse it.
    #[error(
        "the outputs of `{key}` take {bytes} bytes, more than the {limit}-byte limit per artifact (kiln.toml `[cache] max_artifact_size`); not cached"
    )]
    TooLargeToStore { key: String, bytes: u64, limit: u64 },
}

impl CacheError {
    /// True when the entry could not be used and the caller should run the task instead: it
    /// was missing, or it was corrupt, unsafe or too large (and has been evicted).
    pub fn is_unusable_entry(&self) -> bool {
        matches!(
            self,
            Self::Missing { .. }
                | Self::Corrupt { .. }
                | Self::Unsafe { .. }
                | Self::TooLarge { .. }
        )
    }
}
