//! The stat cache on disk (`.kiln/state/stat-cache-v1.bin` in the CLI).
//!
//! ```text
//! magic     8 bytes   "KILNSTAT"
//! version   u32 LE    FORMAT_VERSION
//! count     u64 LE    number of entries
//! checksum  32 bytes  BLAKE3 of the body
//! body      count × { path_len u32, path (UTF-8, root-relative), size u64,
//!                     mtime_ns i64, ctime_ns i64, inode u64, digest 32 bytes }  (LE, sorted)
//! ```
//!
//! Everything is checked before anything is trusted: magic, version, checksum, and that the
//! body holds exactly `count` well-formed entries. Any failure discards the whole file with a
//! single warning; the cost is one full hash of the tree. Writes go to a temporary file in the
//! same directory and are renamed over the old file, so a reader sees the old file or the new
//! one, never half of one. There is no fsync: a file cut short by a crash fails its checksum.

use std::collections::HashMap;
use std::io::{self, Write};
use std::path::Path;

use crate::stat_cache::{Entry, Stat};
use crate::{Digest, HashError};

const MAGIC: &[u8; 8] = b"KILNSTAT";
/// Bump on any change of the layout above or of what a digest means.
pub(crate) const FORMAT_VERSION: u32 = 1;
const HEADER_LEN: usize = 8 + 4 + 8 + 32;

/// The entries saved at `path`, or `None` when there is no well-formed file there.
pub(crate) fn read(path: &Path) -> Option<HashMap<String, Entry>> {
    let bytes = match fs_err::read(path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            tracing::debug!(path = %path.display(), "no stat cache yet");
            return None;
        }
        Err(err) => {
            tracing::warn!("stat cache discarded: {err}");
            return None;
        }
    };
    match decode(&bytes) {
        Ok(entries) => {
            tracing::debug!(path = %path.display(), entries = entries.len(), "stat cache loaded");
            Some(entries)
        }
        Err(reason) => {
            tracing::warn!(path = %path.display(), "stat cache discarded: {reason}");
            None
        }
    }
}

pub(crate) fn write(path: &Path, entries: &[(String, Entry)]) -> Result<(), HashError> {
    let bytes = encode(entries);
    let save_err = |source| HashError::SaveStatCache {
        path: path.to_path_buf(),
        source,
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs_err::create_dir_all(dir).map_err(save_err)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(save_err)?;
    tmp.write_all(&bytes).map_err(save_err)?;
    tmp.persist(path).map_err(|e| save_err(e.error))?;
    tracing::debug!(path = %path.display(), entries = entries.len(), "stat cache saved");
    Ok(())
}

pub(crate) fn encode(entries: &[(String, Entry)]) -> Vec<u8> {
    let mut body = Vec::with_capacity(entries.len() * 96);
    for (path, entry) in entries {
        body.extend_from_slice(&(path.len() as u32).to_le_bytes());
        body.extend_from_slice(path.as_bytes());
        body.extend_from_slice(&entry.stat.size.to_le_bytes());
        body.extend_from_slice(&entry.stat.mtime_ns.to_le_bytes());
        body.extend_from_slice(&entry.stat.ctime_ns.to_le_bytes());
        body.extend_from_slice(&entry.stat.ino.to_le_bytes());
        body.extend_from_slice(entry.digest.as_bytes());
    }
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&(entries.len() as u64).to_le_bytes());
    out.extend_from_slice(blake3::hash(&body).as_bytes());
    out.extend_from_slice(&body);
    out
}

pub(crate) fn decode(bytes: &[u8]) -> Result<HashMap<String, Entry>, String> {
    let mut r = Reader(bytes);
    if r.take(8)? != MAGIC {
        return Err("not a kiln stat cache".into());
    }
    let version = r.u32()?;
    if version != FORMAT_VERSION {
        return Err(format!(
            "format version {version}, this kiln reads {FORMAT_VERSION}"
        ));
    }
    let count = r.u64()?;
    let checksum = r.take(32)?;
    if blake3::hash(r.0).as_bytes() != checksum {
        return Err("checksum mismatch (truncated or corrupt)".into());
    }
    let mut entries = HashMap::with_capacity(count.min(1 << 20) as usize);
    for _ in 0..count {
        let len = r.u32()? as usize;
        let path = std::str::from_utf8(r.take(len)?)
            .map_err(|_| "a path is not UTF-8".to_string())?
            .to_string();
        let stat = Stat {
            size: r.u64()?,
            mtime_ns: r.u64()? as i64,
            ctime_ns: r.u64()? as i64,
            ino: r.u64()?,
        };
        let digest = Digest::from_bytes(r.take(32)?.try_into().expect("32 bytes"));
        entries.insert(path, Entry { stat, digest });
    }
    if !r.0.is_empty() {
        return Err("trailing bytes after the last entry".into());
    }
    Ok(entries)
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err("truncated".into());
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }

    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<(String, Entry)> {
        (0..3)
            .map(|i| {
                let stat = Stat {
                    size: i,
                    mtime_ns: -5 + i as i64,
                    ctime_ns: 1_700_000_000_000_000_000,
                    ino: 42 + i,
                };
                let entry = Entry {
                    stat,
                    digest: Digest::of_bytes(&[i as u8]),
                };
                (format!("packages/a/{i}.ts"), entry)
            })
            .collect()
    }

    #[test]
    fn round_trips_every_field() {
        let decoded = decode(&encode(&sample())).unwrap();
        assert_eq!(decoded.len(), 3);
        for (path, entry) in sample() {
            assert_eq!(decoded[&path], entry);
        }
    }

    #[test]
    fn rejects_every_truncation() {
        let bytes = encode(&sample());
        for len in 0..bytes.len() {
            assert!(decode(&bytes[..len]).is_err(), "accepted {len} bytes");
        }
    }

    #[test]
    fn rejects_a_flipped_bit_anywhere() {
        let bytes = encode(&sample());
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x10;
            assert!(decode(&bad).is_err(), "accepted a flip at byte {i}");
        }
    }

    #[test]
    fn rejects_another_format_version_naming_it() {
        let mut bytes = encode(&sample());
        bytes[8..12].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
        let err = decode(&bytes).unwrap_err();
        assert!(
            err.contains(&format!("version {}", FORMAT_VERSION + 1)),
            "{err}"
        );
    }

    #[test]
    fn writes_atomically_into_a_directory_it_creates() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".kiln/state/stat-cache-v1.bin");
        write(&path, &sample()).unwrap();
        assert_eq!(read(&path).unwrap().len(), 3);
        // Only the cache itself is left behind: no temporary file.
        let names: Vec<_> = fs_err::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["stat-cache-v1.bin"]);
    }
}
