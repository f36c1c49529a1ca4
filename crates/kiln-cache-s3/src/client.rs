//! The object store client: an `object_store` backend for the URL's service, the tokio runtime
//! it runs on, and the circuit breaker every call goes through.
//!
//! kiln's engine is synchronous (one thread per running task), `object_store` is async: the
//! client owns a small multi-thread runtime (two workers drive the sockets and timers) and each
//! call `block_on`s it from the calling thread, so many kiln threads can call at once.
//!
//! Timeouts and retries are `object_store`'s own (connect, read and whole-request timeouts on
//! every request; bounded retries with exponential backoff on connection errors, timeouts and
//! 5xx answers). The breaker sits around whole operations: a failed operation (after its
//! retries) counts once; a definite answer from a healthy service (`404`, `412`) counts as a
//! success.

use std::future::Future;
use std::sync::Arc;

use kiln_cache::Breaker;
use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::path::Path;
use object_store::{BackoffConfig, ClientOptions, ObjectStore, RetryConfig};

use crate::config::{Location, S3Config, Scheme};
use crate::error::S3Error;

pub(crate) struct Client {
    pub(crate) store: Arc<dyn ObjectStore>,
    runtime: tokio::runtime::Runtime,
    breaker: Breaker,
    /// `scheme://bucket/prefix`, for messages.
    pub(crate) url: String,
    /// Where every object of the store lives (the URL's prefix, then `kiln-v<format>`).
    pub(crate) root: Path,
}

impl Client {
    /// Builds the backend without touching the network.
    pub(crate) fn new(config: &S3Config) -> Result<Self, S3Error> {
        let location = Location::parse(&config.url)?;
        // One TLS crypto stack for the whole of kiln (ring, shared with the Redis tier). A
        // provider installed earlier, by kiln or a library, is as good.
        let _ = rustls::crypto::ring::default_provider().install_default();

        let url = config.url.clone();
        let store = build_store(config, &location).map_err(|source| S3Error::Client {
            url: url.clone(),
            source: Box::new(source),
        })?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("kiln-object-store")
            .enable_all()
            .build()
            .map_err(|source| S3Error::Runtime {
                url: url.clone(),
                source,
            })?;
        let prefix = Path::parse(&location.prefix).map_err(|e| S3Error::Url {
            url: url.clone(),
            reason: e.to_string(),
        })?;
        let root = prefix.join(format!("kiln-v{}", kiln_cache::FORMAT_VERSION));
        Ok(Self {
            store,
            runtime,
            breaker: Breaker::for_run(config.breaker_threshold),
            url,
            root,
        })
    }

    /// Runs one operation on `path` through the breaker.
    pub(crate) fn call<T>(
        &self,
        op: &'static str,
        path: &Path,
        operation: impl Future<Output = Result<T, object_store::Error>>,
    ) -> Result<T, S3Error> {
        self.call_with(op, path, operation, |source| S3Error::Request {
            url: self.url.clone(),
            op,
            path: path.to_string(),
            source: Box::new(source),
        })
    }

    /// [`Client::call`] for operations whose errors are already [`S3Error`]s.
    pub(crate) fn call_with<T, E>(
        &self,
        op: &'static str,
        path: &Path,
        operation: impl Future<Output = Result<T, E>>,
        into_error: impl FnOnce(E) -> S3Error,
    ) -> Result<T, S3Error> {
        if !self.breaker.allows() {
            return Err(S3Error::CircuitOpen {
                url: self.url.clone(),
            });
        }
        let outcome = self.runtime.block_on(operation).map_err(into_error);
        match &outcome {
            Ok(_) => self.breaker.success(),
            Err(e) if is_definite_answer(e) => self.breaker.success(),
            Err(e) => {
                tracing::debug!(op, %path, error = %e, "object store call failed");
                self.breaker.failure(&self.url, e);
            }
        }
        outcome
    }
}

/// A definite answer about the object from a service that works: not a reason to give up on it.
fn is_definite_answer(error: &S3Error) -> bool {
    let S3Error::Request { source, .. } = error else {
        return false;
    };
    matches!(
        **source,
        object_store::Error::NotFound { .. }
            | object_store::Error::Precondition { .. }
            | object_store::Error::AlreadyExists { .. }
            | object_store::Error::NotModified { .. }
    )
}

fn build_store(
    config: &S3Config,
    location: &Location,
) -> Result<Arc<dyn ObjectStore>, object_store::Error> {
    let client = ClientOptions::new()
        .with_connect_timeout(config.connect_timeout)
        .with_read_timeout(config.request_timeout)
        .with_timeout(config.transfer_timeout)
        .with_allow_http(config.allow_http);
    let retry = RetryConfig {
        backoff: BackoffConfig {
            init_backoff: std::time::Duration::from_millis(100),
            max_backoff: std::time::Duration::from_secs(2),
            base: 2.0,
        },
        max_retries: config.retries,
        retry_timeout: config.retry_timeout,
    };
    let bucket_url = format!("{}://{}", location.url.scheme(), location.bucket);
    Ok(match location.scheme {
        Scheme::S3 => {
            // `from_env` keeps the environment's other credential sources (instance profile,
            // container credentials, web identity) for when no keys are given.
            let mut builder = AmazonS3Builder::from_env()
                .with_url(bucket_url)
                .with_client_options(client)
                .with_retry(retry);
            if let Some(region) = &config.region {
                builder = builder.with_region(region);
            }
            if let Some(endpoint) = &config.endpoint {
                // S3-compatible servers rarely have per-bucket host names: path-style.
                builder = builder
                    .with_endpoint(endpoint)
                    .with_virtual_hosted_style_request(false);
            }
            if let Some(id) = &config.access_key_id {
                builder = builder.with_access_key_id(id);
            }
            if let Some(secret) = &config.secret_access_key {
                builder = builder.with_secret_access_key(secret);
            }
            if let Some(token) = &config.session_token {
                builder = builder.with_token(token);
            }
            Arc::new(builder.build()?)
        }
        Scheme::Gcs => Arc::new(
            GoogleCloudStorageBuilder::from_env()
                .with_url(bucket_url)
                .with_client_options(client)
                .with_retry(retry)
                .build()?,
        ),
        Scheme::Azure => Arc::new(
            MicrosoftAzureBuilder::from_env()
                .with_url(bucket_url)
                .with_client_options(client)
                .with_retry(retry)
                .build()?,
        ),
    })
}
