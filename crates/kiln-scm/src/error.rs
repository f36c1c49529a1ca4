//! What can go wrong talking to git, each case naming the command or revision involved.

use std::io;
use std::path::PathBuf;

/// An error from [`Git`](crate::Git). Every variant names what was asked (command line,
/// revision or path) and, when git said something, git's own stderr, trimmed.
#[derive(Debug, thiserror::Error)]
pub enum ScmError {
    /// The `git` executable could not be started at all.
    #[error("cannot run `{command}`: {source} (is git installed and on PATH?)")]
    GitMissing {
        command: String,
        #[source]
        source: io::Error,
    },

    /// The workspace root is not inside a git work tree (or is a bare repository, or does not
    /// exist).
    #[error("{} is not inside a git work tree: {stderr}", path.display())]
    NotARepository { path: PathBuf, stderr: String },

    /// A git command ran and failed in a way the caller did not expect.
    #[error("`{command}` failed ({status}): {stderr}")]
    Command {
        command: String,
        status: String,
        stderr: String,
    },

    /// A revision given by the caller (a `head`, a `rev` to read a file at) does not name a
    /// commit or tree in this repository.
    #[error("revision `{rev}` not found in the repository{}", detail(stderr))]
    RevisionNotFound { rev: String, stderr: String },

    /// The base revision to compare against is not in the repository; `shallow` says whether
    /// the clone is shallow, which is the usual reason in CI.
    #[error("{}", base_not_found(base, *shallow))]
    BaseNotFound { base: String, shallow: bool },

    /// No base was given and none of the usual default-branch refs exists.
    #[error(
        "cannot find the default branch (tried {}); fetch it (e.g. `git fetch origin main`; \
         in GitHub Actions set `fetch-depth: 0` on actions/checkout) or name a base explicitly \
         with `--base <rev>`",
        tried.join(", ")
    )]
    NoDefaultBranch { tried: Vec<String> },

    /// The path exists at the revision but is a directory or a submodule, not a file.
    #[error("`{path}` at `{rev}` is a {kind}, not a file")]
    NotAFile {
        rev: String,
        path: String,
        kind: String,
    },
}

fn detail(stderr: &str) -> String {
    if stderr.is_empty() {
        String::new()
    } else {
        format!(": {stderr}")
    }
}

fn base_not_found(base: &str, shallow: bool) -> String {
    if shallow {
        format!(
            "base revision `{base}` is not in this shallow clone; fetch more history with \
             `git fetch --deepen=<n>` or `git fetch --unshallow` (in GitHub Actions set \
             `fetch-depth: 0` on actions/checkout)"
        )
    } else {
        format!(
            "base revision `{base}` not found in the repository; fetch it (e.g. \
             `git fetch origin {base}`) or name another base"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_not_found_in_a_shallow_clone_says_how_to_deepen_it() {
        let message = ScmError::BaseNotFound {
            base: "origin/main".into(),
            shallow: true,
        }
        .to_string();
        assert!(message.contains("`origin/main`"), "{message}");
        assert!(message.contains("git fetch --unshallow"), "{message}");
        assert!(message.contains("--deepen"), "{message}");
        assert!(message.contains("fetch-depth: 0"), "{message}");
    }

    #[test]
    fn base_not_found_in_a_full_clone_does_not_talk_about_depth() {
        let message = ScmError::BaseNotFound {
            base: "v1.2".into(),
            shallow: false,
        }
        .to_string();
        assert!(message.contains("`v1.2`"), "{message}");
        assert!(!message.contains("shallow"), "{message}");
    }

    #[test]
    fn revision_not_found_carries_git_stderr_only_when_there_is_some() {
        let bare = ScmError::RevisionNotFound {
            rev: "nope".into(),
            stderr: String::new(),
        };
        assert_eq!(
            bare.to_string(),
            "revision `nope` not found in the repository"
        );
        let with = ScmError::RevisionNotFound {
            rev: "nope".into(),
            stderr: "fatal: bad revision".into(),
        };
        assert!(with.to_string().ends_with(": fatal: bad revision"));
    }
}
