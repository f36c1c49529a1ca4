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

    #[error("internal error: {0}")]
    Internal(String),
}
