//! Hostile artifacts for the security tests: valid metadata (the right digest, size and file
//! count, so every integrity check passes) around a tar stream an attacker wrote by hand, with
//! names and entry types the `tar` crate's safe builders would refuse.
//!
//! The decompression bomb is a zstd frame written block by block: one raw block carrying the
//! tar headers, then run-length blocks of zeros (4 bytes each for 128 KiB of output), so a
//! stream expanding to 10 GB is about 300 KB and takes milliseconds to make.

use std::io::Write;
use std::path::Path;

use kiln_cache::{ArtifactMeta, BlobDigest, FORMAT_VERSION, PackedArtifact};
use tar::EntryType;

/// One tar entry of a crafted artifact. Names are raw bytes, written as they are.
pub enum Entry<'a> {
    File(&'a [u8], &'a [u8]),
    Dir(&'a [u8]),
    Symlink(&'a [u8], &'a [u8]),
    HardLink(&'a [u8], &'a [u8]),
    CharDevice(&'a [u8]),
}

/// An artifact for `key` holding a `log` entry, then `entries`, compressed with zstd.
pub fn artifact(key: &str, entries: &[Entry<'_>], scratch: &Path) -> PackedArtifact {
    let mut tar = Vec::new();
    append(&mut tar, b"log", EntryType::Regular, b"crafted log\n", b"");
    let mut files = 0;
    for entry in entries {
        files += 1;
        match *entry {
            Entry::File(name, data) => append(&mut tar, name, EntryType::Regular, data, b""),
            Entry::Dir(name) => {
                files -= 1;
                append(&mut tar, name, EntryType::Directory, b"", b"");
            }
            Entry::Symlink(name, target) => append(&mut tar, name, EntryType::Symlink, b"", target),
            Entry::HardLink(name, target) => append(&mut tar, name, EntryType::Link, b"", target),
            Entry::CharDevice(name) => append(&mut tar, name, EntryType::Char, b"", b""),
        }
    }
    tar.extend_from_slice(&[0u8; 1024]);
    let compressed = zstd::encode_all(&tar[..], 3).expect("zstd compresses a buffer");
    finish(key, &compressed, files, scratch)
}

/// An artifact for `key` whose one output file `dist/bomb` announces and expands to
/// `expanded` bytes of zeros.
pub fn bomb(key: &str, expanded: u64, scratch: &Path) -> PackedArtifact {
    let mut prefix = Vec::new();
    append(
        &mut prefix,
        b"log",
        EntryType::Regular,
        b"crafted log\n",
        b"",
    );
    let header = header(b"outputs/dist/bomb", EntryType::Regular, expanded, b"");
    prefix.extend_from_slice(header.as_bytes());
    // The file's zeros, its padding to 512 and the two empty blocks that end the archive.
    let zeros = expanded + (512 - expanded % 512) % 512 + 1024;
    finish(key, &rle_frame(&prefix, zeros), 1, scratch)
}

/// A zstd frame: `prefix` as a raw block, then `zeros` zero bytes as run-length blocks.
fn rle_frame(prefix: &[u8], zeros: u64) -> Vec<u8> {
    const BLOCK: u64 = 128 << 10;
    let mut out = Vec::new();
    out.extend_from_slice(&0xFD2F_B528u32.to_le_bytes());
    // Frame header: no content size, no checksum, no dictionary; a 128 KiB window.
    out.push(0x00);
    out.push(7 << 3);
    let block_header = |size: u64, kind: u32, last: bool| {
        let v = (u32::try_from(size).expect("block fits") << 3) | (kind << 1) | u32::from(last);
        v.to_le_bytes()[..3].to_vec()
    };
    assert!(prefix.len() as u64 <= BLOCK);
    out.extend(block_header(prefix.len() as u64, 0, false));
    out.extend_from_slice(prefix);
    let mut left = zeros;
    while left > 0 {
        let size = left.min(BLOCK);
        left -= size;
        out.extend(block_header(size, 1, left == 0));
        out.push(0);
    }
    out
}

fn finish(key: &str, compressed: &[u8], files: u64, scratch: &Path) -> PackedArtifact {
    let mut temp = tempfile::NamedTempFile::new_in(scratch).expect("temp file in scratch");
    temp.write_all(compressed).expect("write crafted blob");
    let path = temp.into_temp_path();
    let blob = BlobDigest::of_file(&path).expect("hash crafted blob");
    let meta = ArtifactMeta {
        format: FORMAT_VERSION,
        key: key.to_string(),
        blob,
        duration_ms: 1,
        exit_code: 0,
        files,
        created_unix_ms: 0,
        signature: None,
        seal: None,
    };
    PackedArtifact::from_parts(path, meta)
}

fn append(tar: &mut Vec<u8>, name: &[u8], kind: EntryType, data: &[u8], link: &[u8]) {
    tar.extend_from_slice(header(name, kind, data.len() as u64, link).as_bytes());
    tar.extend_from_slice(data);
    tar.resize(tar.len().div_ceil(512) * 512, 0);
}

/// A header written field by field, so names the `tar` crate would refuse (`..`, absolute)
/// can be crafted.
fn header(name: &[u8], kind: EntryType, size: u64, link: &[u8]) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    let gnu = header.as_gnu_mut().expect("a GNU header");
    gnu.name[..name.len()].copy_from_slice(name);
    gnu.linkname[..link.len()].copy_from_slice(link);
    header.set_entry_type(kind);
    header.set_mode(0o644);
    header.set_size(size);
    header.set_cksum();
    header
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn the_bomb_is_small_and_expands_as_announced() {
        let dir = tempfile::tempdir().unwrap();
        let expanded = 3 << 20;
        let bomb = bomb("k", expanded, dir.path());
        assert!(bomb.meta().blob.size < 4096, "{}", bomb.meta().blob.size);
        bomb.verify().unwrap();
        let file = std::fs::File::open(bomb.path()).unwrap();
        let mut archive = tar::Archive::new(zstd::Decoder::new(file).unwrap());
        let mut sizes = Vec::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let mut n = 0u64;
            let mut buf = vec![0u8; 1 << 16];
            loop {
                let read = entry.read(&mut buf).unwrap();
                if read == 0 {
                    break;
                }
                n += read as u64;
            }
            sizes.push((entry.path().unwrap().display().to_string(), n));
        }
        assert_eq!(
            sizes,
            [
                ("log".to_string(), 12),
                ("outputs/dist/bomb".to_string(), expanded)
            ]
        );
    }

    #[test]
    fn crafted_names_are_kept_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let a = artifact(
            "k",
            &[Entry::File(b"outputs/../../escape", b"x")],
            dir.path(),
        );
        a.verify().unwrap();
        let file = std::fs::File::open(a.path()).unwrap();
        let mut archive = tar::Archive::new(zstd::Decoder::new(file).unwrap());
        let names: Vec<Vec<u8>> = archive
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path_bytes().into_owned())
            .collect();
        assert_eq!(names[1], b"outputs/../../escape");
    }
}
