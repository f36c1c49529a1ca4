//! Streaming BLAKE3 over blobs: a writer that hashes what it passes on (packing) and a reader
//! that hashes what it hands out (verifying while scanning), so no blob is ever held in memory.

use std::io::{self, Read, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

/// The BLAKE3 digest (hex) and byte size of a compressed artifact blob.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobDigest {
    pub blake3: String,
    pub size: u64,
}

impl BlobDigest {
    /// Digest of the file at `path`, read in a streaming fashion.
    pub fn of_file(path: &Path) -> io::Result<Self> {
        let mut reader = HashingReader::new(fs_err::File::open(path)?);
        io::copy(&mut reader, &mut io::sink())?;
        Ok(reader.digest())
    }
}

pub(crate) struct HashingWriter<W> {
    inner: W,
    hasher: blake3::Hasher,
    size: u64,
}

impl<W: Write> HashingWriter<W> {
    pub(crate) fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: blake3::Hasher::new(),
            size: 0,
        }
    }

    pub(crate) fn finish(mut self) -> io::Result<(W, BlobDigest)> {
        self.inner.flush()?;
        let digest = BlobDigest {
            blake3: self.hasher.finalize().to_hex().to_string(),
            size: self.size,
        };
        Ok((self.inner, digest))
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

pub(crate) struct HashingReader<R> {
    inner: R,
    hasher: blake3::Hasher,
    size: u64,
}

impl<R: Read> HashingReader<R> {
    pub(crate) fn new(inner: R) -> Self {
        Self {
            inner,
            hasher: blake3::Hasher::new(),
            size: 0,
        }
    }

    /// Reads what is left so the digest covers the whole stream, then returns it.
    pub(crate) fn drain(mut self) -> io::Result<BlobDigest> {
        io::copy(&mut self, &mut io::sink())?;
        Ok(self.digest())
    }

    pub(crate) fn digest(&self) -> BlobDigest {
        BlobDigest {
            blake3: self.hasher.finalize().to_hex().to_string(),
            size: self.size,
        }
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writer_and_reader_agree_with_a_file_digest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blob");
        let mut writer = HashingWriter::new(fs_err::File::create(&path).unwrap());
        writer.write_all(b"some compressed bytes").unwrap();
        let (_, written) = writer.finish().unwrap();

        let read = HashingReader::new(fs_err::File::open(&path).unwrap())
            .drain()
            .unwrap();
        assert_eq!(written, read);
        assert_eq!(written, BlobDigest::of_file(&path).unwrap());
        assert_eq!(written.size, 21);
        assert_eq!(
            written.blake3,
            blake3::hash(b"some compressed bytes").to_hex().to_string()
        );
    }
}
