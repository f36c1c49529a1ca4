//! Choosing what "changed" is measured against: the base revision.
//!
//! The base is the merge-base of the given base (or the default branch) with the head, as
//! `git diff main...HEAD` would use: a branch's changes are what it did since it forked, not
//! what `main` did since. Three situations have no merge-base, and each gets the answer that
//! keeps `--affected` correct:
//!
//! - **Shallow clone** (CI's `fetch-depth: 1`): the shared history was not fetched. If the base
//!   commit itself is present, diff against it and warn: this may over-select (changes on the
//!   base branch since the fork count too) but never misses one of ours.
//! - **Unborn HEAD** (no commits yet) or **unrelated histories**: nothing is shared, so the
//!   base is the empty tree and everything counts as changed.
//!
//! A base that is not in the repository at all is an error that says how to fetch it, never a
//! silent "nothing changed".

use crate::command::{GitCommand, single_value};
use crate::{Git, ScmError};

/// A resolved base revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revision {
    /// The revision as given, e.g. `"origin/main"`.
    pub spec: String,
    /// The full object id to diff against: the merge-base commit, the base commit itself in a
    /// shallow clone, or the empty tree when there is no shared history.
    pub commit: String,
}

impl Git {
    /// Resolves the base: `base` (a rev) or the default branch; then the merge-base of it and
    /// `head` (or HEAD).
    ///
    /// When the clone is shallow and the merge-base is beyond its history but the base commit
    /// is present, the base commit is used, with a warning. When HEAD is unborn or the
    /// histories are unrelated, the base is the empty tree (everything changed). A base that
    /// is absent is `ScmError::BaseNotFound { base, shallow }`; a `head` that does not exist
    /// is `ScmError::RevisionNotFound`.
    pub fn resolve_base(
        &self,
        base: Option<&str>,
        head: Option<&str>,
    ) -> Result<Revision, ScmError> {
        let head_commit = match head {
            Some(head) => self.require_commit(head)?,
            None => match self.commit_of("HEAD")? {
                Some(commit) => commit,
                None => {
                    tracing::info!(
                        "HEAD has no commits yet: every file in the work tree counts as changed"
                    );
                    return Ok(Revision {
                        spec: base.unwrap_or("HEAD").to_owned(),
                        commit: self.empty_tree()?,
                    });
                }
            },
        };

        let spec = match base {
            Some(base) => base.to_owned(),
            None => self.default_branch()?,
        };
        let Some(base_commit) = self.commit_of(&spec)? else {
            return Err(ScmError::BaseNotFound {
                base: spec,
                shallow: self.is_shallow()?,
            });
        };

        if let Some(merge_base) = self.merge_base(&base_commit, &head_commit)? {
            tracing::debug!(base = %spec, %merge_base, "resolved base");
            return Ok(Revision {
                spec,
                commit: merge_base,
            });
        }
        if self.is_shallow()? {
            tracing::warn!(
                base = %spec,
                "no merge-base of `{spec}` and HEAD in this shallow clone; comparing against \
                 `{spec}` itself, which may count changes made on it since the fork (fetch more \
                 history with `git fetch --deepen=<n>`, or `fetch-depth: 0` in GitHub Actions)"
            );
            return Ok(Revision {
                spec,
                commit: base_commit,
            });
        }
        tracing::warn!(
            base = %spec,
            "`{spec}` and HEAD share no history: every file counts as changed"
        );
        Ok(Revision {
            spec,
            commit: self.empty_tree()?,
        })
    }

    /// The best common ancestor of two commits, or `None` when they have none (in this clone).
    fn merge_base(&self, a: &str, b: &str) -> Result<Option<String>, ScmError> {
        let command = GitCommand::new("merge-base").args([a, b]);
        let output = command.output(self.toplevel())?;
        match output.status.code() {
            Some(0) => Ok(Some(
                String::from_utf8_lossy(single_value(&output.stdout)).into_owned(),
            )),
            // Exit 1 with nothing said is git's "no common ancestor".
            Some(1) if output.stderr.is_empty() => Ok(None),
            _ => Err(command.failed(output)),
        }
    }

    /// The id of the empty tree in this repository's object format (SHA-1 or SHA-256).
    fn empty_tree(&self) -> Result<String, ScmError> {
        let stdout = GitCommand::new("hash-object")
            .args(["-t", "tree", "--stdin"])
            .run(self.toplevel())?;
        Ok(String::from_utf8_lossy(single_value(&stdout)).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_repo::TestRepo;

    const EMPTY_TREE: &str = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";

    #[test]
    fn the_base_is_where_the_branch_forked_from_the_default_branch() {
        let repo = TestRepo::new();
        let fork = repo.commit_file("a", "1", "first");
        repo.git(&["checkout", "-q", "-b", "feature"]);
        let head = repo.commit_file("b", "1", "feature work");
        repo.git(&["checkout", "-q", "main"]);
        repo.commit_file("c", "1", "main moves on");
        repo.git(&["checkout", "-q", "feature"]);

        let git = Git::open(repo.path()).unwrap();
        let base = git.resolve_base(None, None).unwrap();
        assert_eq!(
            base,
            Revision {
                spec: "main".into(),
                commit: fork.clone()
            }
        );
        let explicit = git.resolve_base(Some("main"), Some(&head)).unwrap();
        assert_eq!(explicit.commit, fork);
    }

    #[test]
    fn an_absent_base_is_base_not_found_in_a_full_clone() {
        let repo = TestRepo::new();
        repo.commit_file("a", "1", "first");
        let error = Git::open(repo.path())
            .unwrap()
            .resolve_base(Some("origin/develop"), None)
            .unwrap_err();
        assert!(
            matches!(&error, ScmError::BaseNotFound { base, shallow: false } if base == "origin/develop"),
            "{error:?}"
        );
    }

    #[test]
    fn a_head_that_does_not_exist_is_a_clear_error() {
        let repo = TestRepo::new();
        repo.commit_file("a", "1", "first");
        let error = Git::open(repo.path())
            .unwrap()
            .resolve_base(None, Some("no-such-branch"))
            .unwrap_err();
        assert!(
            matches!(&error, ScmError::RevisionNotFound { rev, .. } if rev == "no-such-branch"),
            "{error:?}"
        );
        assert!(error.to_string().contains("`no-such-branch`"));
    }

    #[test]
    fn an_unborn_head_compares_against_the_empty_tree() {
        let repo = TestRepo::new();
        repo.write("a", "1");
        let base = Git::open(repo.path())
            .unwrap()
            .resolve_base(None, None)
            .unwrap();
        assert_eq!(base.commit, EMPTY_TREE);
    }

    #[test]
    fn unrelated_histories_compare_against_the_empty_tree() {
        let repo = TestRepo::new();
        repo.commit_file("a", "1", "first");
        repo.git(&["checkout", "-q", "--orphan", "other"]);
        repo.commit_file("b", "1", "unrelated");
        let base = Git::open(repo.path())
            .unwrap()
            .resolve_base(Some("main"), None)
            .unwrap();
        assert_eq!(base.spec, "main");
        assert_eq!(base.commit, EMPTY_TREE);
    }

    /// origin: main A─B, feature B─C─D. A depth-1 clone of every branch holds B and D only.
    fn shallow_feature_clone() -> (TestRepo, String, String) {
        let origin = TestRepo::new();
        let a = origin.commit_file("a", "1", "A");
        let b = origin.commit_file("a", "2", "B");
        origin.git(&["checkout", "-q", "-b", "feature"]);
        origin.commit_file("c", "1", "C");
        origin.commit_file("d", "1", "D");
        origin.git(&["checkout", "-q", "main"]);
        let clone =
            origin.clone_into(&["--depth", "1", "--no-single-branch", "--branch", "feature"]);
        (clone, a, b)
    }

    #[test]
    fn a_shallow_clone_without_the_merge_base_uses_the_base_commit() {
        let (clone, _, b) = shallow_feature_clone();
        let git = Git::open(clone.path()).unwrap();
        let base = git.resolve_base(None, None).unwrap();
        assert_eq!(
            base,
            Revision {
                spec: "origin/main".into(),
                commit: b
            }
        );
        let changed = git.changed_files(&base, None).unwrap();
        assert_eq!(changed.files.into_iter().collect::<Vec<_>>(), ["c", "d"]);
    }

    #[test]
    fn a_shallow_clone_without_the_base_commit_says_it_is_shallow() {
        let (clone, a, _) = shallow_feature_clone();
        let error = Git::open(clone.path())
            .unwrap()
            .resolve_base(Some(&a), None)
            .unwrap_err();
        assert!(
            matches!(&error, ScmError::BaseNotFound { base, shallow: true } if *base == a),
            "{error:?}"
        );
        assert!(error.to_string().contains("git fetch --unshallow"));
    }
}
