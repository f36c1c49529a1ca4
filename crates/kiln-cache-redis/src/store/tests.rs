use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kiln_cache::{CacheError, CacheStore, PackedArtifact};
use kiln_testkit::fixtures::{noise, packed as artifact};
use tempfile::TempDir;

use super::RedisStore;
use crate::config::RedisConfig;
use crate::error::RedisError;
use crate::test_server::{RedisServer, free_port};

fn small(dir: &Path, key: &str) -> PackedArtifact {
    artifact(
        dir,
        key,
        &[("a.js", b"console.log(1)".to_vec())],
        b"built\n",
    )
}

fn store_at(url: String) -> RedisStore {
    RedisStore::open(RedisConfig::new(url)).unwrap()
}

fn exists(server: &RedisServer, key: &str) -> bool {
    redis::cmd("EXISTS")
        .arg(key)
        .query(&mut server.raw())
        .unwrap()
}

fn redis_error(e: &CacheError) -> &RedisError {
    let source = match e {
        CacheError::Read { source, .. } | CacheError::Store { source, .. } => source,
        other => panic!("expected a Read or Store error, got {other:?}"),
    };
    source
        .get_ref()
        .and_then(|s| s.downcast_ref())
        .expect("a RedisError source")
}

#[test]
fn round_trips_bytes_and_metadata() {
    let server = RedisServer::start();
    let dir = TempDir::new().unwrap();
    let store = store_at(server.url());
    let packed = small(dir.path(), "k1");
    store.store(&packed).unwrap();

    assert_eq!(store.contains("k1").unwrap().as_ref(), Some(packed.meta()));
    let fetched = store
        .fetch("k1", &dir.path().join("fetch"))
        .unwrap()
        .unwrap();
    assert_eq!(fetched.meta(), packed.meta());
    assert_eq!(
        fs_err::read(fetched.path()).unwrap(),
        fs_err::read(packed.path()).unwrap()
    );
    assert!(fetched.path().starts_with(dir.path().join("fetch")));
    assert!(
        packed.path().exists(),
        "storing leaves the artifact in place"
    );
}

#[test]
fn an_absent_key_is_a_plain_miss() {
    let server = RedisServer::start();
    let dir = TempDir::new().unwrap();
    let store = store_at(server.url());
    assert!(store.contains("nope").unwrap().is_none());
    assert!(store.fetch("nope", dir.path()).unwrap().is_none());
    assert!(matches!(
        store.fetch("a:b", dir.path()),
        Err(CacheError::InvalidKey { .. })
    ));
}

#[test]
fn streams_a_multi_chunk_artifact_both_ways() {
    let server = RedisServer::start();
    let dir = TempDir::new().unwrap();
    let mut config = RedisConfig::new(server.url());
    config.chunk_bytes = 256 << 10;
    let store = RedisStore::open(config).unwrap();
    let packed = artifact(
        dir.path(),
        "big",
        &[("blob.bin", noise(10 << 20, 7))],
        b"log",
    );
    assert!(packed.meta().blob.size > 10 << 20, "about 40 chunks");

    store.store(&packed).unwrap();
    let fetched = store.fetch("big", dir.path()).unwrap().unwrap();
    assert_eq!(fetched.meta(), packed.meta());
    assert_eq!(
        fs_err::read(fetched.path()).unwrap(),
        fs_err::read(packed.path()).unwrap()
    );
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query(&mut server.raw())
        .unwrap();
    assert_eq!(keys.len(), 2, "no temporary upload key is left: {keys:?}");
}

#[test]
fn sets_the_ttl_on_both_keys() {
    let server = RedisServer::start();
    let dir = TempDir::new().unwrap();
    let mut config = RedisConfig::new(server.url());
    config.ttl = Duration::from_secs(1000);
    let store = RedisStore::open(config).unwrap();
    store.store(&small(dir.path(), "ttl")).unwrap();
    for key in [store.meta_key("ttl"), store.blob_key("ttl")] {
        let pttl: i64 = redis::cmd("PTTL")
            .arg(&key)
            .query(&mut server.raw())
            .unwrap();
        assert!((1..=1_000_000).contains(&pttl), "{key}: {pttl}");
    }
    assert_eq!(store.meta_key("ttl"), "kiln:v1:ttl:meta");
    assert_eq!(store.blob_key("ttl"), "kiln:v1:ttl:blob");
}

#[test]
fn does_not_store_artifacts_over_the_size_cap() {
    let server = RedisServer::start();
    let dir = TempDir::new().unwrap();
    let mut config = RedisConfig::new(server.url());
    config.max_artifact_bytes = 10;
    let store = RedisStore::open(config).unwrap();
    store.store(&small(dir.path(), "huge")).unwrap();
    assert!(!exists(&server, &store.meta_key("huge")));
    assert!(!exists(&server, &store.blob_key("huge")));
    assert!(store.fetch("huge", dir.path()).unwrap().is_none());
}

#[test]
fn a_damaged_blob_is_reported_corrupt_and_evicted() {
    let server = RedisServer::start();
    let dir = TempDir::new().unwrap();
    let store = store_at(server.url());
    for (key, damage) in [("same-len", "SETRANGE"), ("other-len", "APPEND")] {
        store.store(&small(dir.path(), key)).unwrap();
        let mut cmd = redis::cmd(damage);
        cmd.arg(store.blob_key(key));
        if damage == "SETRANGE" {
            cmd.arg(0);
        }
        cmd.arg("XX").query::<i64>(&mut server.raw()).unwrap();

        let err = store.fetch(key, dir.path()).unwrap_err();
        assert!(matches!(err, CacheError::Corrupt { .. }), "{key}: {err:?}");
        assert!(!exists(&server, &store.meta_key(key)), "{key}");
        assert!(!exists(&server, &store.blob_key(key)), "{key}");
    }
}

#[test]
fn unreadable_metadata_is_corrupt_and_evicted() {
    let server = RedisServer::start();
    let dir = TempDir::new().unwrap();
    let store = store_at(server.url());
    store.store(&small(dir.path(), "badmeta")).unwrap();
    redis::cmd("SET")
        .arg(store.meta_key("badmeta"))
        .arg("{not json")
        .query::<()>(&mut server.raw())
        .unwrap();
    assert!(store.contains("badmeta").unwrap().is_none());
    let err = store.fetch("badmeta", dir.path()).unwrap_err();
    assert!(matches!(err, CacheError::Corrupt { .. }), "{err:?}");
    assert!(!exists(&server, &store.blob_key("badmeta")));
}

#[test]
fn metadata_without_its_blob_is_a_miss_and_is_cleaned_up() {
    let server = RedisServer::start();
    let dir = TempDir::new().unwrap();
    let store = store_at(server.url());
    store.store(&small(dir.path(), "orphan")).unwrap();
    redis::cmd("DEL")
        .arg(store.blob_key("orphan"))
        .query::<i64>(&mut server.raw())
        .unwrap();
    assert!(store.contains("orphan").unwrap().is_none());
    assert!(store.fetch("orphan", dir.path()).unwrap().is_none());
    assert!(!exists(&server, &store.meta_key("orphan")));
    // The key can be stored again afterwards.
    store.store(&small(dir.path(), "orphan")).unwrap();
    assert!(store.fetch("orphan", dir.path()).unwrap().is_some());
}

#[test]
fn an_unreachable_server_fails_fast() {
    let dir = TempDir::new().unwrap();
    let store = store_at(format!("redis://127.0.0.1:{}/0", free_port()));
    let started = Instant::now();
    let err = store.contains("k1").unwrap_err();
    assert!(
        matches!(redis_error(&err), RedisError::Command { .. }),
        "{err:?}"
    );
    assert!(store.fetch("k1", dir.path()).is_err());
    assert!(store.store(&small(dir.path(), "k1")).is_err());
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn the_breaker_trips_and_stops_calling_redis() {
    let port = free_port();
    let mut config = RedisConfig::new(format!("redis://127.0.0.1:{port}/0"));
    config.breaker_threshold = 3;
    config.breaker_cooldown = Duration::from_secs(600);
    let store = RedisStore::open(config).unwrap();
    for _ in 0..3 {
        let err = store.contains("k1").unwrap_err();
        assert!(
            matches!(redis_error(&err), RedisError::Command { .. }),
            "{err:?}"
        );
    }
    // Now a server is there, but the open breaker does not even try it.
    let server = RedisServer::start_on(port);
    let err = store.contains("k1").unwrap_err();
    assert!(
        matches!(redis_error(&err), RedisError::CircuitOpen { .. }),
        "{err:?}"
    );
    assert!(err.source_chain_mentions("circuit breaker"));
    assert!(store_at(server.url()).contains("k1").unwrap().is_none());
}

trait Mentions {
    fn source_chain_mentions(&self, text: &str) -> bool;
}

impl Mentions for CacheError {
    fn source_chain_mentions(&self, text: &str) -> bool {
        let mut current: Option<&dyn std::error::Error> = Some(self);
        while let Some(e) = current {
            if e.to_string().contains(text) {
                return true;
            }
            current = e.source();
        }
        false
    }
}

#[test]
fn concurrent_stores_of_one_key_all_succeed_and_leave_one_intact_entry() {
    let server = RedisServer::start();
    let dir = TempDir::new().unwrap();
    let mut config = RedisConfig::new(server.url());
    config.chunk_bytes = 64 << 10;
    let store = Arc::new(RedisStore::open(config).unwrap());
    // Different bytes per writer: the entry must still be one writer's blob with its own meta.
    let artifacts: Vec<_> = (0..6u64)
        .map(|i| {
            let log = vec![b'x'; i as usize + 1];
            artifact(
                dir.path(),
                "race",
                &[("b.bin", noise(1 << 20, i + 1))],
                &log,
            )
        })
        .collect();
    let artifacts = Arc::new(artifacts);
    let threads: Vec<_> = (0..artifacts.len())
        .map(|i| {
            let (store, artifacts) = (Arc::clone(&store), Arc::clone(&artifacts));
            std::thread::spawn(move || store.store(&artifacts[i]))
        })
        .collect();
    for t in threads {
        t.join().unwrap().unwrap();
    }
    let fetched = store.fetch("race", dir.path()).unwrap().unwrap();
    assert!(artifacts.iter().any(|a| a.meta() == fetched.meta()));
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query(&mut server.raw())
        .unwrap();
    assert_eq!(keys.len(), 2, "{keys:?}");
}

#[test]
fn accepts_rediss_urls_and_rejects_garbage() {
    assert!(RedisStore::open(RedisConfig::new("rediss://127.0.0.1:6380/0")).is_ok());
    let err = RedisStore::open(RedisConfig::new("http://u:secret@x")).unwrap_err();
    assert!(matches!(err, RedisError::Url { .. }));
    assert!(!err.to_string().contains("secret"), "{err}");
}

#[test]
fn rediss_speaks_tls_so_a_plain_server_is_an_error_not_a_panic() {
    // Proves a TLS crypto provider is wired in: without one, rustls would panic here.
    let server = RedisServer::start();
    let mut config = RedisConfig::new(format!("rediss://127.0.0.1:{}/0", server.port));
    config.timeout = Duration::from_millis(500);
    let store = RedisStore::open(config).unwrap();
    let err = store.contains("k1").unwrap_err();
    assert!(
        matches!(redis_error(&err), RedisError::Command { .. }),
        "{err:?}"
    );
}

#[test]
fn a_hit_refreshes_the_ttl_of_both_keys() {
    let server = RedisServer::start();
    let dir = TempDir::new().unwrap();
    let mut config = RedisConfig::new(server.url());
    config.ttl = Duration::from_secs(1000);
    let store = RedisStore::open(config).unwrap();
    store.store(&small(dir.path(), "warm")).unwrap();
    let keys = [store.meta_key("warm"), store.blob_key("warm")];
    for key in &keys {
        redis::cmd("PEXPIRE")
            .arg(key)
            .arg(60_000)
            .query::<i64>(&mut server.raw())
            .unwrap();
    }
    assert!(store.fetch("warm", dir.path()).unwrap().is_some());
    for key in &keys {
        let pttl: i64 = redis::cmd("PTTL")
            .arg(key)
            .query(&mut server.raw())
            .unwrap();
        assert!(pttl > 60_000, "{key}: {pttl}");
    }
}
