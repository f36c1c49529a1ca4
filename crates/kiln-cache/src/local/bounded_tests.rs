//! The bounded store: listing, last use, pruning order, verification, clearing.

use std::path::Path;
use std::time::{Duration, SystemTime};

use super::*;
use crate::meta::ArtifactInfo;

const HOUR: Duration = Duration::from_secs(3600);

/// A store in `tmp/cache` with entries `keys`, each packing `size` incompressible bytes.
fn store_with(tmp: &Path, keys: &[&str], size: usize) -> LocalStore {
    let store = LocalStore::open(&tmp.join("cache")).unwrap();
    for key in keys {
        put(&store, tmp, key, size);
    }
    store
}

fn put(store: &LocalStore, tmp: &Path, key: &str, size: usize) {
    let pkg = tmp.join("pkg").join(key);
    let mut bytes = Vec::with_capacity(size + 32);
    let mut block = *blake3::hash(key.as_bytes()).as_bytes();
    while bytes.len() < size {
        bytes.extend_from_slice(&block);
        block = *blake3::hash(&block).as_bytes();
    }
    bytes.truncate(size);
    fs_err::create_dir_all(pkg.join("dist")).unwrap();
    fs_err::write(pkg.join("dist/out.bin"), bytes).unwrap();
    let info = ArtifactInfo {
        key: key.into(),
        duration_ms: 700,
        exit_code: 0,
    };
    let outputs = vec!["dist/**".to_string()];
    let packed = crate::pack(&pkg, &outputs, &[], b"log", &info, store.scratch_dir()).unwrap();
    store.put(key, &packed).unwrap();
}

fn set_mtime(path: &Path, at: SystemTime) {
    fs_err::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .file()
        .set_modified(at)
        .unwrap();
}

fn mtime(path: &Path) -> SystemTime {
    fs_err::metadata(path).unwrap().modified().unwrap()
}

/// Records that `key` was last used `ago`.
fn used(store: &LocalStore, key: &str, ago: Duration) {
    set_mtime(&store.meta_path(key), SystemTime::now() - ago);
}

fn keys(usage: &CacheUsage) -> Vec<&str> {
    usage.entries.iter().map(|e| e.key.as_str()).collect()
}

fn entry_bytes(store: &LocalStore, key: &str) -> u64 {
    fs_err::metadata(store.blob_path(key)).unwrap().len()
        + fs_err::metadata(store.meta_path(key)).unwrap().len()
}

#[test]
fn usage_and_list_report_complete_entries_and_count_the_rest_as_loose() {
    let tmp = tempfile::tempdir().unwrap();
    let store = store_with(tmp.path(), &["aa01", "bb02", "cc03"], 3000);
    fs_err::write(store.shard("aa01").join(".blob-inflight"), b"12345").unwrap();
    fs_err::copy(
        store.blob_path("bb02"),
        store.shard("bb02").join("bb99.tar.zst"),
    )
    .unwrap();

    let usage = store.usage().unwrap();
    assert_eq!(keys(&usage), ["aa01", "bb02", "cc03"]);
    assert_eq!(usage.entries[0].bytes, entry_bytes(&store, "aa01"));
    assert!(usage.entries.iter().all(|e| e.meta.is_none()));
    assert_eq!(usage.loose_files, 2);
    assert_eq!(
        usage.loose_bytes,
        5 + fs_err::metadata(store.blob_path("bb02")).unwrap().len()
    );
    assert_eq!(usage.total_bytes(), usage.entry_bytes() + usage.loose_bytes);

    let listed = store.list().unwrap();
    let meta = listed.entries[1].meta.as_ref().unwrap();
    assert_eq!(
        (meta.key.as_str(), meta.files, meta.duration_ms),
        ("bb02", 1, 700)
    );
    assert_eq!(listed.entries[1].last_used, mtime(&store.meta_path("bb02")));
}

#[test]
fn a_hit_records_its_use_at_most_once_per_resolution_and_a_peek_never() {
    let tmp = tempfile::tempdir().unwrap();
    let store = store_with(tmp.path(), &["aa01"], 10);
    let meta = store.meta_path("aa01");

    used(&store, "aa01", 2 * HOUR);
    store.peek("aa01").unwrap().unwrap();
    let before = mtime(&meta);
    assert!(
        SystemTime::now().duration_since(before).unwrap() > HOUR,
        "a peek is no use"
    );

    store.get("aa01").unwrap().unwrap();
    let after = mtime(&meta);
    assert!(
        SystemTime::now().duration_since(after).unwrap() < HOUR,
        "a hit is a use"
    );

    // A use ten minutes ago is recent enough: no write.
    used(&store, "aa01", Duration::from_secs(600));
    let recent = mtime(&meta);
    store.get("aa01").unwrap().unwrap();
    store.read_log("aa01", &["dist/**".into()], &[]).unwrap();
    assert_eq!(mtime(&meta), recent);
}

#[test]
fn prune_evicts_the_least_recently_used_until_the_rest_fits() {
    let tmp = tempfile::tempdir().unwrap();
    let store = store_with(tmp.path(), &["aa01", "bb02", "cc03", "dd04"], 2000);
    // Created in key order, used in another: cc03 is the oldest use, aa01 the newest.
    used(&store, "cc03", 4 * HOUR);
    used(&store, "bb02", 3 * HOUR);
    used(&store, "dd04", 2 * HOUR);
    used(&store, "aa01", HOUR);
    let total = store.usage().unwrap().entry_bytes();

    let policy = PrunePolicy {
        max_size: Some(total - 1),
        max_age: None,
    };
    let dry = store.prune(&policy, true).unwrap();
    assert_eq!(dry.removed.len(), 1);
    assert_eq!(
        store.usage().unwrap().entries.len(),
        4,
        "a dry run removes nothing"
    );

    let report = store.prune(&policy, false).unwrap();
    let removed: Vec<&str> = report.removed.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(removed, ["cc03"]);
    assert_eq!(report.removed_bytes, dry.removed_bytes);
    assert_eq!(
        (report.kept, report.kept_bytes),
        (3, total - report.removed_bytes)
    );

    let half = PrunePolicy {
        max_size: Some(report.kept_bytes / 2),
        max_age: None,
    };
    let report = store.prune(&half, false).unwrap();
    let removed: Vec<&str> = report.removed.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(removed, ["bb02", "dd04"]);
    assert_eq!(keys(&store.usage().unwrap()), ["aa01"]);
    assert!(
        store.get("bb02").unwrap().is_none(),
        "an evicted entry is a clean miss"
    );
}

#[test]
fn prune_by_age_evicts_only_what_was_not_used_for_that_long() {
    let tmp = tempfile::tempdir().unwrap();
    let store = store_with(tmp.path(), &["aa01", "bb02", "cc03"], 100);
    used(&store, "aa01", 50 * HOUR);
    used(&store, "bb02", 47 * HOUR);
    let policy = PrunePolicy {
        max_size: Some(u64::MAX),
        max_age: Some(48 * HOUR),
    };
    let report = store.prune(&policy, false).unwrap();
    assert_eq!(report.removed.len(), 1);
    assert_eq!(keys(&store.usage().unwrap()), ["bb02", "cc03"]);
}

#[test]
fn the_order_is_age_then_least_recent_use_with_keys_breaking_ties() {
    let now = SystemTime::now();
    let entry = |key: &str, bytes, ago| CacheEntry {
        key: key.into(),
        bytes,
        last_used: now - ago,
        meta: None,
    };
    let entries = [
        entry("zz", 10, HOUR),
        entry("yy", 10, HOUR),
        entry("xx", 50, 10 * HOUR),
        entry("ww", 10, Duration::ZERO),
    ];
    let chosen = |policy: PrunePolicy| -> Vec<String> {
        policy
            .select(&entries, now)
            .iter()
            .map(|e| e.key.clone())
            .collect()
    };
    let size = |max| PrunePolicy {
        max_size: Some(max),
        max_age: None,
    };
    assert_eq!(chosen(size(80)), Vec::<String>::new());
    assert_eq!(chosen(size(79)), ["xx"]);
    assert_eq!(chosen(size(20)), ["xx", "yy"]);
    assert_eq!(chosen(size(0)), ["xx", "yy", "zz", "ww"]);
    let age = PrunePolicy {
        max_size: None,
        max_age: Some(2 * HOUR),
    };
    assert_eq!(chosen(age), ["xx"]);
    assert!(chosen(PrunePolicy::default()).is_empty());
}

#[test]
fn an_entry_used_after_pruning_chose_it_is_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let store = store_with(tmp.path(), &["aa01"], 100);
    used(&store, "aa01", 2 * HOUR);
    let chosen_at = store.usage().unwrap().entries[0].last_used;
    store.get("aa01").unwrap(); // another process hits it
    assert!(!store.evict_unused_since("aa01", Some(chosen_at)).unwrap());
    assert!(store.get("aa01").unwrap().is_some());
    assert!(store.evict_unused_since("aa01", None).unwrap());
    assert!(store.get("aa01").unwrap().is_none());
}

/// Whether some process waits for a `flock` on the file with inode `ino` (`/proc/locks`
/// lists waiters with `->`).
fn someone_waits_for_lock(ino: u64) -> bool {
    let locks = fs_err::read_to_string("/proc/locks").unwrap_or_default();
    locks.lines().any(|line| {
        line.contains("->")
            && line
                .split_whitespace()
                .any(|f| f.rsplit(':').next() == Some(&ino.to_string()) && f.contains(':'))
    })
}

#[test]
fn pruning_waits_for_a_writer_holding_the_shard_lock() {
    use std::os::unix::fs::MetadataExt;
    let tmp = tempfile::tempdir().unwrap();
    let store = store_with(tmp.path(), &["aa01"], 100);
    let held = lock(&store.shard("aa01")).unwrap();
    let ino = fs_err::metadata(store.shard("aa01").join(".lock"))
        .unwrap()
        .ino();
    let everything = PrunePolicy {
        max_size: Some(0),
        max_age: None,
    };
    std::thread::scope(|s| {
        let pruner = s.spawn(|| store.prune(&everything, false).unwrap());
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while !someone_waits_for_lock(ino) {
            assert!(
                std::time::Instant::now() < deadline,
                "prune never asked for the lock"
            );
            std::thread::yield_now();
        }
        assert!(store.meta_path("aa01").exists() && store.blob_path("aa01").exists());
        drop(held);
        assert_eq!(pruner.join().unwrap().removed.len(), 1);
    });
    assert!(!store.meta_path("aa01").exists() && !store.blob_path("aa01").exists());
}

#[test]
fn writes_in_progress_are_never_touched_and_stale_leftovers_are_removed() {
    let tmp = tempfile::tempdir().unwrap();
    let store = store_with(tmp.path(), &["aa01", "bb02"], 100);
    let stale = SystemTime::now() - STALE_TEMP_AGE - Duration::from_secs(60);
    let shard = store.shard("aa01");
    for name in [".blob-fresh", ".meta-fresh", ".blob-old", ".meta-old"] {
        fs_err::write(shard.join(name), b"partial").unwrap();
    }
    set_mtime(&shard.join(".blob-old"), stale);
    set_mtime(&shard.join(".meta-old"), stale);
    // Blobs without metadata: one just renamed into place, one a killed writer's.
    fs_err::copy(store.blob_path("aa01"), shard.join("aa77.tar.zst")).unwrap();
    fs_err::copy(store.blob_path("aa01"), shard.join("aa88.tar.zst")).unwrap();
    set_mtime(&shard.join("aa88.tar.zst"), stale);

    let everything = PrunePolicy {
        max_size: Some(0),
        max_age: None,
    };
    let report = store.prune(&everything, false).unwrap();
    assert_eq!(report.removed.len(), 2);
    assert_eq!(report.loose_removed, 3);
    let mut left: Vec<String> = fs_err::read_dir(&shard)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    assert_eq!(
        left,
        [".blob-fresh", ".lock", ".meta-fresh", "aa77.tar.zst"]
    );
}

#[test]
fn verify_evicts_damaged_blobs_and_metadata_and_keeps_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let store = store_with(tmp.path(), &["aa01", "bb02", "cc03", "dd04", "ee05"], 2000);
    // A flipped byte, an extra byte, torn metadata, a lost blob.
    let mut bytes = fs_err::read(store.blob_path("aa01")).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    fs_err::write(store.blob_path("aa01"), bytes).unwrap();
    let mut bytes = fs_err::read(store.blob_path("bb02")).unwrap();
    bytes.push(0);
    fs_err::write(store.blob_path("bb02"), bytes).unwrap();
    let json = fs_err::read(store.meta_path("cc03")).unwrap();
    fs_err::write(store.meta_path("cc03"), &json[..json.len() / 2]).unwrap();
    fs_err::remove_file(store.blob_path("dd04")).unwrap();

    let report = store.verify().unwrap();
    assert_eq!((report.checked, report.ok), (5, 1));
    let bad: Vec<(&str, &str)> = report
        .bad
        .iter()
        .map(|b| (b.key.as_str(), b.reason.as_str()))
        .collect();
    assert!(bad[0].0 == "aa01" && bad[0].1.contains("digest"), "{bad:?}");
    assert!(bad[1].0 == "bb02" && bad[1].1.contains("bytes"), "{bad:?}");
    assert!(
        bad[2].0 == "cc03" && bad[2].1.contains("unreadable metadata"),
        "{bad:?}"
    );
    assert_eq!(bad[3], ("dd04", "blob is missing"));
    for key in ["aa01", "bb02", "cc03", "dd04"] {
        assert!(
            !store.meta_path(key).exists() && !store.blob_path(key).exists(),
            "{key}"
        );
    }
    assert_eq!(keys(&store.usage().unwrap()), ["ee05"]);
    let again = store.verify().unwrap();
    assert_eq!((again.checked, again.ok, again.bad.len()), (1, 1, 0));
}

#[test]
fn clear_removes_every_entry_but_not_writes_in_progress() {
    let tmp = tempfile::tempdir().unwrap();
    let store = store_with(tmp.path(), &["aa01", "bb02", "cc03"], 500);
    let total = store.usage().unwrap().entry_bytes();
    fs_err::write(store.scratch_dir().join(".pack-inflight"), b"x").unwrap();
    let report = store.clear().unwrap();
    assert_eq!((report.removed.len(), report.removed_bytes), (3, total));
    assert_eq!((report.kept, report.kept_bytes), (0, 0));
    let usage = store.usage().unwrap();
    assert!(usage.entries.is_empty());
    assert_eq!(usage.loose_files, 1);
}

#[test]
fn auto_prune_checks_at_most_once_per_interval_and_leaves_headroom() {
    let tmp = tempfile::tempdir().unwrap();
    let store = store_with(tmp.path(), &["aa01", "bb02"], 4000);
    let total = store.usage().unwrap().entry_bytes();
    let within = PrunePolicy {
        max_size: Some(total),
        max_age: None,
    };
    assert!(
        store.auto_prune(&within, HOUR).unwrap().is_none(),
        "within the limit"
    );

    for key in ["cc03", "dd04", "ee05"] {
        put(&store, tmp.path(), key, 4000);
    }
    assert!(
        store.auto_prune(&within, HOUR).unwrap().is_none(),
        "checked less than an hour ago"
    );
    set_mtime(
        &tmp.path().join("cache/prune.stamp"),
        SystemTime::now() - 2 * HOUR,
    );
    let report = store
        .auto_prune(&within, HOUR)
        .unwrap()
        .expect("over the limit");
    let left = store.usage().unwrap().entry_bytes();
    assert!(
        left <= total * AUTO_PRUNE_TARGET_PERCENT / 100,
        "{left} of {total}"
    );
    assert_eq!(report.kept_bytes, left);
    assert!(
        store
            .auto_prune(&PrunePolicy::default(), Duration::ZERO)
            .unwrap()
            .is_none()
    );
}
