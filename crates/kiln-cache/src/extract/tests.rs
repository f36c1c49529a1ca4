use std::collections::BTreeSet;
use std::io::Write;

use tar::EntryType;

use super::*;
use crate::digest::BlobDigest;
use crate::meta::ArtifactInfo;
use crate::{CacheError, LocalStore, LocalStoreOptions, PackedArtifact};

const KEY: &str = "evil0001";

type RawTar = tar::Builder<zstd::Encoder<'static, fs_err::File>>;

/// A header written field by field, so names the `tar` crate would refuse (`..`,
/// absolute) can be crafted.
fn header(name: &[u8], kind: EntryType, size: u64, link: &[u8]) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    let gnu = header.as_gnu_mut().unwrap();
    gnu.name[..name.len()].copy_from_slice(name);
    gnu.linkname[..link.len()].copy_from_slice(link);
    header.set_entry_type(kind);
    header.set_mode(0o644);
    header.set_size(size);
    header.set_cksum();
    header
}

fn append(tar: &mut RawTar, name: &[u8], kind: EntryType, data: &[u8]) {
    if kind == EntryType::Regular {
        tar.append(&header(name, kind, data.len() as u64, b""), data)
            .unwrap();
    } else {
        tar.append(&header(name, kind, 0, data), io::empty())
            .unwrap();
    }
}

/// Stores a hand-made artifact with valid metadata: only the content is hostile.
fn store_raw(store: &LocalStore, files: u64, build: impl FnOnce(&mut RawTar)) {
    let temp = tempfile::Builder::new()
        .tempfile_in(store.scratch_dir())
        .unwrap()
        .into_temp_path();
    let encoder = zstd::Encoder::new(fs_err::File::create(&temp).unwrap(), 3).unwrap();
    let mut tar = tar::Builder::new(encoder);
    append(&mut tar, b"log", EntryType::Regular, b"hostile log");
    build(&mut tar);
    tar.into_inner().unwrap().finish().unwrap().flush().unwrap();
    let info = ArtifactInfo {
        key: KEY.into(),
        duration_ms: 1,
        exit_code: 0,
    };
    let meta = ArtifactMeta::new(&info, BlobDigest::of_file(&temp).unwrap(), files);
    store
        .put(KEY, &PackedArtifact::from_parts(temp, meta))
        .unwrap();
}

/// Every path under `root` except the cache, to prove nothing was written anywhere.
fn tree(root: &Path) -> BTreeSet<PathBuf> {
    let mut paths = BTreeSet::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs_err::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.ends_with("cache") {
                continue;
            }
            if fs_err::symlink_metadata(&path).unwrap().is_dir() {
                stack.push(path.clone());
            }
            paths.insert(path);
        }
    }
    paths
}

struct Setup {
    tmp: tempfile::TempDir,
    store: LocalStore,
}

impl Setup {
    fn new(limit: u64) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let options = LocalStoreOptions {
            max_unpacked_bytes: limit,
        };
        let store = LocalStore::open_with(&tmp.path().join("cache"), options).unwrap();
        fs_err::create_dir_all(tmp.path().join("repo/pkg/dist")).unwrap();
        fs_err::write(tmp.path().join("repo/pkg/dist/keep.js"), "current").unwrap();
        Self { tmp, store }
    }

    fn pkg(&self) -> PathBuf {
        self.tmp.path().join("repo/pkg")
    }

    /// Restores, expecting a refusal that evicted the entry and changed nothing on disk.
    fn refused(&self, outputs: &[&str]) -> CacheError {
        let before = tree(self.tmp.path());
        let outputs: Vec<String> = outputs.iter().map(|o| o.to_string()).collect();
        let err = self
            .store
            .restore(KEY, &self.pkg(), &outputs, &[])
            .unwrap_err();
        assert_eq!(
            tree(self.tmp.path()),
            before,
            "nothing written or removed ({err})"
        );
        assert!(err.is_unusable_entry(), "{err}");
        assert_eq!(self.store.get(KEY).unwrap(), None, "evicted");
        err
    }

    /// Restores, expecting a failure blamed on the disk: not an unusable entry, and kept.
    fn failed_on_disk(&self, outputs: &[&str]) -> String {
        let outputs: Vec<String> = outputs.iter().map(|o| o.to_string()).collect();
        let err = self
            .store
            .restore(KEY, &self.pkg(), &outputs, &[])
            .unwrap_err();
        assert!(
            matches!(err, CacheError::Restore { .. }) && !err.is_unusable_entry(),
            "{err}"
        );
        assert!(self.store.get(KEY).unwrap().is_some(), "kept");
        format!("{:?}", std::error::Error::source(&err).unwrap())
    }
}

#[test]
fn a_dot_dot_path_is_refused() {
    let s = Setup::new(1 << 20);
    store_raw(&s.store, 1, |tar| {
        append(tar, b"outputs/dist/../../escape", EntryType::Regular, b"x")
    });
    assert!(matches!(s.refused(&["dist/**"]), CacheError::Unsafe { .. }));
}

#[test]
fn absolute_and_unnormalised_paths_are_refused() {
    for name in [
        &b"/abs/path"[..],
        b"outputs//abs/path",
        b"outputs/dist/./a",
        b"outputs/",
    ] {
        let s = Setup::new(1 << 20);
        store_raw(&s.store, 1, |tar| {
            append(tar, name, EntryType::Regular, b"x")
        });
        assert!(matches!(s.refused(&["**"]), CacheError::Unsafe { .. }));
    }
}

#[test]
fn a_file_through_a_symlink_of_the_same_artifact_is_refused() {
    let s = Setup::new(1 << 20);
    store_raw(&s.store, 2, |tar| {
        append(tar, b"outputs/dist/link", EntryType::Symlink, b"../../");
        append(tar, b"outputs/dist/link/x", EntryType::Regular, b"pwned");
    });
    let err = s.refused(&["dist/**"]);
    assert!(
        matches!(err, CacheError::Unsafe { ref entry, .. } if entry == "dist/link/x"),
        "{err}"
    );
}

#[test]
fn a_symlink_on_disk_fails_the_restore_without_evicting_the_entry() {
    let s = Setup::new(1 << 20);
    let outside = s.tmp.path().join("outside");
    fs_err::create_dir_all(&outside).unwrap();
    std::os::unix::fs::symlink("../../outside", s.pkg().join("lib")).unwrap();
    store_raw(&s.store, 1, |tar| {
        append(tar, b"outputs/lib/a.js", EntryType::Regular, b"pwned")
    });
    let err = s.failed_on_disk(&["lib/*.js"]);
    assert!(err.contains("lib") && err.contains("symlink"), "{err}");
    assert!(!outside.join("a.js").exists());
}

#[test]
fn a_directory_in_the_way_fails_the_restore_without_evicting_the_entry() {
    let s = Setup::new(1 << 20);
    fs_err::create_dir_all(s.pkg().join("dist/a.js")).unwrap();
    fs_err::write(s.pkg().join("dist/a.js/kept"), "excluded").unwrap();
    store_raw(&s.store, 1, |tar| {
        append(tar, b"outputs/dist/a.js", EntryType::Regular, b"a")
    });
    let err = s.failed_on_disk(&["dist/**", "!dist/a.js/kept"]);
    assert!(
        err.contains("dist/a.js") && err.contains("directory"),
        "{err}"
    );
}

#[test]
fn a_file_on_disk_where_a_directory_goes_fails_the_restore_without_evicting_the_entry() {
    let s = Setup::new(1 << 20);
    fs_err::write(s.pkg().join("lib"), "a file").unwrap();
    store_raw(&s.store, 1, |tar| {
        append(tar, b"outputs/lib/a.js", EntryType::Regular, b"a")
    });
    let err = s.failed_on_disk(&["lib/*.js"]);
    assert!(err.contains("lib") && err.contains("file"), "{err}");
}

#[test]
fn an_entry_inside_a_nested_package_is_refused() {
    let s = Setup::new(1 << 20);
    store_raw(&s.store, 1, |tar| {
        append(
            tar,
            b"outputs/packages/a/x.tsbuildinfo",
            EntryType::Regular,
            b"x",
        )
    });
    let outputs = vec!["**/*.tsbuildinfo".to_string()];
    let nested = vec!["packages/a".to_string()];
    let err = s
        .store
        .restore(KEY, &s.pkg(), &outputs, &nested)
        .unwrap_err();
    assert!(
        matches!(err, CacheError::Unsafe { reason, .. } if reason.contains("nested")),
        "{err}"
    );
    assert!(!s.pkg().join("packages").exists());
    assert_eq!(s.store.get(KEY).unwrap(), None, "evicted");
}

#[test]
fn devices_fifos_and_hard_links_are_refused() {
    let cases = [
        (&b"outputs/dist/dev"[..], EntryType::Char, &b""[..]),
        (b"outputs/dist/disk", EntryType::Block, b""),
        (b"outputs/dist/fifo", EntryType::Fifo, b""),
        (b"outputs/dist/hard", EntryType::Link, b"/etc/passwd"),
    ];
    for (name, kind, link) in cases {
        let s = Setup::new(1 << 20);
        store_raw(&s.store, 1, |tar| append(tar, name, kind, link));
        assert!(
            matches!(s.refused(&["dist/**"]), CacheError::Unsafe { .. }),
            "{kind:?}"
        );
    }
}

#[test]
fn an_entry_outside_the_declared_outputs_is_refused() {
    let s = Setup::new(1 << 20);
    store_raw(&s.store, 1, |tar| {
        append(tar, b"outputs/src/index.ts", EntryType::Regular, b"pwned")
    });
    assert!(matches!(s.refused(&["dist/**"]), CacheError::Unsafe { .. }));
}

#[test]
fn a_decompression_bomb_is_refused_before_anything_is_written() {
    let s = Setup::new(1 << 20);
    store_raw(&s.store, 1, |tar| {
        let size = 64 << 20;
        let zeros = io::repeat(0).take(size);
        tar.append(
            &header(b"outputs/dist/bomb", EntryType::Regular, size, b""),
            zeros,
        )
        .unwrap();
    });
    let compressed = s.store.get(KEY).unwrap().unwrap().blob.size;
    assert!(
        compressed < 64 << 10,
        "the bomb is small on disk: {compressed} bytes"
    );
    assert!(matches!(
        s.refused(&["dist/**"]),
        CacheError::TooLarge {
            limit: 1_048_576,
            ..
        }
    ));
}

#[test]
fn symlink_targets_are_data_and_may_point_anywhere() {
    let s = Setup::new(1 << 20);
    store_raw(&s.store, 1, |tar| {
        append(
            tar,
            b"outputs/dist/passwd",
            EntryType::Symlink,
            b"/etc/passwd",
        )
    });
    let restored = s
        .store
        .restore(KEY, &s.pkg(), &["dist/**".to_string()], &[])
        .unwrap();
    assert_eq!(restored.log.to_vec().unwrap(), b"hostile log");
    assert_eq!(
        fs_err::read_link(s.pkg().join("dist/passwd")).unwrap(),
        Path::new("/etc/passwd")
    );
    assert!(
        !s.pkg().join("dist/keep.js").exists(),
        "stale output replaced"
    );
}

#[test]
fn a_file_count_that_disagrees_with_the_metadata_is_corrupt() {
    let s = Setup::new(1 << 20);
    store_raw(&s.store, 5, |tar| {
        append(tar, b"outputs/dist/a.js", EntryType::Regular, b"a")
    });
    assert!(matches!(
        s.refused(&["dist/**"]),
        CacheError::Corrupt { .. }
    ));
}

#[test]
fn ancestors_are_listed_nearest_first() {
    assert_eq!(ancestors("a/b/c").collect::<Vec<_>>(), ["a/b", "a"]);
    assert_eq!(ancestors("a").count(), 0);
}

#[test]
fn the_limit_allows_exactly_its_size() {
    let exceeded = Cell::new(false);
    let mut at = Limited {
        inner: &[7u8; 10][..],
        remaining: 10,
        exceeded: &exceeded,
    };
    assert_eq!(io::copy(&mut at, &mut io::sink()).unwrap(), 10);
    let mut past = Limited {
        inner: &[7u8; 11][..],
        remaining: 10,
        exceeded: &exceeded,
    };
    assert!(io::copy(&mut past, &mut io::sink()).is_err());
    assert!(exceeded.get());
}
