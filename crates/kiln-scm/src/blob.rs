//! Reading a file as it was at a revision (e.g. the lockfile at the base, to compare
//! dependency closures).
//!
//! Three steps so each answer is unambiguous: the revision must resolve to a tree (else a
//! `RevisionNotFound` error, never a silent `None`); `ls-tree` then says whether the path is
//! there and what it is, matched literally (no pathspec globbing: `[id].tsx` is a file name);
//! only a blob is read.

use crate::command::{GitCommand, nul_records};
use crate::{Git, ScmError};

impl Git {
    /// The content of `path` (workspace-relative, '/'-separated) at `rev`; `Ok(None)` when the
    /// file does not exist there. A missing `rev` is `ScmError::RevisionNotFound`; a directory
    /// or submodule at `path` is `ScmError::NotAFile`. A symlink reads as its target path, as
    /// git stores it.
    pub fn file_at(&self, rev: &str, path: &str) -> Result<Option<Vec<u8>>, ScmError> {
        let tree = self
            .peel(rev, "tree")?
            .ok_or_else(|| ScmError::RevisionNotFound {
                rev: rev.to_owned(),
                stderr: String::new(),
            })?;
        let repo_path = self.repo_path(path.trim_end_matches('/'));
        let listing = GitCommand::new("ls-tree")
            .args(["-z", "--full-tree", &tree, "--"])
            .arg(format!(":(literal){repo_path}"))
            .run(self.toplevel())?;

        // Each record is `<mode> SP <type> SP <object> TAB <path>`.
        let entry = nul_records(&listing).find_map(|record| {
            let tab = record.iter().position(|&b| b == b'\t')?;
            let (meta, name) = (&record[..tab], &record[tab + 1..]);
            (name == repo_path.as_bytes()).then(|| String::from_utf8_lossy(meta).into_owned())
        });
        let Some(meta) = entry else {
            return Ok(None);
        };
        let mut fields = meta.split(' ');
        let (_mode, kind, object) = (fields.next(), fields.next(), fields.next());
        match (kind, object) {
            (Some("blob"), Some(object)) => {
                let content = GitCommand::new("cat-file")
                    .args(["blob", object])
                    .run(self.toplevel())?;
                Ok(Some(content))
            }
            (kind, _) => Err(ScmError::NotAFile {
                rev: rev.to_owned(),
                path: path.to_owned(),
                kind: match kind {
                    Some("tree") => "directory".to_owned(),
                    Some("commit") => "submodule".to_owned(),
                    other => other.unwrap_or("unknown object").to_owned(),
                },
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_repo::TestRepo;

    #[test]
    fn reads_a_file_as_it_was_at_an_older_revision() {
        let repo = TestRepo::new();
        let old = repo.commit_file("pnpm-lock.yaml", "lockfileVersion: 6\n", "v6");
        repo.commit_file("pnpm-lock.yaml", "lockfileVersion: 9\n", "v9");
        let git = Git::open(repo.path()).unwrap();
        assert_eq!(
            git.file_at(&old, "pnpm-lock.yaml").unwrap().as_deref(),
            Some(&b"lockfileVersion: 6\n"[..])
        );
        assert_eq!(
            git.file_at("HEAD", "pnpm-lock.yaml").unwrap().as_deref(),
            Some(&b"lockfileVersion: 9\n"[..])
        );
    }

    #[test]
    fn a_file_missing_at_the_revision_is_none() {
        let repo = TestRepo::new();
        let first = repo.commit_file("a", "1", "first");
        repo.commit_file("b", "1", "second");
        let git = Git::open(repo.path()).unwrap();
        assert_eq!(git.file_at(&first, "b").unwrap(), None);
        assert_eq!(git.file_at(&first, "a/b").unwrap(), None);
    }

    #[test]
    fn a_missing_revision_is_an_error_not_none() {
        let repo = TestRepo::new();
        repo.commit_file("a", "1", "first");
        let error = Git::open(repo.path())
            .unwrap()
            .file_at("nope", "a")
            .unwrap_err();
        assert!(
            matches!(&error, ScmError::RevisionNotFound { rev, .. } if rev == "nope"),
            "{error:?}"
        );
    }

    #[test]
    fn paths_are_relative_to_the_workspace_root_and_taken_literally() {
        let repo = TestRepo::new();
        repo.write("js/pages/[id].tsx", "dynamic");
        repo.write("js/pages/i.tsx", "static");
        repo.write("js/dir with space/ü.json", "{}");
        repo.commit_all("first");
        let git = Git::open(&repo.path().join("js")).unwrap();
        assert_eq!(
            git.file_at("HEAD", "pages/[id].tsx").unwrap().as_deref(),
            Some(&b"dynamic"[..])
        );
        assert_eq!(git.file_at("HEAD", "pages/[i].tsx").unwrap(), None);
        assert_eq!(
            git.file_at("HEAD", "dir with space/ü.json")
                .unwrap()
                .as_deref(),
            Some(&b"{}"[..])
        );
    }

    #[test]
    fn a_directory_is_not_a_file() {
        let repo = TestRepo::new();
        repo.write("pkg/a", "1");
        repo.commit_all("first");
        let error = Git::open(repo.path())
            .unwrap()
            .file_at("HEAD", "pkg")
            .unwrap_err();
        assert!(
            matches!(&error, ScmError::NotAFile { kind, .. } if kind == "directory"),
            "{error:?}"
        );
    }

    #[test]
    fn an_unborn_head_has_no_files() {
        let repo = TestRepo::new();
        repo.write("a", "1");
        let error = Git::open(repo.path())
            .unwrap()
            .file_at("HEAD", "a")
            .unwrap_err();
        assert!(
            matches!(error, ScmError::RevisionNotFound { .. }),
            "{error:?}"
        );
    }

    #[test]
    fn nothing_exists_at_the_base_of_an_unborn_head() {
        let repo = TestRepo::new();
        repo.write("package-lock.json", "{}");
        let git = Git::open(repo.path()).unwrap();
        let base = git.resolve_base(None, None).unwrap();
        assert_eq!(
            git.file_at(&base.commit, "package-lock.json").unwrap(),
            None
        );
    }
}
