//! The object kiln stores under one key: a small header carrying the [`ArtifactMeta`], then
//! the blob, so one HTTP object holds a whole entry and one GET brings back both.
//!
//! # Encoding (version 1)
//!
//! ```text
//! offset  size  what
//! 0       8     magic  b"KILNART1"
//! 8       4     n      length of the metadata JSON, big-endian u32, at most 64 KiB
//! 12      n     meta   the artifact's ArtifactMeta as JSON (UTF-8)
//! 12+n    …     blob   the compressed artifact, exactly meta.blob.size bytes
//! ```
//!
//! The metadata is first so `contains` can answer from the first few hundred bytes and
//! `fetch` knows the expected digest and size before the blob arrives. Nothing in the header
//! is trusted beyond parsing: the blob is checked against the digest once it is on disk, and a
//! signature (when configured) covers the whole object, header included. Objects that do not
//! start with the magic (Turborepo's own tarballs sharing the cache, garbage) are corrupt for
//! kiln, never misread.

use std::io::{self, Read};

use kiln_cache::{ArtifactMeta, FORMAT_VERSION};

/// The first 8 bytes of every object kiln uploads.
pub const MAGIC: &[u8; 8] = b"KILNART1";
const MAX_META: u32 = 64 * 1024;

/// The header bytes (magic, length, JSON) for `meta`.
pub(crate) fn header(meta: &ArtifactMeta) -> Vec<u8> {
    let json = serde_json::to_vec(meta).expect("metadata serialises");
    let len = u32::try_from(json.len()).expect("metadata is small");
    let mut out = Vec::with_capacity(12 + json.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&json);
    out
}

/// Why an object cannot be a kiln entry for the key asked for.
#[derive(Debug)]
pub(crate) enum HeaderError {
    /// The transfer broke off: a network problem, not a damaged object.
    Io(io::Error),
    /// The bytes are there but are not a valid entry for this key.
    Invalid(String),
}

/// Reads the header from the start of an object, leaving `reader` at the first blob byte.
/// Every byte read is also passed to `seen` (the signature check).
pub(crate) fn read_header(
    reader: &mut impl Read,
    key: &str,
    mut seen: impl FnMut(&[u8]),
) -> Result<ArtifactMeta, HeaderError> {
    let mut fixed = [0u8; 12];
    read_exact(reader, &mut fixed)?;
    seen(&fixed);
    if &fixed[..8] != MAGIC {
        return Err(HeaderError::Invalid(
            "not a kiln artifact (bad magic)".into(),
        ));
    }
    let len = u32::from_be_bytes(fixed[8..].try_into().expect("4 bytes"));
    if len > MAX_META {
        return Err(HeaderError::Invalid(format!(
            "metadata length {len} exceeds {MAX_META} bytes"
        )));
    }
    let mut json = vec![0u8; len as usize];
    read_exact(reader, &mut json)?;
    seen(&json);
    let meta: ArtifactMeta = serde_json::from_slice(&json)
        .map_err(|e| HeaderError::Invalid(format!("unreadable metadata: {e}")))?;
    if meta.format != FORMAT_VERSION {
        return Err(HeaderError::Invalid(format!(
            "metadata format {} is not {FORMAT_VERSION}",
            meta.format
        )));
    }
    if meta.key != key {
        return Err(HeaderError::Invalid(format!(
            "metadata is for key `{}`",
            meta.key
        )));
    }
    Ok(meta)
}

fn read_exact(reader: &mut impl Read, buf: &mut [u8]) -> Result<(), HeaderError> {
    reader.read_exact(buf).map_err(|e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            HeaderError::Invalid("object is shorter than its header".into())
        } else {
            HeaderError::Io(e)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_cache::BlobDigest;

    fn meta(key: &str) -> ArtifactMeta {
        ArtifactMeta {
            format: FORMAT_VERSION,
            key: key.into(),
            blob: BlobDigest {
                blake3: "ab".into(),
                size: 4,
            },
            duration_ms: 12,
            exit_code: 0,
            files: 1,
            created_unix_ms: 5,
            signature: None,
            seal: None,
        }
    }

    fn parse(bytes: &[u8], key: &str) -> Result<(ArtifactMeta, Vec<u8>), String> {
        let mut reader = bytes;
        let mut seen = Vec::new();
        let meta =
            read_header(&mut reader, key, |b| seen.extend_from_slice(b)).map_err(|e| match e {
                HeaderError::Invalid(reason) => reason,
                HeaderError::Io(e) => e.to_string(),
            })?;
        assert_eq!(seen, bytes[..bytes.len() - reader.len()]);
        Ok((meta, reader.to_vec()))
    }

    #[test]
    fn header_then_blob_round_trips() {
        let mut object = header(&meta("k1"));
        object.extend_from_slice(b"blob");
        let (parsed, rest) = parse(&object, "k1").unwrap();
        assert_eq!(parsed, meta("k1"));
        assert_eq!(rest, b"blob");
    }

    #[test]
    fn refuses_foreign_truncated_or_misfiled_objects() {
        assert!(
            parse(b"\x1f\x8b gzip tarball from turbo", "k1")
                .unwrap_err()
                .contains("magic")
        );
        let object = header(&meta("k1"));
        assert!(
            parse(&object[..object.len() - 3], "k1")
                .unwrap_err()
                .contains("shorter")
        );
        assert!(parse(&object, "k2").unwrap_err().contains("k1"));
        let mut huge = MAGIC.to_vec();
        huge.extend_from_slice(&u32::MAX.to_be_bytes());
        assert!(parse(&huge, "k1").unwrap_err().contains("exceeds"));
        let future = ArtifactMeta {
            format: FORMAT_VERSION + 1,
            ..meta("k1")
        };
        assert!(
            parse(&header(&future), "k1")
                .unwrap_err()
                .contains("format")
        );
    }
}
