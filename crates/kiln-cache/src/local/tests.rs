use std::os::unix::fs::PermissionsExt;
use std::sync::Barrier;
use std::time::Duration;

use super::*;
use crate::meta::ArtifactInfo;

const KEY: &str = "9f2c4e1d";

fn outputs(patterns: &[&str]) -> Vec<String> {
    patterns.iter().map(|p| p.to_string()).collect()
}

fn write(path: &Path, contents: &[u8], mode: u32) {
    fs_err::create_dir_all(path.parent().unwrap()).unwrap();
    fs_err::write(path, contents).unwrap();
    fs_err::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn mode(path: &Path) -> u32 {
    fs_err::symlink_metadata(path).unwrap().permissions().mode() & 0o777
}

fn pack_and_put(store: &LocalStore, pkg: &Path, outs: &[String], log: &[u8], key: &str) {
    let info = ArtifactInfo {
        key: key.into(),
        duration_ms: 1234,
        exit_code: 0,
    };
    let packed = crate::pack(pkg, outs, &[], log, &info, store.scratch_dir()).unwrap();
    store.put(key, &packed).unwrap();
}

#[test]
fn restores_exactly_the_outputs_that_were_packed() {
    let tmp = tempfile::tempdir().unwrap();
    let pkg = tmp.path().join("pkg");
    let store = LocalStore::open(&tmp.path().join("cache")).unwrap();
    let script = b"#!/bin/sh\necho hi\n".to_vec();
    let index: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
    write(&pkg.join("dist/bin/run.sh"), &script, 0o755);
    write(&pkg.join("dist/index.js"), &index, 0o644);
    write(&pkg.join("dist/nested/deep/a.txt"), b"deep", 0o600);
    fs_err::create_dir_all(pkg.join("dist/empty")).unwrap();
    std::os::unix::fs::symlink("nested/deep/a.txt", pkg.join("dist/link")).unwrap();
    write(&pkg.join("dist/cache/big.bin"), b"excluded", 0o644);
    write(&pkg.join("src/index.ts"), b"source", 0o644);
    let outs = outputs(&["dist/**", "!dist/cache/**"]);
    pack_and_put(&store, &pkg, &outs, b"built in 1s\n", KEY);

    // The tree drifts: outputs deleted, changed, a stale one added.
    fs_err::remove_dir_all(pkg.join("dist/nested")).unwrap();
    fs_err::remove_dir(pkg.join("dist/empty")).unwrap();
    fs_err::remove_file(pkg.join("dist/link")).unwrap();
    write(&pkg.join("dist/index.js"), b"changed", 0o666);
    write(&pkg.join("dist/stale.js"), b"old build", 0o644);
    write(&pkg.join("dist/old/gone.js"), b"old build", 0o644);

    let restored = store.restore(KEY, &pkg, &outs, &[]).unwrap();
    assert_eq!(restored.log.to_vec().unwrap(), b"built in 1s\n");
    assert_eq!(restored.files, 4);
    assert_eq!(restored.meta.files, 4);
    assert_eq!(restored.meta.duration_ms, 1234);

    assert_eq!(fs_err::read(pkg.join("dist/bin/run.sh")).unwrap(), script);
    assert_eq!(mode(&pkg.join("dist/bin/run.sh")), 0o755);
    assert_eq!(fs_err::read(pkg.join("dist/index.js")).unwrap(), index);
    assert_eq!(mode(&pkg.join("dist/index.js")), 0o644);
    assert_eq!(
        fs_err::read(pkg.join("dist/nested/deep/a.txt")).unwrap(),
        b"deep"
    );
    assert_eq!(mode(&pkg.join("dist/nested/deep/a.txt")), 0o600);
    assert!(pkg.join("dist/empty").is_dir());
    let link = pkg.join("dist/link");
    assert!(
        fs_err::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(
        fs_err::read_link(&link).unwrap(),
        Path::new("nested/deep/a.txt")
    );
    assert!(!pkg.join("dist/stale.js").exists(), "stale output removed");
    assert!(!pkg.join("dist/old").exists(), "stale directory removed");
    assert_eq!(
        fs_err::read(pkg.join("dist/cache/big.bin")).unwrap(),
        b"excluded",
        "excluded file kept"
    );
    assert_eq!(
        fs_err::read(pkg.join("src/index.ts")).unwrap(),
        b"source",
        "non-output untouched"
    );
}

#[test]
fn excluded_files_are_not_packed() {
    let tmp = tempfile::tempdir().unwrap();
    let (pkg, other) = (tmp.path().join("pkg"), tmp.path().join("other"));
    let store = LocalStore::open(&tmp.path().join("cache")).unwrap();
    write(&pkg.join("dist/a.js"), b"a", 0o644);
    write(&pkg.join("dist/cache/x"), b"x", 0o644);
    let outs = outputs(&["dist/**", "!dist/cache/**"]);
    pack_and_put(&store, &pkg, &outs, b"", KEY);

    let restored = store.restore(KEY, &other, &outs, &[]).unwrap();
    assert_eq!(restored.files, 1);
    assert!(other.join("dist/a.js").is_file());
    assert!(!other.join("dist/cache").exists());
}

#[test]
fn long_and_unicode_paths_and_directory_modes_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let (pkg, other) = (tmp.path().join("pkg"), tmp.path().join("other"));
    let store = LocalStore::open(&tmp.path().join("cache")).unwrap();
    let deep = format!("dist/{}/{}/ünïcødé file.js", "a".repeat(80), "b".repeat(80));
    write(&pkg.join(&deep), b"deep", 0o644);
    let target = "../".repeat(3) + &"t".repeat(120);
    std::os::unix::fs::symlink(&target, pkg.join("dist/long-link")).unwrap();
    fs_err::create_dir_all(pkg.join("dist/private")).unwrap();
    fs_err::set_permissions(
        pkg.join("dist/private"),
        std::fs::Permissions::from_mode(0o700),
    )
    .unwrap();
    let outs = outputs(&["dist/**"]);
    pack_and_put(&store, &pkg, &outs, b"", KEY);

    store.restore(KEY, &other, &outs, &[]).unwrap();
    assert_eq!(fs_err::read(other.join(&deep)).unwrap(), b"deep");
    assert_eq!(
        fs_err::read_link(other.join("dist/long-link")).unwrap(),
        Path::new(&target)
    );
    assert_eq!(mode(&other.join("dist/private")), 0o700);
}

#[test]
fn a_task_without_outputs_still_replays_its_log() {
    let tmp = tempfile::tempdir().unwrap();
    let pkg = tmp.path().join("pkg");
    let store = LocalStore::open(&tmp.path().join("cache")).unwrap();
    write(&pkg.join("src/a.ts"), b"a", 0o644);
    pack_and_put(&store, &pkg, &[], b"lint ok\n", KEY);
    let restored = store.restore(KEY, &pkg, &[], &[]).unwrap();
    assert_eq!(
        (restored.log.to_vec().unwrap(), restored.files),
        (b"lint ok\n".to_vec(), 0)
    );
    assert!(pkg.join("src/a.ts").is_file());
}

#[test]
fn a_missing_key_is_a_miss() {
    let tmp = tempfile::tempdir().unwrap();
    let store = LocalStore::open(tmp.path()).unwrap();
    assert_eq!(store.get(KEY).unwrap(), None);
    let err = store
        .restore(KEY, tmp.path(), &outputs(&["dist/**"]), &[])
        .unwrap_err();
    assert!(matches!(err, CacheError::Missing { .. }) && err.is_unusable_entry());
}

#[test]
fn a_flipped_byte_in_the_blob_is_corrupt_and_evicted() {
    let tmp = tempfile::tempdir().unwrap();
    let pkg = tmp.path().join("pkg");
    let store = LocalStore::open(&tmp.path().join("cache")).unwrap();
    write(&pkg.join("dist/a.js"), b"original", 0o644);
    pack_and_put(&store, &pkg, &outputs(&["dist/**"]), b"log", KEY);
    let blob_path = store.blob_path(KEY);
    let mut bytes = fs_err::read(&blob_path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    fs_err::write(&blob_path, bytes).unwrap();
    write(&pkg.join("dist/a.js"), b"current", 0o644);

    let err = store
        .restore(KEY, &pkg, &outputs(&["dist/**"]), &[])
        .unwrap_err();
    assert!(
        matches!(err, CacheError::Corrupt { ref key, .. } if key == KEY),
        "{err}"
    );
    assert!(
        !blob_path.exists() && !store.meta_path(KEY).exists(),
        "both files evicted"
    );
    assert_eq!(
        fs_err::read(pkg.join("dist/a.js")).unwrap(),
        b"current",
        "nothing restored"
    );
    assert_eq!(store.get(KEY).unwrap(), None);
}

#[test]
fn truncated_metadata_is_corrupt_then_a_miss() {
    let tmp = tempfile::tempdir().unwrap();
    let pkg = tmp.path().join("pkg");
    let store = LocalStore::open(&tmp.path().join("cache")).unwrap();
    write(&pkg.join("dist/a.js"), b"a", 0o644);
    pack_and_put(&store, &pkg, &outputs(&["dist/**"]), b"log", KEY);
    let json = fs_err::read(store.meta_path(KEY)).unwrap();
    fs_err::write(store.meta_path(KEY), &json[..json.len() / 3]).unwrap();

    assert!(matches!(store.get(KEY), Err(CacheError::Corrupt { .. })));
    assert!(!store.blob_path(KEY).exists());
    assert_eq!(store.get(KEY).unwrap(), None);
}

#[test]
fn concurrent_puts_of_one_key_leave_a_valid_entry() {
    let tmp = tempfile::tempdir().unwrap();
    let store = LocalStore::open(&tmp.path().join("cache")).unwrap();
    let outs = outputs(&["dist/**"]);
    let keys: Vec<String> = (0..16).map(|i| format!("ab{i:02}")).collect();
    // Two packs per key with different contents, so a mixed-up pair would not verify.
    let packs: Vec<[PackedArtifact; 2]> = keys
        .iter()
        .map(|key| {
            [0, 1].map(|writer| {
                let pkg = tmp.path().join(format!("pkg-{key}-{writer}"));
                write(
                    &pkg.join("dist/out.txt"),
                    format!("writer {writer}").as_bytes(),
                    0o644,
                );
                let info = ArtifactInfo {
                    key: key.clone(),
                    duration_ms: writer,
                    exit_code: 0,
                };
                crate::pack(
                    &pkg,
                    &outs,
                    &[],
                    format!("log {writer}").as_bytes(),
                    &info,
                    store.scratch_dir(),
                )
                .unwrap()
            })
        })
        .collect();
    let barrier = Barrier::new(2);
    std::thread::scope(|scope| {
        for writer in 0..2 {
            let (store, packs, barrier) = (&store, &packs, &barrier);
            scope.spawn(move || {
                for pack in packs {
                    barrier.wait();
                    store.put(&pack[writer].meta().key, &pack[writer]).unwrap();
                }
            });
        }
    });
    for key in &keys {
        let target = tmp.path().join(format!("restored-{key}"));
        let restored = store.restore(key, &target, &outs, &[]).unwrap();
        let content = fs_err::read_to_string(target.join("dist/out.txt")).unwrap();
        assert_eq!(
            restored.log.to_vec().unwrap(),
            content.replace("writer", "log").as_bytes(),
            "log and outputs agree"
        );
    }
}

#[test]
fn the_first_writer_wins() {
    let tmp = tempfile::tempdir().unwrap();
    let pkg = tmp.path().join("pkg");
    let store = LocalStore::open(&tmp.path().join("cache")).unwrap();
    write(&pkg.join("dist/a.js"), b"a", 0o644);
    pack_and_put(&store, &pkg, &outputs(&["dist/**"]), b"first", KEY);
    pack_and_put(&store, &pkg, &outputs(&["dist/**"]), b"second", KEY);
    assert_eq!(
        store
            .restore(KEY, &pkg, &outputs(&["dist/**"]), &[])
            .unwrap()
            .log
            .to_vec()
            .unwrap(),
        b"first"
    );
}

#[test]
fn fetch_hands_over_a_verified_artifact_another_store_can_keep() {
    let tmp = tempfile::tempdir().unwrap();
    let pkg = tmp.path().join("pkg");
    let upper = LocalStore::open(&tmp.path().join("upper")).unwrap();
    let lower = LocalStore::open(&tmp.path().join("lower")).unwrap();
    write(&pkg.join("dist/a.js"), b"a", 0o644);
    pack_and_put(&upper, &pkg, &outputs(&["dist/**"]), b"log", KEY);

    let upper: &dyn CacheStore = &upper;
    assert_eq!(upper.contains(KEY).unwrap().unwrap().key, KEY);
    assert!(upper.fetch("00ff", lower.scratch_dir()).unwrap().is_none());
    let fetched = upper.fetch(KEY, lower.scratch_dir()).unwrap().unwrap();
    lower.store(&fetched).unwrap();
    drop(fetched);
    let restored = lower
        .restore(KEY, &tmp.path().join("copy"), &outputs(&["dist/**"]), &[])
        .unwrap();
    assert_eq!(restored.log.to_vec().unwrap(), b"log");
    assert!(
        upper.contains(KEY).unwrap().is_some(),
        "fetching leaves the source entry"
    );
}

#[test]
fn keys_that_could_name_other_files_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let store = LocalStore::open(tmp.path()).unwrap();
    for key in ["", "a", "../etc", "ab/cd", "a.json"] {
        assert!(
            matches!(store.get(key), Err(CacheError::InvalidKey { .. })),
            "{key}"
        );
    }
    let pkg = tmp.path().join("pkg");
    write(&pkg.join("dist/a.js"), b"a", 0o644);
    let info = ArtifactInfo {
        key: KEY.into(),
        duration_ms: 0,
        exit_code: 0,
    };
    let packed = crate::pack(
        &pkg,
        &outputs(&["dist/**"]),
        &[],
        b"",
        &info,
        store.scratch_dir(),
    )
    .unwrap();
    assert!(matches!(
        store.put("abcdef", &packed),
        Err(CacheError::KeyMismatch { .. })
    ));
}

#[test]
fn a_bare_directory_output_packs_restores_and_clears_its_subtree() {
    for pattern in ["dist", "dist/"] {
        let tmp = tempfile::tempdir().unwrap();
        let (pkg, other) = (tmp.path().join("pkg"), tmp.path().join("other"));
        let store = LocalStore::open(&tmp.path().join("cache")).unwrap();
        write(&pkg.join("dist/a.js"), b"a", 0o644);
        write(&pkg.join("dist/sub/b.js"), b"b", 0o644);
        let outs = outputs(&[pattern]);
        pack_and_put(&store, &pkg, &outs, b"", KEY);
        assert_eq!(store.get(KEY).unwrap().unwrap().files, 2, "{pattern}");

        write(&other.join("dist/stale.js"), b"old", 0o644);
        let restored = store.restore(KEY, &other, &outs, &[]).unwrap();
        assert_eq!(restored.files, 2, "{pattern}");
        assert_eq!(fs_err::read(other.join("dist/sub/b.js")).unwrap(), b"b");
        assert!(!other.join("dist/stale.js").exists(), "{pattern}");
    }
}

#[test]
fn put_replacing_repairs_a_bad_entry() {
    let tmp = tempfile::tempdir().unwrap();
    let pkg = tmp.path().join("pkg");
    let store = LocalStore::open(&tmp.path().join("cache")).unwrap();
    let outs = outputs(&["dist/**"]);
    write(&pkg.join("dist/a.js"), b"bad", 0o644);
    pack_and_put(&store, &pkg, &outs, b"bad", KEY);
    let old = store.get(KEY).unwrap().unwrap();

    write(&pkg.join("dist/a.js"), b"good", 0o644);
    let info = ArtifactInfo {
        key: KEY.into(),
        duration_ms: 1,
        exit_code: 0,
    };
    let packed = crate::pack(&pkg, &outs, &[], b"good", &info, store.scratch_dir()).unwrap();
    store.put(KEY, &packed).unwrap();
    assert_eq!(store.get(KEY).unwrap().unwrap(), old, "put keeps the first");
    store.put_replacing(KEY, &packed).unwrap();
    assert_eq!(store.get(KEY).unwrap().unwrap().blob, packed.meta().blob);

    // A reader that still held the old metadata sees a mismatch; its eviction spares the
    // new entry.
    let refused = store.refused(&old, &pkg, Refusal::Corrupt("digest".into()));
    assert!(matches!(refused, CacheError::Corrupt { .. }));
    let other = tmp.path().join("other");
    let restored = store.restore(KEY, &other, &outs, &[]).unwrap();
    assert_eq!(restored.log.to_vec().unwrap(), b"good");
    assert_eq!(fs_err::read(other.join("dist/a.js")).unwrap(), b"good");
}

#[test]
fn a_root_task_never_touches_nested_packages() {
    let tmp = tempfile::tempdir().unwrap();
    let (root, other) = (tmp.path().join("repo"), tmp.path().join("copy"));
    let store = LocalStore::open(&tmp.path().join("cache")).unwrap();
    write(&root.join("tsconfig.tsbuildinfo"), b"root", 0o644);
    write(&root.join("packages/a/tsconfig.tsbuildinfo"), b"a", 0o644);
    let outs = outputs(&["**/*.tsbuildinfo"]);
    let nested = outputs(&["packages/a"]);
    let info = ArtifactInfo {
        key: KEY.into(),
        duration_ms: 1,
        exit_code: 0,
    };
    let packed = crate::pack(&root, &outs, &nested, b"", &info, store.scratch_dir()).unwrap();
    assert_eq!(packed.meta().files, 1, "only the root's own output");
    store.put(KEY, &packed).unwrap();

    write(&root.join("packages/a/tsconfig.tsbuildinfo"), b"a2", 0o644);
    store.restore(KEY, &root, &outs, &nested).unwrap();
    assert_eq!(
        fs_err::read(root.join("packages/a/tsconfig.tsbuildinfo")).unwrap(),
        b"a2",
        "neither removed nor replaced"
    );
    store.restore(KEY, &other, &outs, &nested).unwrap();
    assert!(!other.join("packages").exists());
    assert_eq!(
        store
            .read_log(KEY, &outs, &nested)
            .unwrap()
            .log
            .to_vec()
            .unwrap(),
        b""
    );
}

#[test]
fn open_removes_only_old_temp_files_of_its_own() {
    let tmp = tempfile::tempdir().unwrap();
    let scratch = tmp.path().join("tmp");
    let old = SystemTime::now() - STALE_TEMP_AGE - Duration::from_secs(60);
    for (name, modified) in [
        (".pack-old.tar.zst", Some(old)),
        (".blob-old", Some(old)),
        (".meta-old", Some(old)),
        (".pack-fresh.tar.zst", None),
        ("someone-elses", Some(old)),
    ] {
        write(&scratch.join(name), b"x", 0o644);
        if let Some(modified) = modified {
            fs_err::File::options()
                .write(true)
                .open(scratch.join(name))
                .unwrap()
                .set_modified(modified)
                .unwrap();
        }
    }
    LocalStore::open(tmp.path()).unwrap();
    let mut left: Vec<String> = fs_err::read_dir(&scratch)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    assert_eq!(left, [".pack-fresh.tar.zst", "someone-elses"]);
}

/// Run with `cargo test -p kiln-cache -- --ignored --nocapture restore_speed`.
#[test]
#[ignore = "a measurement, not a check"]
#[allow(clippy::print_stderr)]
fn restore_speed_of_a_small_artifact() {
    let tmp = tempfile::tempdir().unwrap();
    let pkg = tmp.path().join("pkg");
    let store = LocalStore::open(&tmp.path().join("cache")).unwrap();
    write(&pkg.join("dist/index.js"), &[b'x'; 4000], 0o644);
    write(&pkg.join("dist/index.d.ts"), &[b'y'; 1000], 0o644);
    let outs = outputs(&["dist/**"]);
    let rounds = 2000;
    let keys: Vec<String> = (0..rounds).map(|i| format!("k{i:04}")).collect();
    let started = std::time::Instant::now();
    for key in &keys {
        pack_and_put(&store, &pkg, &outs, b"compiled 2 files\n", key);
    }
    let pack_time = started.elapsed();
    let started = std::time::Instant::now();
    for key in &keys {
        store.restore(key, &pkg, &outs, &[]).unwrap();
    }
    let restore_time = started.elapsed();
    eprintln!(
        "{rounds} small artifacts: pack+put {:?} each, restore {:?} each, total restore {:?}",
        pack_time / rounds,
        restore_time / rounds,
        restore_time
    );
}

#[test]
fn a_result_larger_than_the_restore_limit_is_not_stored() {
    let tmp = tempfile::tempdir().unwrap();
    let options = LocalStoreOptions {
        max_unpacked_bytes: 1000,
    };
    let store = LocalStore::open_with(&tmp.path().join("cache"), options).unwrap();
    let pkg = tmp.path().join("pkg");
    write(&pkg.join("dist/big.bin"), &[7u8; 2000], 0o644);
    let info = ArtifactInfo {
        key: "big1".into(),
        duration_ms: 1,
        exit_code: 0,
    };
    let packed = crate::pack(
        &pkg,
        &outputs(&["dist/**"]),
        &[],
        b"log",
        &info,
        store.scratch_dir(),
    )
    .unwrap();
    assert_eq!(packed.content_bytes(), Some(2003));
    let err = store.put("big1", &packed).unwrap_err();
    assert!(
        matches!(
            err,
            CacheError::TooLargeToStore {
                bytes: 2003,
                limit: 1000,
                ..
            }
        ),
        "{err}"
    );
    assert!(store.peek("big1").unwrap().is_none());
}

#[test]
fn a_directory_where_an_entry_goes_is_reported_by_verify_and_never_blocks_a_store() {
    let tmp = tempfile::tempdir().unwrap();
    let pkg = tmp.path().join("pkg");
    let store = LocalStore::open(&tmp.path().join("cache")).unwrap();
    write(&pkg.join("dist/a.js"), b"a", 0o644);
    let outs = outputs(&["dist/**"]);

    fs_err::create_dir_all(store.blob_path(KEY).join("junk")).unwrap();
    let report = store.verify().unwrap();
    assert_eq!(report.bad.len(), 1, "{report:?}");
    assert!(
        report.bad[0].reason.contains("is a directory"),
        "{report:?}"
    );
    assert!(!store.blob_path(KEY).exists(), "repaired");

    // A store goes through one too (metadata side this time).
    fs_err::create_dir_all(store.meta_path(KEY)).unwrap();
    pack_and_put(&store, &pkg, &outs, b"log", KEY);
    fs_err::remove_dir_all(pkg.join("dist")).unwrap();
    assert_eq!(
        store
            .restore(KEY, &pkg, &outs, &[])
            .unwrap()
            .log
            .to_vec()
            .unwrap(),
        b"log"
    );
    assert_eq!(store.verify().unwrap().bad.len(), 0);
}

#[test]
fn an_entry_copied_under_another_key_with_its_key_rewritten_is_never_a_hit() {
    let tmp = tempfile::tempdir().unwrap();
    let pkg = tmp.path().join("pkg");
    let store = LocalStore::open(&tmp.path().join("cache")).unwrap();
    write(&pkg.join("dist/a.js"), b"from the other key", 0o644);
    let outs = outputs(&["dist/**"]);
    pack_and_put(&store, &pkg, &outs, b"log", KEY);

    let other = "9f77aa00";
    fs_err::create_dir_all(store.shard(other)).unwrap();
    fs_err::copy(store.blob_path(KEY), store.blob_path(other)).unwrap();
    let text = fs_err::read_to_string(store.meta_path(KEY)).unwrap();
    fs_err::write(store.meta_path(other), text.replace(KEY, other)).unwrap();

    let err = store.restore(other, &pkg, &outs, &[]).unwrap_err();
    assert!(
        matches!(&err, CacheError::Corrupt { reason, .. } if reason.contains("seal")),
        "{err}"
    );
    assert!(store.get(other).unwrap().is_none(), "evicted");
    assert!(store.get(KEY).unwrap().is_some(), "the original is fine");

    // Without any seal (an older kiln's entry, or one stripped of it): a quiet miss, and a
    // store replaces it.
    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json.as_object_mut().unwrap().remove("seal").unwrap();
    fs_err::write(store.meta_path(KEY), json.to_string()).unwrap();
    assert!(store.get(KEY).unwrap().is_none());
    pack_and_put(&store, &pkg, &outs, b"log", KEY);
    assert!(store.get(KEY).unwrap().is_some());
}
