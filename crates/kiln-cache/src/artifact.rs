//! The artifact: one task result as a single compressed blob plus a metadata sidecar.
//!
//! # Format (version [`FORMAT_VERSION`](crate::FORMAT_VERSION) = 1)
//!
//! The blob is a zstd stream (level 3, single-threaded: tasks already run in parallel) of a
//! tar archive holding:
//!
//! | tar entry            | what                                                          |
//! |----------------------|---------------------------------------------------------------|
//! | `log`                | the task's captured output, first so a hit can replay it early |
//! | `outputs/<rel>`      | each output, `<rel>` relative to the package, `/`-separated    |
//!
//! Outputs are regular files (mode bits `0o777` kept), directories (kept even when empty, in
//! order to restore them and their mode) and symlinks (stored as symlinks; the target is data,
//! never followed). Every output lives under `outputs/`, so no output can collide with `log`.
//! Header mtimes, uids and gids are zero: they carry nothing a restore uses (restored files get
//! "now" as mtime), and leaving them out keeps blobs of identical outputs identical.
//!
//! The sidecar ([`ArtifactMeta`], JSON) records the format version, the key, the BLAKE3 digest
//! and size of the compressed blob, the task's original duration and exit code, the number of
//! files and the creation time. The digest is over the *compressed* bytes so a blob can be
//! verified (by a store, or after a download) without decompressing it.
//!
//! # Why a tar and not a directory of files
//!
//! One file per result makes storing atomic (one rename), makes remote transfer one request,
//! and lets a single digest vouch for every byte. Reading it back is streamed: neither packing
//! nor restoring ever holds a whole artifact in memory.
//!
//! Restoring (which trusts nothing it reads) lives in `extract.rs`.

use std::io::{self, BufWriter, Read};
use std::path::Path;

use tempfile::TempPath;
use tracing::instrument;

use crate::digest::{BlobDigest, HashingWriter};
use crate::error::CacheError;
use crate::meta::{ArtifactInfo, ArtifactMeta};
use crate::outputs::{Kind, OutputGlobs};

/// Tar entry name of the captured log.
pub(crate) const LOG_ENTRY: &str = "log";
/// Tar entry prefix of every output.
pub(crate) const OUTPUTS_PREFIX: &str = "outputs/";

const ZSTD_LEVEL: i32 = 3;

/// A packed artifact: the compressed blob in a temporary file (deleted on drop) and its
/// metadata. Hand it to a store; the stores link or copy it, they never consume it.
#[derive(Debug)]
pub struct PackedArtifact {
    blob: TempPath,
    meta: ArtifactMeta,
    /// Bytes of file content and log packed, when this process packed it.
    content_bytes: Option<u64>,
}

impl PackedArtifact {
    /// Wraps a blob obtained elsewhere (a remote download) with its metadata. Nothing is
    /// checked here: call [`PackedArtifact::verify`] before trusting it.
    pub fn from_parts(blob: TempPath, meta: ArtifactMeta) -> Self {
        Self {
            blob,
            meta,
            content_bytes: None,
        }
    }

    /// The bytes of file content and log inside, known for an artifact packed by this process
    /// (`None` for a download): what a restore will write, to compare with the store's limit.
    pub fn content_bytes(&self) -> Option<u64> {
        self.content_bytes
    }

    pub fn meta(&self) -> &ArtifactMeta {
        &self.meta
    }

    /// Signs the metadata (for upload to a store shared under a signing key).
    pub fn sign(&mut self, signer: &crate::ArtifactSigner) {
        self.meta.signature = Some(signer.sign(&self.meta));
    }

    /// Path of the compressed blob.
    pub fn path(&self) -> &Path {
        &self.blob
    }

    /// Recomputes the blob's digest and size and compares them with the metadata.
    pub fn verify(&self) -> Result<(), CacheError> {
        let key = &self.meta.key;
        let actual = BlobDigest::of_file(&self.blob).map_err(|source| CacheError::Read {
            key: key.clone(),
            source,
        })?;
        if actual != self.meta.blob {
            return Err(CacheError::Corrupt {
                key: key.clone(),
                reason: digest_mismatch(&self.meta.blob, &actual),
            });
        }
        Ok(())
    }
}

pub(crate) fn digest_mismatch(expected: &BlobDigest, actual: &BlobDigest) -> String {
    format!(
        "blob digest {} ({} bytes) does not match the recorded {} ({} bytes)",
        actual.blake3, actual.size, expected.blake3, expected.size
    )
}

/// Packs the outputs of a task run in `package_dir` and its `log` into an artifact.
///
/// `outputs` are globs relative to the package (`dist/**`, `!dist/cache/**`); see
/// [`OutputGlobs`]. `nested` are the package-relative directories of the packages inside this
/// one (every other package, for the root package): nothing in them is packed. The blob is written to a temporary file in `scratch_dir`, which should be
/// on the same filesystem as the store it goes to ([`crate::LocalStore::scratch_dir`]) so that
/// storing it is a link or rename rather than a copy. Fifos, sockets and devices among the
/// outputs are skipped with a warning.
#[instrument(skip_all, fields(key = %info.key, package = %package_dir.display()))]
pub fn pack(
    package_dir: &Path,
    outputs: &[String],
    nested: &[String],
    log: &[u8],
    info: &ArtifactInfo,
    scratch_dir: &Path,
) -> Result<PackedArtifact, CacheError> {
    let globs = OutputGlobs::with_nested(outputs, nested)?;
    let fail = |source: io::Error| CacheError::Pack {
        package_dir: package_dir.to_path_buf(),
        source,
    };
    let found = globs.find(package_dir).map_err(fail)?;
    let (file, blob) = crate::staging::temp_in(scratch_dir, ".pack-").map_err(fail)?;

    let hashing = HashingWriter::new(BufWriter::new(file));
    let encoder = zstd::Encoder::new(hashing, ZSTD_LEVEL).map_err(fail)?;
    let mut tar = tar::Builder::new(encoder);

    let mut header = base_header(tar::EntryType::Regular, 0o644);
    header.set_size(log.len() as u64);
    tar.append_data(&mut header, LOG_ENTRY, log).map_err(fail)?;

    let mut files = 0u64;
    let mut content_bytes = log.len() as u64;
    for entry in &found {
        let name = format!("{OUTPUTS_PREFIX}{}", entry.rel);
        let path = package_dir.join(&entry.rel);
        match entry.kind {
            Kind::File => {
                let file = fs_err::File::open(&path).map_err(fail)?;
                let meta = file.metadata().map_err(fail)?;
                let mut header = base_header(tar::EntryType::Regular, mode_of(&meta));
                header.set_size(meta.len());
                let exact = ExactSize {
                    inner: file,
                    remaining: meta.len(),
                    path: &path,
                };
                tar.append_data(&mut header, &name, exact).map_err(fail)?;
                files += 1;
                content_bytes += meta.len();
            }
            Kind::Dir => {
                let meta = fs_err::symlink_metadata(&path).map_err(fail)?;
                let mut header = base_header(tar::EntryType::Directory, mode_of(&meta));
                tar.append_data(&mut header, &name, io::empty())
                    .map_err(fail)?;
            }
            Kind::Symlink => {
                let target = fs_err::read_link(&path).map_err(fail)?;
                let mut header = base_header(tar::EntryType::Symlink, 0o777);
                tar.append_link(&mut header, &name, &target).map_err(fail)?;
                files += 1;
            }
            Kind::Other => {
                tracing::warn!(path = %path.display(), "not caching an output that is not a file, directory or symlink");
            }
        }
    }

    let encoder = tar.into_inner().map_err(fail)?;
    let hashing = encoder.finish().map_err(fail)?;
    let (writer, digest) = hashing.finish().map_err(fail)?;
    writer.into_inner().map_err(|e| fail(e.into_error()))?;
    tracing::debug!(files, size = digest.size, "packed artifact");
    Ok(PackedArtifact {
        blob,
        meta: ArtifactMeta::new(info, digest, files),
        content_bytes: Some(content_bytes),
    })
}

fn base_header(kind: tar::EntryType, mode: u32) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(kind);
    header.set_mode(mode);
    header.set_mtime(0);
    header.set_uid(0);
    header.set_gid(0);
    header.set_size(0);
    header
}

fn mode_of(meta: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o777
}

/// Reads exactly the size announced in the tar header, so a file that changes while it is packed
/// (a still-running watcher, say) cannot misalign the archive: one that shrinks fails the pack.
struct ExactSize<'a> {
    inner: fs_err::File,
    remaining: u64,
    path: &'a Path,
}

impl Read for ExactSize<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{} shrank while it was being packed", self.path.display()),
            ));
        }
        self.remaining -= n as u64;
        Ok(n)
    }
}
