//! The local store: artifacts on disk under `<repo>/.kiln/cache/`.

use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use tempfile::{Builder, TempPath};
use tracing::instrument;

use crate::artifact::PackedArtifact;
use crate::digest::BlobDigest;
use crate::error::CacheError;
use crate::extract::{self, Contents, Refusal};
use crate::meta::{ArtifactMeta, FORMAT_VERSION};
use crate::outputs::OutputGlobs;
use crate::store::CacheStore;

mod inventory;
mod last_use;
mod prune;
mod scratch;
mod verify;

pub use inventory::{CacheEntry, CacheUsage};
pub use last_use::LAST_USE_RESOLUTION;
pub use prune::{AUTO_PRUNE_TARGET_PERCENT, PrunePolicy, PruneReport};
pub use scratch::STALE_TEMP_AGE;
use scratch::remove_stale_temp_files;
pub use verify::{BadEntry, VerifyReport};

/// Default for [`LocalStoreOptions::max_unpacked_bytes`]: 4 GiB, far above a normal task's
/// outputs and far below what a decompression bomb would fill a disk with.
pub const DEFAULT_MAX_UNPACKED_BYTES: u64 = 4 << 30;

/// Options of a [`LocalStore`].
#[derive(Clone, Debug)]
pub struct LocalStoreOptions {
    /// An artifact whose decompressed tar stream is larger than this is refused (and evicted)
    /// before anything is written: the bound on a decompression bomb.
    pub max_unpacked_bytes: u64,
}

impl Default for LocalStoreOptions {
    fn default() -> Self {
        Self {
            max_unpacked_bytes: DEFAULT_MAX_UNPACKED_BYTES,
        }
    }
}

/// A cache entry restored into a package.
#[derive(Debug)]
pub struct Restored {
    /// The task's captured output, to replay (on disk when large).
    pub log: crate::TaskLog,
    /// Number of files and symlinks the artifact holds: `files_written + files_kept`
    /// (0 from [`LocalStore::read_log`]).
    pub files: usize,
    /// Files and symlinks that were missing or different on disk, and were written.
    pub files_written: usize,
    /// Files and symlinks already identical on disk (kind, mode, content or target), left
    /// untouched: a concurrent reader of them is never disturbed.
    pub files_kept: usize,
    pub meta: ArtifactMeta,
}

/// Content-addressed artifacts on local disk.
///
/// # Layout
///
/// ```text
/// <dir>/                          usually <repo>/.kiln/cache/
///   artifacts-v1/                 the format version is in the name: a new format starts a new
///                                 directory and never misreads the old one
///     9f/                         shard: first two characters of the key
///       .lock                     taken (flock) while an entry of the shard is written/evicted
///       9f2c…e1.tar.zst           the blob: zstd-compressed tar (see `artifact.rs`)
///       9f2c…e1.json              the metadata (`ArtifactMeta`), written after the blob
///   tmp/                          scratch: packs in progress, downloads (`scratch_dir`)
///   prune.stamp                   mtime = the last automatic size check (`auto_prune`)
/// ```
///
/// The metadata file's mtime is the entry's **last use**: set when it is written, moved
/// forward by a hit ([`get`](LocalStore::get), and so `restore`, `read_log`, `fetch`) at most
/// once per [`LAST_USE_RESOLUTION`], so a warm rerun of 2,000 tasks writes nothing.
/// [`prune`](LocalStore::prune) evicts by it (least recently used first) with one `stat` per
/// file, never reading a blob.
///
/// # Invariants
///
/// - Both files are written to a temp file in the shard directory and renamed into place,
///   blob first: **the metadata's presence means the blob is complete**. Readers never lock.
/// - Writers take the shard lock and skip keys whose metadata exists (first writer wins), so
///   two kiln processes storing one key at once leave one consistent pair.
/// - [`put_replacing`](LocalStore::put_replacing) (`--force`: the entry may be the bad one)
///   does, under the same lock: remove the old metadata, rename the new blob over the old,
///   rename the new metadata in. A reader that read the old metadata and opens the new blob
///   sees a digest mismatch; the eviction that follows waits for the lock, then sees metadata
///   naming another blob and leaves the new entry alone.
/// - Eviction (under the same lock) removes the metadata first, then the blob: a reader sees
///   the whole entry or a miss (or, if it read the metadata just before, a missing blob,
///   which it treats as a miss too). Pruning re-reads the last use under the lock and keeps an
///   entry used since it chose it.
/// - Temp files (`.blob-*`, `.meta-*` in shards, anything in `tmp/`) belong to writes in
///   progress: pruning, verifying and clearing leave them alone until older than
///   [`STALE_TEMP_AGE`].
/// - Temp files a killed process left in `tmp/` are removed by [`open`](LocalStore::open) once
///   older than [`STALE_TEMP_AGE`].
/// - Nothing is fsynced. A crash can leave a torn file behind a rename; the digest check on
///   every read catches it, evicts the entry and the task runs again: lost speed, not
///   correctness. That keeps a 2,000-package rerun free of 4,000 fsyncs.
#[derive(Debug)]
pub struct LocalStore {
    dir: PathBuf,
    artifacts: PathBuf,
    scratch: PathBuf,
    options: LocalStoreOptions,
}

impl LocalStore {
    /// Opens (creating it if needed) the store at `dir` with default options, removing temp
    /// files older than [`STALE_TEMP_AGE`] from `tmp/`.
    pub fn open(dir: &Path) -> Result<Self, CacheError> {
        Self::open_with(dir, LocalStoreOptions::default())
    }

    pub fn open_with(dir: &Path, options: LocalStoreOptions) -> Result<Self, CacheError> {
        let artifacts = dir.join(format!("artifacts-v{FORMAT_VERSION}"));
        let scratch = dir.join("tmp");
        remove_stale_temp_files(&scratch, SystemTime::now());
        for path in [&artifacts, &scratch] {
            fs_err::create_dir_all(path).map_err(|source| CacheError::Open {
                dir: dir.to_path_buf(),
                source,
            })?;
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            artifacts,
            scratch,
            options,
        })
    }

    /// The directory the store was opened at (`<repo>/.kiln/cache`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where to [`crate::pack`] artifacts bound for this store: on its filesystem, so storing
    /// is a link, not a copy.
    pub fn scratch_dir(&self) -> &Path {
        &self.scratch
    }

    /// The metadata of the entry for `key`, or `None`. This is a use of the entry (the hit
    /// path when outputs are already in place): its last use is refreshed (see the layout).
    /// Unreadable metadata evicts the entry and is reported as [`CacheError::Corrupt`].
    pub fn get(&self, key: &str) -> Result<Option<ArtifactMeta>, CacheError> {
        self.read_meta(key, true)
    }

    /// Like [`get`](Self::get) without counting as a use: for lookups that restore nothing
    /// (dry runs, `kiln why`, estimates, [`CacheStore::contains`]).
    pub fn peek(&self, key: &str) -> Result<Option<ArtifactMeta>, CacheError> {
        self.read_meta(key, false)
    }

    fn read_meta(&self, key: &str, used: bool) -> Result<Option<ArtifactMeta>, CacheError> {
        use std::io::Read;
        validate_key(key)?;
        let read_error = |source| CacheError::Read {
            key: key.into(),
            source,
        };
        let mut file = match fs_err::File::open(self.meta_path(key)) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(read_error(source)),
        };
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(read_error)?;
        let meta = ArtifactMeta::parse(&bytes, key);
        if meta.as_ref().is_ok_and(|m| m.seal.is_none()) {
            // Written before entries were sealed: a miss, quietly replaced by the next store.
            tracing::debug!(key, "unsealed cache entry (an older kiln's): not used");
            return Ok(None);
        }
        match meta.and_then(|meta| meta.check_seal().map(|()| meta)) {
            Ok(meta) => {
                if used {
                    last_use::refresh(file.file(), SystemTime::now());
                }
                Ok(Some(meta))
            }
            Err(reason) => {
                self.evict_unless_replaced(key, None);
                Err(CacheError::Corrupt {
                    key: key.into(),
                    reason,
                })
            }
        }
    }

    /// Stores `packed` under `key` (which must be the key it was packed for). Blob, then
    /// metadata, each by an atomic rename; a key already present is left as it is.
    #[instrument(skip(self, packed))]
    pub fn put(&self, key: &str, packed: &PackedArtifact) -> Result<(), CacheError> {
        self.store_entry(key, packed, false)
    }

    /// Like [`put`](Self::put), but an entry already present for `key` is replaced: for a
    /// task run with the cache read disabled (`--force`), whose fresh result must be able to
    /// repair a bad entry. See the type's invariants for why readers stay safe.
    #[instrument(skip(self, packed))]
    pub fn put_replacing(&self, key: &str, packed: &PackedArtifact) -> Result<(), CacheError> {
        self.store_entry(key, packed, true)
    }

    fn store_entry(
        &self,
        key: &str,
        packed: &PackedArtifact,
        replace: bool,
    ) -> Result<(), CacheError> {
        validate_key(key)?;
        let limit = self.options.max_unpacked_bytes;
        if let Some(bytes) = packed.content_bytes().filter(|&b| b > limit) {
            return Err(CacheError::TooLargeToStore {
                key: key.to_string(),
                bytes,
                limit,
            });
        }
        if packed.meta().key != key {
            return Err(CacheError::KeyMismatch {
                key: key.into(),
                found: packed.meta().key.clone(),
            });
        }
        let fail = |source: io::Error| CacheError::Store {
            key: key.into(),
            source,
        };
        let shard = self.shard(key);
        fs_err::create_dir_all(&shard).map_err(fail)?;
        // Staged before the lock is taken, so the lock only covers two renames.
        let blob = stage_blob(packed.path(), &shard).map_err(fail)?;
        let meta = stage_bytes(&packed.meta().clone().sealed().to_json(), &shard).map_err(fail)?;

        let _lock = lock(&shard).map_err(fail)?;
        let meta_path = self.meta_path(key);
        let blob_path = self.blob_path(key);
        // A directory (or symlink) where the blob or metadata goes would fail every store of
        // this key forever: it is never an entry, so it goes.
        for path in [&meta_path, &blob_path] {
            if fs_err::symlink_metadata(path).is_ok_and(|m| !m.is_file()) {
                tracing::warn!("removing {}, which is not a cache file", path.display());
                remove_any(path).map_err(fail)?;
            }
        }
        if fs_err::symlink_metadata(&meta_path).is_ok() {
            // An entry that does not verify is no entry: replace it rather than keep it.
            let sound = fs_err::read(&meta_path).is_ok_and(|bytes| {
                ArtifactMeta::parse(&bytes, key).is_ok_and(|m| m.check_seal().is_ok())
            });
            if !replace && sound {
                tracing::debug!("already stored");
                return Ok(());
            }
            // Metadata first: from here on no reader can pair the old metadata with a blob
            // it has yet to open, except through the digest check.
            match fs_err::remove_file(&meta_path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(fail(e)),
                _ => tracing::debug!("replacing the stored entry"),
            }
        }
        persist(blob, &blob_path).map_err(fail)?;
        persist(meta, &meta_path).map_err(fail)
    }

    /// Removes `path` (not a regular file) from the shard of `key`, under its lock, if it is
    /// still not a regular file.
    pub(super) fn clear_obstruction(&self, key: &str, path: &Path) -> io::Result<()> {
        let _lock = lock(&self.shard(key))?;
        match fs_err::symlink_metadata(path) {
            Ok(meta) if !meta.is_file() => remove_any(path),
            _ => Ok(()),
        }
    }

    /// Replaces the outputs (matched by `outputs`) in `package_dir` with those of the entry
    /// for `key` and returns its log. The blob is verified and every entry checked before
    /// anything is written; see `extract.rs`. Outputs already identical on disk are left
    /// untouched, stale ones removed, missing or different ones written by an atomic rename. A corrupt, unsafe or oversized entry is evicted.
    /// `nested` (package-relative directories of the packages inside this one) are never
    /// touched, and an artifact entry inside one is refused as unsafe. Something on disk in
    /// the way (a symlink or file where a directory goes) is [`CacheError::Restore`]: the
    /// entry is kept.
    #[instrument(skip(self, outputs, nested), fields(package = %package_dir.display()))]
    pub fn restore(
        &self,
        key: &str,
        package_dir: &Path,
        outputs: &[String],
        nested: &[String],
    ) -> Result<Restored, CacheError> {
        self.restore_over(key, package_dir, outputs, nested, &|_| true)
    }

    /// [`restore`](Self::restore), refused with [`CacheError::WouldReplace`] before anything
    /// is written if it would replace or remove an output on disk (file or symlink, by
    /// package-relative path) that `may_replace` does not allow: one kiln did not leave
    /// there. Outputs identical to the artifact's never count.
    #[instrument(skip(self, outputs, nested, may_replace), fields(package = %package_dir.display()))]
    pub fn restore_over(
        &self,
        key: &str,
        package_dir: &Path,
        outputs: &[String],
        nested: &[String],
        may_replace: &dyn Fn(&str) -> bool,
    ) -> Result<Restored, CacheError> {
        let globs = OutputGlobs::with_nested(outputs, nested)?;
        let meta = self
            .get(key)?
            .ok_or_else(|| CacheError::Missing { key: key.into() })?;
        let blob = self.open_blob(&meta, package_dir)?;
        let limit = self.options.max_unpacked_bytes;
        let scanned = extract::scan(
            blob.file(),
            &meta,
            &globs,
            limit,
            Contents::Digest,
            &self.scratch,
        )
        .map_err(|r| self.refused(&meta, package_dir, r))?;
        let done = extract::unpack(
            blob.file(),
            &scanned,
            package_dir,
            &globs,
            limit,
            may_replace,
        )
        .map_err(|r| self.refused(&meta, package_dir, r))?;
        tracing::debug!(written = done.written, kept = done.kept, "restored");
        Ok(Restored {
            log: scanned.log,
            files: done.written + done.kept,
            files_written: done.written,
            files_kept: done.kept,
            meta,
        })
    }

    /// The log of the entry for `key`, after the same checks as a restore (digest, every
    /// entry), without writing anything: for a hit whose outputs are already in place. A
    /// corrupt or unsafe entry (including one inside `nested`, as for a restore) is evicted.
    #[instrument(skip(self, outputs, nested))]
    pub fn read_log(
        &self,
        key: &str,
        outputs: &[String],
        nested: &[String],
    ) -> Result<Restored, CacheError> {
        let globs = OutputGlobs::with_nested(outputs, nested)?;
        let meta = self
            .get(key)?
            .ok_or_else(|| CacheError::Missing { key: key.into() })?;
        let here = Path::new(".");
        let blob = self.open_blob(&meta, here)?;
        let limit = self.options.max_unpacked_bytes;
        let scanned = extract::scan(
            blob.file(),
            &meta,
            &globs,
            limit,
            Contents::Skip,
            &self.scratch,
        )
        .map_err(|r| self.refused(&meta, here, r))?;
        Ok(Restored {
            log: scanned.log,
            files: 0,
            files_written: 0,
            files_kept: 0,
            meta,
        })
    }

    /// Removes the entry for `key`, if any (metadata first).
    pub fn evict(&self, key: &str) -> Result<(), CacheError> {
        validate_key(key)?;
        let shard = self.shard(key);
        let fail = |source: io::Error| CacheError::Store {
            key: key.into(),
            source,
        };
        let _lock = match lock(&shard) {
            Ok(lock) => lock,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(fail(e)),
        };
        for path in [self.meta_path(key), self.blob_path(key)] {
            match fs_err::remove_file(&path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(fail(e)),
                _ => {}
            }
        }
        Ok(())
    }

    /// Turns a refusal into an error, evicting the entry unless the fault is on our side.
    /// The blob of an entry whose metadata was read; a missing blob makes the entry corrupt.
    fn open_blob(
        &self,
        meta: &ArtifactMeta,
        package_dir: &Path,
    ) -> Result<fs_err::File, CacheError> {
        match fs_err::File::open(self.blob_path(&meta.key)) {
            Ok(blob) => Ok(blob),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(self.refused(
                meta,
                package_dir,
                Refusal::Corrupt("blob is missing".into()),
            )),
            Err(source) => Err(CacheError::Read {
                key: meta.key.clone(),
                source,
            }),
        }
    }

    fn refused(&self, meta: &ArtifactMeta, package_dir: &Path, refusal: Refusal) -> CacheError {
        let key = meta.key.clone();
        let error = match refusal {
            Refusal::Io(source) => {
                return CacheError::Restore {
                    key,
                    package_dir: package_dir.to_path_buf(),
                    source,
                };
            }
            Refusal::WouldReplace(path) => {
                return CacheError::WouldReplace {
                    key,
                    package_dir: package_dir.to_path_buf(),
                    path,
                };
            }
            Refusal::Corrupt(reason) => CacheError::Corrupt { key, reason },
            Refusal::Unsafe { entry, reason } => CacheError::Unsafe { key, entry, reason },
            Refusal::TooLarge => CacheError::TooLarge {
                key,
                limit: self.options.max_unpacked_bytes,
            },
        };
        // The caller reports the refusal (once, with the task it concerns).
        tracing::debug!(%error, "evicting cache entry");
        self.evict_unless_replaced(&meta.key, Some(&meta.blob));
        error
    }

    /// Evicts `key` unless its metadata now names another blob than `seen` (someone stored a
    /// fresh entry since we read it). Failing to evict is only logged: the next read retries.
    fn evict_unless_replaced(&self, key: &str, seen: Option<&BlobDigest>) {
        let shard = self.shard(key);
        let Ok(_lock) = lock(&shard) else { return };
        if let Some(seen) = seen {
            let current = fs_err::read(self.meta_path(key))
                .ok()
                .and_then(|b| ArtifactMeta::parse(&b, key).ok());
            if current.is_some_and(|current| current.blob != *seen) {
                return;
            }
        }
        for path in [self.meta_path(key), self.blob_path(key)] {
            if let Err(e) = fs_err::remove_file(&path)
                && e.kind() != io::ErrorKind::NotFound
            {
                tracing::warn!(error = %e, "cannot evict cache entry");
            }
        }
    }

    fn shard(&self, key: &str) -> PathBuf {
        self.artifacts.join(&key[..2])
    }

    fn blob_path(&self, key: &str) -> PathBuf {
        self.shard(key).join(format!("{key}.tar.zst"))
    }

    fn meta_path(&self, key: &str) -> PathBuf {
        self.shard(key).join(format!("{key}.json"))
    }
}

impl CacheStore for LocalStore {
    fn name(&self) -> &str {
        "local"
    }

    fn contains(&self, key: &str) -> Result<Option<ArtifactMeta>, CacheError> {
        self.peek(key)
    }

    fn fetch(&self, key: &str, scratch_dir: &Path) -> Result<Option<PackedArtifact>, CacheError> {
        let Some(meta) = self.get(key)? else {
            return Ok(None);
        };
        let blob = match stage_blob(&self.blob_path(key), scratch_dir) {
            Ok(blob) => blob,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(self.refused(
                    &meta,
                    scratch_dir,
                    Refusal::Corrupt("blob is missing".into()),
                ));
            }
            Err(source) => {
                return Err(CacheError::Read {
                    key: key.into(),
                    source,
                });
            }
        };
        let packed = PackedArtifact::from_parts(blob, meta);
        if let Err(CacheError::Corrupt { reason, .. }) = packed.verify() {
            return Err(self.refused(packed.meta(), scratch_dir, Refusal::Corrupt(reason)));
        }
        Ok(Some(packed))
    }

    fn store(&self, artifact: &PackedArtifact) -> Result<(), CacheError> {
        self.put(&artifact.meta().key, artifact)
    }
}

/// Keys become file names, URL paths and Redis key parts, so every store holds them to one
/// safe alphabet: 2 to 128 ASCII letters, digits, `-` and `_`.
pub fn validate_key(key: &str) -> Result<(), CacheError> {
    let ok = (2..=128).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(CacheError::InvalidKey { key: key.into() })
    }
}

fn lock(shard: &Path) -> io::Result<fs_err::File> {
    let file = fs_err::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(shard.join(".lock"))?;
    file.lock()?;
    Ok(file)
}

/// A temp-file copy of `src` in `dir`: a hard link when the filesystem allows (no bytes
/// copied), a copy otherwise.
fn stage_blob(src: &Path, dir: &Path) -> io::Result<TempPath> {
    fs_err::create_dir_all(dir)?;
    match Builder::new()
        .prefix(".blob-")
        .make_in(dir, |path| fs_err::hard_link(src, path))
    {
        Ok(linked) => Ok(linked.into_temp_path()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(e),
        Err(_) => {
            let mut temp = Builder::new()
                .prefix(".blob-")
                .tempfile_in(dir)
                .map_err(|e| in_dir(e, dir))?;
            io::copy(&mut fs_err::File::open(src)?, &mut temp)?;
            Ok(temp.into_temp_path())
        }
    }
}

fn stage_bytes(bytes: &[u8], dir: &Path) -> io::Result<TempPath> {
    use std::io::Write;
    let mut temp = Builder::new()
        .prefix(".meta-")
        .tempfile_in(dir)
        .map_err(|e| in_dir(e, dir))?;
    temp.write_all(bytes)?;
    Ok(temp.into_temp_path())
}

/// Removes a directory tree, or anything else, without following a symlink.
fn remove_any(path: &Path) -> io::Result<()> {
    if fs_err::symlink_metadata(path)?.is_dir() {
        fs_err::remove_dir_all(path)
    } else {
        fs_err::remove_file(path)
    }
}

fn persist(temp: TempPath, to: &Path) -> io::Result<()> {
    temp.persist(to).map(|_| ()).map_err(|e| {
        io::Error::new(
            e.error.kind(),
            format!("cannot rename into {}: {}", to.display(), e.error),
        )
    })
}

fn in_dir(e: io::Error, dir: &Path) -> io::Error {
    io::Error::new(
        e.kind(),
        format!("cannot create a temp file in {}: {e}", dir.display()),
    )
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod bounded_tests;
