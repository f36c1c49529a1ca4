//! Moving blobs between a local file and the CAS: small ones through the batch calls, large
//! ones through ByteStream in 1 MiB chunks, streamed from and to disk so a blob is never held
//! in memory whole.
//!
//! Resource names (REAPI v2): uploads `{instance}/uploads/{uuid}/blobs/{hash}/{size}`,
//! downloads `{instance}/blobs/{hash}/{size}`; the instance part and its `/` are left out for
//! the default instance. A retried upload starts over under a fresh uuid; a retried download
//! truncates the file and starts over.

use std::path::Path;

use bazel_remote_apis::build::bazel::remote::execution::v2::Digest;
use bazel_remote_apis::google::bytestream::{
    ReadRequest, WriteRequest, byte_stream_client::ByteStreamClient,
};
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Code, Status};

use crate::action::hex;
use crate::client::ReapiClient;

/// Size of one ByteStream message.
pub(crate) const CHUNK: usize = 1024 * 1024;

/// Room a blob needs in a batch request besides its bytes (digest, framing).
const BATCH_OVERHEAD: u64 = 1024;

impl ReapiClient {
    fn resource_prefix(&self) -> String {
        match self.config.instance_name.as_str() {
            "" => String::new(),
            name => format!("{name}/"),
        }
    }

    /// True when a blob of `size` bytes goes through the batch calls.
    pub(crate) async fn fits_batch(&self, size: i64) -> Result<bool, Status> {
        let limit = self.capabilities().await?.batch_limit;
        Ok((size.max(0) as u64).saturating_add(BATCH_OVERHEAD) <= limit)
    }

    /// Uploads the file at `path` (whose digest is `digest`) with ByteStream.Write.
    pub(crate) async fn write_file(&self, path: &Path, digest: &Digest) -> Result<(), Status> {
        self.retrying("ByteStream.Write", || async {
            let resource = format!(
                "{}uploads/{}/blobs/{}/{}",
                self.resource_prefix(),
                uuid::Uuid::new_v4(),
                digest.hash,
                digest.size_bytes
            );
            let (tx, rx) = tokio::sync::mpsc::channel(2);
            let producer = tokio::spawn(send_chunks(
                path.to_path_buf(),
                digest.size_bytes,
                resource,
                tx,
            ));
            let answer = ByteStreamClient::new(self.channel.clone())
                .write(self.request(ReceiverStream::new(rx)))
                .await;
            let produced = producer
                .await
                .map_err(|e| Status::internal(format!("upload task failed: {e}")))?;
            // A file that could not be read explains a broken stream better than the server.
            produced.map_err(|e| local_io(path, &e))?;
            let committed = answer?.into_inner().committed_size;
            if committed != digest.size_bytes {
                return Err(Status::data_loss(format!(
                    "ByteStream.Write committed {committed} of {} bytes",
                    digest.size_bytes
                )));
            }
            Ok(())
        })
        .await
    }

    /// Downloads the blob `digest` into `path` (created or truncated); returns the digest of
    /// what arrived (never more than one byte past the expected size), or `None` when the
    /// server does not have it. The caller compares digests.
    pub(crate) async fn read_to_file(
        &self,
        digest: &Digest,
        path: &Path,
    ) -> Result<Option<Digest>, Status> {
        if self.fits_batch(digest.size_bytes).await? {
            let Some(bytes) = self.batch_read(digest).await? else {
                return Ok(None);
            };
            tokio::fs::write(path, &bytes)
                .await
                .map_err(|e| local_io(path, &e))?;
            return Ok(Some(crate::action::digest_of(&bytes)));
        }
        let resource = format!(
            "{}blobs/{}/{}",
            self.resource_prefix(),
            digest.hash,
            digest.size_bytes
        );
        let result = self
            .retrying("ByteStream.Read", || async {
                let file = tokio::fs::File::create(path)
                    .await
                    .map_err(|e| local_io(path, &e))?;
                let mut sink = BufWriter::with_capacity(CHUNK, file);
                let mut stream = ByteStreamClient::new(self.channel.clone())
                    .read(self.request(ReadRequest {
                        resource_name: resource.clone(),
                        read_offset: 0,
                        read_limit: 0,
                    }))
                    .await?
                    .into_inner();
                let mut hasher = Sha256::new();
                let mut size: i64 = 0;
                while let Some(message) = stream.message().await? {
                    hasher.update(&message.data);
                    size += message.data.len() as i64;
                    sink.write_all(&message.data)
                        .await
                        .map_err(|e| local_io(path, &e))?;
                    if size > digest.size_bytes {
                        break;
                    }
                }
                sink.shutdown().await.map_err(|e| local_io(path, &e))?;
                Ok(Digest {
                    hash: hex(&hasher.finalize()),
                    size_bytes: size,
                })
            })
            .await;
        match result {
            Ok(got) => Ok(Some(got)),
            Err(status) if status.code() == Code::NotFound => Ok(None),
            Err(status) => Err(status),
        }
    }
}

/// Feeds the ByteStream.Write request stream from the file, one chunk at a time.
async fn send_chunks(
    path: std::path::PathBuf,
    size: i64,
    resource: String,
    tx: tokio::sync::mpsc::Sender<WriteRequest>,
) -> std::io::Result<()> {
    let mut file = tokio::fs::File::open(&path).await?;
    let mut offset: i64 = 0;
    loop {
        let mut data = Vec::with_capacity(CHUNK);
        let n = (&mut file)
            .take(CHUNK as u64)
            .read_to_end(&mut data)
            .await? as i64;
        if n == 0 && offset < size {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("file ended at {offset} of {size} bytes"),
            ));
        }
        let finish = offset + n >= size;
        let request = WriteRequest {
            // Only the first message names the resource.
            resource_name: if offset == 0 {
                resource.clone()
            } else {
                String::new()
            },
            write_offset: offset,
            finish_write: finish,
            data,
        };
        if tx.send(request).await.is_err() {
            // The call ended (error or early commit): its answer says which.
            return Ok(());
        }
        offset += n;
        if finish {
            return Ok(());
        }
    }
}

fn local_io(path: &Path, error: &std::io::Error) -> Status {
    Status::internal(format!("local file {}: {error}", path.display()))
}
