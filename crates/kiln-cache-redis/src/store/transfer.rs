//! Moving blobs in `chunk_bytes` pieces: `SET`/`APPEND` to a temporary key on the way up,
//! `GETRANGE` into a temporary file on the way down. Neither side holds a whole artifact in
//! memory, and each piece is one short command, well inside the timeout, whatever the size.

use std::io::{self, Read, Write};
use std::path::Path;

use kiln_cache::CacheError;
use kiln_cache::staging::temp_in;

use super::RedisStore;

/// Lifetime of an abandoned upload (refreshed at every chunk).
const TMP_TTL_MS: u64 = 3600 * 1000;

impl RedisStore {
    pub(super) fn upload(&self, key: &str, tmp: &str, blob: &Path) -> Result<(), CacheError> {
        let store_err = |source: io::Error| CacheError::Store {
            key: key.to_owned(),
            source,
        };
        let mut file = fs_err::File::open(blob).map_err(store_err)?;
        let mut buf = vec![0u8; self.config.chunk_bytes.max(1)];
        let mut first = true;
        loop {
            let n = read_full(&mut file, &mut buf).map_err(store_err)?;
            if n == 0 && !first {
                return Ok(());
            }
            let chunk = &buf[..n];
            let sent = if first {
                self.pool.call("upload a blob", |con| {
                    redis::cmd("SET")
                        .arg(tmp)
                        .arg(chunk)
                        .arg("PX")
                        .arg(TMP_TTL_MS)
                        .query::<()>(con)
                })
            } else {
                self.pool.call("upload a blob", |con| {
                    redis::pipe()
                        .cmd("APPEND")
                        .arg(tmp)
                        .arg(chunk)
                        .ignore()
                        .cmd("PEXPIRE")
                        .arg(tmp)
                        .arg(TMP_TTL_MS)
                        .ignore()
                        .query::<()>(con)
                })
            };
            sent.map_err(|e| store_err(io::Error::other(e)))?;
            first = false;
            if n < buf.len() {
                return Ok(());
            }
        }
    }

    pub(super) fn download(
        &self,
        key: &str,
        size: u64,
        scratch_dir: &Path,
    ) -> Result<tempfile::TempPath, CacheError> {
        let read_err = |source: io::Error| CacheError::Read {
            key: key.to_owned(),
            source,
        };
        let (file, path) = temp_in(scratch_dir, ".redis-").map_err(read_err)?;
        let mut out = io::BufWriter::new(file);
        let blob_key = self.blob_key(key);
        let chunk = self.config.chunk_bytes.max(1) as u64;
        let mut offset = 0u64;
        while offset < size {
            let end = (offset + chunk).min(size) - 1;
            let piece: Vec<u8> = self
                .pool
                .call("download a blob", |con| {
                    redis::cmd("GETRANGE")
                        .arg(&blob_key)
                        .arg(offset)
                        .arg(end)
                        .query(con)
                })
                .map_err(|e| read_err(io::Error::other(e)))?;
            if piece.is_empty() {
                // The blob vanished or shrank under us: what we have fails verification.
                break;
            }
            out.write_all(&piece).map_err(read_err)?;
            offset += piece.len() as u64;
        }
        out.flush().map_err(read_err)?;
        Ok(path)
    }
}

/// Fills `buf` unless the file ends first; returns how much was read.
fn read_full(file: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}
