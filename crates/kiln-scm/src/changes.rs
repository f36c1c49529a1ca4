//! Files changed since a base: between two commits, or up to the work tree.
//!
//! Between commits it is one `git diff --name-only`. Up to the work tree it is two commands:
//! `git diff <base>` (no `--cached`) compares the base tree with the working files of
//! everything the index knows, so staged and unstaged edits, staged additions and deletions
//! all show; `git ls-files --others --exclude-standard` adds the untracked files that are not
//! ignored, each file of a new directory listed (what `--untracked-files=all` shows).
//!
//! Porcelain `git diff` rather than plumbing `diff-index`: it refreshes stat information in
//! memory first, so a file that was merely touched is not reported. The flags below pin its
//! output whatever the user's config: no renames (a rename is its old path deleted and its
//! new path added, and both must count), no external diff or textconv, no relative paths, and
//! submodules are never ignored (a submodule is one path, changed when its commit moved or its
//! checkout is dirty).

use std::collections::BTreeSet;

use crate::command::{GitCommand, nul_records};
use crate::{Git, Revision, ScmError};

/// The files changed between a base and a head.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangedFiles {
    /// Workspace-relative, '/'-separated, sorted, deduplicated; both sides of renames,
    /// deletions included.
    pub files: BTreeSet<String>,
    /// How many changed paths were outside the workspace root (dropped).
    pub outside: usize,
}

impl Git {
    /// Files changed between `base` and `head` (a rev), or between `base` and the work tree
    /// (staged + unstaged + untracked not ignored) when `head` is `None`. A `head` that does
    /// not exist is `ScmError::RevisionNotFound`.
    pub fn changed_files(
        &self,
        base: &Revision,
        head: Option<&str>,
    ) -> Result<ChangedFiles, ScmError> {
        // Checked up front so a hand-made or stale `Revision` gets a clear error, not a
        // `git diff` usage message.
        if self.peel(&base.commit, "tree")?.is_none() {
            return Err(ScmError::RevisionNotFound {
                rev: base.commit.clone(),
                stderr: String::new(),
            });
        }
        let diff = diff_command().arg(&base.commit);
        let repo_paths = match head {
            Some(head) => {
                let head_commit = self.require_commit(head)?;
                paths(diff.arg(head_commit).arg("--").run(self.toplevel())?)
            }
            None => {
                let mut found = paths(diff.arg("--").run(self.toplevel())?);
                let untracked = GitCommand::new("ls-files")
                    .args(["-z", "--others", "--exclude-standard", "--full-name"])
                    .run(self.toplevel())?;
                found.extend(paths(untracked));
                found
            }
        };

        let mut changed = ChangedFiles::default();
        let mut outside = BTreeSet::new();
        for repo_path in repo_paths {
            match self.workspace_path(&repo_path) {
                Some(path) => {
                    changed.files.insert(path);
                }
                None => {
                    outside.insert(repo_path);
                }
            }
        }
        changed.outside = outside.len();
        tracing::debug!(
            base = %base.spec,
            head = head.unwrap_or("(work tree)"),
            changed = changed.files.len(),
            outside = changed.outside,
            "changed files"
        );
        Ok(changed)
    }
}

fn diff_command() -> GitCommand {
    GitCommand::new("diff").args([
        "--name-only",
        "-z",
        "--no-renames",
        "--no-ext-diff",
        "--no-textconv",
        "--no-color",
        "--ignore-submodules=none",
    ])
}

impl Git {
    /// The files git tracks in the workspace although an ignore rule matches them (added with
    /// `git add -f`, or ignored after they were committed): git reports their changes, so they
    /// are inputs like any tracked file. Workspace-relative, sorted.
    pub fn tracked_but_ignored(&self) -> Result<Vec<String>, ScmError> {
        self.ls_files(&["--cached", "--ignored"])
    }

    /// The files in the workspace git neither tracks nor ignores. Workspace-relative, sorted.
    pub fn untracked(&self) -> Result<Vec<String>, ScmError> {
        self.ls_files(&["--others"])
    }

    /// Every file git tracks in the workspace. Workspace-relative, sorted.
    pub fn tracked(&self) -> Result<Vec<String>, ScmError> {
        self.ls_files(&["--cached"])
    }

    fn ls_files(&self, selection: &[&str]) -> Result<Vec<String>, ScmError> {
        let scope = if self.prefix().is_empty() {
            ".".to_string()
        } else {
            format!(":/{}", self.prefix().trim_end_matches('/'))
        };
        let stdout = GitCommand::new("ls-files")
            .arg("-z")
            .args(selection.iter().copied())
            .args(["--exclude-standard", "--full-name", "--"])
            .arg(scope)
            .run(self.toplevel())?;
        let mut files: Vec<String> = paths(stdout)
            .iter()
            .filter_map(|p| self.workspace_path(p))
            .collect();
        files.sort();
        files.dedup();
        Ok(files)
    }
}

fn paths(stdout: Vec<u8>) -> Vec<Vec<u8>> {
    nul_records(&stdout).map(<[u8]>::to_vec).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_repo::TestRepo;

    fn files(changed: &ChangedFiles) -> Vec<&str> {
        changed.files.iter().map(String::as_str).collect()
    }

    #[test]
    fn tracked_files_an_ignore_rule_matches_are_listed() {
        let repo = TestRepo::new();
        repo.write(".gitignore", ".env*\n");
        repo.write(".env.example", "A=1");
        repo.write("src/a.ts", "a");
        repo.git(&["add", "-A"]);
        repo.git(&["add", "-f", ".env.example"]);
        repo.git(&["commit", "-q", "-m", "init"]);
        repo.write(".env.local", "untracked and ignored");
        repo.write("dist/new.js", "untracked");
        let git = Git::open(repo.path()).unwrap();
        assert_eq!(git.tracked_but_ignored().unwrap(), [".env.example"]);
        assert_eq!(git.untracked().unwrap(), ["dist/new.js"]);
        assert_eq!(
            git.tracked().unwrap(),
            [".env.example", ".gitignore", "src/a.ts"]
        );
    }

    /// A repository with one commit on `main`, opened at its top level, and that commit as base.
    fn committed(files: &[(&str, &str)]) -> (TestRepo, Git, Revision) {
        let repo = TestRepo::new();
        for (path, content) in files {
            repo.write(path, content);
        }
        repo.commit_all("base");
        let git = Git::open(repo.path()).unwrap();
        let base = git.resolve_base(Some("main"), None).unwrap();
        (repo, git, base)
    }

    #[test]
    fn nothing_changed_is_empty() {
        let (_repo, git, base) = committed(&[("a.txt", "1")]);
        assert_eq!(
            git.changed_files(&base, None).unwrap(),
            ChangedFiles::default()
        );
    }

    #[test]
    fn the_work_tree_mode_sees_staged_unstaged_deleted_and_untracked_files() {
        let (repo, git, base) = committed(&[("staged", "1"), ("unstaged", "1"), ("deleted", "1")]);
        repo.write("staged", "2");
        repo.git(&["add", "staged"]);
        repo.write("unstaged", "2");
        repo.remove("deleted");
        repo.write("new/dir/deep/file.ts", "untracked");
        let changed = git.changed_files(&base, None).unwrap();
        assert_eq!(
            files(&changed),
            ["deleted", "new/dir/deep/file.ts", "staged", "unstaged"]
        );
    }

    #[test]
    fn a_staged_rename_counts_both_paths() {
        let (repo, git, base) = committed(&[("old name.txt", "same content\n")]);
        repo.git(&["mv", "old name.txt", "new name.txt"]);
        let changed = git.changed_files(&base, None).unwrap();
        assert_eq!(files(&changed), ["new name.txt", "old name.txt"]);
    }

    #[test]
    fn a_committed_rename_counts_both_paths_even_when_config_asks_for_rename_detection() {
        let (repo, git, base) = committed(&[("src/a.ts", "export const a = 1;\n")]);
        repo.git(&["config", "diff.renames", "copies"]);
        repo.git(&["mv", "src/a.ts", "src/b.ts"]);
        repo.commit_all("move");
        let changed = git.changed_files(&base, Some("HEAD")).unwrap();
        assert_eq!(files(&changed), ["src/a.ts", "src/b.ts"]);
    }

    #[test]
    fn ignored_files_are_not_changes() {
        let (repo, git, base) = committed(&[(".gitignore", "dist/\n*.log\n")]);
        repo.write("dist/out.js", "x");
        repo.write("debug.log", "x");
        repo.write("kept.txt", "x");
        assert_eq!(
            files(&git.changed_files(&base, None).unwrap()),
            ["kept.txt"]
        );
    }

    #[test]
    fn touching_a_file_without_changing_it_is_not_a_change() {
        let (repo, git, base) = committed(&[("a.txt", "same")]);
        repo.remove("a.txt");
        repo.write("a.txt", "same");
        assert!(git.changed_files(&base, None).unwrap().files.is_empty());
    }

    #[test]
    fn names_with_spaces_unicode_quotes_and_newlines_come_back_intact() {
        let (repo, git, base) = committed(&[("plain", "1")]);
        let names = [
            "with space.txt",
            "ünïcødé/日本.ts",
            "quote\"d",
            "line\nbreak",
            "tab\there",
        ];
        for name in names {
            repo.write(name, "x");
        }
        repo.git(&["add", "tab\there"]);
        let mut expected: Vec<&str> = names.to_vec();
        expected.sort();
        assert_eq!(files(&git.changed_files(&base, None).unwrap()), expected);
        repo.commit_all("weird names");
        assert_eq!(
            files(&git.changed_files(&base, Some("HEAD")).unwrap()),
            expected
        );
    }

    #[test]
    fn with_a_head_the_work_tree_is_not_mixed_in() {
        let (repo, git, base) = committed(&[("a", "1")]);
        repo.commit_file("b", "1", "second");
        repo.write("dirty", "x");
        repo.write("a", "edited");
        let changed = git.changed_files(&base, Some("HEAD")).unwrap();
        assert_eq!(files(&changed), ["b"]);
    }

    #[test]
    fn a_base_that_does_not_exist_is_a_clear_error() {
        let (_repo, git, _) = committed(&[("a", "1")]);
        let stale = Revision {
            spec: "gone".into(),
            commit: "0123456789abcdef0123456789abcdef01234567".into(),
        };
        let error = git.changed_files(&stale, None).unwrap_err();
        assert!(
            matches!(&error, ScmError::RevisionNotFound { rev, .. } if *rev == stale.commit),
            "{error:?}"
        );
    }

    #[test]
    fn a_head_that_does_not_exist_is_a_clear_error() {
        let (_repo, git, base) = committed(&[("a", "1")]);
        let error = git.changed_files(&base, Some("nope")).unwrap_err();
        assert!(
            matches!(&error, ScmError::RevisionNotFound { rev, .. } if rev == "nope"),
            "{error:?}"
        );
    }

    #[test]
    fn an_unborn_head_makes_everything_in_the_work_tree_changed() {
        let repo = TestRepo::new();
        repo.write("staged.txt", "1");
        repo.git(&["add", "staged.txt"]);
        repo.write("pkg/untracked.txt", "1");
        repo.write(".gitignore", "*.log\n");
        repo.write("x.log", "ignored");
        let git = Git::open(repo.path()).unwrap();
        let base = git.resolve_base(None, None).unwrap();
        let changed = git.changed_files(&base, None).unwrap();
        assert_eq!(
            files(&changed),
            [".gitignore", "pkg/untracked.txt", "staged.txt"]
        );
    }

    #[test]
    fn a_workspace_in_a_subdirectory_sees_its_own_paths_and_counts_the_rest() {
        let repo = TestRepo::new();
        repo.write("js/package.json", "{}");
        repo.write("README.md", "1");
        repo.commit_all("base");
        repo.write("js/apps/web/index.ts", "x");
        repo.write("README.md", "2");
        repo.write("jsx/other.ts", "x");
        repo.write("docs/new.md", "x");
        let git = Git::open(&repo.path().join("js")).unwrap();
        let base = git.resolve_base(Some("main"), None).unwrap();
        let changed = git.changed_files(&base, None).unwrap();
        assert_eq!(files(&changed), ["apps/web/index.ts"]);
        assert_eq!(changed.outside, 3);
    }

    #[test]
    fn a_move_into_the_workspace_counts_its_new_path_in_and_its_old_path_outside() {
        let repo = TestRepo::new();
        repo.write("js/package.json", "{}");
        repo.write("shared/util.ts", "export {};\n");
        let base = repo.commit_all("base");
        repo.git(&["mv", "shared/util.ts", "js/util.ts"]);
        repo.commit_all("move");
        let git = Git::open(&repo.path().join("js")).unwrap();
        let base = Revision {
            spec: base.clone(),
            commit: base,
        };
        let changed = git.changed_files(&base, Some("HEAD")).unwrap();
        assert_eq!(files(&changed), ["util.ts"]);
        assert_eq!(changed.outside, 1);
    }

    #[test]
    fn a_submodule_is_one_changed_path() {
        let library = TestRepo::new();
        library.commit_file("lib.txt", "1", "lib v1");
        let (repo, git, base) = committed(&[("a", "1")]);
        let url = format!("file://{}", library.path().display());
        repo.git(&["submodule", "add", "-q", &url, "vendor/lib"]);
        repo.commit_all("add submodule");
        let after_add = git.changed_files(&base, Some("HEAD")).unwrap();
        assert_eq!(files(&after_add), [".gitmodules", "vendor/lib"]);

        // A dirty submodule checkout is a change of the submodule path, not of files in it.
        let with_submodule = git.resolve_base(Some("HEAD"), None).unwrap();
        repo.write("vendor/lib/lib.txt", "edited");
        repo.write("vendor/lib/new.txt", "new");
        let dirty = git.changed_files(&with_submodule, None).unwrap();
        assert_eq!(files(&dirty), ["vendor/lib"]);
    }

    #[test]
    fn an_untracked_nested_repository_is_one_path() {
        let (repo, git, base) = committed(&[("a", "1")]);
        repo.write("nested/f", "1");
        crate::test_repo::git_in(&repo.path().join("nested"), &["init", "-q"]);
        assert_eq!(files(&git.changed_files(&base, None).unwrap()), ["nested"]);
    }
}
