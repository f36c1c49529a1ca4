//! What git knows that an ignore-aware walk does not: which files it tracks.
//!
//! Two rules of the default inputs need it. A file git tracks although an ignore rule matches
//! it (`git add -f .env.example`) is an input: git reports its changes, and Turborepo hashes
//! it. And a file matching the task's own `outputs` is left out of its inputs only when git
//! does not track it (a `dist/` nobody ignored): a tracked one is a source, however the
//! output globs read (`"outputs": ["*/**", "!src/**"]` takes in `tests/`), and leaving it out
//! would let a cache hit restore an old copy over an edit of it.
//!
//! The first is one `git ls-files` per run, made while the tree is walked. The second asks
//! git for the whole index only when some default input set holds a file its outputs match,
//! which a repository that ignores its outputs never has. Outside git both are empty: every
//! output is left out, as before.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The files git tracks in the workspace, as far as hashing asks.
#[derive(Debug, Default)]
pub struct GitFiles {
    root: PathBuf,
    /// Tracked although ignored: root-relative, sorted.
    tracked_ignored: Vec<String>,
    /// Every tracked file, read when first asked; `None` outside git.
    tracked: OnceLock<Option<HashSet<String>>>,
}

impl GitFiles {
    /// Reads the tracked-but-ignored files of the workspace at `root`.
    pub fn read(root: &Path) -> GitFiles {
        let tracked_ignored = kiln_scm::Git::open(root)
            .and_then(|git| git.tracked_but_ignored())
            .unwrap_or_else(|e| {
                tracing::debug!("no tracked-but-ignored files: {e}");
                Vec::new()
            });
        GitFiles {
            root: root.to_path_buf(),
            tracked_ignored,
            tracked: OnceLock::new(),
        }
    }

    /// The tracked-but-ignored files under `dir` (root-relative; `""` for all), relative to
    /// it, sorted.
    pub fn tracked_ignored_under(&self, dir: &str) -> Vec<String> {
        under_dir(&self.tracked_ignored, dir)
    }

    /// Whether git tracks the root-relative `path`; `false` outside git.
    pub fn is_tracked(&self, path: &str) -> bool {
        let tracked = self.tracked.get_or_init(|| {
            let files = kiln_scm::Git::open(&self.root).and_then(|git| git.tracked());
            match files {
                Ok(files) => Some(files.into_iter().collect()),
                Err(e) => {
                    tracing::debug!("cannot list the tracked files: {e}");
                    None
                }
            }
        });
        tracked.as_ref().is_some_and(|t| t.contains(path))
    }
}

/// Of root-relative sorted `files`, those under `dir`, relative to it.
fn under_dir(files: &[String], dir: &str) -> Vec<String> {
    if dir.is_empty() {
        return files.to_vec();
    }
    let prefix = format!("{dir}/");
    let start = files.partition_point(|f| f.as_str() < prefix.as_str());
    files[start..]
        .iter()
        .take_while(|f| f.starts_with(&prefix))
        .map(|f| f[prefix.len()..].to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::under_dir;

    #[test]
    fn files_under_a_directory_are_relative_to_it() {
        let files: Vec<String> = ["a/x", "ab/y", "a/b/z", "b"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let mut sorted = files.clone();
        sorted.sort();
        assert_eq!(under_dir(&sorted, "a"), ["b/z", "x"]);
        assert_eq!(under_dir(&sorted, "").len(), 4);
        assert!(under_dir(&sorted, "c").is_empty());
    }
}
