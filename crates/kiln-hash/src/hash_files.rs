//! Hashing input files in parallel, through the [`StatCache`].

use std::fs::Metadata;
use std::path::Path;

use rayon::prelude::*;

use crate::stat_cache::Stat;
use crate::walk::relative;
use crate::{Digest, HashError, InputFile, StatCache};

/// The digest of every file, in the order given (so sorted input stays sorted), paired with
/// its [`InputFile::rel`]. The cache is keyed by the path relative to `root`, so one cache
/// serves every package. Runs on rayon's pool.
///
/// A file that vanished since it was listed (an editor's swap file, a watcher's temp file)
/// is left out, as if the listing had come a moment later: it is not an input of anything
/// that runs after this.
#[tracing::instrument(level = "debug", skip_all, fields(files = files.len()))]
pub fn hash_files(
    files: &[InputFile],
    cache: &StatCache,
    root: &Path,
) -> Result<Vec<(String, Digest)>, HashError> {
    let hashed: Vec<Option<(String, Digest)>> = files
        .par_iter()
        .map(|file| {
            let key = relative(root, &file.abs)?;
            match hash_one(&file.abs, &key, cache) {
                Ok(digest) => Ok(Some((file.rel.clone(), digest))),
                Err(HashError::Read { source, .. })
                    if source.kind() == std::io::ErrorKind::NotFound =>
                {
                    tracing::debug!(path = %file.abs.display(), "vanished before it was hashed");
                    Ok(None)
                }
                Err(e) => Err(e),
            }
        })
        .collect::<Result<_, HashError>>()?;
    Ok(hashed.into_iter().flatten().collect())
}

fn hash_one(path: &Path, key: &str, cache: &StatCache) -> Result<Digest, HashError> {
    let read_err = |source| HashError::Read {
        path: path.to_path_buf(),
        source,
    };
    let meta = fs_err::symlink_metadata(path).map_err(read_err)?;
    let stat = Stat::of(&meta);
    if let Some(digest) = cache.lookup(key, &stat) {
        return Ok(digest);
    }
    let (digest, settled) = if meta.file_type().is_symlink() {
        let digest = Digest::of_path(path, true).map_err(read_err)?;
        let after = fs_err::symlink_metadata(path).map_err(read_err)?;
        (digest, Stat::of(&after) == stat)
    } else {
        read_regular(path, &meta).map_err(read_err)?
    };
    if settled {
        cache.record(key, stat, digest);
    } else {
        tracing::debug!(path = %path.display(), "changed while hashed; not cached");
    }
    Ok(digest)
}

/// Hashes a regular file, and says whether the open handle showed the same stat before and
/// after the read as `lstat` did (the file was not replaced or written meanwhile).
fn read_regular(path: &Path, meta: &Metadata) -> std::io::Result<(Digest, bool)> {
    let file = fs_err::File::open(path)?;
    let before = Stat::of(&file.metadata()?);
    let digest = Digest::of_reader(&file)?;
    let after = Stat::of(&file.metadata()?);
    let expected = Stat::of(meta);
    Ok((digest, before == expected && after == expected))
}

#[cfg(test)]
#[path = "hash_files_tests.rs"]
mod tests;
