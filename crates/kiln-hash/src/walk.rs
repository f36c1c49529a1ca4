//! The ignore-aware directory walk under every input set.
//!
//! Git decides what a file is: `.gitignore` files at every level from the repository (or,
//! without a `.git` directory, from the filesystem root) down, and `.git/info/exclude`.
//! Hidden files are included, like git does. Three things differ from a plain git walk, on
//! purpose:
//! - the user's global excludes file is not read: it differs from machine to machine, and a
//!   key must not depend on who computes it (ignoring less only ever adds to the key);
//! - `node_modules/`, `.git/`, `.kiln/` and `.turbo/` are never entered, ignored or not.
//!
//! Symlinks are listed, never followed: the hasher digests their target text.
//!
//! This per-package walk is the reference: [`crate::RepoListing`] applies the same rules in
//! one walk of the whole workspace (its tests check that it agrees), and falls back on this
//! walk for the package directories it cannot enter.

use std::borrow::Cow;
use std::io;
use std::path::{Path, PathBuf};

use ignore::WalkBuilder;

use crate::HashError;

/// Directory names that are never part of any input set.
pub const ALWAYS_EXCLUDED: [&str; 4] = ["node_modules", ".git", ".kiln", ".turbo"];

/// The files (and symlinks) under `root/base`, not ignored, as `base`-relative,
/// `/`-separated paths, sorted.
pub(crate) fn walk(root: &Path, base: &str) -> Result<Vec<String>, HashError> {
    let base_abs = if base.is_empty() {
        root.to_path_buf()
    } else {
        root.join(base)
    };
    if !base_abs.is_dir() {
        return Err(HashError::PackageDirMissing { path: base_abs });
    }
    let mut builder = walk_builder(&base_abs);
    builder.filter_entry(move |entry| entry.depth() == 0 || !is_always_excluded(entry.file_name()));

    // Sequential on purpose: callers walk many packages at once on rayon's pool, and a
    // parallel walker per package would start (and park) threads of its own for each.
    let mut files = Vec::new();
    for result in builder.build() {
        let entry = match result {
            Ok(entry) => entry,
            Err(source) => match walk_error(&base_abs, source) {
                None => continue,
                Some(err) => return Err(err),
            },
        };
        if let Some(err) = entry.error() {
            // A malformed line in a .gitignore: git skips it too.
            tracing::warn!(path = %entry.path().display(), "ignore file: {err}");
        }
        // The base itself is never one of its files, even when it is a symlink (followed).
        let is_file = entry.depth() > 0
            && entry
                .file_type()
                .is_some_and(|t| t.is_file() || t.is_symlink());
        if is_file {
            files.push(relative(&base_abs, entry.path())?.into_owned());
        }
    }
    files.sort_unstable();
    Ok(files)
}

/// A walk of `base` under the rules of the module doc, except the exclusions, which are the
/// caller's `filter_entry` (see [`is_always_excluded`]).
pub(crate) fn walk_builder(base: &Path) -> WalkBuilder {
    let mut builder = WalkBuilder::new(base);
    builder
        .hidden(false)
        .parents(true)
        .ignore(false)
        .git_ignore(true)
        .git_exclude(true)
        .git_global(false)
        .require_git(false)
        .follow_links(false);
    builder
}

/// Whether a walk must not enter (or list) this entry whatever the ignore files say.
pub(crate) fn is_always_excluded(name: &std::ffi::OsStr) -> bool {
    ALWAYS_EXCLUDED.iter().any(|x| name == *x)
}

/// `None` for a file that vanished while we walked (a running task's temp file): it is not an
/// input of anything that runs after this walk.
pub(crate) fn walk_error(base: &Path, source: ignore::Error) -> Option<HashError> {
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

/// `path` relative to `base`, `/`-separated, or an error naming a non-UTF-8 path. Borrowed
/// on Unix, where the separator already is `/`: this runs once per file on the hot path.
pub(crate) fn relative<'p>(base: &Path, path: &'p Path) -> Result<Cow<'p, str>, HashError> {
    if let Some(rel) = plain_suffix(base, path) {
        return Ok(Cow::Borrowed(rel));
    }
    let rel = path
        .strip_prefix(base)
        .map_err(|_| HashError::OutsideRoot {
            path: path.to_path_buf(),
            root: base.to_path_buf(),
        })?;
    let text = rel.to_str().ok_or_else(|| HashError::NonUtf8Path {
        path: path.to_path_buf(),
    })?;
    if std::path::MAIN_SEPARATOR == '/' {
        return Ok(Cow::Borrowed(text));
    }
    Ok(Cow::Owned(text.replace(std::path::MAIN_SEPARATOR, "/")))
}

/// `path` minus `base` by bytes, when that is certainly what [`Path::strip_prefix`] would
/// say: `path` is `base` joined with plain `/`-separated UTF-8 names (no `.`, no `//`), as
/// every path kiln builds is. Parsing both paths into components for every file was a
/// measurable part of hashing an unchanged tree.
#[cfg(unix)]
fn plain_suffix<'p>(base: &Path, path: &'p Path) -> Option<&'p str> {
    use std::os::unix::ffi::OsStrExt;
    let base = base.as_os_str().as_bytes();
    let path = path.as_os_str().as_bytes();
    let rest = path.strip_prefix(base)?;
    let rest = if base.ends_with(b"/") {
        rest
    } else {
        rest.strip_prefix(b"/")?
    };
    let rel = std::str::from_utf8(rest).ok()?;
    rel.split('/')
        .all(|name| !name.is_empty() && name != "." && name != "..")
        .then_some(rel)
}

#[cfg(not(unix))]
fn plain_suffix<'p>(_base: &Path, _path: &'p Path) -> Option<&'p str> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_by_bytes_agrees_with_strip_prefix() {
        let cases = [
            ("/w", "/w/a/b.ts"),
            ("/w/", "/w/a/b.ts"),
            ("/w", "/w"),
            ("/w", "/wx/a"),
            ("/w", "/w//a"),
            ("/w", "/w/./a"),
            ("/w", "/w/a/./b"),
            ("/w", "/w/a/"),
            ("/w", "/w/../w/a"),
            ("/", "/a/b"),
            ("/w/.", "/w/a"),
            ("/w", "/other/a"),
        ];
        for (base, path) in cases {
            let (base, path) = (Path::new(base), Path::new(path));
            let by_components = path
                .strip_prefix(base)
                .ok()
                .map(|rel| rel.to_str().unwrap().to_string());
            let ours = relative(base, path).ok().map(Cow::into_owned);
            assert_eq!(
                ours,
                by_components,
                "{} under {}",
                path.display(),
                base.display()
            );
        }
    }
}
