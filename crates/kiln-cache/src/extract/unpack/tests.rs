//! Restoring over outputs that are already (partly) in place: what is right stays untouched.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::meta::ArtifactInfo;
use crate::{LocalStore, Restored};

const KEY: &str = "5a7e0001";

/// A package with built outputs, packed and stored under [`KEY`].
struct Built {
    tmp: tempfile::TempDir,
    store: LocalStore,
    outputs: Vec<String>,
}

impl Built {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let store = LocalStore::open(&tmp.path().join("cache")).unwrap();
        let built = Self {
            tmp,
            store,
            outputs: vec!["dist/**".to_string()],
        };
        built.write("dist/index.js", b"export const a = 1;\n", 0o644);
        built.write("dist/bin/run.sh", b"#!/bin/sh\necho hi\n", 0o755);
        fs_err::create_dir_all(built.path("dist/empty")).unwrap();
        std::os::unix::fs::symlink("index.js", built.path("dist/main.js")).unwrap();
        let info = ArtifactInfo {
            key: KEY.into(),
            duration_ms: 1,
            exit_code: 0,
        };
        let packed = crate::pack(
            &built.pkg(),
            &built.outputs,
            &[],
            b"log",
            &info,
            built.store.scratch_dir(),
        )
        .unwrap();
        built.store.put(KEY, &packed).unwrap();
        built
    }

    fn pkg(&self) -> PathBuf {
        self.tmp.path().join("pkg")
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.pkg().join(rel)
    }

    fn write(&self, rel: &str, contents: &[u8], mode: u32) {
        let path = self.path(rel);
        fs_err::create_dir_all(path.parent().unwrap()).unwrap();
        fs_err::write(&path, contents).unwrap();
        fs_err::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    fn restore(&self) -> Restored {
        self.store
            .restore(KEY, &self.pkg(), &self.outputs, &[])
            .unwrap()
    }

    /// Inode and mtime of `rel` (not following a symlink).
    fn identity(&self, rel: &str) -> (u64, SystemTime) {
        let meta = fs_err::symlink_metadata(self.path(rel)).unwrap();
        (meta.ino(), meta.modified().unwrap())
    }

    /// Backdates the files' mtimes, so a rewrite could not keep them even within one tick.
    fn backdate(&self, rels: &[&str]) {
        let past = SystemTime::now() - Duration::from_secs(3600);
        for rel in rels {
            let file = fs_err::File::open(self.path(rel)).unwrap();
            file.file().set_modified(past).unwrap();
        }
    }

    fn temp_files_left(&self) -> Vec<String> {
        let mut left = Vec::new();
        let mut stack = vec![self.pkg()];
        while let Some(dir) = stack.pop() {
            for entry in fs_err::read_dir(&dir).unwrap() {
                let entry = entry.unwrap();
                if entry.file_type().unwrap().is_dir() {
                    stack.push(entry.path());
                }
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with(".kiln-restore-") {
                    left.push(name);
                }
            }
        }
        left
    }
}

const ALL: [&str; 6] = [
    "dist",
    "dist/index.js",
    "dist/bin",
    "dist/bin/run.sh",
    "dist/empty",
    "dist/main.js",
];

fn identities(built: &Built, rels: &[&str]) -> Vec<(u64, SystemTime)> {
    rels.iter().map(|rel| built.identity(rel)).collect()
}

fn counts(restored: &Restored) -> (usize, usize, usize) {
    (restored.files, restored.files_written, restored.files_kept)
}

#[test]
fn identical_outputs_are_left_untouched() {
    let built = Built::new();
    built.backdate(&["dist/index.js", "dist/bin/run.sh"]);
    let before = identities(&built, &ALL);

    let restored = built.restore();

    assert_eq!(counts(&restored), (3, 0, 3), "(files, written, kept)");
    assert_eq!(identities(&built, &ALL), before, "same inodes and mtimes");
    assert_eq!(restored.log.to_vec().unwrap(), b"log");
}

#[test]
fn a_modified_file_is_rewritten_and_the_rest_kept() {
    let built = Built::new();
    // Same size and mode: only the content digest tells them apart.
    built.write("dist/index.js", b"export const a = 2;\n", 0o644);
    built.backdate(&["dist/bin/run.sh"]);
    let untouched = ["dist/bin/run.sh", "dist/main.js", "dist/empty"];
    let before = identities(&built, &untouched);

    let restored = built.restore();

    assert_eq!(counts(&restored), (3, 1, 2));
    assert_eq!(
        fs_err::read(built.path("dist/index.js")).unwrap(),
        b"export const a = 1;\n"
    );
    assert_eq!(identities(&built, &untouched), before);
    assert_eq!(built.temp_files_left(), Vec::<String>::new());
}

#[test]
fn a_file_differing_only_in_mode_is_rewritten_with_the_artifacts_mode() {
    let built = Built::new();
    fs_err::set_permissions(
        built.path("dist/bin/run.sh"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();

    assert_eq!(counts(&built.restore()), (3, 1, 2));
    let mode = fs_err::metadata(built.path("dist/bin/run.sh"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755);
}

#[test]
fn a_stale_file_is_removed_and_the_rest_kept() {
    let built = Built::new();
    built.write("dist/stale.js", b"old build", 0o644);
    built.write("dist/old/gone.js", b"old build", 0o644);
    built.write("src/index.ts", b"source", 0o644);
    // `dist` itself changes: entries are removed from it.
    let before = identities(&built, &ALL[1..]);

    assert_eq!(counts(&built.restore()), (3, 0, 3));
    assert!(!built.path("dist/stale.js").exists());
    assert!(!built.path("dist/old").exists(), "stale directory removed");
    assert_eq!(
        fs_err::read(built.path("src/index.ts")).unwrap(),
        b"source",
        "not an output"
    );
    assert_eq!(identities(&built, &ALL[1..]), before);
}

#[test]
fn a_missing_file_is_written_and_the_rest_kept() {
    let built = Built::new();
    fs_err::remove_file(built.path("dist/bin/run.sh")).unwrap();
    let before = identities(&built, &["dist/index.js", "dist/main.js"]);

    assert_eq!(counts(&built.restore()), (3, 1, 2));
    assert_eq!(
        fs_err::read(built.path("dist/bin/run.sh")).unwrap(),
        b"#!/bin/sh\necho hi\n"
    );
    assert_eq!(
        identities(&built, &["dist/index.js", "dist/main.js"]),
        before
    );
}

#[test]
fn a_symlink_with_a_different_target_is_replaced() {
    let built = Built::new();
    fs_err::remove_file(built.path("dist/main.js")).unwrap();
    std::os::unix::fs::symlink("bin/run.sh", built.path("dist/main.js")).unwrap();

    assert_eq!(counts(&built.restore()), (3, 1, 2));
    assert_eq!(
        fs_err::read_link(built.path("dist/main.js")).unwrap(),
        Path::new("index.js")
    );
    assert_eq!(built.temp_files_left(), Vec::<String>::new());
}

#[test]
fn a_symlink_to_identical_content_is_replaced_by_the_file_not_read_through() {
    let built = Built::new();
    let outside = built.tmp.path().join("outside.js");
    fs_err::write(&outside, b"export const a = 1;\n").unwrap();
    fs_err::remove_file(built.path("dist/index.js")).unwrap();
    std::os::unix::fs::symlink(&outside, built.path("dist/index.js")).unwrap();

    assert_eq!(counts(&built.restore()), (3, 1, 2));
    let meta = fs_err::symlink_metadata(built.path("dist/index.js")).unwrap();
    assert!(meta.file_type().is_file(), "a real file now");
    assert_eq!(
        fs_err::read(&outside).unwrap(),
        b"export const a = 1;\n",
        "the target is left alone"
    );
}

#[test]
fn a_hard_linked_output_is_replaced_not_written_through() {
    let built = Built::new();
    let outside = built.tmp.path().join("outside.js");
    fs_err::write(&outside, b"someone else's file").unwrap();
    fs_err::remove_file(built.path("dist/index.js")).unwrap();
    fs_err::hard_link(&outside, built.path("dist/index.js")).unwrap();

    assert_eq!(counts(&built.restore()), (3, 1, 2));
    assert_eq!(
        fs_err::read(built.path("dist/index.js")).unwrap(),
        b"export const a = 1;\n"
    );
    assert_eq!(fs_err::read(&outside).unwrap(), b"someone else's file");
}

#[test]
fn a_file_where_the_artifact_has_a_directory_is_removed() {
    let built = Built::new();
    fs_err::remove_dir(built.path("dist/empty")).unwrap();
    built.write("dist/empty", b"not a directory", 0o644);

    assert_eq!(counts(&built.restore()), (3, 0, 3));
    assert!(built.path("dist/empty").is_dir());
}

#[test]
fn a_fifo_where_the_artifact_has_a_file_is_replaced_without_blocking() {
    let built = Built::new();
    fs_err::remove_file(built.path("dist/index.js")).unwrap();
    let status = std::process::Command::new("mkfifo")
        .arg(built.path("dist/index.js"))
        .status()
        .unwrap();
    assert!(status.success());

    assert_eq!(counts(&built.restore()), (3, 1, 2));
    assert_eq!(
        fs_err::read(built.path("dist/index.js")).unwrap(),
        b"export const a = 1;\n"
    );
}

#[test]
fn a_restore_into_an_empty_package_writes_everything() {
    let built = Built::new();
    fs_err::remove_dir_all(built.path("dist")).unwrap();

    assert_eq!(counts(&built.restore()), (3, 3, 0));
    assert!(built.path("dist/empty").is_dir());
    assert_eq!(
        fs_err::read(built.path("dist/main.js")).unwrap(),
        b"export const a = 1;\n"
    );
}

#[test]
fn a_restore_never_replaces_or_removes_an_output_kiln_did_not_write() {
    let built = Built::new();
    let only = |allowed: &'static str| move |rel: &str| rel == allowed;
    let restore = |may: &dyn Fn(&str) -> bool| {
        built
            .store
            .restore_over(KEY, &built.pkg(), &built.outputs, &[], may)
    };

    // Identical outputs are no replacement, whatever the caller allows.
    restore(&|_| false).unwrap();

    // A hand edit of an output: refused before anything is written.
    built.write("dist/index.js", b"hand written\n", 0o644);
    fs_err::remove_file(built.path("dist/bin/run.sh")).unwrap();
    let err = restore(&only("dist/bin/run.sh")).unwrap_err();
    assert!(
        matches!(&err, crate::CacheError::WouldReplace { path, .. } if path == "dist/index.js"),
        "{err}"
    );
    assert_eq!(
        fs_err::read(built.path("dist/index.js")).unwrap(),
        b"hand written\n"
    );
    assert!(!built.path("dist/bin/run.sh").exists(), "nothing restored");
    assert!(built.store.get(KEY).unwrap().is_some(), "the entry is kept");

    // A file the artifact lacks would be removed: refused as well.
    built.write("dist/index.js", b"export const a = 1;\n", 0o644);
    built.write("dist/.env.local", b"SECRET=1\n", 0o600);
    let err = restore(&|_| false).unwrap_err();
    assert!(
        matches!(&err, crate::CacheError::WouldReplace { path, .. } if path == "dist/.env.local"),
        "{err}"
    );
    assert!(built.path("dist/.env.local").exists());

    // Allowed (kiln wrote them): restored as before.
    restore(&only("dist/.env.local")).unwrap();
    assert!(!built.path("dist/.env.local").exists());
    assert_eq!(
        fs_err::read(built.path("dist/bin/run.sh")).unwrap(),
        b"#!/bin/sh\necho hi\n"
    );
}
