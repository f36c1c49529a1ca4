//! Errors of the object storage tier. Through the [`kiln_cache::CacheStore`] trait they travel
//! as the `source` of a [`kiln_cache::CacheError::Read`] or [`kiln_cache::CacheError::Store`].

use std::io;

/// What can go wrong setting up or talking to the object store. URLs hold no secrets
/// (credentials come from variables), so they are shown as given.
#[derive(Debug, thiserror::Error)]
pub enum S3Error {
    #[error("invalid cache URL `{url}`: {reason}")]
    Url { url: String, reason: String },

    #[error("cannot set up the object store client for {url}")]
    Client {
        url: String,
        #[source]
        source: Box<object_store::Error>,
    },

    #[error("cannot start the I/O runtime of the object store client for {url}")]
    Runtime {
        url: String,
        #[source]
        source: io::Error,
    },

    #[error("{url} failed to {op} `{path}`")]
    Request {
        url: String,
        op: &'static str,
        path: String,
        #[source]
        source: Box<object_store::Error>,
    },

    /// The circuit breaker is open after repeated failures: the service was not called.
    #[error("{url} is skipped after repeated failures (circuit breaker open)")]
    CircuitOpen { url: String },

    /// The blob changed size while it was uploaded; no metadata was written, so the upload is
    /// invisible to readers.
    #[error("the blob of `{key}` was {expected} bytes but {uploaded} were uploaded to {url}")]
    BlobChanged {
        url: String,
        key: String,
        expected: u64,
        uploaded: u64,
    },
}

impl S3Error {
    /// True for a definite "no such object" from a healthy service.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Request { source, .. }
            if matches!(**source, object_store::Error::NotFound { .. }))
    }
}
