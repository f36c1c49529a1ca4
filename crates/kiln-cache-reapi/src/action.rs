//! How a kiln cache key becomes a REAPI Action digest, and the two output paths of a result.
//!
//! # Design note
//!
//! The action cache is keyed by the SHA-256 of a serialized `Action`. kiln has no real action
//! (nothing is executed remotely), so it builds a well-formed stand-in that depends on the key
//! alone:
//!
//! ```text
//! Command { arguments: ["kiln-cache", <key>],
//!           environment_variables: [KILN_ARTIFACT_FORMAT=<FORMAT_VERSION>],
//!           output_paths: ["kiln/artifact.tar.zst", "kiln/meta.json"] }
//! Action  { command_digest: sha256(Command), input_root_digest: sha256(empty Directory),
//!           do_not_cache: false }
//! action digest = sha256(Action)
//! ```
//!
//! Invariant: the digest of a key never changes between kiln versions, or every remote entry
//! is lost on upgrade; a golden test pins it. prost encodes fields in tag order and omits
//! defaults, so the bytes are deterministic. The artifact format version is part of the
//! Command on purpose: a format bump starts a fresh namespace (old entries become misses, not
//! corrupt hits), which is exactly what the local store does with its `artifacts-v*` folder.

use std::io::{self, Read};
use std::path::Path;

use bazel_remote_apis::build::bazel::remote::execution::v2::{
    Action, Command, Digest, command::EnvironmentVariable,
};
use prost::Message;
use sha2::{Digest as _, Sha256};

/// Path of the compressed artifact blob among the outputs of a kiln `ActionResult`.
pub const ARTIFACT_PATH: &str = "kiln/artifact.tar.zst";
/// Path of the artifact's metadata JSON among the outputs of a kiln `ActionResult`.
pub const META_PATH: &str = "kiln/meta.json";

/// The stand-in action of one kiln key, with the serialized messages that go to the CAS.
#[derive(Clone, Debug)]
pub struct KeyAction {
    pub digest: Digest,
    pub action: Vec<u8>,
    pub command: Vec<u8>,
}

/// The Action (and Command) kiln files the result of `key` under.
pub fn key_action(key: &str) -> KeyAction {
    let command = Command {
        arguments: vec!["kiln-cache".to_string(), key.to_string()],
        environment_variables: vec![EnvironmentVariable {
            name: "KILN_ARTIFACT_FORMAT".to_string(),
            value: kiln_cache::FORMAT_VERSION.to_string(),
        }],
        // Sorted, as the API requires.
        output_paths: vec![ARTIFACT_PATH.to_string(), META_PATH.to_string()],
        ..Default::default()
    }
    .encode_to_vec();
    let action = Action {
        command_digest: Some(digest_of(&command)),
        // An empty Directory serializes to no bytes at all.
        input_root_digest: Some(digest_of(&[])),
        do_not_cache: false,
        ..Default::default()
    }
    .encode_to_vec();
    KeyAction {
        digest: digest_of(&action),
        action,
        command,
    }
}

/// The action digest of `key` (see the module doc).
pub fn action_digest(key: &str) -> Digest {
    key_action(key).digest
}

/// SHA-256 digest of bytes in memory.
pub fn digest_of(bytes: &[u8]) -> Digest {
    Digest {
        hash: hex(&Sha256::digest(bytes)),
        size_bytes: bytes.len() as i64,
    }
}

/// SHA-256 digest of a file, read in a streaming fashion.
pub fn digest_of_file(path: &Path) -> io::Result<Digest> {
    let mut file = fs_err::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        match file.read(&mut buf)? {
            0 => break,
            n => {
                hasher.update(&buf[..n]);
                size += n as u64;
            }
        }
    }
    Ok(Digest {
        hash: hex(&hasher.finalize()),
        size_bytes: size as i64,
    })
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_s_action_digest_never_changes() {
        // Golden: changing this loses every entry users have in their REAPI caches. Only a
        // deliberate artifact format bump may change it. (Cross-checked against Python's
        // protobuf encoding of the same messages.)
        assert_eq!(kiln_cache::FORMAT_VERSION, 1);
        let digest = action_digest("9f2c01ab");
        assert_eq!(
            (digest.hash.as_str(), digest.size_bytes),
            (
                "320e5580f09a829c3f218df67df9bf0b6a388d39f4991ba0496744aa28bcd70d",
                138
            )
        );
    }

    #[test]
    fn different_keys_have_different_actions_and_the_action_is_well_formed() {
        assert_ne!(action_digest("k1").hash, action_digest("k2").hash);
        let built = key_action("k1");
        let action = Action::decode(built.action.as_slice()).unwrap();
        assert_eq!(action.command_digest, Some(digest_of(&built.command)));
        let empty = action.input_root_digest.unwrap();
        assert_eq!(
            empty.hash,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let command = Command::decode(built.command.as_slice()).unwrap();
        assert_eq!(command.arguments, ["kiln-cache", "k1"]);
        assert_eq!(built.digest, digest_of(&built.action));
    }

    #[test]
    fn file_and_memory_digests_agree() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b");
        fs_err::write(&path, b"abc").unwrap();
        let digest = digest_of_file(&path).unwrap();
        assert_eq!(digest, digest_of(b"abc"));
        assert_eq!(
            digest.hash,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
