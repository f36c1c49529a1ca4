//! Checking the whole store: every metadata parsed, every blob's size and BLAKE3 digest
//! recomputed. Reads verify their entry anyway; this finds damage before a run trips on it
//! (a disk error, a bad copy of `.kiln/`, a hand edit) and reclaims the space.

use std::io;
use std::time::SystemTime;

use super::LocalStore;
use crate::digest::BlobDigest;
use crate::error::CacheError;
use crate::meta::ArtifactMeta;

/// An entry `verify` found damaged, and evicted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadEntry {
    pub key: String,
    /// Why it cannot be trusted (unreadable metadata, missing blob, digest or size mismatch).
    pub reason: String,
    /// The bytes it took.
    pub bytes: u64,
}

/// The result of [`LocalStore::verify`].
#[derive(Clone, Debug, Default)]
pub struct VerifyReport {
    /// Entries checked (complete or not).
    pub checked: usize,
    /// Of those, the ones whose metadata parses and whose blob matches it.
    pub ok: usize,
    pub ok_bytes: u64,
    /// The damaged ones, evicted.
    pub bad: Vec<BadEntry>,
    /// Loose files removed: temp files older than
    /// [`STALE_TEMP_AGE`](super::STALE_TEMP_AGE) and blobs without metadata as old.
    pub loose_removed: usize,
    pub loose_bytes_removed: u64,
}

impl LocalStore {
    /// Parses every metadata file and recomputes every blob's digest and size against it,
    /// evicting the entries that fail (unless a fresh entry replaced them meanwhile); then
    /// removes stale loose files. Reads every blob: as slow as the cache is large.
    #[tracing::instrument(skip(self))]
    pub fn verify(&self) -> Result<VerifyReport, CacheError> {
        let now = SystemTime::now();
        let scan = self.scan()?;
        let mut report = VerifyReport::default();
        for (key, pair) in &scan.keys {
            let Some(meta_file) = &pair.meta else {
                continue; // A blob without metadata: loose, not an entry.
            };
            report.checked += 1;
            let blob_bytes = pair.blob.as_ref().map_or(0, |b| b.bytes);
            let bytes = meta_file.bytes + blob_bytes;
            let meta = match fs_err::read(&meta_file.path) {
                Ok(text) => ArtifactMeta::parse(&text, key),
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue, // evicted meanwhile
                Err(source) => {
                    return Err(CacheError::Read {
                        key: key.clone(),
                        source,
                    });
                }
            };
            let problem = match &meta {
                Err(reason) => Some(reason.clone()),
                Ok(meta) => match meta.check_seal() {
                    Err(reason) => Some(reason),
                    Ok(()) => self.check_blob(meta)?,
                },
            };
            match problem {
                None => {
                    report.ok += 1;
                    report.ok_bytes += bytes;
                }
                Some(reason) => {
                    tracing::debug!(key, %reason, "evicting a damaged cache entry");
                    self.evict_unless_replaced(key, meta.as_ref().ok().map(|m| &m.blob));
                    report.bad.push(BadEntry {
                        key: key.clone(),
                        reason,
                        bytes,
                    });
                }
            }
        }
        for (key, path) in &scan.obstructions {
            let what = if path.is_dir() {
                "a directory"
            } else {
                "not a file"
            };
            let reason = format!("{} is {what}", path.display());
            tracing::debug!(key, %reason, "removing what blocks a cache entry");
            report.checked += 1;
            if let Err(e) = self.clear_obstruction(key, path) {
                tracing::warn!("cannot remove {}: {e}", path.display());
            }
            report.bad.push(BadEntry {
                key: key.clone(),
                reason,
                bytes: 0,
            });
        }
        (report.loose_removed, report.loose_bytes_removed) =
            self.remove_loose(&scan, now, false, false);
        Ok(report)
    }

    /// What is wrong with the blob of `meta`, if anything.
    fn check_blob(&self, meta: &ArtifactMeta) -> Result<Option<String>, CacheError> {
        let found = match BlobDigest::of_file(&self.blob_path(&meta.key)) {
            Ok(found) => found,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(Some("blob is missing".into()));
            }
            Err(source) => {
                return Err(CacheError::Read {
                    key: meta.key.clone(),
                    source,
                });
            }
        };
        Ok(if found.size != meta.blob.size {
            Some(format!(
                "blob is {} bytes, its metadata says {}",
                found.size, meta.blob.size
            ))
        } else if found.blake3 != meta.blob.blake3 {
            Some(format!(
                "blob digest is {}, its metadata says {}",
                &found.blake3[..16.min(found.blake3.len())],
                &meta.blob.blake3[..16.min(meta.blob.blake3.len())]
            ))
        } else {
            None
        })
    }
}
