//! The store against a real Turborepo remote cache server.

mod server;

use std::path::Path;
use std::time::{Duration, Instant};

use kiln_cache::{CacheError, CacheStore, PackedArtifact};
use kiln_cache_http::{HttpConfig, HttpStore, OBJECT_MAGIC};
use server::{Server, TEAM, TOKEN};

fn config(url: &str) -> HttpConfig {
    let mut config = HttpConfig::new(url, TOKEN);
    config.team_id = Some(TEAM.into());
    config.retry_backoff = Duration::from_millis(5);
    config
}

fn signed(url: &str, key: &[u8]) -> HttpConfig {
    let mut config = config(url);
    config.signing_key = Some(key.to_vec());
    config
}

/// Packs a small package with a couple of outputs under `key`.
fn artifact(dir: &Path, key: &str) -> PackedArtifact {
    kiln_testkit::fixtures::packed(
        dir,
        key,
        &[
            (
                "index.js",
                format!("export const key = '{key}';\n").into_bytes(),
            ),
            ("nested/big.bin", vec![7u8; 300_000]),
        ],
        b"built\n",
    )
}

fn assert_same(fetched: &PackedArtifact, original: &PackedArtifact) {
    assert_eq!(fetched.meta(), original.meta());
    assert_eq!(
        fs_err::read(fetched.path()).unwrap(),
        fs_err::read(original.path()).unwrap()
    );
}

#[test]
fn round_trip_store_contains_fetch() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let store = HttpStore::new(config(&server.url()));
    let packed = artifact(dir.path(), "k_round");

    assert_eq!(store.contains("k_round").unwrap(), None);
    store.store(&packed).unwrap();
    assert_eq!(
        store.contains("k_round").unwrap().as_ref(),
        Some(packed.meta())
    );
    let fetched = store
        .fetch("k_round", &dir.path().join("dl"))
        .unwrap()
        .unwrap();
    assert!(fetched.path().starts_with(dir.path().join("dl")));
    assert_same(&fetched, &packed);
    // The object on the server is kiln's envelope.
    assert!(
        fs_err::read(server.object_path("k_round"))
            .unwrap()
            .starts_with(OBJECT_MAGIC)
    );
    // Storing again is a no-op.
    store.store(&packed).unwrap();
}

#[test]
fn a_missing_key_is_a_plain_miss() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let store = HttpStore::new(config(&server.url()));
    assert_eq!(store.contains("k_none").unwrap(), None);
    assert!(store.fetch("k_none", dir.path()).unwrap().is_none());
    assert!(!store.is_disabled());
}

#[test]
fn a_wrong_token_is_a_soft_error_naming_the_cause() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let mut bad = config(&server.url());
    bad.token = "wrong".into();
    let store = HttpStore::new(bad);
    let err = store.fetch("k_tok", dir.path()).unwrap_err();
    assert!(matches!(err, CacheError::Read { .. }), "{err:?}");
    assert!(format!("{err:?}").contains("TURBO_TOKEN"), "{err:?}");
    let err = store.store(&artifact(dir.path(), "k_tok")).unwrap_err();
    assert!(matches!(err, CacheError::Store { .. }), "{err:?}");
}

#[test]
fn damaged_objects_on_the_server_are_corrupt() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let store = HttpStore::new(config(&server.url()));

    // Garbage in place of the object.
    store.store(&artifact(dir.path(), "k_garbage")).unwrap();
    fs_err::write(server.object_path("k_garbage"), b"this is not an artifact").unwrap();
    let err = store.fetch("k_garbage", dir.path()).unwrap_err();
    assert!(matches!(err, CacheError::Corrupt { .. }), "{err:?}");
    assert!(matches!(
        store.contains("k_garbage"),
        Err(CacheError::Corrupt { .. })
    ));

    // A valid header over a flipped blob byte: caught by the digest.
    store.store(&artifact(dir.path(), "k_flip")).unwrap();
    let mut bytes = fs_err::read(server.object_path("k_flip")).unwrap();
    *bytes.last_mut().unwrap() ^= 0xff;
    fs_err::write(server.object_path("k_flip"), &bytes).unwrap();
    let err = store.fetch("k_flip", dir.path()).unwrap_err();
    assert!(matches!(err, CacheError::Corrupt { .. }), "{err:?}");

    // Truncated.
    store.store(&artifact(dir.path(), "k_short")).unwrap();
    let bytes = fs_err::read(server.object_path("k_short")).unwrap();
    fs_err::write(server.object_path("k_short"), &bytes[..bytes.len() - 10]).unwrap();
    let err = store.fetch("k_short", dir.path()).unwrap_err();
    assert!(matches!(err, CacheError::Corrupt { .. }), "{err:?}");

    // An object stored under another key.
    store.store(&artifact(dir.path(), "k_orig")).unwrap();
    fs_err::copy(server.object_path("k_orig"), server.object_path("k_moved")).unwrap();
    let err = store.fetch("k_moved", dir.path()).unwrap_err();
    assert!(matches!(err, CacheError::Corrupt { .. }), "{err:?}");
}

#[test]
fn signed_objects_round_trip_and_unsigned_or_foreign_ones_are_refused() {
    let server = Server::start_signed();
    let dir = tempfile::tempdir().unwrap();
    let signing = HttpStore::new(signed(&server.url(), b"team secret"));
    let packed = artifact(dir.path(), "k_signed");
    signing.store(&packed).unwrap();
    assert!(server.object_path("k_signed.tag").exists());
    let fetched = signing.fetch("k_signed", dir.path()).unwrap().unwrap();
    assert_same(&fetched, &packed);

    // Uploaded without a signature: this server (signatures on) hides untagged objects...
    let unsigned = HttpStore::new(config(&server.url()));
    unsigned.store(&artifact(dir.path(), "k_unsigned")).unwrap();
    assert!(signing.fetch("k_unsigned", dir.path()).unwrap().is_none());
    // ...and when a server serves one anyway, kiln refuses it itself.
    let plain = Server::start();
    HttpStore::new(config(&plain.url()))
        .store(&artifact(dir.path(), "k_unsigned"))
        .unwrap();
    let err = HttpStore::new(signed(&plain.url(), b"team secret"))
        .fetch("k_unsigned", dir.path())
        .unwrap_err();
    assert!(matches!(err, CacheError::Corrupt { .. }), "{err:?}");
    assert!(format!("{err}").contains("unsigned"), "{err}");

    // Signed with another key.
    let other = HttpStore::new(signed(&server.url(), b"someone else"));
    let err = other.fetch("k_signed", dir.path()).unwrap_err();
    assert!(matches!(err, CacheError::Corrupt { .. }), "{err:?}");

    // Tampered after signing (same length, header intact).
    let path = server.object_path("k_signed");
    let mut bytes = fs_err::read(&path).unwrap();
    *bytes.last_mut().unwrap() ^= 1;
    fs_err::write(&path, &bytes).unwrap();
    let err = signing.fetch("k_signed", dir.path()).unwrap_err();
    assert!(matches!(err, CacheError::Corrupt { .. }), "{err:?}");
}

#[test]
fn a_server_that_is_down_fails_fast() {
    let port = server::free_port();
    let mut cfg = config(&format!("http://127.0.0.1:{port}"));
    cfg.retries = 2;
    let store = HttpStore::new(cfg);
    let dir = tempfile::tempdir().unwrap();
    let start = Instant::now();
    assert!(matches!(
        store.fetch("k_down", dir.path()),
        Err(CacheError::Read { .. })
    ));
    assert!(matches!(
        store.contains("k_down"),
        Err(CacheError::Read { .. })
    ));
    assert!(matches!(
        store.store(&artifact(dir.path(), "k_down")),
        Err(CacheError::Store { .. })
    ));
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn the_breaker_stops_calling_a_failing_server() {
    let port = server::free_port();
    let mut cfg = config(&format!("http://127.0.0.1:{port}"));
    cfg.retries = 0;
    cfg.breaker_threshold = 3;
    let tripped = HttpStore::new(cfg.clone());
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..3 {
        assert!(tripped.contains("k_brk").is_err());
    }
    assert!(tripped.is_disabled());

    // The server comes up: a fresh store reaches it, the tripped one no longer tries.
    let server = Server::start_on(port, None);
    let fresh = HttpStore::new(cfg);
    fresh.store(&artifact(dir.path(), "k_brk")).unwrap();
    assert!(fresh.contains("k_brk").unwrap().is_some());
    let err = tripped.contains("k_brk").unwrap_err();
    assert!(format!("{err:?}").contains("disabled"), "{err:?}");
    drop(server);
}

#[test]
fn concurrent_stores_of_one_key_are_fine() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let store = HttpStore::new(config(&server.url()));
    let packed = artifact(dir.path(), "k_race");
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| store.store(&packed).unwrap());
        }
    });
    let fetched = store.fetch("k_race", dir.path()).unwrap().unwrap();
    assert_same(&fetched, &packed);
}
