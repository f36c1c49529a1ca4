//! Never trust a download: artifacts crafted by an attacker who can write to the shared cache
//! (valid digests and metadata, hostile content) are planted in each real remote under the
//! keys of a repository's tasks. A clean checkout then builds with that remote: nothing may be
//! written outside a package, every poisoned task is rebuilt, the outputs are exactly those
//! of a clean build, and no poisoned entry stays in the local cache.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use kiln_cache::PackedArtifact;
use kiln_testkit::crafted::{self, Entry};

use crate::remote::{build, build_keys, second_clone};
use crate::remotes::{Kind, Remote};
use crate::support::{Repo, dist_trees, stderr, stdout};

/// 10 GB of zeros behind one tar header, about 300 KB compressed.
const BOMB_BYTES: u64 = 10_000_000_000;

#[test]
fn crafted_artifacts_from_redis_never_escape_the_package() {
    crafted_artifacts_never_escape_the_package(Kind::Redis);
}

#[test]
fn crafted_artifacts_from_a_turborepo_cache_never_escape_the_package() {
    crafted_artifacts_never_escape_the_package(Kind::Http);
}

#[test]
fn crafted_artifacts_from_s3_never_escape_the_package() {
    crafted_artifacts_never_escape_the_package(Kind::S3);
}

#[test]
fn crafted_artifacts_from_a_reapi_cache_never_escape_the_package() {
    crafted_artifacts_never_escape_the_package(Kind::Reapi);
}

/// The attacks, one per package.
fn attacks(key: &str, n: usize, outside: &Path, scratch: &Path) -> PackedArtifact {
    let absolute = outside.join("absolute-escape");
    let through_link = b"outputs/dist/link/pwned";
    match n {
        0 => crafted::artifact(
            key,
            &[
                Entry::File(b"outputs/../../escape-dotdot", b"pwned"),
                Entry::File(b"outputs/dist/../../../escape-dotdot2", b"pwned"),
            ],
            scratch,
        ),
        1 => crafted::artifact(
            key,
            &[
                Entry::File(absolute.as_os_str().as_bytes(), b"pwned"),
                Entry::File(
                    format!("outputs/{}", absolute.display()).as_bytes(),
                    b"pwned",
                ),
            ],
            scratch,
        ),
        2 => crafted::artifact(
            key,
            &[
                Entry::Dir(b"outputs/dist"),
                Entry::Symlink(b"outputs/dist/link", outside.as_os_str().as_bytes()),
                Entry::File(through_link, b"pwned"),
            ],
            scratch,
        ),
        3 => crafted::bomb(key, BOMB_BYTES, scratch),
        4 => crafted::artifact(key, &[Entry::CharDevice(b"outputs/dist/null")], scratch),
        _ => crafted::artifact(
            key,
            &[Entry::HardLink(b"outputs/dist/passwd", b"/etc/passwd")],
            scratch,
        ),
    }
}

fn crafted_artifacts_never_escape_the_package(kind: Kind) {
    let remote = Remote::start(kind);
    let repo = Repo::generated(6, &[]);
    let outside = tempfile::tempdir().unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let client = remote.client();
    let keys = build_keys(&repo);
    assert_eq!(keys.len(), 6);
    for (n, key) in keys.values().enumerate() {
        client
            .store(&attacks(key, n, outside.path(), scratch.path()))
            .unwrap();
    }
    let before: Vec<_> = std::fs::read_dir(outside.path()).unwrap().collect();
    assert!(before.is_empty());

    let out = build(&repo, &remote.url(), &["--cache", "local:rw,remote:r"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(repo.take_exec_log().len(), 6, "every poisoned task ran");
    let err = stderr(&out);
    assert!(err.contains("unsafe entry"), "{err}");
    assert!(err.contains("expands past"), "{err}");

    // Nothing outside the packages.
    assert!(!repo.path("escape-dotdot").exists());
    assert!(!repo.path("escape-dotdot2").exists());
    assert!(!repo.path("../escape-dotdot2").exists());
    let after: Vec<_> = std::fs::read_dir(outside.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(after.is_empty(), "written outside: {after:?}");

    // The outputs are a clean build's, and the local cache kept only good entries.
    let clean = second_clone(&repo);
    clean.run_ok(&["run", "build"]);
    assert_eq!(dist_trees(&repo), dist_trees(&clean));
    let again = repo.run_ok(&["run", "build"]);
    assert!(stdout(&again).contains("6 cached"), "{}", stdout(&again));
    assert!(repo.take_exec_log().is_empty());
}
