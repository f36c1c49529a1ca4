//! The ignore-aware directory walk under every input set.
//!
//! Git decides what a file is: `.gitignore` files at every level from the repository (or,
//! without a `.git` directory, from the filesystem root) down, and `.git/info/exclude`.
//! Hidden files are included, like git does. Three things differ from a plain git walk, on
//! purpose:
//! - the user's global excludes file is not read: it differs from machine to machine, and a
//!   key must not depend on who computes it (ignoring less only ever adds to the key);
//! - `node_modules/`, `.git/`, `.kiln/` and `.turbo/` are never entered, ignored or not;
//! - the caller's `exclude_dirs` (nested packages) are never entered.
//!
//! Symlinks are listed, never followed: the hasher digests their target text.

use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ignore::{WalkBuilder, WalkState};

use crate::HashError;

/// Directory names that are never part of any input set.
pub const ALWAYS_EXCLUDED: [&str; 4] = ["node_modules", ".git", ".kiln", ".turbo"];

/// The files (and symlinks) under `root/base`, not ignored, as `base`-relative,
/// `/`-separated paths, sorted. `exclude_dirs` are root-relative.
pub(crate) fn walk(
    root: &Path,
    base: &str,
    exclude_dirs: &[String],
) -> Result<Vec<String>, HashError> {
    let base_abs = if base.is_empty() {
        root.to_path_buf()
    } else {
        root.join(base)
    };
    if !base_abs.is_dir() {
        return Err(HashError::PackageDirMissing { path: base_abs });
    }
    let excluded: HashSet<PathBuf> = exclude_dirs
        .iter()
        .map(|d| d.trim_start_matches("./").trim_end_matches('/'))
        .filter(|d| !d.is_empty())
        .map(|d| root.join(d))
        .collect();

    let mut builder = WalkBuilder::new(&base_abs);
    builder
        .hidden(false)
        .parents(true)
        .ignore(false)
        .git_ignore(true)
        .git_exclude(true)
        .git_global(false)
        .require_git(false)
        .follow_links(false)
        .filter_entry(move |entry| {
            if entry.depth() == 0 {
                return true;
            }
            let name = entry.file_name();
            if ALWAYS_EXCLUDED.iter().any(|x| name == *x) {
                return false;
            }
            !(entry.file_type().is_some_and(|t| t.is_dir()) && excluded.contains(entry.path()))
        });

    let found = Mutex::new(Vec::new());
    let failure: Mutex<Option<HashError>> = Mutex::new(None);
    builder.build_parallel().run(|| {
        let found = &found;
        let failure = &failure;
        let base_abs = &base_abs;
        Box::new(move |result| {
            let outcome = result
                .map_err(|source| walk_error(base_abs, source))
                .and_then(|entry| {
                    if let Some(err) = entry.error() {
                        // A malformed line in a .gitignore: git skips it too.
                        tracing::warn!(path = %entry.path().display(), "ignore file: {err}");
                    }
                    let is_file = entry
                        .file_type()
                        .is_some_and(|t| t.is_file() || t.is_symlink());
                    if !is_file {
                        return Ok(None);
                    }
                    relative(base_abs, entry.path()).map(Some).map_err(Some)
                });
            match outcome {
                Ok(Some(rel)) => found.lock().expect("walk result lock").push(rel),
                Ok(None) => {}
                Err(None) => {}
                Err(Some(err)) => {
                    failure.lock().expect("walk error lock").get_or_insert(err);
                    return WalkState::Quit;
                }
            }
            WalkState::Continue
        })
    });
    if let Some(err) = failure.into_inner().expect("walk error lock") {
        return Err(err);
    }
    let mut files = found.into_inner().expect("walk result lock");
    files.sort_unstable();
    Ok(files)
}

/// `None` for a file that vanished while we walked (a running task's temp file): it is not an
/// input of anything that runs after this walk.
fn walk_error(base: &Path, source: ignore::Error) -> Option<HashError> {
    if source
        .io_error()
        .is_some_and(|e| e.kind() == io::ErrorKind::NotFound)
    {
        tracing::debug!(base = %base.display(), "file vanished during the walk: {source}");
        return None;
    }
    let path = error_path(&source).unwrap_or_else(|| base.to_path_buf());
    Some(HashError::Walk { path, source })
}

fn error_path(err: &ignore::Error) -> Option<PathBuf> {
    match err {
        ignore::Error::WithPath { path, .. } => Some(path.clone()),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            error_path(err)
        }
        ignore::Error::Loop { child, .. } => Some(child.clone()),
        _ => None,
    }
}

/// `path` relative to `base`, `/`-separated, or an error naming a non-UTF-8 path.
pub(crate) fn relative(base: &Path, path: &Path) -> Result<String, HashError> {
    let rel = path
        .strip_prefix(base)
        .map_err(|_| HashError::OutsideRoot {
            path: path.to_path_buf(),
            root: base.to_path_buf(),
        })?;
    let text = rel.to_str().ok_or_else(|| HashError::NonUtf8Path {
        path: path.to_path_buf(),
    })?;
    // On Unix the separator already is `/`; this runs once per file on the hot path.
    if std::path::MAIN_SEPARATOR == '/' {
        return Ok(text.to_string());
    }
    Ok(text.replace(std::path::MAIN_SEPARATOR, "/"))
}
