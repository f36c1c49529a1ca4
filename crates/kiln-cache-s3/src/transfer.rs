//! Moving blobs between a local file and an object, streamed both ways.
//!
//! Each function returns a nested result: the outer error is the service's (it counts for the
//! circuit breaker), the inner one a local file's (a full disk says nothing about the service).
//!
//! Up: a blob of at most `part_bytes` goes in one PUT (read whole: it is small by definition);
//! a larger one as a multipart upload of `part_bytes` parts, at most [`PARTS_IN_FLIGHT`] at a
//! time, so memory stays a few parts whatever the blob's size. Any failure aborts the
//! multipart upload, so no parts are left behind to be billed.
//!
//! Down: the object's size (from the response headers) is compared with the metadata first,
//! so a truncated or padded blob is caught without transferring it; then the body is written
//! to the local file as it arrives.

use std::io::{self, Read, Write};

use futures_util::StreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};

/// Parts uploaded concurrently in a multipart upload.
pub(crate) const PARTS_IN_FLIGHT: usize = 2;

/// How much of the file is read at a time in a multipart upload.
const READ_BYTES: usize = 1 << 20;

/// Local failures inside a remote operation (the inner error of the nested results).
pub(crate) type Local<T> = Result<T, io::Error>;

/// Uploads `file` to `path`; returns the number of bytes uploaded. Reads at most
/// `expected + 1` bytes, so a blob that grew is detected without uploading all of it.
pub(crate) async fn upload(
    store: &dyn ObjectStore,
    path: &Path,
    file: &std::path::Path,
    expected: u64,
    part_bytes: usize,
) -> Result<Local<u64>, object_store::Error> {
    let file = match fs_err::File::open(file) {
        Ok(file) => file,
        Err(e) => return Ok(Err(e)),
    };
    if expected <= part_bytes as u64 {
        let mut bytes = Vec::with_capacity(usize::try_from(expected).unwrap_or(0));
        if let Err(e) = file.take(expected + 1).read_to_end(&mut bytes) {
            return Ok(Err(e));
        }
        let len = bytes.len() as u64;
        if len != expected {
            return Ok(Ok(len));
        }
        store.put(path, PutPayload::from(bytes)).await?;
        return Ok(Ok(len));
    }
    let upload = store.put_multipart(path).await?;
    let mut writer = WriteMultipart::new_with_chunk_size(upload, part_bytes);
    let mut reader = file.take(expected + 1);
    let mut buf = vec![0u8; READ_BYTES];
    let mut sent = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                abort(writer, path).await;
                return Ok(Err(e));
            }
        };
        if let Err(e) = writer.wait_for_capacity(PARTS_IN_FLIGHT).await {
            abort(writer, path).await;
            return Err(e);
        }
        writer.write(&buf[..n]);
        sent += n as u64;
    }
    if sent != expected {
        // Completing would publish a blob that cannot match its metadata.
        abort(writer, path).await;
        return Ok(Ok(sent));
    }
    // `finish` aborts the upload itself when a part or the completion fails.
    writer.finish().await?;
    Ok(Ok(sent))
}

async fn abort(writer: WriteMultipart, path: &Path) {
    if let Err(e) = writer.abort().await {
        tracing::debug!(%path, error = %e, "could not abort a multipart upload");
    }
}

/// What a download found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Downloaded {
    /// The whole object is in the file.
    Complete,
    /// The object is not the size the metadata records; nothing was transferred.
    WrongSize(u64),
}

/// Streams the object at `path` into `out`, if it is `expected` bytes long.
pub(crate) async fn download(
    store: &dyn ObjectStore,
    path: &Path,
    expected: u64,
    out: &mut impl Write,
) -> Result<Local<Downloaded>, object_store::Error> {
    let result = store.get(path).await?;
    if result.meta.size != expected {
        return Ok(Ok(Downloaded::WrongSize(result.meta.size)));
    }
    let mut stream = result.into_stream();
    let mut received = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        received += chunk.len() as u64;
        if let Err(e) = out.write_all(&chunk) {
            return Ok(Err(e));
        }
    }
    if received != expected {
        // A cut connection, not a damaged object: must not get the entry evicted.
        return Err(object_store::Error::Generic {
            store: "kiln-cache-s3",
            source: format!("the download of {path} ended after {received} of {expected} bytes")
                .into(),
        });
    }
    Ok(out.flush().map(|()| Downloaded::Complete))
}

/// The whole (small) object at `path`.
pub(crate) async fn read_small(
    store: &dyn ObjectStore,
    path: &Path,
) -> Result<Vec<u8>, object_store::Error> {
    Ok(store.get(path).await?.bytes().await?.to_vec())
}
