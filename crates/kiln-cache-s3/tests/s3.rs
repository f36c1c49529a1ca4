//! `S3Store` against a real S3 server: `s3s-fs` (an S3 API over a local directory that checks
//! SigV4 signatures), started on a free loopback port per test. Buckets are directories of its
//! root, objects files in them, so tests damage entries by editing the server's files.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kiln_cache::{CacheError, CacheStore, PackedArtifact};
use kiln_cache_s3::{MIN_PART_BYTES, S3Config, S3Error, S3Store};
use kiln_testkit::fixtures::{noise, packed as artifact};
use kiln_testkit::{ServerProcess, Silent, free_port};
use tempfile::TempDir;

const BUCKET: &str = "kiln-test";
const ACCESS_KEY: &str = "kiln-access";
const SECRET_KEY: &str = "kiln-secret-key-1234";

struct S3Server {
    process: ServerProcess,
}

impl S3Server {
    fn start() -> Self {
        Self {
            process: kiln_testkit::servers::s3s_fs(BUCKET, ACCESS_KEY, SECRET_KEY),
        }
    }

    /// The file holding `object` of the test bucket.
    fn file(&self, object: &str) -> PathBuf {
        self.process.dir().join("data").join(BUCKET).join(object)
    }

    fn config(&self, prefix: &str) -> S3Config {
        config_for(&self.process.url("http"), prefix, SECRET_KEY)
    }

    fn store(&self, prefix: &str) -> S3Store {
        S3Store::open(self.config(prefix)).unwrap()
    }
}

/// A configuration as a user would write it: URL with query, keys in the AWS variables.
fn config_for(endpoint: &str, prefix: &str, secret: &str) -> S3Config {
    let url = format!("s3://{BUCKET}/{prefix}?endpoint={endpoint}&region=us-east-1");
    let mut config = S3Config::from_url_with(&url, |name| match name {
        "AWS_ACCESS_KEY_ID" => Some(ACCESS_KEY.into()),
        "AWS_SECRET_ACCESS_KEY" => Some(secret.into()),
        _ => None,
    })
    .unwrap();
    config.connect_timeout = Duration::from_secs(1);
    config.request_timeout = Duration::from_secs(5);
    config.retries = 1;
    config
}

fn small(dir: &Path, key: &str) -> PackedArtifact {
    artifact(
        dir,
        key,
        &[("a.js", b"console.log(1)".to_vec())],
        b"built\n",
    )
}

fn s3_error(e: &CacheError) -> &S3Error {
    let source = match e {
        CacheError::Read { source, .. } | CacheError::Store { source, .. } => source,
        other => panic!("expected a Read or Store error, got {other:?}"),
    };
    source
        .get_ref()
        .and_then(|s| s.downcast_ref())
        .unwrap_or_else(|| panic!("expected an S3Error source, got {source:?}"))
}

fn same_bytes(a: &Path, b: &Path) -> bool {
    fs_err::read(a).unwrap() == fs_err::read(b).unwrap()
}

#[test]
fn round_trips_bytes_and_metadata_through_a_fresh_store() {
    let server = S3Server::start();
    let dir = TempDir::new().unwrap();
    let packed = small(dir.path(), "k1abc");
    server.store("team/kiln").store(&packed).unwrap();

    let fresh = server.store("team/kiln");
    assert_eq!(
        fresh.contains("k1abc").unwrap().as_ref(),
        Some(packed.meta())
    );
    let fetched = fresh
        .fetch("k1abc", &dir.path().join("fetch"))
        .unwrap()
        .unwrap();
    assert_eq!(fetched.meta(), packed.meta());
    assert!(same_bytes(fetched.path(), packed.path()));
    assert!(fetched.path().starts_with(dir.path().join("fetch")));
    assert!(
        packed.path().exists(),
        "storing leaves the artifact in place"
    );

    assert_eq!(
        fresh.blob_object("k1abc"),
        "team/kiln/kiln-v1/k1/k1abc.tar.zst"
    );
    assert_eq!(
        fresh.meta_object("k1abc"),
        "team/kiln/kiln-v1/k1/k1abc.json"
    );
    assert!(same_bytes(
        &server.file(&fresh.blob_object("k1abc")),
        packed.path()
    ));
    let meta_on_disk = fs_err::read(server.file(&fresh.meta_object("k1abc"))).unwrap();
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&meta_on_disk).unwrap(),
        serde_json::to_value(packed.meta()).unwrap(),
        "the metadata is stored as the ArtifactMeta serialises"
    );
    assert!(
        server.store("other").contains("k1abc").unwrap().is_none(),
        "prefixes keep caches apart"
    );
}

#[test]
fn an_absent_key_is_a_plain_miss() {
    let server = S3Server::start();
    let dir = TempDir::new().unwrap();
    let store = server.store("");
    assert!(store.contains("nope").unwrap().is_none());
    assert!(store.fetch("nope", dir.path()).unwrap().is_none());
    assert!(matches!(
        store.fetch("../etc", dir.path()),
        Err(CacheError::InvalidKey { .. })
    ));
    assert_eq!(store.meta_object("nope"), "kiln-v1/no/nope.json");
}

#[test]
fn the_first_writer_wins() {
    let server = S3Server::start();
    let dir = TempDir::new().unwrap();
    let store = server.store("p");
    let first = artifact(dir.path(), "race", &[("a", b"1".to_vec())], b"first");
    let second = artifact(dir.path(), "race", &[("a", b"2".to_vec())], b"second!");
    assert_ne!(first.meta().blob, second.meta().blob);

    store.store(&first).unwrap();
    store.store(&second).unwrap();
    let fetched = store.fetch("race", dir.path()).unwrap().unwrap();
    assert_eq!(fetched.meta(), first.meta());
    assert!(same_bytes(fetched.path(), first.path()));
}

#[test]
fn concurrent_writers_of_one_key_all_succeed() {
    let server = S3Server::start();
    let dir = TempDir::new().unwrap();
    let store = server.store("p");
    let packed = small(dir.path(), "same");
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| store.store(&packed).unwrap());
        }
    });
    let fetched = store.fetch("same", dir.path()).unwrap().unwrap();
    assert_eq!(fetched.meta(), packed.meta());
}

/// Edits the server's file of a blob.
type Damage = fn(&Path);

#[test]
fn a_damaged_entry_is_reported_corrupt_and_evicted() {
    let server = S3Server::start();
    let dir = TempDir::new().unwrap();
    let store = server.store("p");
    let damages: [(&str, Damage); 3] = [
        ("flipped", |blob| {
            let mut bytes = fs_err::read(blob).unwrap();
            bytes[10] ^= 0xff;
            fs_err::write(blob, bytes).unwrap();
        }),
        ("truncated", |blob| {
            let bytes = fs_err::read(blob).unwrap();
            fs_err::write(blob, &bytes[..bytes.len() - 1]).unwrap();
        }),
        ("bad-meta", |blob| {
            fs_err::write(
                blob.with_extension("").with_extension("json"),
                b"{\"format\":",
            )
            .unwrap();
        }),
    ];
    for (key, damage) in damages {
        store.store(&small(dir.path(), key)).unwrap();
        let (blob, meta) = (
            server.file(&store.blob_object(key)),
            server.file(&store.meta_object(key)),
        );
        damage(&blob);

        let err = store.fetch(key, dir.path()).unwrap_err();
        assert!(matches!(err, CacheError::Corrupt { .. }), "{key}: {err:?}");
        assert!(
            !blob.exists() && !meta.exists(),
            "{key}: both objects evicted"
        );
        assert!(
            store.fetch(key, dir.path()).unwrap().is_none(),
            "{key}: now a miss"
        );
    }
}

#[test]
fn metadata_whose_blob_is_gone_is_a_miss() {
    let server = S3Server::start();
    let dir = TempDir::new().unwrap();
    let store = server.store("p");
    store.store(&small(dir.path(), "orphan")).unwrap();
    fs_err::remove_file(server.file(&store.blob_object("orphan"))).unwrap();
    assert!(store.fetch("orphan", dir.path()).unwrap().is_none());
    assert!(!server.file(&store.meta_object("orphan")).exists());
}

#[test]
fn a_wrong_secret_key_is_refused_not_a_miss() {
    let server = S3Server::start();
    let dir = TempDir::new().unwrap();
    let good = server.store("p");
    good.store(&small(dir.path(), "sig")).unwrap();

    let config = config_for(&server.process.url("http"), "p", "not-the-secret");
    let bad = S3Store::open(config).unwrap();
    let err = bad.contains("sig").unwrap_err();
    assert!(matches!(s3_error(&err), S3Error::Request { .. }), "{err:?}");
    assert!(bad.fetch("sig", dir.path()).is_err());
    assert!(bad.store(&small(dir.path(), "other")).is_err());
    assert!(!server.file(&good.meta_object("other")).exists());
}

#[test]
fn streams_a_multipart_artifact_both_ways() {
    let server = S3Server::start();
    let dir = TempDir::new().unwrap();
    let mut config = server.config("big");
    config.part_bytes = MIN_PART_BYTES;
    let packed = artifact(
        dir.path(),
        "big",
        &[("blob.bin", noise(40 << 20, 7))],
        b"log",
    );
    assert!(packed.meta().blob.size > 40 << 20, "eight parts");

    S3Store::open(config.clone())
        .unwrap()
        .store(&packed)
        .unwrap();
    let fetched = S3Store::open(config)
        .unwrap()
        .fetch("big", dir.path())
        .unwrap()
        .unwrap();
    assert_eq!(fetched.meta(), packed.meta());
    assert!(same_bytes(fetched.path(), packed.path()));
    assert_no_upload_left(&server);
    // A multipart object's ETag ends in `-<parts>`; s3s-fs keeps it in `*.internal.json`.
    let parts: Vec<String> = fs_err::read_dir(server.process.dir().join("data"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".internal.json"))
        .map(|p| serde_json::from_slice::<serde_json::Value>(&fs_err::read(p).unwrap()).unwrap())
        .filter_map(|info| Some(info["e_tag"].as_str()?.split_once('-')?.1.to_owned()))
        .collect();
    assert_eq!(parts, ["9"], "40 MiB and a little in 5 MiB parts");
}

#[test]
fn a_blob_that_changed_since_packing_is_not_published() {
    let server = S3Server::start();
    let dir = TempDir::new().unwrap();
    let mut config = server.config("p");
    config.part_bytes = MIN_PART_BYTES;
    let store = S3Store::open(config).unwrap();
    let big = artifact(dir.path(), "grew", &[("b", noise(6 << 20, 3))], b"");
    let tiny = small(dir.path(), "shrank");
    for packed in [&big, &tiny] {
        let mut bytes = fs_err::read(packed.path()).unwrap();
        if packed.meta().key == "grew" {
            bytes.extend_from_slice(b"more");
        } else {
            bytes.pop();
        }
        fs_err::write(packed.path(), bytes).unwrap();
        let key = &packed.meta().key;
        let err = store.store(packed).unwrap_err();
        assert!(
            matches!(s3_error(&err), S3Error::BlobChanged { .. }),
            "{err:?}"
        );
        assert!(!server.file(&store.meta_object(key)).exists());
        assert!(store.contains(key).unwrap().is_none());
    }
    assert_no_upload_left(&server);
}

/// Parts of unfinished multipart uploads are files `.upload*` in the server's root.
fn assert_no_upload_left(server: &S3Server) {
    let root = server.process.dir().join("data");
    let leftovers: Vec<_> = fs_err::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(".upload"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_server_that_is_down_fails_fast() {
    let dir = TempDir::new().unwrap();
    let endpoint = format!("http://127.0.0.1:{}", free_port());
    let store = S3Store::open(config_for(&endpoint, "p", SECRET_KEY)).unwrap();
    let started = Instant::now();
    assert!(store.contains("k1").is_err());
    assert!(store.fetch("k1", dir.path()).is_err());
    assert!(store.store(&small(dir.path(), "k1")).is_err());
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_silent_server_errors_within_the_timeouts() {
    let silent = Silent::start();
    let dir = TempDir::new().unwrap();
    let mut config = config_for(&silent.url("http"), "p", SECRET_KEY);
    config.request_timeout = Duration::from_millis(500);
    config.retries = 1;
    let store = S3Store::open(config).unwrap();
    // Per call: two attempts of 0.5 s and one backoff of at most 2 s.
    for call in ["contains", "fetch", "store"] {
        let started = Instant::now();
        let result = match call {
            "contains" => store.contains("slow").map(|_| ()),
            "fetch" => store.fetch("slow", dir.path()).map(|_| ()),
            _ => store.store(&small(dir.path(), "slow")),
        };
        assert!(result.is_err(), "{call}");
        let took = started.elapsed();
        assert!(took < Duration::from_secs(4), "{call} took {took:?}");
    }
}

#[test]
fn the_breaker_stops_calling_a_failing_server() {
    let silent = Silent::start();
    let dir = TempDir::new().unwrap();
    let mut config = config_for(&silent.url("http"), "p", SECRET_KEY);
    config.request_timeout = Duration::from_millis(300);
    config.retries = 0;
    config.breaker_threshold = 2;
    let store = S3Store::open(config).unwrap();
    for _ in 0..2 {
        let err = store.contains("k1").unwrap_err();
        assert!(matches!(s3_error(&err), S3Error::Request { .. }), "{err:?}");
    }
    let connections = silent.connections();
    assert!(connections >= 2);

    let started = Instant::now();
    for _ in 0..5 {
        let err = store.fetch("k1", dir.path()).unwrap_err();
        assert!(
            matches!(s3_error(&err), S3Error::CircuitOpen { .. }),
            "{err:?}"
        );
        let err = store.store(&small(dir.path(), "k1")).unwrap_err();
        assert!(
            matches!(s3_error(&err), S3Error::CircuitOpen { .. }),
            "{err:?}"
        );
    }
    assert!(started.elapsed() < Duration::from_millis(500));
    assert_eq!(
        silent.connections(),
        connections,
        "no new connection once open"
    );
}
