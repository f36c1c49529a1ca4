//! [`Digest`]: a BLAKE3 hash, and the ways kiln makes one from a file, a symlink or a value.

use std::fmt;
use std::io;
use std::path::Path;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Domain separation: a symlink whose target text equals some file's content must not digest
/// like that file, so link targets are hashed in their own BLAKE3 key-derivation context.
const SYMLINK_CONTEXT: &str = "kiln 2025 symlink target v1";

/// A 32-byte BLAKE3 digest. Displayed and serialised as 64 lowercase hex characters.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Digest([u8; 32]);

impl Digest {
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The digest of a byte string (a file's content, a lockfile).
    pub fn of_bytes(bytes: &[u8]) -> Self {
        Self(*blake3::hash(bytes).as_bytes())
    }

    /// The digest of what is at `path`, not following a final symlink: a regular file hashes
    /// its content, a symlink hashes the text of its target (so a link that points out of the
    /// package is never followed, yet retargeting it changes the key).
    pub fn of_path(path: &Path, is_symlink: bool) -> io::Result<Self> {
        if is_symlink {
            let target = fs_err::read_link(path)?;
            let mut hasher = blake3::Hasher::new_derive_key(SYMLINK_CONTEXT);
            hasher.update(target.as_os_str().as_encoded_bytes());
            return Ok(Self(*hasher.finalize().as_bytes()));
        }
        let file = fs_err::File::open(path)?;
        Self::of_reader(file)
    }

    pub(crate) fn of_reader(reader: impl io::Read) -> io::Result<Self> {
        let mut hasher = blake3::Hasher::new();
        hasher.update_reader(reader)?;
        Ok(Self(*hasher.finalize().as_bytes()))
    }

    pub fn to_hex(&self) -> String {
        blake3::Hash::from_bytes(self.0).to_hex().to_string()
    }
}

impl From<blake3::Hash> for Digest {
    fn from(hash: blake3::Hash) -> Self {
        Self(*hash.as_bytes())
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self.to_hex())
    }
}

/// The text was not 64 hex characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a 64-character hex digest")]
pub struct ParseDigestError(pub String);

impl FromStr for Digest {
    type Err = ParseDigestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // BLAKE3 accepts upper case too; a canonical digest is lower case only.
        if s.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(ParseDigestError(s.to_string()));
        }
        blake3::Hash::from_hex(s)
            .map(Self::from)
            .map_err(|_| ParseDigestError(s.to_string()))
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_hex_and_json() {
        let d = Digest::of_bytes(b"hello");
        assert_eq!(d.to_hex().len(), 64);
        assert_eq!(d.to_hex().parse::<Digest>().unwrap(), d);
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(json, format!("\"{d}\""));
        assert_eq!(serde_json::from_str::<Digest>(&json).unwrap(), d);
    }

    #[test]
    fn rejects_text_that_is_not_a_lowercase_digest() {
        assert!("abc".parse::<Digest>().is_err());
        assert!(
            Digest::of_bytes(b"x")
                .to_hex()
                .to_uppercase()
                .parse::<Digest>()
                .is_err()
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_digests_its_target_text_not_the_target_content() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target.txt");
        fs_err::write(&target, "target.txt").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink("target.txt", &link).unwrap();
        let link_digest = Digest::of_path(&link, true).unwrap();
        // Same bytes as the link text, yet a different domain.
        assert_ne!(link_digest, Digest::of_path(&target, false).unwrap());
        // The target's content does not matter, only where the link points.
        fs_err::write(&target, "changed").unwrap();
        assert_eq!(Digest::of_path(&link, true).unwrap(), link_digest);
    }
}
