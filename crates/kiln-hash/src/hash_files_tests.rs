use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use rayon::prelude::*;

use super::*;

/// Writes a file whose mtime is an hour old. Its ctime is fresh and cannot be set back, so
/// tests that need it cached use [`StatCache::a_minute_later`] rather than sleeping.
fn write(root: &Path, rel: &str, content: &[u8]) -> InputFile {
    let abs = root.join(rel);
    fs_err::create_dir_all(abs.parent().unwrap()).unwrap();
    fs_err::write(&abs, content).unwrap();
    set_old_mtime(&abs);
    InputFile {
        rel: rel.to_string(),
        abs,
    }
}

fn set_old_mtime(path: &Path) {
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(SystemTime::now() - Duration::from_secs(3600))
        .unwrap();
}

fn digests(files: &[InputFile], cache: &StatCache, root: &Path) -> Vec<(String, Digest)> {
    hash_files(files, cache, root).unwrap()
}

#[test]
fn digests_follow_content_and_keep_the_given_order() {
    let tmp = tempfile::tempdir().unwrap();
    let files = vec![
        write(tmp.path(), "a.txt", b"one"),
        write(tmp.path(), "b/c.txt", b"two"),
    ];
    let out = digests(&files, &StatCache::new(), tmp.path());
    assert_eq!(out[0], ("a.txt".to_string(), Digest::of_bytes(b"one")));
    assert_eq!(out[1], ("b/c.txt".to_string(), Digest::of_bytes(b"two")));
}

#[test]
fn a_warm_cache_answers_without_reading_and_catches_changes_by_stat() {
    let tmp = tempfile::tempdir().unwrap();
    let files: Vec<_> = (0..20)
        .map(|i| {
            write(
                tmp.path(),
                &format!("src/{i}.ts"),
                format!("file {i}").as_bytes(),
            )
        })
        .collect();
    let state = tmp.path().join(".kiln/state/stat-cache-v1.bin");

    let cold = StatCache::load(&state).a_minute_later();
    let first = digests(&files, &cold, tmp.path());
    assert_eq!((cold.hits(), cold.misses()), (0, 20));
    cold.save(&state).unwrap();

    let warm = StatCache::load(&state).a_minute_later();
    assert_eq!(digests(&files, &warm, tmp.path()), first);
    assert_eq!((warm.hits(), warm.misses()), (20, 0), "no file was read");

    // Same size, mtime put back: the ctime (and so the stat) still gives the edit away.
    fs_err::write(&files[3].abs, b"file X").unwrap();
    set_old_mtime(&files[3].abs);
    let after_edit = StatCache::load(&state).a_minute_later();
    let out = digests(&files, &after_edit, tmp.path());
    assert_eq!(out[3].1, Digest::of_bytes(b"file X"));
    assert_eq!((after_edit.hits(), after_edit.misses()), (19, 1));
}

#[test]
fn a_just_written_file_is_hashed_again_next_time() {
    let tmp = tempfile::tempdir().unwrap();
    let file = InputFile {
        rel: "fresh.txt".into(),
        abs: tmp.path().join("fresh.txt"),
    };
    fs_err::write(&file.abs, b"now").unwrap();
    let state = tmp.path().join("stat-cache.bin");
    let cache = StatCache::load(&state);
    digests(std::slice::from_ref(&file), &cache, tmp.path());
    cache.save(&state).unwrap();
    let next = StatCache::load(&state);
    digests(std::slice::from_ref(&file), &next, tmp.path());
    assert_eq!(
        (next.hits(), next.misses()),
        (0, 1),
        "racy entry was trusted"
    );
}

#[test]
fn entries_for_files_not_seen_in_a_run_are_dropped_on_save() {
    let tmp = tempfile::tempdir().unwrap();
    let a = write(tmp.path(), "a", b"a");
    let b = write(tmp.path(), "b", b"b");
    let state = tmp.path().join("stat-cache.bin");
    let first = StatCache::load(&state).a_minute_later();
    digests(&[a.clone(), b.clone()], &first, tmp.path());
    first.save(&state).unwrap();

    let second = StatCache::load(&state).a_minute_later();
    digests(std::slice::from_ref(&a), &second, tmp.path());
    second.save(&state).unwrap();

    let third = StatCache::load(&state).a_minute_later();
    digests(&[a, b], &third, tmp.path());
    assert_eq!((third.hits(), third.misses()), (1, 1));
}

#[cfg(unix)]
#[test]
fn an_unchanged_run_leaves_the_cache_file_alone_and_a_changed_one_rewrites_it() {
    use std::os::unix::fs::MetadataExt;
    let tmp = tempfile::tempdir().unwrap();
    let files = [write(tmp.path(), "a", b"a"), write(tmp.path(), "b", b"b")];
    let state = tmp.path().join("stat-cache.bin");
    // The cache is replaced by rename, so a rewrite always shows as a new inode.
    let inode = || fs_err::metadata(&state).unwrap().ino();
    let first = StatCache::load(&state).a_minute_later();
    digests(&files, &first, tmp.path());
    first.save(&state).unwrap();
    let written = inode();

    let unchanged = StatCache::load(&state).a_minute_later();
    digests(&files, &unchanged, tmp.path());
    unchanged.save(&state).unwrap();
    assert_eq!(inode(), written, "an unchanged cache was rewritten");
    let elsewhere = tmp.path().join("other/stat-cache.bin");
    unchanged.save(&elsewhere).unwrap();
    let from_elsewhere = StatCache::load(&elsewhere).a_minute_later();
    digests(&files, &from_elsewhere, tmp.path());
    assert_eq!(from_elsewhere.hits(), 2, "a save elsewhere still writes");

    fs_err::write(&files[1].abs, b"B").unwrap();
    set_old_mtime(&files[1].abs);
    let edited = StatCache::load(&state).a_minute_later();
    digests(&files, &edited, tmp.path());
    edited.save(&state).unwrap();
    assert_ne!(inode(), written, "a changed cache was not saved");
    let next = StatCache::load(&state).a_minute_later();
    assert_eq!(
        digests(&files, &next, tmp.path())[1].1,
        Digest::of_bytes(b"B")
    );
    assert_eq!((next.hits(), next.misses()), (2, 0));
}

#[test]
fn a_damaged_or_foreign_cache_file_is_discarded_not_trusted() {
    let tmp = tempfile::tempdir().unwrap();
    let file = write(tmp.path(), "a", b"a");
    let state = tmp.path().join("stat-cache.bin");
    let cache = StatCache::load(&state).a_minute_later();
    digests(std::slice::from_ref(&file), &cache, tmp.path());
    cache.save(&state).unwrap();
    let good = fs_err::read(&state).unwrap();

    let mut other_version = good.clone();
    other_version[8] ^= 0xff;
    let mut corrupt = good.clone();
    *corrupt.last_mut().unwrap() ^= 1;
    let damaged: [(&str, Vec<u8>); 4] = [
        ("truncated", good[..good.len() - 5].to_vec()),
        ("corrupt", corrupt),
        ("other version", other_version),
        ("garbage", b"not a cache at all".to_vec()),
    ];
    for (what, bytes) in damaged {
        fs_err::write(&state, bytes).unwrap();
        let cache = StatCache::load(&state).a_minute_later();
        digests(std::slice::from_ref(&file), &cache, tmp.path());
        assert_eq!(
            (cache.hits(), cache.misses()),
            (0, 1),
            "{what} cache was trusted"
        );
    }
}

#[test]
fn a_file_that_vanished_after_the_walk_is_left_out_not_fatal() {
    let tmp = tempfile::tempdir().unwrap();
    let kept = write(tmp.path(), "kept.txt", b"k");
    let gone = InputFile {
        rel: "gone.txt".into(),
        abs: tmp.path().join("gone.txt"),
    };
    let got = hash_files(&[gone, kept], &StatCache::new(), tmp.path()).unwrap();
    let names: Vec<&str> = got.iter().map(|(rel, _)| rel.as_str()).collect();
    assert_eq!(names, ["kept.txt"]);
}

#[test]
fn a_file_outside_the_root_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let other = tempfile::tempdir().unwrap();
    let file = write(other.path(), "x", b"x");
    let err = hash_files(&[file], &StatCache::new(), tmp.path()).unwrap_err();
    assert!(matches!(err, HashError::OutsideRoot { .. }));
}

/// `cargo test -p kiln-hash --release -- --ignored --nocapture warm_stat_cache_speed`
#[test]
#[ignore = "benchmark: writes 60 MB and prints timings"]
#[allow(clippy::print_stderr)]
fn warm_stat_cache_speed() {
    let tmp = tempfile::tempdir().unwrap();
    let content = vec![b'x'; 3 * 1024];
    let files: Vec<InputFile> = (0..20_000)
        .map(|i| write(tmp.path(), &format!("pkg{}/src/f{i}.ts", i % 50), &content))
        .collect();
    let state: PathBuf = tmp.path().join(".kiln/state/stat-cache-v1.bin");

    let cold = StatCache::load(&state).a_minute_later();
    let start = Instant::now();
    hash_files(&files, &cold, tmp.path()).unwrap();
    let cold_time = start.elapsed();
    cold.save(&state).unwrap();

    let start = Instant::now();
    let warm = StatCache::load(&state).a_minute_later();
    let load_time = start.elapsed();
    // The machine is shared: report the best of a few rounds, and a bare `lstat` pass over
    // the same files as the floor no stat cache can beat.
    let mut warm_time = Duration::MAX;
    for _ in 0..5 {
        let start = Instant::now();
        hash_files(&files, &warm, tmp.path()).unwrap();
        warm_time = warm_time.min(start.elapsed());
    }
    assert_eq!(warm.misses(), 0);
    let start = Instant::now();
    files.par_iter().for_each(|f| {
        std::fs::symlink_metadata(&f.abs).unwrap();
    });
    let lstat_time = start.elapsed();
    let start = Instant::now();
    warm.save(&state).unwrap();
    let save_time = start.elapsed();
    eprintln!(
        "20000 files x 3 KB on {} threads: cold hash {cold_time:?}, load {load_time:?}, \
         warm hash {warm_time:?} (bare lstat pass {lstat_time:?}), save {save_time:?}",
        rayon::current_num_threads()
    );
}
