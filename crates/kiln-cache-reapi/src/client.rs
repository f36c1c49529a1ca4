//! [`ReapiClient`]: the gRPC side of the store. It owns a small tokio runtime and a lazily
//! connected channel, adds the configured headers to every call, and runs each call with a
//! timeout and bounded retries. Streamed blob transfers live in `transfer.rs`.
//!
//! # Design note
//!
//! kiln is synchronous (worker threads), tonic is async: the client owns a 2-worker runtime
//! and the store `block_on`s it from whichever thread calls (a multi-thread runtime allows
//! that from many threads at once). The channel is `connect_lazy`: opening a store costs no
//! network round trip, the first call connects. Every attempt is bounded by
//! `request_timeout` (a server that accepts and never answers costs that, not forever);
//! UNAVAILABLE, DEADLINE_EXCEEDED and RESOURCE_EXHAUSTED are retried with doubling backoff,
//! anything else is final. The server's capabilities are asked once per client and kept.

use std::future::Future;

use bazel_remote_apis::build::bazel::remote::execution::v2::{
    ActionResult, BatchReadBlobsRequest, BatchUpdateBlobsRequest, Digest, FindMissingBlobsRequest,
    GetActionResultRequest, GetCapabilitiesRequest, RequestMetadata, ToolDetails,
    UpdateActionResultRequest, action_cache_client::ActionCacheClient, batch_update_blobs_request,
    capabilities_client::CapabilitiesClient,
    content_addressable_storage_client::ContentAddressableStorageClient, digest_function,
};
use prost::Message;
use tokio::runtime::Runtime;
use tokio::sync::OnceCell;
use tonic::metadata::{AsciiMetadataKey, AsciiMetadataValue, MetadataValue};
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};
use tonic::{Code, Request, Status};

use crate::action::digest_of;
use crate::config::{ReapiConfig, ReapiConfigError};

/// Batch limit assumed when the server announces none (0): gRPC's default 4 MiB message
/// size, less room for the request's framing.
pub(crate) const DEFAULT_BATCH_LIMIT: u64 = 4 * 1024 * 1024 - 64 * 1024;
/// Largest message the client accepts or sends; batches are kept below it.
const MAX_MESSAGE: usize = 64 * 1024 * 1024;
const METADATA_HEADER: &str = "build.bazel.remote.execution.v2.requestmetadata-bin";

/// What the server said about itself (GetCapabilities), reduced to what kiln uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerCapabilities {
    /// Blobs (with framing) up to this size go through the batch calls.
    pub batch_limit: u64,
    /// False when the server refuses UpdateActionResult: the store is read-only.
    pub update_enabled: bool,
}

/// A REAPI client for one endpoint and instance, usable from synchronous code.
pub struct ReapiClient {
    pub(crate) config: ReapiConfig,
    pub(crate) runtime: Runtime,
    pub(crate) channel: Channel,
    headers: Vec<(AsciiMetadataKey, AsciiMetadataValue)>,
    request_metadata: Vec<u8>,
    capabilities: OnceCell<ServerCapabilities>,
}

impl std::fmt::Debug for ReapiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReapiClient")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl ReapiClient {
    /// Builds the client without touching the network.
    pub fn new(config: ReapiConfig) -> Result<Self, ReapiConfigError> {
        let headers = config
            .headers
            .iter()
            .map(|(name, value)| {
                let bad = || ReapiConfigError::BadHeader { name: name.clone() };
                let key = AsciiMetadataKey::from_bytes(name.to_ascii_lowercase().as_bytes())
                    .map_err(|_| bad())?;
                let value = AsciiMetadataValue::try_from(value.as_str()).map_err(|_| bad())?;
                Ok((key, value))
            })
            .collect::<Result<Vec<_>, ReapiConfigError>>()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("kiln-reapi")
            .enable_all()
            .build()
            .map_err(ReapiConfigError::Runtime)?;
        let uri = config.transport_uri()?;
        let mut endpoint = Endpoint::from_shared(uri)
            .map_err(|_| ReapiConfigError::BadUrl {
                url: config.endpoint.clone(),
            })?
            .connect_timeout(config.connect_timeout)
            .tcp_nodelay(true)
            .user_agent(concat!("kiln/", env!("CARGO_PKG_VERSION")))
            .map_err(|_| ReapiConfigError::BadUrl {
                url: config.endpoint.clone(),
            })?;
        if config.uses_tls() {
            endpoint = endpoint
                .tls_config(ClientTlsConfig::new().with_enabled_roots())
                .map_err(|e| ReapiConfigError::Tls {
                    endpoint: config.endpoint.clone(),
                    reason: e.to_string(),
                })?;
        }
        // The lazy channel spawns its connection worker: it needs the runtime's context.
        let channel = {
            let _guard = runtime.enter();
            endpoint.connect_lazy()
        };
        let request_metadata = RequestMetadata {
            tool_details: Some(ToolDetails {
                tool_name: "kiln".into(),
                tool_version: env!("CARGO_PKG_VERSION").into(),
            }),
            ..Default::default()
        }
        .encode_to_vec();
        Ok(Self {
            config,
            runtime,
            channel,
            headers,
            request_metadata,
            capabilities: OnceCell::new(),
        })
    }

    pub fn config(&self) -> &ReapiConfig {
        &self.config
    }

    pub(crate) fn instance(&self) -> String {
        self.config.instance_name.clone()
    }

    /// Wraps `message` with the configured headers and kiln's RequestMetadata.
    pub(crate) fn request<T>(&self, message: T) -> Request<T> {
        let mut request = Request::new(message);
        let metadata = request.metadata_mut();
        for (key, value) in &self.headers {
            metadata.insert(key.clone(), value.clone());
        }
        metadata.insert_bin(
            METADATA_HEADER,
            MetadataValue::from_bytes(&self.request_metadata),
        );
        request
    }

    pub(crate) fn cas(&self) -> ContentAddressableStorageClient<Channel> {
        ContentAddressableStorageClient::new(self.channel.clone())
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE)
    }

    fn action_cache(&self) -> ActionCacheClient<Channel> {
        ActionCacheClient::new(self.channel.clone())
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE)
    }

    /// Runs `call` with a per-attempt timeout and bounded retries on transient codes.
    pub(crate) async fn retrying<T, F, Fut>(&self, what: &str, mut call: F) -> Result<T, Status>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Status>>,
    {
        let mut attempt = 0;
        loop {
            let result = match tokio::time::timeout(self.config.request_timeout, call()).await {
                Ok(result) => result,
                Err(_) => Err(Status::deadline_exceeded(format!(
                    "no answer within {:?}",
                    self.config.request_timeout
                ))),
            };
            match result {
                Err(status) if retryable(status.code()) && attempt < self.config.retries => {
                    let wait = self.config.retry_backoff * 2u32.saturating_pow(attempt);
                    tracing::debug!(what, attempt, ?wait, %status, "retrying REAPI call");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// The server's capabilities, asked once. A server without the Capabilities service is
    /// assumed to be a plain SHA-256 cache; one without SHA-256 is refused.
    pub(crate) async fn capabilities(&self) -> Result<ServerCapabilities, Status> {
        self.capabilities
            .get_or_try_init(|| async {
                let answer = self
                    .retrying("GetCapabilities", || async {
                        CapabilitiesClient::new(self.channel.clone())
                            .get_capabilities(self.request(GetCapabilitiesRequest {
                                instance_name: self.instance(),
                            }))
                            .await
                    })
                    .await;
                let caps = match answer {
                    Ok(response) => response.into_inner().cache_capabilities,
                    Err(status) if status.code() == Code::Unimplemented => None,
                    Err(status) => return Err(status),
                };
                let Some(caps) = caps else {
                    return Ok(ServerCapabilities {
                        batch_limit: DEFAULT_BATCH_LIMIT,
                        update_enabled: true,
                    });
                };
                let sha256 = digest_function::Value::Sha256 as i32;
                if !caps.digest_functions.is_empty() && !caps.digest_functions.contains(&sha256) {
                    return Err(Status::failed_precondition(format!(
                        "the server's instance `{}` does not offer SHA-256 digests",
                        self.config.instance_name
                    )));
                }
                let announced = u64::try_from(caps.max_batch_total_size_bytes).unwrap_or(0);
                let batch_limit = match announced {
                    0 => DEFAULT_BATCH_LIMIT,
                    n => n.min(MAX_MESSAGE as u64 / 2),
                };
                Ok(ServerCapabilities {
                    batch_limit,
                    update_enabled: caps
                        .action_cache_update_capabilities
                        .is_none_or(|c| c.update_enabled),
                })
            })
            .await
            .cloned()
    }

    pub(crate) async fn get_action_result_async(
        &self,
        action: &Digest,
        inline: &[&str],
    ) -> Result<Option<ActionResult>, Status> {
        let result = self
            .retrying("GetActionResult", || async {
                self.action_cache()
                    .get_action_result(self.request(GetActionResultRequest {
                        instance_name: self.instance(),
                        action_digest: Some(action.clone()),
                        inline_output_files: inline.iter().map(|s| s.to_string()).collect(),
                        ..Default::default()
                    }))
                    .await
            })
            .await;
        match result {
            Ok(response) => Ok(Some(response.into_inner())),
            Err(status) if status.code() == Code::NotFound => Ok(None),
            Err(status) => Err(status),
        }
    }

    pub(crate) async fn update_action_result_async(
        &self,
        action: &Digest,
        result: &ActionResult,
    ) -> Result<(), Status> {
        self.retrying("UpdateActionResult", || async {
            self.action_cache()
                .update_action_result(self.request(UpdateActionResultRequest {
                    instance_name: self.instance(),
                    action_digest: Some(action.clone()),
                    action_result: Some(result.clone()),
                    ..Default::default()
                }))
                .await
        })
        .await
        .map(drop)
    }

    /// The digests among `digests` the server does not have.
    pub(crate) async fn find_missing(&self, digests: &[Digest]) -> Result<Vec<Digest>, Status> {
        let response = self
            .retrying("FindMissingBlobs", || async {
                self.cas()
                    .find_missing_blobs(self.request(FindMissingBlobsRequest {
                        instance_name: self.instance(),
                        blob_digests: digests.to_vec(),
                        ..Default::default()
                    }))
                    .await
            })
            .await?;
        Ok(response.into_inner().missing_blob_digests)
    }

    /// Uploads small blobs in one BatchUpdateBlobs; any per-blob failure fails the call.
    pub(crate) async fn batch_update(&self, blobs: &[(Digest, Vec<u8>)]) -> Result<(), Status> {
        if blobs.is_empty() {
            return Ok(());
        }
        let response = self
            .retrying("BatchUpdateBlobs", || async {
                self.cas()
                    .batch_update_blobs(
                        self.request(BatchUpdateBlobsRequest {
                            instance_name: self.instance(),
                            requests: blobs
                                .iter()
                                .map(|(digest, data)| batch_update_blobs_request::Request {
                                    digest: Some(digest.clone()),
                                    data: data.clone(),
                                    ..Default::default()
                                })
                                .collect(),
                            ..Default::default()
                        }),
                    )
                    .await
            })
            .await?;
        for answer in response.into_inner().responses {
            if let Some(status) = answer.status.filter(|s| s.code != Code::Ok as i32) {
                let hash = answer.digest.map(|d| d.hash).unwrap_or_default();
                return Err(Status::new(
                    Code::from_i32(status.code),
                    format!("BatchUpdateBlobs refused blob {hash}: {}", status.message),
                ));
            }
        }
        Ok(())
    }

    /// Reads one small blob with BatchReadBlobs; `None` when the server does not have it.
    pub(crate) async fn batch_read(&self, digest: &Digest) -> Result<Option<Vec<u8>>, Status> {
        let response = self
            .retrying("BatchReadBlobs", || async {
                self.cas()
                    .batch_read_blobs(self.request(BatchReadBlobsRequest {
                        instance_name: self.instance(),
                        digests: vec![digest.clone()],
                        ..Default::default()
                    }))
                    .await
            })
            .await?;
        let Some(answer) = response.into_inner().responses.into_iter().next() else {
            return Err(Status::internal("BatchReadBlobs answered no blob"));
        };
        match answer.status.map_or(Code::Ok as i32, |s| s.code) {
            c if c == Code::Ok as i32 => Ok(Some(answer.data)),
            c if c == Code::NotFound as i32 => Ok(None),
            c => Err(Status::new(
                Code::from_i32(c),
                format!("BatchReadBlobs of {}", digest.hash),
            )),
        }
    }

    // Low-level synchronous calls, for diagnostics and tests (the store uses the async ones).

    /// GetActionResult for an action digest; `None` when the server has none.
    pub fn get_action_result(&self, action: &Digest) -> Result<Option<ActionResult>, Status> {
        self.runtime
            .block_on(self.get_action_result_async(action, &[]))
    }

    /// UpdateActionResult: files `result` under `action`, replacing what was there.
    pub fn update_action_result(
        &self,
        action: &Digest,
        result: &ActionResult,
    ) -> Result<(), Status> {
        self.runtime
            .block_on(self.update_action_result_async(action, result))
    }

    /// Uploads `bytes` as one CAS blob (BatchUpdateBlobs) and returns its digest.
    pub fn upload_blob(&self, bytes: Vec<u8>) -> Result<Digest, Status> {
        let digest = digest_of(&bytes);
        self.runtime
            .block_on(self.batch_update(&[(digest.clone(), bytes)]))?;
        Ok(digest)
    }

    /// Reads one small CAS blob (BatchReadBlobs); `None` when the server does not have it.
    pub fn read_blob(&self, digest: &Digest) -> Result<Option<Vec<u8>>, Status> {
        self.runtime.block_on(self.batch_read(digest))
    }

    /// The server's capabilities as kiln uses them (asked once, then remembered).
    pub fn server_capabilities(&self) -> Result<ServerCapabilities, Status> {
        self.runtime.block_on(self.capabilities())
    }
}

/// Codes worth another attempt: the server or the path to it may recover.
pub(crate) fn retryable(code: Code) -> bool {
    matches!(
        code,
        Code::Unavailable | Code::DeadlineExceeded | Code::ResourceExhausted
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opening_touches_no_network_and_sets_up_tls() {
        // Nothing listens on these; building the clients must not care.
        ReapiClient::new(ReapiConfig::new("grpc://127.0.0.1:9")).unwrap();
        let tls = ReapiClient::new(ReapiConfig::new("grpcs://cache.invalid:443")).unwrap();
        assert!(tls.config().uses_tls());
    }

    #[test]
    fn headers_that_grpc_cannot_carry_are_refused() {
        let mut config = ReapiConfig::new("grpc://127.0.0.1:9");
        config.headers = vec![("bad header".into(), "v".into())];
        assert!(matches!(
            ReapiClient::new(config.clone()),
            Err(ReapiConfigError::BadHeader { .. })
        ));
        config.headers = vec![("X-Api-Key".into(), "line\nbreak".into())];
        assert!(matches!(
            ReapiClient::new(config.clone()),
            Err(ReapiConfigError::BadHeader { .. })
        ));
        config.headers = vec![("X-Api-Key".into(), "ok".into())];
        ReapiClient::new(config).unwrap();
    }

    #[test]
    fn only_transient_codes_are_retried() {
        assert!(retryable(Code::Unavailable));
        assert!(retryable(Code::ResourceExhausted));
        assert!(!retryable(Code::NotFound));
        assert!(!retryable(Code::PermissionDenied));
    }
}
