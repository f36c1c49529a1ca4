use std::path::PathBuf;

/// Why a state file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot access {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Truncated, corrupt, or written by another format version: never trusted.
    #[error("{} is unusable ({why})", path.display())]
    Invalid { path: PathBuf, why: String },
}
