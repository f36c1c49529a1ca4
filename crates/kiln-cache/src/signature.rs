//! Artifact signatures for every remote store: a team that sets a signing key accepts from a
//! shared cache only what someone holding the key uploaded.
//!
//! The signature is a keyed BLAKE3 MAC over the artifact's metadata, carried in the metadata
//! itself ([`ArtifactMeta::signature`]), so it travels through any store that keeps the
//! metadata (Redis, HTTP, S3, REAPI) without each needing its own scheme. Signing the
//! metadata is enough: the blob is checked against the metadata's BLAKE3 digest and size
//! before anything is restored, so a signed digest pins the blob's every byte. The MAC key is
//! derived from the user's secret with BLAKE3's key derivation (any secret length works), and
//! the message is every metadata field, each length-prefixed so no two metadata can encode
//! alike; binding the task key means a signed artifact cannot be replayed under another key.
//! Comparing `blake3::Hash`es is constant-time.

use crate::meta::ArtifactMeta;

const CONTEXT: &str = "kiln artifact signature v1";

/// Why a signed store refused an artifact.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the artifact is not signed")]
    Missing,
    #[error("the artifact's signature does not match the signing key")]
    Wrong,
}

/// Signs and checks artifact metadata with one secret.
#[derive(Clone)]
pub struct ArtifactSigner {
    mac_key: [u8; 32],
}

impl std::fmt::Debug for ArtifactSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ArtifactSigner(..)")
    }
}

impl ArtifactSigner {
    pub fn new(secret: &[u8]) -> Self {
        Self {
            mac_key: blake3::derive_key(CONTEXT, secret),
        }
    }

    /// The signature of `meta` (its `signature` field is not part of it), as hex.
    pub fn sign(&self, meta: &ArtifactMeta) -> String {
        self.mac(meta).to_hex().to_string()
    }

    /// Checks the signature `meta` carries.
    pub fn verify(&self, meta: &ArtifactMeta) -> Result<(), SignatureError> {
        let claimed = meta.signature.as_deref().ok_or(SignatureError::Missing)?;
        let claimed = blake3::Hash::from_hex(claimed).map_err(|_| SignatureError::Wrong)?;
        if claimed == self.mac(meta) {
            Ok(())
        } else {
            Err(SignatureError::Wrong)
        }
    }

    fn mac(&self, meta: &ArtifactMeta) -> blake3::Hash {
        let mut mac = blake3::Hasher::new_keyed(&self.mac_key);
        let numbers = [
            u64::from(meta.format),
            meta.blob.size,
            meta.duration_ms,
            // The exit code's bits, sign included.
            u64::from(meta.exit_code as u32),
            meta.files,
            meta.created_unix_ms,
        ];
        for field in [meta.key.as_bytes(), meta.blob.blake3.as_bytes()] {
            mac.update(&(field.len() as u64).to_le_bytes());
            mac.update(field);
        }
        for n in numbers {
            mac.update(&n.to_le_bytes());
        }
        mac.finalize()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::BlobDigest;

    fn meta() -> ArtifactMeta {
        ArtifactMeta {
            format: crate::FORMAT_VERSION,
            key: "ab12".into(),
            blob: BlobDigest {
                blake3: "00ff".into(),
                size: 3,
            },
            duration_ms: 10,
            exit_code: 0,
            files: 2,
            created_unix_ms: 1,
            signature: None,
            seal: None,
        }
    }

    #[test]
    fn a_signed_artifact_verifies_with_the_same_secret_only() {
        let signer = ArtifactSigner::new(b"team secret");
        let mut m = meta();
        assert_eq!(signer.verify(&m), Err(SignatureError::Missing));
        m.signature = Some(signer.sign(&m));
        assert_eq!(signer.verify(&m), Ok(()));
        assert_eq!(
            ArtifactSigner::new(b"another secret").verify(&m),
            Err(SignatureError::Wrong)
        );
    }

    #[test]
    fn every_field_is_covered() {
        let signer = ArtifactSigner::new(b"k");
        let mut signed = meta();
        signed.signature = Some(signer.sign(&signed));
        let tamperings: [fn(&mut ArtifactMeta); 7] = [
            |m| m.key = "ab13".into(),
            |m| m.blob.blake3 = "00fe".into(),
            |m| m.blob.size = 4,
            |m| m.duration_ms = 11,
            |m| m.exit_code = -1,
            |m| m.files = 3,
            |m| m.created_unix_ms = 2,
        ];
        for tamper in tamperings {
            let mut m = signed.clone();
            tamper(&mut m);
            assert_eq!(signer.verify(&m), Err(SignatureError::Wrong), "{m:?}");
        }
    }

    #[test]
    fn garbage_signatures_are_wrong_not_errors() {
        let signer = ArtifactSigner::new(b"k");
        let mut m = meta();
        m.signature = Some("not hex".into());
        assert_eq!(signer.verify(&m), Err(SignatureError::Wrong));
    }
}
