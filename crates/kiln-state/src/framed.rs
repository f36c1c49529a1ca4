//! The one file format of `.kiln/state/`: a header line, then a JSON body.
//!
//! `kiln-state <kind> <version> <blake3 of the body>\n{…}`. The checksum catches truncation
//! (a crash mid-write on a filesystem that does not order the rename after the data) and
//! corruption; the version lets a newer kiln leave an older format alone. Files are written
//! to a temp file in the same directory and renamed over the old one, so a reader sees the
//! old file or the new one, never half of one.

use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::StateError;

const MAGIC: &str = "kiln-state";

/// Writes `value` as a framed file atomically.
pub(crate) fn write<T: Serialize>(
    path: &Path,
    kind: &str,
    version: u32,
    value: &T,
) -> Result<(), StateError> {
    let io = |source| StateError::Io {
        path: path.to_path_buf(),
        source,
    };
    let body = serde_json::to_vec(value).map_err(|e| io(std::io::Error::other(e)))?;
    let mut bytes = format!(
        "{MAGIC} {kind} {version} {}\n",
        blake3::hash(&body).to_hex()
    )
    .into_bytes();
    bytes.extend_from_slice(&body);
    let dir = path.parent().unwrap_or(Path::new("."));
    fs_err::create_dir_all(dir).map_err(io)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
    std::io::Write::write_all(&mut tmp, &bytes).map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}

/// Reads a framed file: `Ok(None)` when it does not exist, [`StateError::Invalid`] when it
/// is truncated, corrupt, of another kind or of another version.
pub(crate) fn read<T: DeserializeOwned>(
    path: &Path,
    kind: &str,
    version: u32,
) -> Result<Option<T>, StateError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(StateError::Io {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    parse(&bytes, kind, version)
        .map(Some)
        .map_err(|why| StateError::Invalid {
            path: path.to_path_buf(),
            why,
        })
}

fn parse<T: DeserializeOwned>(bytes: &[u8], kind: &str, version: u32) -> Result<T, String> {
    let newline = bytes
        .iter()
        .position(|b| *b == b'\n')
        .ok_or("truncated: no header line")?;
    let header = std::str::from_utf8(&bytes[..newline]).map_err(|_| "not a kiln state file")?;
    let body = &bytes[newline + 1..];
    let parts: Vec<&str> = header.split(' ').collect();
    let [magic, found_kind, found_version, checksum] = parts[..] else {
        return Err("not a kiln state file".into());
    };
    if magic != MAGIC {
        return Err("not a kiln state file".into());
    }
    if found_kind != kind {
        return Err(format!("holds `{found_kind}`, expected `{kind}`"));
    }
    if found_version != version.to_string() {
        return Err(format!(
            "format version {found_version}; this kiln reads version {version}"
        ));
    }
    if checksum != blake3::hash(body).to_hex().as_str() {
        return Err("checksum mismatch (truncated or corrupt)".into());
    }
    serde_json::from_slice(body).map_err(|e| format!("unreadable body: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_every_kind_of_damage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x/state");
        write(&path, "task", 1, &vec![1, 2, 3]).unwrap();
        assert_eq!(
            read::<Vec<u8>>(&path, "task", 1).unwrap(),
            Some(vec![1, 2, 3])
        );
        assert!(matches!(
            read::<Vec<u8>>(&dir.path().join("none"), "task", 1),
            Ok(None)
        ));

        let good = std::fs::read(&path).unwrap();
        let mut flipped = good.clone();
        let at = flipped.len() - 2;
        flipped[at] ^= 1;
        let text = String::from_utf8(good.clone()).unwrap();
        let damaged: [(&str, Vec<u8>); 5] = [
            ("flipped", flipped),
            ("truncated", good[..good.len() - 3].to_vec()),
            ("no header", good[..10].to_vec()),
            ("other version", text.replacen(" 1 ", " 2 ", 1).into_bytes()),
            ("garbage", b"\x00\x01garbage".to_vec()),
        ];
        for (what, bytes) in damaged {
            std::fs::write(&path, bytes).unwrap();
            let got = read::<Vec<u8>>(&path, "task", 1);
            assert!(
                matches!(got, Err(StateError::Invalid { .. })),
                "{what}: {got:?}"
            );
        }
        write(&path, "task", 1, &vec![1]).unwrap();
        assert!(matches!(
            read::<Vec<u8>>(&path, "manifest", 1),
            Err(StateError::Invalid { .. })
        ));
    }
}
