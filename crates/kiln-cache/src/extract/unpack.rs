//! Pass 2 of a restore: bring the package's outputs to what the scan recorded, leaving every
//! output that is already right untouched and replacing the others by atomic renames (the
//! design note is in `extract.rs`).

use std::cell::Cell;
use std::collections::HashSet;
use std::io::{self, Seek};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use tempfile::{Builder, TempPath};

use super::{Item, Limited, Planned, Refusal, Scanned, ancestors, classify, on_disk};
use crate::outputs::{Found, Kind, OutputGlobs};

/// Prefix of the temp names outputs are written under before the rename. A killed restore
/// can leave one behind; the next restore removes it if the output globs match it.
const TEMP_PREFIX: &str = ".kiln-restore-";

/// What a restore did to the files and symlinks of the artifact.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Unpacked {
    /// Missing or different on disk: written.
    pub(crate) written: usize,
    /// Already identical on disk: left untouched.
    pub(crate) kept: usize,
}

/// Pass 2: makes the outputs in `package_dir` those of the artifact, after checking (and
/// refusing, before anything is written) that every output it would replace or remove is
/// one `may_replace` allows. Only call it on a blob [`super::scan`] accepted with
/// [`super::Contents::Digest`] (without digests every file is rewritten).
pub(crate) fn unpack(
    blob: &std::fs::File,
    scanned: &Scanned,
    package_dir: &Path,
    globs: &OutputGlobs,
    limit: u64,
    may_replace: &dyn Fn(&str) -> bool,
) -> Result<Unpacked, Refusal> {
    let mut reader = blob;
    reader.rewind().map_err(Refusal::Io)?;
    fs_err::create_dir_all(package_dir).map_err(Refusal::Io)?;
    // One walk of the outputs on disk serves the check and the removal of stale ones.
    let found = globs.find(package_dir).map_err(Refusal::Io)?;
    check_replacements(package_dir, &found, scanned, may_replace)?;
    remove_stale(package_dir, &found, scanned).map_err(Refusal::Io)?;

    let exceeded = Cell::new(false);
    let decoder =
        zstd::Decoder::new(io::BufReader::with_capacity(64 * 1024, reader)).map_err(Refusal::Io)?;
    let mut archive = tar::Archive::new(Limited {
        inner: decoder,
        remaining: limit,
        exceeded: &exceeded,
    });
    let mut dirs = Dirs {
        package_dir,
        verified: HashSet::new(),
    };
    let mut modes = Vec::new();
    let mut done = Unpacked::default();
    let read_failed = |e: io::Error| {
        if exceeded.get() {
            Refusal::TooLarge
        } else {
            Refusal::Io(e)
        }
    };
    for entry in archive.entries().map_err(read_failed)? {
        let mut entry = entry.map_err(read_failed)?;
        let Item::Output { rel, .. } = classify(&entry, globs)? else {
            continue;
        };
        // Read from the same open file as the scan, so this only fails if the disk changed
        // the bytes under us.
        let Some(planned) = scanned.outputs.get(&rel) else {
            return Err(Refusal::Corrupt(format!(
                "{rel} appeared in the blob after it was scanned"
            )));
        };
        dirs.ensure_parents(&rel)?;
        let path = package_dir.join(&rel);
        match planned {
            Planned::File { mode, size, digest } => {
                if digest.is_some_and(|digest| same_file(&path, *mode, *size, &digest)) {
                    done.kept += 1;
                    continue;
                }
                let dir = parent(&path);
                let mut temp = Builder::new()
                    .prefix(TEMP_PREFIX)
                    .tempfile_in(dir)
                    .map_err(|e| Refusal::Io(in_dir(e, dir)))?;
                io::copy(&mut entry, temp.as_file_mut()).map_err(read_failed)?;
                temp.as_file()
                    .set_permissions(std::fs::Permissions::from_mode(*mode))
                    .map_err(|e| Refusal::Io(in_dir(e, dir)))?;
                rename_over(temp.into_temp_path(), &path)?;
                done.written += 1;
            }
            Planned::Symlink { target } => {
                if fs_err::read_link(&path).is_ok_and(|current| current == *target) {
                    done.kept += 1;
                    continue;
                }
                let dir = parent(&path);
                let temp = Builder::new()
                    .prefix(TEMP_PREFIX)
                    .make_in(dir, |p| std::os::unix::fs::symlink(target, p))
                    .map_err(|e| Refusal::Io(in_dir(e, dir)))?;
                rename_over(temp.into_temp_path(), &path)?;
                done.written += 1;
            }
            Planned::Dir { mode } => {
                dirs.ensure_dir(&rel)?;
                modes.push((path, *mode));
            }
        }
    }
    // Deepest first, so restricting a parent never blocks setting a child. A mode already
    // right is not set again: a kept directory stays untouched.
    modes.sort_by_key(|(path, _)| std::cmp::Reverse(path.components().count()));
    for (path, mode) in modes {
        let current = fs_err::symlink_metadata(&path).map_err(Refusal::Io)?;
        if current.permissions().mode() & 0o777 != mode {
            fs_err::set_permissions(&path, std::fs::Permissions::from_mode(mode))
                .map_err(Refusal::Io)?;
        }
    }
    Ok(done)
}

/// Refuses the restore if it would replace or remove an output file or symlink on disk
/// (`found`) that `may_replace` (given its package-relative path) does not allow. Writes
/// nothing.
fn check_replacements(
    package_dir: &Path,
    found: &[Found],
    scanned: &Scanned,
    may_replace: &dyn Fn(&str) -> bool,
) -> Result<(), Refusal> {
    for found in found {
        if found.kind == Kind::Dir {
            // Only ever removed when empty, and kept when the artifact has it.
            continue;
        }
        let path = package_dir.join(&found.rel);
        let unchanged = match scanned.outputs.get(&found.rel) {
            Some(Planned::File { mode, size, digest }) => {
                found.kind == Kind::File
                    && digest.is_some_and(|digest| same_file(&path, *mode, *size, &digest))
            }
            Some(Planned::Symlink { target }) => {
                found.kind == Kind::Symlink
                    && fs_err::read_link(&path).is_ok_and(|current| current == *target)
            }
            Some(Planned::Dir { .. }) | None => false,
        };
        if !unchanged && !may_replace(&found.rel) {
            return Err(Refusal::WouldReplace(found.rel.clone()));
        }
    }
    Ok(())
}

/// Removes, deepest first, the outputs on disk that the write pass will not keep or rename
/// over: those the artifact lacks, and those of another kind than the artifact's (a file
/// where it has a directory; a directory where it has a file, unless it still holds excluded
/// files, which the rename then reports). A file or symlink where the artifact has one stays
/// for now: it is compared, then kept or atomically replaced.
fn remove_stale(package_dir: &Path, found: &[Found], scanned: &Scanned) -> io::Result<()> {
    let mut removed = 0usize;
    for found in found.iter().rev() {
        let path = package_dir.join(&found.rel);
        let replaced_later = matches!(
            scanned.outputs.get(&found.rel),
            Some(Planned::File { .. } | Planned::Symlink { .. })
        );
        let result = match found.kind {
            Kind::Dir if scanned.dirs.contains(&found.rel) => continue,
            Kind::Dir => fs_err::remove_dir(&path),
            Kind::File | Kind::Symlink | Kind::Other if replaced_later => continue,
            Kind::File | Kind::Symlink | Kind::Other => fs_err::remove_file(&path),
        };
        match result {
            Ok(()) => removed += 1,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::DirectoryNotEmpty
                ) => {}
            Err(e) => return Err(e),
        }
    }
    tracing::debug!(removed, "stale outputs removed");
    Ok(())
}

/// Whether `path` already is the file the artifact holds: a regular file (not a symlink to
/// one, nor a fifo that would block the read) with the same mode, size and BLAKE3 digest.
/// Any doubt, an unreadable file included, answers no: the file is then replaced, which
/// needs no read permission.
fn same_file(path: &Path, mode: u32, size: u64, digest: &blake3::Hash) -> bool {
    let Ok(before) = fs_err::symlink_metadata(path) else {
        return false;
    };
    if !before.file_type().is_file()
        || before.permissions().mode() & 0o777 != mode
        || before.len() != size
    {
        return false;
    }
    let Ok(mut file) = fs_err::File::open(path) else {
        return false;
    };
    // What was opened must be what was checked, not something swapped in since.
    let Ok(opened) = file.metadata() else {
        return false;
    };
    if (opened.dev(), opened.ino()) != (before.dev(), before.ino()) {
        return false;
    }
    let mut hasher = blake3::Hasher::new();
    io::copy(&mut file, &mut hasher).is_ok() && hasher.finalize() == *digest
}

/// Renames the temp file or symlink `temp` to `path`, replacing what is there unless it is
/// a directory. On failure the temp is removed.
fn rename_over(temp: TempPath, path: &Path) -> Result<(), Refusal> {
    temp.persist(path).map_err(|e| {
        if fs_err::symlink_metadata(path).is_ok_and(|meta| meta.is_dir()) {
            on_disk(
                path,
                "is a directory where the artifact has a file or symlink",
            )
        } else {
            Refusal::Io(io::Error::new(
                e.error.kind(),
                format!("cannot rename into {}: {}", path.display(), e.error),
            ))
        }
    })
}

/// The directory of an output path (always inside the package: `rel` is never empty).
fn parent(path: &Path) -> &Path {
    path.parent().unwrap_or(Path::new("."))
}

fn in_dir(e: io::Error, dir: &Path) -> io::Error {
    io::Error::new(
        e.kind(),
        format!("cannot write a temp file in {}: {e}", dir.display()),
    )
}

/// Directories inside the package known to be real directories during this restore.
struct Dirs<'a> {
    package_dir: &'a Path,
    verified: HashSet<String>,
}

impl Dirs<'_> {
    fn ensure_parents(&mut self, rel: &str) -> Result<(), Refusal> {
        let parents: Vec<&str> = ancestors(rel).collect();
        for parent in parents.into_iter().rev() {
            self.ensure_dir(parent)?;
        }
        Ok(())
    }

    /// Makes `rel` a directory, refusing if a symlink (or anything but a directory) is there.
    fn ensure_dir(&mut self, rel: &str) -> Result<(), Refusal> {
        if self.verified.contains(rel) {
            return Ok(());
        }
        let path = self.package_dir.join(rel);
        match fs_err::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(on_disk(&path, "is a symlink, not written through"));
            }
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(on_disk(&path, "is a file where a directory is needed"));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                match fs_err::create_dir(&path) {
                    Ok(()) => {}
                    // Another entry or process made it meanwhile; check what it is.
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                        return self.ensure_dir_exists(rel);
                    }
                    Err(e) => return Err(Refusal::Io(e)),
                }
            }
            Err(e) => return Err(Refusal::Io(e)),
        }
        self.verified.insert(rel.to_string());
        Ok(())
    }

    fn ensure_dir_exists(&mut self, rel: &str) -> Result<(), Refusal> {
        let path = self.package_dir.join(rel);
        let meta = fs_err::symlink_metadata(&path).map_err(Refusal::Io)?;
        if !meta.is_dir() {
            return Err(on_disk(&path, "is not a directory"));
        }
        self.verified.insert(rel.to_string());
        Ok(())
    }
}

#[cfg(test)]
mod tests;
