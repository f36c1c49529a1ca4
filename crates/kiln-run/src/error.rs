use thiserror::Error;

/// What can stop a run before or outside its tasks. A failing task is not an error: it is a
/// [`kiln_core::TaskOutcome::Failed`] in the run's reports.
#[derive(Debug, Error)]
pub enum RunError {
    #[error(transparent)]
    Hash(#[from] kiln_hash::HashError),

    #[error(transparent)]
    Cache(#[from] kiln_cache::CacheError),

    #[error("the task graph names package `{0}`, which the workspace does not have")]
    UnknownPackage(String),

    #[error(
        "`inputs` glob `{glob}` of the package in `{package_dir}` leads outside the workspace \
         root: inputs may name files anywhere in the repository (`../other/src`, \
         `$TURBO_ROOT$/config`), never outside it"
    )]
    InputOutsideRoot { glob: String, package_dir: String },

    #[error(transparent)]
    Workspace(#[from] kiln_workspace::WorkspaceError),

    /// A setting kiln cannot use (named, with what is wrong with it).
    #[error("{0}")]
    Config(String),

    #[error("cannot take the repository's run lock in {}", dir.display())]
    RunLock {
        dir: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("internal error: {0}")]
    Internal(String),
}

impl RunError {
    /// Whether kiln itself is at fault (a bug), rather than the input or the machine.
    pub fn is_internal(&self) -> bool {
        matches!(self, RunError::Internal(_))
    }
}
