//! Git for kiln: which files changed, and what a file was at a revision.
//!
//! `kiln run build --affected` and `kiln affected` select packages by the files changed
//! between a base (by default the merge-base of HEAD with the default branch) and a head (by
//! default the work tree: staged, unstaged and untracked-but-not-ignored files). This crate
//! answers the git half of that, just after discovery in the flow; mapping files to packages
//! is `kiln-graph`'s job.
//!
//! - [`Git`] is a handle on the repository holding a workspace. All paths it takes and returns
//!   are relative to the workspace root, which may be a subdirectory of the repository.
//! - [`Git::resolve_base`] turns `--base` (or the default branch) into a [`Revision`], coping
//!   with shallow CI clones and explaining how to fetch a missing base.
//! - [`Git::changed_files`] lists the [`ChangedFiles`]: renames count on both sides,
//!   deletions count, a submodule is one path.
//! - [`Git::file_at`] reads a file at a revision (the lockfile at the base).
//!
//! It drives the `git` command line rather than a git library: that is the git users have, it
//! understands every repository format and extension they use, and its `-z` output is stable.
//! Errors are [`ScmError`]s naming the command or revision, with git's own message.
//!
//! ```no_run
//! # fn main() -> Result<(), kiln_scm::ScmError> {
//! let git = kiln_scm::Git::open(std::path::Path::new("."))?;
//! let base = git.resolve_base(None, None)?;
//! let changed = git.changed_files(&base, None)?;
//! for file in &changed.files {
//!     tracing::info!(%file, "changed since {}", base.spec);
//! }
//! # Ok(())
//! # }
//! ```

mod base;
mod blob;
mod changes;
mod command;
mod error;
mod git;
#[cfg(test)]
mod test_repo;

pub use base::Revision;
pub use changes::ChangedFiles;
pub use error::ScmError;
pub use git::Git;
