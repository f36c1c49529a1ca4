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
        "`{}` and `{}` declare overlapping outputs (`{}` and `{}`): restoring one would \
         overwrite the other's files; narrow the globs or exclude one from the other with `!`",
        .0.first, .0.second, .0.first_glob, .0.second_glob
    )]
    OverlappingOutputs(Box<OutputsOverlap>),

    #[error("internal error: {0}")]
    Internal(String),
}

/// Two tasks whose outputs can name the same file.
#[derive(Debug)]
pub struct OutputsOverlap {
    pub first: kiln_core::TaskId,
    pub second: kiln_core::TaskId,
    pub first_glob: String,
    pub second_glob: String,
}
