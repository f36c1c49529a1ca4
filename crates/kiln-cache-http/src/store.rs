//! [`HttpStore`]: a [`CacheStore`] over the Turborepo remote cache HTTP API v8.
//!
//! # Design note
//!
//! Requests: `HEAD`/`GET`/`PUT {base}/v8/artifacts/{key}?teamId=…` (or `?slug=…`) with
//! `Authorization: Bearer <token>`; PUT adds `x-artifact-duration` (ms) and, with a signing
//! key, `x-artifact-tag`. One object per key holds header and blob (see `envelope.rs`).
//!
//! - `contains` GETs the object and reads only its header, then drops the connection: the API
//!   has no metadata-only call, and HEAD alone would answer without the metadata the contract
//!   asks for.
//! - `fetch` streams the body into a temp file under `scratch_dir`, feeding the signature check
//!   on the way, then verifies the blob against the header's digest and size. A bad header, a
//!   short body, a digest mismatch or a missing/wrong signature is [`CacheError::Corrupt`]
//!   (the API cannot delete; the key goes into [`DamagedKeys`], so the next `store` of it
//!   skips the HEAD and PUTs the fresh result over the damaged object).
//! - `store` first asks HEAD (first writer wins, and a present object costs no upload), then
//!   streams header ‖ blob from disk with an exact `Content-Length`. With a signing key the
//!   file is read twice (MAC first, since the tag is a header), never held in memory.
//! - Connection errors and 5xx answers are retried `retries` times with doubling backoff;
//!   4xx answers are not (they will not change). Each operation that still fails counts
//!   towards the [`Breaker`]; once open, every call fails at once without touching the network.

use std::io::{self, Read};
use std::path::Path;
use std::thread;

use kiln_cache::staging::temp_in;
use kiln_cache::{
    ArtifactMeta, Breaker, CacheError, CacheStore, DamagedKeys, PackedArtifact, validate_key,
};

use crate::config::HttpConfig;
use crate::envelope::{self, HeaderError};
use crate::signature::Signer;

/// A remote cache tier speaking the Turborepo HTTP API. Cheap to share across threads.
#[derive(Debug)]
pub struct HttpStore {
    config: HttpConfig,
    agent: ureq::Agent,
    breaker: Breaker,
    /// Keys whose object was found damaged: their next `store` overwrites them.
    damaged: DamagedKeys,
}

/// How one HTTP exchange ended, before it is turned into a [`CacheError`].
enum Failure {
    /// The server could not be reached or the transfer broke; worth retrying.
    Transport(String),
    /// The server answered with this status.
    Status(u16, String),
}

impl Failure {
    fn retryable(&self) -> bool {
        match self {
            Failure::Transport(_) => true,
            Failure::Status(code, _) => *code >= 500,
        }
    }

    fn into_io(self) -> io::Error {
        match self {
            Failure::Transport(msg) => io::Error::new(io::ErrorKind::ConnectionRefused, msg),
            Failure::Status(code @ (401 | 403), msg) => io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("{msg} answered {code}: check TURBO_TOKEN and the team"),
            ),
            Failure::Status(code, msg) => io::Error::other(format!("{msg} answered {code}")),
        }
    }
}

impl HttpStore {
    pub fn new(config: HttpConfig) -> Self {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(config.connect_timeout)
            .timeout(config.timeout)
            .user_agent(concat!("kiln/", env!("CARGO_PKG_VERSION")))
            .build();
        let breaker = Breaker::for_run(config.breaker_threshold);
        Self {
            config,
            agent,
            breaker,
            damaged: DamagedKeys::default(),
        }
    }

    pub fn config(&self) -> &HttpConfig {
        &self.config
    }

    /// True once the circuit breaker has given up on the server for this store's life.
    pub fn is_disabled(&self) -> bool {
        self.breaker.is_open()
    }

    fn url(&self, key: &str) -> String {
        format!("{}/v8/artifacts/{key}", self.config.base_url)
    }

    fn request(&self, method: &str, key: &str) -> ureq::Request {
        let mut req = self
            .agent
            .request(method, &self.url(key))
            .set("Authorization", &format!("Bearer {}", self.config.token));
        if let Some((name, value)) = self.config.team_query() {
            req = req.query(name, value);
        }
        req
    }

    fn signer(&self, key: &str, body_len: u64) -> Option<Signer> {
        let team = self.config.team_id.as_deref().unwrap_or("");
        self.config
            .signing_key
            .as_deref()
            .map(|k| Signer::new(k, key, team, body_len))
    }

    /// Runs `call` with retries; `Ok(None)` is a 404. Feeds the breaker with the outcome.
    fn exchange(
        &self,
        method: &str,
        key: &str,
        // Boxed: ureq's error is large and this is the slow path anyway.
        call: impl Fn() -> Result<ureq::Response, Box<ureq::Error>>,
    ) -> Result<Option<ureq::Response>, io::Error> {
        if self.breaker.is_open() {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                format!(
                    "remote cache {} disabled for this run after repeated failures",
                    self.config.base_url
                ),
            ));
        }
        let what = format!("{method} {}", self.url(key));
        let mut attempt = 0;
        let failure = loop {
            let failure = match call().map_err(|e| *e) {
                Ok(response) => {
                    self.breaker.success();
                    return Ok(Some(response));
                }
                Err(ureq::Error::Status(404, _)) => {
                    self.breaker.success();
                    return Ok(None);
                }
                Err(ureq::Error::Status(code, _)) => Failure::Status(code, what.clone()),
                Err(ureq::Error::Transport(t)) => Failure::Transport(format!("{what}: {t}")),
            };
            if !failure.retryable() || attempt >= self.config.retries {
                break failure;
            }
            let wait = self.config.retry_backoff * 2u32.saturating_pow(attempt);
            tracing::debug!(%what, attempt, ?wait, "retrying remote cache request");
            thread::sleep(wait);
            attempt += 1;
        };
        let error = failure.into_io();
        self.breaker.failure(&self.config.base_url, &error);
        Err(error)
    }

    /// A transfer that broke after the answer started counts against the breaker too.
    fn transfer_failed(&self, key: &str, source: io::Error) -> CacheError {
        self.breaker.failure(&self.config.base_url, &source);
        CacheError::Read {
            key: key.to_string(),
            source,
        }
    }

    /// Downloads the raw object stored under `key`, whoever wrote it (kiln or Turborepo),
    /// into a temporary file under `scratch_dir`, checking its `x-artifact-tag` when a signing
    /// key is configured. For interoperability checks and diagnostics; tiers use `fetch`.
    pub fn fetch_object(
        &self,
        key: &str,
        scratch_dir: &Path,
    ) -> Result<Option<tempfile::TempPath>, CacheError> {
        let Some(response) = self.get(key)? else {
            return Ok(None);
        };
        let read_err = |source| CacheError::Read {
            key: key.to_string(),
            source,
        };
        let tag = self.expected_tag(key, &response)?;
        let (file, path) = temp_in(scratch_dir, ".http-").map_err(read_err)?;
        let mut sink = io::BufWriter::new(file);
        // The body's length is signed ahead of it and a chunked answer does not announce it:
        // spool first, then check the signature from disk.
        let len = io::copy(&mut response.into_reader(), &mut sink)
            .map_err(|e| self.transfer_failed(key, e))?;
        sink.into_inner().map_err(|e| read_err(e.into_error()))?;
        if let Some(mut signer) = self.signer(key, len) {
            let mut file = fs_err::File::open(&path).map_err(read_err)?;
            feed(&mut signer, &mut file).map_err(read_err)?;
            check_signature(key, Some(signer), tag)?;
        }
        Ok(Some(path))
    }

    /// The tag the object must match, or an error for an unsigned object when signatures
    /// are required.
    /// `GET` of the object under `key` (after checking the key): `None` on a miss.
    fn get(&self, key: &str) -> Result<Option<ureq::Response>, CacheError> {
        validate_key(key)?;
        self.exchange("GET", key, || {
            self.request("GET", key).call().map_err(Box::new)
        })
        .map_err(|source| CacheError::Read {
            key: key.to_string(),
            source,
        })
    }

    fn expected_tag(
        &self,
        key: &str,
        response: &ureq::Response,
    ) -> Result<Option<String>, CacheError> {
        let tag = response.header("x-artifact-tag").map(str::to_string);
        if self.config.signing_key.is_some() && tag.is_none() {
            return Err(self.corrupt(key, "unsigned object, and signatures are required"));
        }
        Ok(tag)
    }

    fn corrupt(&self, key: &str, reason: impl Into<String>) -> CacheError {
        self.damaged.mark(key);
        CacheError::Corrupt {
            key: key.to_string(),
            reason: reason.into(),
        }
    }
}

impl CacheStore for HttpStore {
    fn name(&self) -> &str {
        "http"
    }

    fn contains(&self, key: &str) -> Result<Option<ArtifactMeta>, CacheError> {
        let Some(response) = self.get(key)? else {
            return Ok(None);
        };
        let mut body = response.into_reader();
        match envelope::read_header(&mut body, key, |_| {}) {
            Ok(meta) => Ok(Some(meta)),
            Err(HeaderError::Io(e)) => Err(self.transfer_failed(key, e)),
            Err(HeaderError::Invalid(reason)) => Err(self.corrupt(key, reason)),
        }
    }

    fn fetch(&self, key: &str, scratch_dir: &Path) -> Result<Option<PackedArtifact>, CacheError> {
        let Some(response) = self.get(key)? else {
            return Ok(None);
        };
        let read_err = |source| CacheError::Read {
            key: key.to_string(),
            source,
        };
        let tag = self.expected_tag(key, &response)?;
        let mut body = response.into_reader();
        let mut header = Vec::new();
        let meta = match envelope::read_header(&mut body, key, |b| header.extend_from_slice(b)) {
            Ok(meta) => meta,
            Err(HeaderError::Io(e)) => return Err(self.transfer_failed(key, e)),
            Err(HeaderError::Invalid(reason)) => return Err(self.corrupt(key, reason)),
        };

        // The header announces the blob size, so the signed body length is known up front;
        // a body of any other length is refused below whatever its tag says.
        let mut signer = self.signer(key, header.len() as u64 + meta.blob.size);
        if let Some(signer) = signer.as_mut() {
            signer.update(&header);
        }
        let (file, path) = temp_in(scratch_dir, ".http-").map_err(read_err)?;
        // Read one byte past the announced size: a longer body is as wrong as a shorter one.
        let mut limited = body.take(meta.blob.size + 1);
        let mut sink = SigningWriter {
            inner: io::BufWriter::new(file),
            signer: signer.as_mut(),
        };
        let copied = io::copy(&mut limited, &mut sink).map_err(|e| self.transfer_failed(key, e))?;
        let file = sink
            .inner
            .into_inner()
            .map_err(|e| read_err(e.into_error()))?;
        drop(file);
        if copied != meta.blob.size {
            return Err(self.corrupt(
                key,
                if copied > meta.blob.size {
                    format!(
                        "blob is longer than the {} bytes its header says",
                        meta.blob.size
                    )
                } else {
                    format!("blob is {copied} bytes, its header says {}", meta.blob.size)
                },
            ));
        }
        check_signature(key, signer, tag)?;
        let artifact = PackedArtifact::from_parts(path, meta);
        if let Err(e) = artifact.verify() {
            if let CacheError::Corrupt { reason, .. } = e {
                return Err(self.corrupt(key, reason));
            }
            return Err(e);
        }
        Ok(Some(artifact))
    }

    fn store(&self, artifact: &PackedArtifact) -> Result<(), CacheError> {
        let meta = artifact.meta();
        let key = meta.key.as_str();
        validate_key(key)?;
        let store_err = |source| CacheError::Store {
            key: key.to_string(),
            source,
        };
        if !self.damaged.contains(key)
            && self
                .exchange("HEAD", key, || {
                    self.request("HEAD", key).call().map_err(Box::new)
                })
                .map_err(store_err)?
                .is_some()
        {
            tracing::debug!(key, "already in the remote cache");
            return Ok(());
        }
        let header = envelope::header(meta);
        let size = fs_err::metadata(artifact.path()).map_err(store_err)?.len();
        if size != meta.blob.size {
            return Err(store_err(io::Error::other(format!(
                "{} is {size} bytes, its metadata says {}",
                artifact.path().display(),
                meta.blob.size
            ))));
        }
        self.put(key, &header, artifact.path(), size, meta.duration_ms)
            .map_err(store_err)?;
        self.damaged.repaired(key);
        Ok(())
    }
}

impl HttpStore {
    /// Uploads the file at `path` as the raw object under `key` (signed when a signing key
    /// is configured), replacing what is there. The counterpart of
    /// [`fetch_object`](Self::fetch_object), for interoperability: an object in Turborepo's
    /// own format uploaded this way is restored by `turbo`.
    pub fn store_object(&self, key: &str, path: &Path, duration_ms: u64) -> Result<(), CacheError> {
        validate_key(key)?;
        let store_err = |source| CacheError::Store {
            key: key.to_string(),
            source,
        };
        let size = fs_err::metadata(path).map_err(store_err)?.len();
        self.put(key, &[], path, size, duration_ms)
            .map_err(store_err)
    }

    /// PUTs `header` followed by the first `size` bytes of the file at `path`, streamed.
    fn put(
        &self,
        key: &str,
        header: &[u8],
        path: &Path,
        size: u64,
        duration_ms: u64,
    ) -> io::Result<()> {
        let open = || fs_err::File::open(path);
        let tag = match self.signer(key, header.len() as u64 + size) {
            Some(mut signer) => {
                signer.update(header);
                let mut file = open()?;
                feed(&mut signer, &mut (&mut file).take(size))?;
                Some(signer.tag())
            }
            None => None,
        };
        let length = (header.len() as u64 + size).to_string();
        let duration = duration_ms.to_string();
        let result = self.exchange("PUT", key, || {
            let file = match open() {
                Ok(file) => file,
                Err(e) => return Err(Box::new(ureq::Error::from(e))),
            };
            let mut req = self
                .request("PUT", key)
                .set("Content-Type", "application/octet-stream")
                .set("Content-Length", &length)
                .set("x-artifact-duration", &duration);
            if let Some(tag) = &tag {
                req = req.set("x-artifact-tag", tag);
            }
            req.send(io::Cursor::new(header).chain(file.take(size)))
                .map_err(Box::new)
        })?;
        match result {
            Some(_) => Ok(()),
            None => Err(io::Error::other(format!(
                "PUT {} answered 404",
                self.url(key)
            ))),
        }
    }
}

fn feed(signer: &mut Signer, reader: &mut impl Read) -> io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match reader.read(&mut buf)? {
            0 => return Ok(()),
            n => signer.update(&buf[..n]),
        }
    }
}

fn check_signature(
    key: &str,
    signer: Option<Signer>,
    tag: Option<String>,
) -> Result<(), CacheError> {
    if let (Some(signer), Some(tag)) = (signer, tag)
        && !signer.verify(&tag)
    {
        return Err(CacheError::Corrupt {
            key: key.to_string(),
            reason: "x-artifact-tag signature does not match".into(),
        });
    }
    Ok(())
}

/// Writes through while feeding the signature check, so verification needs no second read.
struct SigningWriter<'a, W> {
    inner: W,
    signer: Option<&'a mut Signer>,
}

impl<W: io::Write> io::Write for SigningWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        if let Some(signer) = self.signer.as_mut() {
            signer.update(&buf[..n]);
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn keys_that_could_escape_the_url_path_are_refused() {
        for key in ["a", "../etc", "a/b", "a?b=c", "ключ", &"x".repeat(129)] {
            assert!(validate_key(key).is_err(), "{key}");
        }
        validate_key("9f2c_ab-01").unwrap();
    }

    #[test]
    fn nothing_listening_fails_fast_and_trips_the_breaker() {
        // Port 9 (discard) on loopback: nothing listens there in a test sandbox.
        let mut config = HttpConfig::new("http://127.0.0.1:9", "t");
        config.team_id = Some("team".into());
        config.retries = 1;
        config.retry_backoff = Duration::from_millis(1);
        config.breaker_threshold = 2;
        let store = HttpStore::new(config);
        let start = std::time::Instant::now();
        assert!(matches!(store.contains("k1"), Err(CacheError::Read { .. })));
        assert!(!store.is_disabled());
        assert!(store.contains("k1").is_err());
        assert!(store.is_disabled());
        let err = store.contains("k1").unwrap_err();
        assert!(format!("{:?}", err).contains("disabled"), "{err:?}");
        assert!(start.elapsed() < Duration::from_secs(5));
    }
}
