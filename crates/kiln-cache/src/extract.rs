//! Restoring an artifact, trusting nothing in it.
//!
//! A blob comes from disk or from a remote cache; either may be damaged or, for a remote,
//! hostile. Restoring therefore takes two passes over the same open file (so the bytes checked
//! are the bytes extracted, whatever happens to the path meanwhile):
//!
//! 1. **Scan** ([`scan`]): hash the compressed bytes as they are decompressed and compare the
//!    BLAKE3 digest and size with the metadata; parse every tar header and refuse the
//!    artifact if any entry is not `log` or `outputs/<rel>`, if `<rel>` is not normalised
//!    (empty, `.` or `..` components, absolute), if it is not one of the task's declared
//!    outputs, if it is a hard link, device, fifo or anything but a file, directory or
//!    symlink, if it would be written through a symlink or file created by an earlier entry,
//!    or if the archive expands past the size limit. Nothing is written in this pass, so a
//!    refused artifact (or a decompression bomb) leaves the package untouched.
//! 2. **Unpack** ([`unpack`]): remove the outputs currently on disk (only paths the output
//!    globs match, never following symlinks), then write each entry to its final path. Every
//!    parent directory is checked with `lstat` on the way down (cached per restore), so a
//!    symlink already on disk is never written through either; files are created with
//!    `O_EXCL`, which does not follow a symlink at the final component. Directory modes are
//!    applied last, deepest first, so a read-only directory can still be filled.
//!
//! The scan costs a second decompression. It buys the guarantee that a bad artifact never
//! leaves a half-restored package, which the alternative (checking while extracting) cannot
//! give. zstd decompresses at well over 1 GB/s, so small artifacts, the common case, pay
//! microseconds.

use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::io::{self, Read, Seek};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::artifact::{LOG_ENTRY, OUTPUTS_PREFIX, digest_mismatch};
use crate::digest::HashingReader;
use crate::meta::ArtifactMeta;
use crate::outputs::{Kind, OutputGlobs};

/// Why an artifact could not be restored. The store turns these into [`crate::CacheError`]s
/// carrying the key (and evicts the entry for all but `Io`).
#[derive(Debug)]
pub(crate) enum Refusal {
    Corrupt(String),
    Unsafe {
        entry: String,
        reason: &'static str,
    },
    TooLarge,
    /// Writing into the package failed: not the artifact's fault.
    Io(io::Error),
}

enum Item {
    Log,
    Output { rel: String, entry: Entry },
}

enum Entry {
    File { mode: u32 },
    Dir { mode: u32 },
    Symlink { target: PathBuf },
}

/// What the scan learnt about an artifact it accepted.
pub(crate) struct Scanned {
    pub(crate) log: Vec<u8>,
    /// Every directory the artifact will hold, declared or implied by a deeper entry. Stale
    /// removal keeps these (emptied) rather than removing and recreating them: on a full-cache
    /// rerun that saves two directory operations per restored directory.
    dirs: HashSet<String>,
}

/// Pass 1: verifies `blob` against `meta` and checks every entry.
pub(crate) fn scan(
    blob: &std::fs::File,
    meta: &ArtifactMeta,
    globs: &OutputGlobs,
    limit: u64,
) -> Result<Scanned, Refusal> {
    let mut hashing = HashingReader::new(blob);
    let exceeded = Cell::new(false);
    let outcome = scan_entries(&mut hashing, globs, limit, &exceeded);
    let actual = hashing
        .drain()
        .map_err(|e| Refusal::Corrupt(format!("unreadable blob: {e}")))?;
    if actual != meta.blob {
        return Err(Refusal::Corrupt(digest_mismatch(&meta.blob, &actual)));
    }
    let (scanned, files) = outcome?;
    if files != meta.files {
        return Err(Refusal::Corrupt(format!(
            "{files} files in the blob, {} in the metadata",
            meta.files
        )));
    }
    Ok(scanned)
}

fn scan_entries(
    reader: impl Read,
    globs: &OutputGlobs,
    limit: u64,
    exceeded: &Cell<bool>,
) -> Result<(Scanned, u64), Refusal> {
    let failed = |e: io::Error| {
        if exceeded.get() {
            Refusal::TooLarge
        } else {
            Refusal::Corrupt(format!("unreadable archive: {e}"))
        }
    };
    let decoder = zstd::Decoder::new(reader).map_err(failed)?;
    let mut archive = tar::Archive::new(Limited {
        inner: decoder,
        remaining: limit,
        exceeded,
    });
    let mut log = None;
    let mut files = 0;
    // Every output path seen so far, and whether it was a directory.
    let mut seen: HashMap<String, bool> = HashMap::new();
    for entry in archive.entries().map_err(failed)? {
        let mut entry = entry.map_err(failed)?;
        match classify(&entry, globs)? {
            Item::Log => {
                if log.is_some() {
                    return Err(unsafe_entry(LOG_ENTRY, "the log appears twice"));
                }
                let mut buf = Vec::new();
                entry.read_to_end(&mut buf).map_err(failed)?;
                log = Some(buf);
            }
            Item::Output { rel, entry } => {
                for parent in ancestors(&rel) {
                    if seen.get(parent) == Some(&false) {
                        return Err(unsafe_entry(
                            &rel,
                            "a parent is a symlink or file in the same artifact",
                        ));
                    }
                }
                let is_dir = matches!(entry, Entry::Dir { .. });
                if seen.insert(rel.clone(), is_dir).is_some() {
                    return Err(unsafe_entry(&rel, "appears twice"));
                }
                files += u64::from(!is_dir);
            }
        }
    }
    let log = log.ok_or_else(|| Refusal::Corrupt("no log entry".into()))?;
    let mut dirs = HashSet::new();
    for (rel, is_dir) in &seen {
        if *is_dir {
            dirs.insert(rel.clone());
        }
        dirs.extend(ancestors(rel).map(str::to_string));
    }
    Ok((Scanned { log, dirs }, files))
}

/// Pass 2: replaces the outputs in `package_dir` with the artifact's; returns the number of
/// files and symlinks written. Only call it on a blob [`scan`] accepted.
pub(crate) fn unpack(
    blob: &std::fs::File,
    scanned: &Scanned,
    package_dir: &Path,
    globs: &OutputGlobs,
    limit: u64,
) -> Result<usize, Refusal> {
    let mut reader = blob;
    reader.rewind().map_err(Refusal::Io)?;
    fs_err::create_dir_all(package_dir).map_err(Refusal::Io)?;
    remove_stale(package_dir, globs, &scanned.dirs).map_err(Refusal::Io)?;

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
    let mut files = 0;
    let read_failed = |e: io::Error| {
        if exceeded.get() {
            Refusal::TooLarge
        } else {
            Refusal::Io(e)
        }
    };
    for entry in archive.entries().map_err(read_failed)? {
        let mut entry = entry.map_err(read_failed)?;
        let Item::Output { rel, entry: kind } = classify(&entry, globs)? else {
            continue;
        };
        dirs.ensure_parents(&rel)?;
        let path = package_dir.join(&rel);
        match kind {
            Entry::File { mode } => {
                let mut file = create_new(&path, &rel, |p| fs_err::File::create_new(p))?;
                io::copy(&mut entry, &mut file).map_err(read_failed)?;
                file.set_permissions(std::fs::Permissions::from_mode(mode))
                    .map_err(Refusal::Io)?;
                files += 1;
            }
            Entry::Symlink { target } => {
                create_new(&path, &rel, |p| fs_err::os::unix::fs::symlink(&target, p))?;
                files += 1;
            }
            Entry::Dir { mode } => {
                dirs.ensure_dir(&rel)?;
                modes.push((path, mode));
            }
        }
    }
    // Deepest first, so restricting a parent never blocks setting a child.
    modes.sort_by_key(|(path, _)| std::cmp::Reverse(path.components().count()));
    for (path, mode) in modes {
        fs_err::set_permissions(&path, std::fs::Permissions::from_mode(mode))
            .map_err(Refusal::Io)?;
    }
    Ok(files)
}

/// Removes every output now on disk, deepest first; a directory still holding excluded
/// files is kept, and so is one in `keep` (the artifact brings it back anyway).
fn remove_stale(package_dir: &Path, globs: &OutputGlobs, keep: &HashSet<String>) -> io::Result<()> {
    for found in globs.find(package_dir)?.iter().rev() {
        let path = package_dir.join(&found.rel);
        let removed = match found.kind {
            Kind::Dir if keep.contains(&found.rel) => Ok(()),
            Kind::Dir => fs_err::remove_dir(&path),
            Kind::File | Kind::Symlink | Kind::Other => fs_err::remove_file(&path),
        };
        match removed {
            Ok(()) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::DirectoryNotEmpty
                ) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Creates `path` with `create` (which must fail if it exists); something non-directory in
/// the way is removed once and the creation retried.
fn create_new<T>(
    path: &Path,
    rel: &str,
    create: impl Fn(&Path) -> io::Result<T>,
) -> Result<T, Refusal> {
    match create(path) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            let meta = fs_err::symlink_metadata(path).map_err(Refusal::Io)?;
            if meta.is_dir() {
                return Err(unsafe_entry(rel, "a directory is in the way"));
            }
            fs_err::remove_file(path).map_err(Refusal::Io)?;
            create(path).map_err(Refusal::Io)
        }
        other => other.map_err(Refusal::Io),
    }
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
                return Err(unsafe_entry(
                    rel,
                    "is a symlink on disk, not written through",
                ));
            }
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(unsafe_entry(
                    rel,
                    "is a file on disk where a directory is needed",
                ));
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
        let meta = fs_err::symlink_metadata(self.package_dir.join(rel)).map_err(Refusal::Io)?;
        if !meta.is_dir() {
            return Err(unsafe_entry(rel, "is not a directory on disk"));
        }
        self.verified.insert(rel.to_string());
        Ok(())
    }
}

fn classify<R: Read>(entry: &tar::Entry<'_, R>, globs: &OutputGlobs) -> Result<Item, Refusal> {
    let raw = entry.path_bytes();
    let Ok(name) = std::str::from_utf8(&raw) else {
        return Err(unsafe_entry(
            &String::from_utf8_lossy(&raw),
            "name is not UTF-8",
        ));
    };
    let header = entry.header();
    let kind = header.entry_type();
    if name == LOG_ENTRY {
        return if kind.is_file() {
            Ok(Item::Log)
        } else {
            Err(unsafe_entry(name, "the log is not a file"))
        };
    }
    let Some(rel) = name.strip_prefix(OUTPUTS_PREFIX) else {
        return Err(unsafe_entry(name, "neither the log nor under outputs/"));
    };
    let rel = if kind.is_dir() {
        rel.strip_suffix('/').unwrap_or(rel)
    } else {
        rel
    };
    if rel
        .split('/')
        .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return Err(unsafe_entry(name, "path is not relative and normalised"));
    }
    if !globs.matches(rel) {
        return Err(unsafe_entry(name, "not one of the task's declared outputs"));
    }
    let mode = || {
        header
            .mode()
            .map(|m| m & 0o777)
            .map_err(|_| unsafe_entry(name, "unreadable mode"))
    };
    let entry = match kind {
        tar::EntryType::Regular | tar::EntryType::Continuous => Entry::File { mode: mode()? },
        tar::EntryType::Directory => Entry::Dir { mode: mode()? },
        tar::EntryType::Symlink => match entry.link_name_bytes() {
            Some(target) if !target.is_empty() => Entry::Symlink {
                target: PathBuf::from(std::ffi::OsStr::from_bytes(&target)),
            },
            _ => return Err(unsafe_entry(name, "symlink without a target")),
        },
        _ => {
            return Err(unsafe_entry(
                name,
                "only files, directories and symlinks are allowed",
            ));
        }
    };
    Ok(Item::Output {
        rel: rel.to_string(),
        entry,
    })
}

fn unsafe_entry(entry: &str, reason: &'static str) -> Refusal {
    Refusal::Unsafe {
        entry: entry.to_string(),
        reason,
    }
}

/// Proper ancestors of a `/`-separated relative path, nearest first (`a/b/c` gives `a/b`, `a`).
fn ancestors(rel: &str) -> impl Iterator<Item = &str> {
    rel.char_indices()
        .rev()
        .filter(|&(_, c)| c == '/')
        .map(|(i, _)| &rel[..i])
}

/// Fails the read once more than `remaining` decompressed bytes have been asked for, setting
/// `exceeded` so the caller can tell a bomb from a broken stream.
struct Limited<'a, R> {
    inner: R,
    remaining: u64,
    exceeded: &'a Cell<bool>,
}

impl<R: Read> Read for Limited<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.remaining == 0 {
            // At the limit: only the true end of the stream is acceptable.
            if self.inner.read(&mut [0u8; 1])? == 0 {
                return Ok(0);
            }
            self.exceeded.set(true);
            return Err(io::Error::other("artifact expands past the size limit"));
        }
        let want = buf
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        self.remaining -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests;
