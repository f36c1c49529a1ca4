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
        "`{first}` and `{second}` declare overlapping outputs (`{first_glob}` and `{second_glob}`): \
         restoring one would overwrite the other's files; narrow the globs or exclude one from \
         the other with `!`"
    )]
    OverlappingOutputs {
        first: kiln_core::TaskId,
        second: kiln_core::TaskId,
        first_glob: String,
        second_glob: String,
    },

    #[error("internal error: {0}")]
    Internal(String),
}
