//! The remote cache servers the integration tests run against, started on free loopback
//! ports and stopped when the test ends, each with a client of kiln's own store for it (to
//! plant crafted artifacts) and a way to damage what it holds.

use std::path::PathBuf;
use std::sync::Arc;

use kiln_cache::CacheStore;
use kiln_cache_http::{HttpConfig, HttpStore};
use kiln_cache_reapi::{ARTIFACT_PATH, ReapiConfig, ReapiStore, action_digest};
use kiln_cache_redis::{RedisConfig, RedisStore};
use kiln_cache_s3::{S3Config, S3Store};
use kiln_testkit::{ServerProcess, servers};

/// The bearer token the Turborepo-protocol server expects.
pub(crate) const TOKEN: &str = "kiln-it-token";
/// The S3 server's credentials, given to every kiln the remote tests run.
pub(crate) const S3_ACCESS_KEY: &str = "kiln-it-access";
pub(crate) const S3_SECRET_KEY: &str = "kiln-it-secret-key";
const S3_BUCKET: &str = "kiln-it";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Redis,
    Http,
    Reapi,
    S3,
}

impl Kind {
    /// What `--remote-cache` is given for this store's server on `port` of 127.0.0.1.
    pub(crate) fn url(self, port: u16) -> String {
        match self {
            Kind::Redis => format!("redis://127.0.0.1:{port}"),
            Kind::Http => format!("http://127.0.0.1:{port}"),
            Kind::Reapi => format!("grpc://127.0.0.1:{port}?instance=main"),
            Kind::S3 => {
                format!("s3://{S3_BUCKET}/cache?endpoint=http://127.0.0.1:{port}&region=us-east-1")
            }
        }
    }
}

/// A running remote cache server.
pub(crate) struct Remote {
    pub(crate) kind: Kind,
    server: ServerProcess,
}

impl Remote {
    pub(crate) fn start(kind: Kind) -> Remote {
        let server = match kind {
            Kind::Redis => servers::redis(),
            Kind::Http => servers::turborepo_cache(TOKEN, None),
            Kind::Reapi => servers::buildgrid(|config| config),
            Kind::S3 => servers::s3s_fs(S3_BUCKET, S3_ACCESS_KEY, S3_SECRET_KEY),
        };
        Remote { kind, server }
    }

    /// What `--remote-cache` is given.
    pub(crate) fn url(&self) -> String {
        self.kind.url(self.server.port())
    }

    /// A client of the same store kiln opens for [`url`](Self::url), with kiln's defaults.
    pub(crate) fn client(&self) -> Arc<dyn CacheStore> {
        match self.kind {
            Kind::Redis => Arc::new(RedisStore::open(RedisConfig::new(self.url())).unwrap()),
            Kind::Http => {
                let mut config = HttpConfig::new(self.url(), TOKEN.to_string());
                config.slug = Some("kiln".into());
                Arc::new(HttpStore::new(config))
            }
            Kind::Reapi => Arc::new(self.reapi()),
            Kind::S3 => Arc::new(self.s3()),
        }
    }

    fn s3(&self) -> S3Store {
        let lookup = |name: &str| match name {
            "AWS_ACCESS_KEY_ID" => Some(S3_ACCESS_KEY.to_string()),
            "AWS_SECRET_ACCESS_KEY" => Some(S3_SECRET_KEY.to_string()),
            _ => None,
        };
        S3Store::open(S3Config::from_url_with(&self.url(), lookup).unwrap()).unwrap()
    }

    fn reapi(&self) -> ReapiStore {
        ReapiStore::open(ReapiConfig::from_url(&self.url()).unwrap()).unwrap()
    }

    /// Damages the blob stored under `key` on the server, leaving its metadata intact.
    pub(crate) fn damage(&self, key: &str) {
        match self.kind {
            Kind::Redis => {
                let store = RedisStore::open(RedisConfig::new(self.url())).unwrap();
                let client = redis::Client::open(self.url()).unwrap();
                let mut con = client.get_connection().unwrap();
                let blob = store.blob_key(key);
                let len: usize = redis::cmd("STRLEN").arg(&blob).query(&mut con).unwrap();
                assert!(len > 0, "no blob under {blob}");
                let () = redis::cmd("SETRANGE")
                    .arg(&blob)
                    .arg(len / 2)
                    .arg("garbage!")
                    .query(&mut con)
                    .unwrap();
            }
            Kind::S3 => {
                let object = self.s3().blob_object(key);
                let path = self.server.dir().join("data").join(S3_BUCKET).join(object);
                let mut bytes = std::fs::read(&path).unwrap();
                let n = bytes.len();
                for b in &mut bytes[n / 2..n / 2 + 8] {
                    *b ^= 0x5a;
                }
                std::fs::write(&path, bytes).unwrap();
            }
            Kind::Http => {
                // One object per key: the KILNART1 header, then the blob; damage its end.
                let path = self.http_object(key);
                let mut bytes = std::fs::read(&path).unwrap();
                let n = bytes.len();
                for b in &mut bytes[n - 8..] {
                    *b ^= 0x5a;
                }
                std::fs::write(&path, bytes).unwrap();
            }
            Kind::Reapi => {
                // Content-addressed storage cannot hold wrong bytes under a digest it checks:
                // the damage is an action result naming another blob.
                let client = self.reapi();
                let client = client.client();
                let action = action_digest(key);
                let mut result = client.get_action_result(&action).unwrap().unwrap();
                let wrong = client.upload_blob(b"not the artifact".to_vec()).unwrap();
                let file = result
                    .output_files
                    .iter_mut()
                    .find(|f| f.path == ARTIFACT_PATH)
                    .unwrap();
                file.digest = Some(wrong);
                client.update_action_result(&action, &result).unwrap();
            }
        }
    }

    fn http_object(&self, key: &str) -> PathBuf {
        self.server.dir().join("kiln").join(key)
    }
}
