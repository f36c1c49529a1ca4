//! [`Git`]: a handle on the repository that holds a workspace, and the questions about refs
//! that everything else builds on (which commit a rev names, the default branch, shallowness).

use std::path::{Path, PathBuf};

use crate::ScmError;
use crate::command::{GitCommand, single_value};

/// The refs tried, in order, when `origin/HEAD` does not name the default branch: the
/// remote's branches first (in CI the local branch is usually the feature branch itself).
const DEFAULT_BRANCH_CANDIDATES: &[&str] = &["origin/main", "origin/master", "main", "master"];

/// The git repository a workspace lives in.
///
/// The workspace root may be a subdirectory of the repository: every path this type takes or
/// returns is relative to the workspace root and `/`-separated, while git itself is always run
/// at the repository's top level so its output is top-level-relative whatever the command.
#[derive(Debug, Clone)]
pub struct Git {
    /// The repository's top-level directory, as git reports it (symlinks resolved).
    toplevel: PathBuf,
    /// Where the workspace root is inside the repository: `""` at the top level, else
    /// `"sub/dir/"` (always with the trailing slash, so it prefixes paths directly).
    prefix: String,
}

impl Git {
    /// Finds the git work tree that contains `workspace_root`.
    ///
    /// `Err(ScmError::NotARepository)` when `workspace_root` does not exist or is not inside a
    /// git work tree (a bare repository has none); `Err(ScmError::GitMissing)` when git cannot
    /// be run.
    pub fn open(workspace_root: &Path) -> Result<Git, ScmError> {
        let not_a_repository = |stderr: String| ScmError::NotARepository {
            path: workspace_root.to_owned(),
            stderr,
        };
        // Checked first: spawning in a missing directory fails like a missing `git` would.
        match fs_err::metadata(workspace_root) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => return Err(not_a_repository("not a directory".into())),
            Err(error) => return Err(not_a_repository(error.to_string())),
        }

        let toplevel = GitCommand::new("rev-parse").arg("--show-toplevel");
        let output = toplevel.output(workspace_root)?;
        if !output.status.success() {
            let outside = output.stderr.contains("not a git repository")
                || output.stderr.contains("must be run in a work tree");
            return Err(if outside {
                not_a_repository(output.stderr)
            } else {
                toplevel.failed(output)
            });
        }
        let toplevel = bytes_to_path(single_value(&output.stdout));

        let prefix = GitCommand::new("rev-parse")
            .arg("--show-prefix")
            .run(workspace_root)?;
        let prefix = String::from_utf8_lossy(single_value(&prefix)).into_owned();
        tracing::debug!(toplevel = %toplevel.display(), %prefix, "opened git repository");
        Ok(Git { toplevel, prefix })
    }

    /// The repository's top-level directory.
    pub fn toplevel(&self) -> &Path {
        &self.toplevel
    }

    /// The workspace root's place in the repository: `""` at the top level, else a
    /// `/`-separated path ending in `/` (e.g. `"js/"`).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Whether the repository is a shallow clone (some history was not fetched).
    pub fn is_shallow(&self) -> Result<bool, ScmError> {
        let stdout = GitCommand::new("rev-parse")
            .arg("--is-shallow-repository")
            .run(&self.toplevel)?;
        Ok(single_value(&stdout) == b"true")
    }

    /// The default branch's ref: `origin/HEAD`'s target if set (and present), else the first
    /// that exists of `origin/main`, `origin/master`, `main`, `master`.
    /// `Err(ScmError::NoDefaultBranch)` lists what was tried otherwise.
    pub fn default_branch(&self) -> Result<String, ScmError> {
        let mut tried = vec!["origin/HEAD".to_owned()];
        let origin_head = GitCommand::new("symbolic-ref")
            .args(["--quiet", "--short", "refs/remotes/origin/HEAD"])
            .output(&self.toplevel)?;
        if origin_head.status.success() {
            let target = String::from_utf8_lossy(single_value(&origin_head.stdout)).into_owned();
            if self.commit_of(&target)?.is_some() {
                return Ok(target);
            }
            tracing::debug!(%target, "origin/HEAD points at a ref that is not present");
        }
        for candidate in DEFAULT_BRANCH_CANDIDATES {
            tried.push((*candidate).to_owned());
            if self.commit_of(candidate)?.is_some() {
                return Ok((*candidate).to_owned());
            }
        }
        Err(ScmError::NoDefaultBranch { tried })
    }

    /// The branch HEAD is on, or `None` when HEAD is detached.
    pub fn current_branch(&self) -> Result<Option<String>, ScmError> {
        optional_value(
            GitCommand::new("symbolic-ref").args(["--short", "-q", "HEAD"]),
            &self.toplevel,
        )
    }

    /// The full id of the commit `rev` names (tags peeled), or `None` when it names none.
    pub fn commit_of(&self, rev: &str) -> Result<Option<String>, ScmError> {
        self.peel(rev, "commit")
    }

    /// The full id of the `kind` object (`commit`, `tree`) that `rev` peels to, if any.
    pub(crate) fn peel(&self, rev: &str, kind: &str) -> Result<Option<String>, ScmError> {
        // A rev starting with '-' would be read as an option by rev-parse.
        if rev.is_empty() || rev.starts_with('-') {
            return Ok(None);
        }
        optional_value(
            GitCommand::new("rev-parse")
                .args(["--verify", "--quiet"])
                .arg(format!("{rev}^{{{kind}}}")),
            &self.toplevel,
        )
    }

    /// Like [`Git::commit_of`], but a missing commit is a `RevisionNotFound` error.
    pub(crate) fn require_commit(&self, rev: &str) -> Result<String, ScmError> {
        self.commit_of(rev)?
            .ok_or_else(|| ScmError::RevisionNotFound {
                rev: rev.to_owned(),
                stderr: String::new(),
            })
    }

    /// A workspace-relative path as git names it from the top level.
    pub(crate) fn repo_path(&self, workspace_path: &str) -> String {
        format!("{}{}", self.prefix, workspace_path.trim_start_matches("./"))
    }

    /// A top-level-relative path from git's output as a workspace-relative one, or `None`
    /// when it lies outside the workspace root.
    pub(crate) fn workspace_path(&self, repo_path: &[u8]) -> Option<String> {
        let inside = repo_path.strip_prefix(self.prefix.as_bytes())?;
        // `ls-files --others` names an untracked nested repository `dir/`; one path, like a
        // submodule.
        let inside = inside.strip_suffix(b"/").unwrap_or(inside);
        if inside.is_empty() {
            return None;
        }
        Some(match std::str::from_utf8(inside) {
            Ok(path) => path.to_owned(),
            Err(_) => {
                let lossy = String::from_utf8_lossy(inside).into_owned();
                tracing::warn!(path = %lossy, "a changed path is not valid UTF-8; matching it lossily");
                lossy
            }
        })
    }
}

#[cfg(unix)]
fn bytes_to_path(bytes: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    PathBuf::from(std::ffi::OsStr::from_bytes(bytes))
}

#[cfg(not(unix))]
fn bytes_to_path(bytes: &[u8]) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(bytes).into_owned())
}

/// The one value `command` prints, or `None` when it exits 1 (git's "no such thing" for
/// `--quiet` queries).
fn optional_value(command: GitCommand, dir: &Path) -> Result<Option<String>, ScmError> {
    let output = command.output(dir)?;
    match output.status.code() {
        Some(0) => Ok(Some(
            String::from_utf8_lossy(single_value(&output.stdout)).into_owned(),
        )),
        Some(1) => Ok(None),
        _ => Err(command.failed(output)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_repo::TestRepo;

    #[test]
    fn open_outside_a_repository_is_not_a_repository() {
        let dir = tempfile::tempdir().unwrap();
        let error = Git::open(dir.path()).unwrap_err();
        assert!(
            matches!(&error, ScmError::NotARepository { path, stderr }
                if path == dir.path() && stderr.contains("not a git repository")),
            "{error:?}"
        );
    }

    #[test]
    fn open_on_a_missing_directory_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("gone");
        let error = Git::open(&missing).unwrap_err();
        assert!(
            matches!(&error, ScmError::NotARepository { path, .. } if *path == missing),
            "{error:?}"
        );
    }

    #[test]
    fn open_in_a_subdirectory_records_its_prefix() {
        let repo = TestRepo::new();
        repo.write("js/apps/web/index.ts", "x");
        let git = Git::open(&repo.path().join("js")).unwrap();
        assert_eq!(git.prefix(), "js/");
        assert_eq!(git.toplevel(), repo.path().canonicalize().unwrap());
        assert_eq!(Git::open(repo.path()).unwrap().prefix(), "");
    }

    #[test]
    fn workspace_paths_drop_the_prefix_and_reject_what_is_outside() {
        let repo = TestRepo::new();
        repo.write("js/package.json", "{}");
        let git = Git::open(&repo.path().join("js")).unwrap();
        assert_eq!(
            git.workspace_path(b"js/a b/c.ts").as_deref(),
            Some("a b/c.ts")
        );
        assert_eq!(git.workspace_path(b"js/nested/").as_deref(), Some("nested"));
        assert_eq!(git.workspace_path(b"jsx/a.ts"), None);
        assert_eq!(git.workspace_path(b"README.md"), None);
        assert_eq!(git.repo_path("pnpm-lock.yaml"), "js/pnpm-lock.yaml");
    }

    #[test]
    fn default_branch_prefers_origin_head() {
        let origin = TestRepo::new();
        origin.commit_file("a", "1", "first");
        origin.git(&["branch", "trunk"]);
        let clone = origin.clone_into(&[]);
        clone.git(&["remote", "set-head", "origin", "trunk"]);
        assert_eq!(
            Git::open(clone.path()).unwrap().default_branch().unwrap(),
            "origin/trunk"
        );
    }

    #[test]
    fn default_branch_falls_back_to_local_main() {
        let repo = TestRepo::new();
        repo.commit_file("a", "1", "first");
        assert_eq!(
            Git::open(repo.path()).unwrap().default_branch().unwrap(),
            "main"
        );
    }

    #[test]
    fn no_default_branch_lists_what_was_tried() {
        let repo = TestRepo::new();
        repo.git(&["checkout", "-q", "-b", "feature"]);
        repo.commit_file("a", "1", "first");
        let error = Git::open(repo.path())
            .unwrap()
            .default_branch()
            .unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("origin/HEAD, origin/main, origin/master, main, master"),
            "{message}"
        );
    }

    #[test]
    fn the_current_branch_is_none_when_detached() {
        let repo = TestRepo::new();
        let sha = repo.commit_file("a", "1", "first");
        let git = Git::open(repo.path()).unwrap();
        assert!(git.current_branch().unwrap().is_some());
        repo.git(&["checkout", "-q", &sha]);
        assert_eq!(git.current_branch().unwrap(), None);
    }

    #[test]
    fn commit_of_peels_tags_and_rejects_option_lookalikes() {
        let repo = TestRepo::new();
        let sha = repo.commit_file("a", "1", "first");
        repo.git(&["tag", "-a", "-m", "v1", "v1"]);
        let git = Git::open(repo.path()).unwrap();
        assert_eq!(git.commit_of("v1").unwrap(), Some(sha));
        assert_eq!(git.commit_of("nope").unwrap(), None);
        assert_eq!(git.commit_of("--all").unwrap(), None);
    }

    #[test]
    fn a_fresh_clone_is_not_shallow_but_a_depth_one_clone_is() {
        let origin = TestRepo::new();
        origin.commit_file("a", "1", "first");
        origin.commit_file("a", "2", "second");
        assert!(!Git::open(origin.path()).unwrap().is_shallow().unwrap());
        let shallow = origin.clone_into(&["--depth", "1"]);
        assert!(Git::open(shallow.path()).unwrap().is_shallow().unwrap());
    }
}
