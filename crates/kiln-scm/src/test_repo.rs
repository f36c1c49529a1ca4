//! Real git repositories in temp dirs for the tests, built with a hermetic git: no global or
//! system config, a fixed identity, `main` as the initial branch.

use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

pub(crate) struct TestRepo {
    /// Held so the directory lives as long as the repository is used.
    _dir: TempDir,
    /// Where the work tree is inside `dir` (a clone lives in a subdirectory of its temp dir).
    root: PathBuf,
}

impl TestRepo {
    /// An empty repository on an unborn `main`.
    pub(crate) fn new() -> TestRepo {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_owned();
        let repo = TestRepo { _dir: dir, root };
        repo.git(&["init", "-q", "-b", "main"]);
        repo
    }

    pub(crate) fn path(&self) -> &Path {
        &self.root
    }

    /// Runs git in the work tree and returns its stdout, trimmed; panics with stderr on failure.
    pub(crate) fn git(&self, args: &[&str]) -> String {
        git_in(&self.root, args)
    }

    pub(crate) fn write(&self, path: &str, content: &str) {
        let path = self.root.join(path);
        fs_err::create_dir_all(path.parent().unwrap()).unwrap();
        fs_err::write(path, content).unwrap();
    }

    pub(crate) fn remove(&self, path: &str) {
        fs_err::remove_file(self.root.join(path)).unwrap();
    }

    /// Stages everything and commits; returns the new commit's id.
    pub(crate) fn commit_all(&self, message: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        self.git(&["rev-parse", "HEAD"])
    }

    pub(crate) fn commit_file(&self, path: &str, content: &str, message: &str) -> String {
        self.write(path, content);
        self.commit_all(message)
    }

    /// A `git clone <extra args> file://<this repo>` in a fresh temp dir.
    pub(crate) fn clone_into(&self, extra: &[&str]) -> TestRepo {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("clone");
        let url = format!("file://{}", self.root.display());
        let mut args = vec!["clone", "-q"];
        args.extend_from_slice(extra);
        args.push(&url);
        args.push("clone");
        git_in(dir.path(), &args);
        TestRepo { _dir: dir, root }
    }
}

pub(crate) fn git_in(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args(["-c", "protocol.file.allow=always"])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "kiln test")
        .env("GIT_AUTHOR_EMAIL", "test@kiln.invalid")
        .env("GIT_COMMITTER_NAME", "kiln test")
        .env("GIT_COMMITTER_EMAIL", "test@kiln.invalid")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "git {args:?} failed in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}
