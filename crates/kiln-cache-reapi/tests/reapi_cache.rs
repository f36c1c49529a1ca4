//! The store against a real REAPI server (BuildGrid), and against servers that are not there
//! or never answer.

mod server;

use std::path::Path;
use std::time::{Duration, Instant};

use kiln_cache::{CacheError, CacheStore, PackedArtifact};
use kiln_cache_reapi::{
    ARTIFACT_PATH, META_PATH, ReapiConfig, ReapiStore, action_digest, digest_of_file,
};
use kiln_testkit::{Silent, free_port};
use server::Bgd;

fn config(url: &str) -> ReapiConfig {
    let mut config = ReapiConfig::from_url_lookup(url, |_| None).unwrap();
    config.retry_backoff = Duration::from_millis(5);
    config
}

fn open(url: &str) -> ReapiStore {
    ReapiStore::open(config(url)).unwrap()
}

/// Packs a package whose outputs are `content` and `extra` (a larger file), under `key`.
fn artifact_with(dir: &Path, key: &str, content: &str, extra: Vec<u8>) -> PackedArtifact {
    kiln_testkit::fixtures::packed(
        dir,
        key,
        &[
            ("index.js", content.as_bytes().to_vec()),
            ("nested/big.bin", extra),
        ],
        b"built\n",
    )
}

fn artifact(dir: &Path, key: &str) -> PackedArtifact {
    artifact_with(
        dir,
        key,
        &format!("export const key = '{key}';\n"),
        vec![7u8; 300_000],
    )
}

/// Incompressible bytes (xorshift), so the packed blob stays as large as the input.
fn noise(len: usize) -> Vec<u8> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 32) as u8
        })
        .collect()
}

fn assert_same(fetched: &PackedArtifact, original: &PackedArtifact) {
    assert_eq!(fetched.meta(), original.meta());
    assert_eq!(
        digest_of_file(fetched.path()).unwrap(),
        digest_of_file(original.path()).unwrap()
    );
}

/// The artifact blob's digest as the server's ActionResult for `key` records it.
fn stored_blob(store: &ReapiStore, key: &str) -> kiln_cache_reapi::proto::Digest {
    let result = store
        .client()
        .get_action_result(&action_digest(key))
        .unwrap()
        .expect("an action result");
    result
        .output_files
        .iter()
        .find(|f| f.path == ARTIFACT_PATH)
        .and_then(|f| f.digest.clone())
        .unwrap()
}

#[test]
fn round_trip_through_a_fresh_store_and_storing_again_is_a_no_op() {
    let server = Bgd::start();
    let dir = tempfile::tempdir().unwrap();
    let packed = artifact(dir.path(), "k_round");

    let writer = open(&server.url());
    assert_eq!(writer.contains("k_round").unwrap(), None);
    writer.store(&packed).unwrap();
    writer.store(&packed).unwrap();

    let reader = open(&server.url());
    assert_eq!(
        reader.contains("k_round").unwrap().as_ref(),
        Some(packed.meta())
    );
    let fetched = reader
        .fetch("k_round", &dir.path().join("dl"))
        .unwrap()
        .unwrap();
    assert!(fetched.path().starts_with(dir.path().join("dl")));
    assert_same(&fetched, &packed);

    // What the server holds is a plain REAPI entry: two outputs, kiln as the worker.
    let result = reader
        .client()
        .get_action_result(&action_digest("k_round"))
        .unwrap()
        .unwrap();
    let paths: Vec<_> = result
        .output_files
        .iter()
        .map(|f| f.path.as_str())
        .collect();
    assert_eq!(paths, [ARTIFACT_PATH, META_PATH]);
    assert_eq!(result.exit_code, 0);
    assert_eq!(result.execution_metadata.unwrap().worker, "kiln");
}

#[test]
fn the_first_writer_wins() {
    let server = Bgd::start();
    let dir = tempfile::tempdir().unwrap();
    let first = artifact_with(dir.path(), "k_twice", "first\n", vec![1; 10]);
    let second = artifact_with(dir.path(), "k_twice", "second result\n", vec![2; 10]);
    open(&server.url()).store(&first).unwrap();
    open(&server.url()).store(&second).unwrap();
    let fetched = open(&server.url())
        .fetch("k_twice", dir.path())
        .unwrap()
        .unwrap();
    assert_same(&fetched, &first);
}

#[test]
fn a_missing_key_is_a_plain_miss_and_an_unknown_instance_a_soft_error() {
    let server = Bgd::start();
    let dir = tempfile::tempdir().unwrap();
    let store = open(&server.url());
    assert_eq!(store.contains("k_none").unwrap(), None);
    assert!(store.fetch("k_none", dir.path()).unwrap().is_none());
    assert!(!store.is_disabled());
    assert!(matches!(
        store.contains("../k"),
        Err(CacheError::InvalidKey { .. })
    ));

    let elsewhere = open(&server.url().replace("instance=main", "instance=nope"));
    let err = elsewhere.contains("k_none").unwrap_err();
    assert!(matches!(err, CacheError::Read { .. }), "{err:?}");
}

#[test]
fn blobs_gone_from_the_cas_make_a_miss() {
    let server = Bgd::start();
    let dir = tempfile::tempdir().unwrap();
    let store = open(&server.url());
    store.store(&artifact(dir.path(), "k_gone")).unwrap();
    let blob = stored_blob(&store, "k_gone");
    fs_err::remove_file(server.blob_file(&blob.hash)).unwrap();

    assert_eq!(store.contains("k_gone").unwrap(), None);
    assert!(store.fetch("k_gone", dir.path()).unwrap().is_none());
}

#[test]
fn damaged_bytes_on_the_server_are_corrupt_and_never_used() {
    let server = Bgd::start();
    let dir = tempfile::tempdir().unwrap();
    let store = open(&server.url());
    store.store(&artifact(dir.path(), "k_rot")).unwrap();
    let blob = stored_blob(&store, "k_rot");
    let file = server.blob_file(&blob.hash);
    let mut bytes = fs_err::read(&file).unwrap();
    bytes[100] ^= 0xff;
    fs_err::write(&file, bytes).unwrap();

    for _ in 0..2 {
        let err = store.fetch("k_rot", &dir.path().join("dl")).unwrap_err();
        assert!(matches!(err, CacheError::Corrupt { .. }), "{err:?}");
        assert!(format!("{err}").contains("arrived as"), "{err}");
    }
    assert!(!store.is_disabled(), "damage is not a transport failure");
    assert!(
        fs_err::read_dir(dir.path().join("dl"))
            .unwrap()
            .next()
            .is_none(),
        "nothing of a corrupt download is left behind"
    );
}

#[test]
fn an_entry_whose_blob_does_not_match_its_metadata_is_corrupt() {
    let server = Bgd::start();
    let dir = tempfile::tempdir().unwrap();
    let store = open(&server.url());
    let lie = artifact(dir.path(), "k_lie");
    store.store(&lie).unwrap();
    store.store(&artifact(dir.path(), "k_junk")).unwrap();
    let client = store.client();

    // Same size, one byte off: consistent for the CAS (SHA-256), wrong for kiln (BLAKE3).
    let blob = stored_blob(&store, "k_lie");
    let mut bytes = client.read_blob(&blob).unwrap().unwrap();
    bytes[10] ^= 1;
    let other = client.upload_blob(bytes).unwrap();
    let action = action_digest("k_lie");
    let mut result = client.get_action_result(&action).unwrap().unwrap();
    for file in &mut result.output_files {
        if file.path == ARTIFACT_PATH {
            file.digest = Some(other.clone());
        }
    }
    client.update_action_result(&action, &result).unwrap();
    let reader = open(&server.url());
    let err = reader.fetch("k_lie", dir.path()).unwrap_err();
    assert!(matches!(err, CacheError::Corrupt { .. }), "{err:?}");
    assert!(format!("{err}").contains("does not match"), "{err}");

    // REAPI cannot delete: the store that saw the damage overwrites the entry with the
    // result of the re-run task, instead of deferring to the first writer.
    reader.store(&lie).unwrap();
    let fetched = open(&server.url())
        .fetch("k_lie", dir.path())
        .unwrap()
        .unwrap();
    assert_same(&fetched, &lie);

    // Metadata that is not kiln's JSON.
    let junk = client.upload_blob(b"not json".to_vec()).unwrap();
    let action = action_digest("k_junk");
    let mut result = client.get_action_result(&action).unwrap().unwrap();
    for file in &mut result.output_files {
        if file.path == META_PATH {
            file.digest = Some(junk.clone());
        }
    }
    client.update_action_result(&action, &result).unwrap();
    let err = open(&server.url()).contains("k_junk").unwrap_err();
    assert!(matches!(err, CacheError::Corrupt { .. }), "{err:?}");
}

#[test]
fn a_large_artifact_streams_through_bytestream() {
    let server = Bgd::start();
    let dir = tempfile::tempdir().unwrap();
    let packed = artifact_with(dir.path(), "k_large", "large\n", noise(40 * 1024 * 1024));
    let writer = open(&server.url());
    let limit = writer.client().server_capabilities().unwrap().batch_limit;
    assert!(
        packed.meta().blob.size > 8 * limit,
        "bigger than many chunks"
    );
    writer.store(&packed).unwrap();

    let fetched = open(&server.url())
        .fetch("k_large", &dir.path().join("dl"))
        .unwrap()
        .unwrap();
    assert_same(&fetched, &packed);
}

#[test]
fn a_read_only_server_leaves_store_a_no_op() {
    let server = Bgd::start_with(|c| c.replace("allow-updates: true", "allow-updates: false"));
    let dir = tempfile::tempdir().unwrap();
    let store = open(&server.url());
    let caps = store.client().server_capabilities().unwrap();
    assert!(!caps.update_enabled);
    store.store(&artifact(dir.path(), "k_ro")).unwrap();
    assert_eq!(store.contains("k_ro").unwrap(), None);
}

#[test]
fn nothing_listening_fails_fast_and_trips_the_breaker() {
    let url = format!("grpc://127.0.0.1:{}", free_port());
    let mut config = config(&url);
    config.retries = 1;
    config.breaker_threshold = 2;
    let store = ReapiStore::open(config).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let start = Instant::now();
    let err = store.contains("k1").unwrap_err();
    assert!(matches!(err, CacheError::Read { .. }), "{err:?}");
    assert!(!store.is_disabled());
    let err = store.store(&artifact(dir.path(), "k1")).unwrap_err();
    assert!(matches!(err, CacheError::Store { .. }), "{err:?}");
    assert!(store.is_disabled());
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );

    let tripped = Instant::now();
    let err = store.fetch("k1", dir.path()).unwrap_err();
    assert!(format!("{err:?}").contains("disabled"), "{err:?}");
    assert!(tripped.elapsed() < Duration::from_millis(50));
}

#[test]
fn a_silent_server_costs_the_timeout_not_forever_and_then_no_calls() {
    let silent = Silent::start();
    let mut config = config(&silent.url("grpc"));
    config.connect_timeout = Duration::from_millis(300);
    config.request_timeout = Duration::from_millis(300);
    config.retries = 1;
    config.breaker_threshold = 3;
    let store = ReapiStore::open(config).unwrap();
    let dir = tempfile::tempdir().unwrap();

    let start = Instant::now();
    assert!(store.contains("k_slow").is_err());
    assert!(store.fetch("k_slow", dir.path()).is_err());
    assert!(store.store(&artifact(dir.path(), "k_slow")).is_err());
    // Three operations of two 300 ms attempts each, plus backoff.
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "{:?}",
        start.elapsed()
    );
    assert!(store.is_disabled());

    let connections = silent.connections();
    let after = Instant::now();
    assert!(store.contains("k_slow").is_err());
    assert!(after.elapsed() < Duration::from_millis(50));
    assert_eq!(
        silent.connections(),
        connections,
        "no new connection once tripped"
    );
}
