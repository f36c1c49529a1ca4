//! Restoring an artifact, trusting nothing in it, disturbing nothing that is already right.
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
//!    symlink, if it lies in a nested package, if it would be written through a symlink or
//!    file created by an earlier entry, or if the archive expands past the size limit. For a
//!    restore it also records what each output must be: a file's mode, size and the BLAKE3
//!    digest of its content, a symlink's target, a directory's mode. Nothing is written in
//!    this pass, so a refused artifact (or a decompression bomb) leaves the package untouched.
//! 2. **Check** (the start of [`unpack`]): every output already on disk that the restore would
//!    replace (a different file or symlink) or remove (one the artifact lacks) must be one kiln
//!    left there, as the caller's record of the task's last outputs says. A file the user
//!    edited (a hand-written `types.d.ts` that `*.d.ts` matches), a `.env.local` that
//!    `outputs: ["**"]` takes in, or a `dist/` another tool wrote is never overwritten: the
//!    restore is refused before anything is written ([`crate::CacheError::WouldReplace`]) and
//!    the caller runs the task instead. Identical files are not replacements.
//! 3. **Unpack** ([`unpack`], in `extract/unpack.rs`): make the package's outputs what the
//!    scan recorded, touching only what differs. Another kiln process on the same repository
//!    may have just built or restored the same outputs, and one of its tasks may be reading
//!    them right now: deleting and rewriting identical files would be wasted work and would
//!    make them vanish under that reader. So an output already on disk with the same kind,
//!    mode and content (symlink: target) is left alone, inode, mtime and all; a directory the
//!    artifact holds is kept. Outputs the artifact lacks, or holds as another kind, are
//!    removed (only paths the output globs match, never following symlinks, deepest first).
//!    A missing or different file or symlink is written to a fresh temp name (`O_EXCL`) in
//!    its final directory and renamed over the old one, so a reader sees the old or the new
//!    content, never a missing or half-written file, and the rename replaces a symlink or
//!    hard link instead of writing through it. Every parent directory is checked with `lstat`
//!    on the way down (cached per restore), so a symlink already on disk is never written
//!    through, nor read through for the comparison. Directory modes are applied last, deepest
//!    first, so a read-only directory can still be filled. What the disk holds (a symlink or
//!    file where a directory goes, a directory where a file goes) is the package's problem,
//!    not the artifact's: it fails the restore as I/O and the entry is kept (evicting a valid
//!    entry would only repeat on every run).
//!
//! The scan costs a second decompression, plus a BLAKE3 pass over the content for a restore
//! (not for [`crate::LocalStore::read_log`]). It buys the guarantee that a bad artifact never
//! leaves a half-restored package, which the alternative (checking while extracting) cannot
//! give. zstd decompresses at well over 1 GB/s and BLAKE3 hashes faster still, so small
//! artifacts, the common case, pay microseconds. Comparing reads each existing output once;
//! restores are off the hot path (an unchanged outputs fingerprint skips them entirely).

use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::artifact::{LOG_ENTRY, OUTPUTS_PREFIX, digest_mismatch};
use crate::digest::HashingReader;
use crate::meta::ArtifactMeta;
use crate::outputs::OutputGlobs;

mod unpack;

pub(crate) use unpack::unpack;

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
    /// The restore would replace or remove an output kiln did not write: not the artifact's
    /// fault either, and nothing was written.
    WouldReplace(String),
}

/// Whether the scan hashes file contents: a restore compares them with the disk, reading
/// the log does not need them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Contents {
    Digest,
    Skip,
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

/// What the artifact holds at one output path.
#[derive(Debug)]
enum Planned {
    /// `digest` is `None` when the scan skipped contents: such a file never counts as
    /// identical to the disk.
    File {
        mode: u32,
        size: u64,
        digest: Option<blake3::Hash>,
    },
    Dir {
        mode: u32,
    },
    Symlink {
        target: PathBuf,
    },
}

/// What the scan learnt about an artifact it accepted.
pub(crate) struct Scanned {
    pub(crate) log: crate::TaskLog,
    /// Every output entry, by package-relative path.
    outputs: HashMap<String, Planned>,
    /// Every directory the artifact will hold, declared or implied by a deeper entry. Stale
    /// removal keeps these rather than removing and recreating them.
    dirs: HashSet<String>,
}

/// Pass 1: verifies `blob` against `meta` and checks every entry.
pub(crate) fn scan(
    blob: &std::fs::File,
    meta: &ArtifactMeta,
    globs: &OutputGlobs,
    limit: u64,
    contents: Contents,
    scratch: &Path,
) -> Result<Scanned, Refusal> {
    let mut hashing = HashingReader::new(blob);
    let exceeded = Cell::new(false);
    let outcome = scan_entries(&mut hashing, globs, limit, contents, &exceeded, scratch);
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
    contents: Contents,
    exceeded: &Cell<bool>,
    scratch: &Path,
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
    let mut outputs: HashMap<String, Planned> = HashMap::new();
    // What the headers announce counts against the limit before any of it is read, so a
    // bomb announcing one huge file is refused after one header, not after gigabytes.
    let mut announced: u64 = 0;
    for entry in archive.entries().map_err(failed)? {
        let mut entry = entry.map_err(failed)?;
        announced = announced.saturating_add(entry.size());
        if announced > limit {
            return Err(Refusal::TooLarge);
        }
        match classify(&entry, globs)? {
            Item::Log => {
                if log.is_some() {
                    return Err(unsafe_entry(LOG_ENTRY, "the log appears twice"));
                }
                let len = entry.size();
                log = Some(crate::TaskLog::read(&mut entry, len, scratch).map_err(failed)?);
            }
            Item::Output { rel, entry: kind } => {
                for parent in ancestors(&rel) {
                    if outputs
                        .get(parent)
                        .is_some_and(|p| !matches!(p, Planned::Dir { .. }))
                    {
                        return Err(unsafe_entry(
                            &rel,
                            "a parent is a symlink or file in the same artifact",
                        ));
                    }
                }
                if outputs.contains_key(&rel) {
                    return Err(unsafe_entry(&rel, "appears twice"));
                }
                let planned = match kind {
                    Entry::File { mode } => {
                        let digest = match contents {
                            Contents::Digest => {
                                let mut hasher = blake3::Hasher::new();
                                io::copy(&mut entry, &mut hasher).map_err(failed)?;
                                Some(hasher.finalize())
                            }
                            Contents::Skip => None,
                        };
                        Planned::File {
                            mode,
                            size: entry.size(),
                            digest,
                        }
                    }
                    Entry::Dir { mode } => Planned::Dir { mode },
                    Entry::Symlink { target } => Planned::Symlink { target },
                };
                files += u64::from(!matches!(planned, Planned::Dir { .. }));
                outputs.insert(rel, planned);
            }
        }
    }
    let log = log.ok_or_else(|| Refusal::Corrupt("no log entry".into()))?;
    let mut dirs = HashSet::new();
    for (rel, planned) in &outputs {
        if matches!(planned, Planned::Dir { .. }) {
            dirs.insert(rel.clone());
        }
        dirs.extend(ancestors(rel).map(str::to_string));
    }
    Ok((Scanned { log, outputs, dirs }, files))
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
    if globs.in_nested(rel) {
        return Err(unsafe_entry(name, "inside a nested package"));
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

/// Something on disk (not in the artifact) stops the restore: the entry stays valid, so this
/// is an I/O failure, never a reason to evict.
fn on_disk(path: &Path, what: &str) -> Refusal {
    Refusal::Io(io::Error::other(format!(
        "{} {what} (remove it, or run the task)",
        path.display()
    )))
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
