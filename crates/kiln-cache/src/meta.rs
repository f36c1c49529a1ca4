//! The JSON sidecar that describes one artifact blob.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::digest::BlobDigest;

/// Version of the artifact layout (tar entry names, metadata fields). Bump it together with the
/// `artifacts-v*` directory name of the local store, so old entries are never misread.
pub const FORMAT_VERSION: u32 = 1;

/// What the caller knows about a task result when packing it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArtifactInfo {
    /// The task key the artifact is stored under.
    pub key: String,
    /// How long the task originally took (reported as time saved on a hit).
    pub duration_ms: u64,
    /// The task's exit code (normally 0: failed tasks are usually not cached).
    pub exit_code: i32,
}

/// The metadata sidecar of an artifact (`<key>.json` in the local store).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactMeta {
    /// [`FORMAT_VERSION`] of the writer.
    pub format: u32,
    pub key: String,
    /// Digest and size of the compressed blob: checked before anything is restored.
    pub blob: BlobDigest,
    pub duration_ms: u64,
    pub exit_code: i32,
    /// Number of output files and symlinks in the artifact (directories not counted).
    pub files: u64,
    /// When the artifact was packed, in milliseconds since the Unix epoch.
    pub created_unix_ms: u64,
    /// The [`crate::ArtifactSigner`] signature of the other fields, when a signing key was set
    /// where the artifact was uploaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    /// Binds the key to the blob's digest in the local store ([`ArtifactMeta::sealed`]): an
    /// entry copied under another key with its `key` field rewritten no longer verifies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seal: Option<String>,
}

impl ArtifactMeta {
    pub(crate) fn new(info: &ArtifactInfo, blob: BlobDigest, files: u64) -> Self {
        let created_unix_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        Self {
            format: FORMAT_VERSION,
            key: info.key.clone(),
            blob,
            duration_ms: info.duration_ms,
            exit_code: info.exit_code,
            files,
            created_unix_ms,
            signature: None,
            seal: None,
        }
    }

    /// The metadata with its seal set: a digest of the key, the blob's digest and its size
    /// together, so that the metadata of one key can never vouch for another key's blob.
    /// Not a secret: it catches a copied or hand-edited entry, not a forger who recomputes
    /// it (remote entries have [`crate::ArtifactSigner`] for that).
    pub(crate) fn sealed(mut self) -> Self {
        self.seal = Some(self.expected_seal());
        self
    }

    /// Whether the seal binds this metadata's key to its blob; why not, if it does not.
    pub(crate) fn check_seal(&self) -> Result<(), String> {
        match &self.seal {
            None => Err("metadata carries no seal binding it to its key".into()),
            Some(seal) if *seal != self.expected_seal() => Err(
                "metadata's seal does not bind its key to its blob (copied from another key?)"
                    .into(),
            ),
            Some(_) => Ok(()),
        }
    }

    fn expected_seal(&self) -> String {
        let mut hasher = blake3::Hasher::new_derive_key("kiln local cache entry seal v1");
        for part in [self.key.as_bytes(), self.blob.blake3.as_bytes()] {
            hasher.update(&(part.len() as u64).to_le_bytes());
            hasher.update(part);
        }
        hasher.update(&self.blob.size.to_le_bytes());
        hasher.finalize().to_hex().to_string()
    }

    /// The task's original duration: the time a hit saves.
    pub fn duration(&self) -> Duration {
        Duration::from_millis(self.duration_ms)
    }

    /// Parses a sidecar read for `key`; any doubt (bad JSON, other format, other key) is an
    /// error message describing why the entry cannot be trusted.
    pub fn parse(bytes: &[u8], key: &str) -> Result<Self, String> {
        let meta: Self =
            serde_json::from_slice(bytes).map_err(|e| format!("unreadable metadata: {e}"))?;
        if meta.format != FORMAT_VERSION {
            return Err(format!(
                "metadata format {} is not {FORMAT_VERSION}",
                meta.format
            ));
        }
        if meta.key != key {
            return Err(format!("metadata is for key `{}`", meta.key));
        }
        Ok(meta)
    }

    pub(crate) fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("metadata serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ArtifactMeta {
        let info = ArtifactInfo {
            key: "ab12".into(),
            duration_ms: 1500,
            exit_code: 0,
        };
        ArtifactMeta::new(
            &info,
            BlobDigest {
                blake3: "00".into(),
                size: 3,
            },
            2,
        )
    }

    #[test]
    fn round_trips_through_json() {
        let meta = sample();
        assert_eq!(ArtifactMeta::parse(&meta.to_json(), "ab12").unwrap(), meta);
        assert_eq!(meta.duration(), Duration::from_millis(1500));
    }

    #[test]
    fn refuses_truncated_foreign_or_future_metadata() {
        let meta = sample();
        let json = meta.to_json();
        assert!(ArtifactMeta::parse(&json[..json.len() / 2], "ab12").is_err());
        assert!(
            ArtifactMeta::parse(&json, "cd34")
                .unwrap_err()
                .contains("ab12")
        );
        let future = ArtifactMeta {
            format: FORMAT_VERSION + 1,
            ..meta
        };
        assert!(ArtifactMeta::parse(&future.to_json(), "ab12").is_err());
    }
}
