//! The repository listing: every package's files from one walk of the workspace.
//!
//! ## Why one walk
//!
//! Walking each package on its own (as [`crate::walk`] does) costs, per package, the parent
//! `.gitignore` files read and compiled again, the `.git`/`.gitignore` probes of every
//! ancestor, and a `getcwd`/`canonicalize` to place the walk: on a 500-package workspace that
//! is three times the syscalls of the files themselves. [`RepoListing::walk`] walks the root
//! once, under the same rules, and gives each file to the **deepest** package directory that
//! contains it (the root package, `""`, gets what is in no other package), which is exactly
//! what the per-package walks compute when each leaves out its nested packages.
//!
//! ## Where one walk would differ, and does not
//!
//! A per-package walk always enters its own directory, even when a `.gitignore` above ignores
//! it, or when it sits inside `node_modules/`, or when the package directory is a symlink. The
//! single walk never reaches such a directory, so every package directory it did not enter is
//! walked on its own afterwards, the old way: the listing is the same universe in every case,
//! and the cost of the old way is paid only where it is needed (normally never). Such a
//! directory's files are not in the universe of the packages around it, since their walks
//! would not enter it either.
//!
//! A package directory that does not exist is left out of the listing
//! ([`RepoListing::files`] says `None`), so that [`crate::collect_inputs`] reports it, as
//! before, only if a task of that package is hashed.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use ignore::{DirEntry, ParallelVisitor, ParallelVisitorBuilder, WalkState};
use rayon::prelude::*;

use crate::HashError;
use crate::walk::{is_always_excluded, relative, walk, walk_builder, walk_error};

/// Every package's input universe (not ignored files and symlinks), from one walk.
#[derive(Debug, Default)]
pub struct RepoListing {
    /// Package directory (normalised) → index into `files`; dirs that do not exist are absent.
    index: HashMap<String, usize>,
    /// Normalised package directories; index 0 is the root package.
    dirs: Vec<String>,
    /// Per directory, the files no nested package claims (all of them for a directory
    /// walked alone): package-relative, `/`-separated, sorted.
    files: Vec<Vec<String>>,
    /// Whether the single walk entered the directory (else it was walked alone, and its
    /// files are in no outer package's universe).
    entered: Vec<bool>,
    /// Indices into `dirs`, sorted by directory, so a package's nested packages are one range.
    by_dir: Vec<usize>,
}

impl RepoListing {
    /// Walks `root` once and files its files under `package_dirs` (root-relative,
    /// `/`-separated; `""` for the root package, which is always included). Pass every
    /// package of the workspace, not only those being hashed: a directory the single walk
    /// cannot enter is only found out by being asked for.
    #[tracing::instrument(level = "debug", skip_all, fields(packages = package_dirs.len()))]
    pub fn walk(root: &Path, package_dirs: &[&str]) -> Result<Self, HashError> {
        let started = std::time::Instant::now();
        if !root.is_dir() {
            return Err(HashError::PackageDirMissing {
                path: root.to_path_buf(),
            });
        }
        let mut dirs = vec![String::new()];
        let mut index = HashMap::from([(String::new(), 0)]);
        for dir in package_dirs {
            let dir = normalize(dir)?;
            if !index.contains_key(dir) {
                index.insert(dir.to_string(), dirs.len());
                dirs.push(dir.to_string());
            }
        }

        let found = walk_once(root, &dirs, &index)?;
        let mut files: Vec<Vec<String>> = vec![Vec::new(); dirs.len()];
        let mut entered = vec![false; dirs.len()];
        entered[0] = true;
        for part in found {
            for (owner, rel) in part.files {
                files[owner].push(rel);
            }
            for owner in part.entered {
                entered[owner] = true;
            }
        }

        let not_entered: Vec<usize> = (0..dirs.len()).filter(|&i| !entered[i]).collect();
        let walked_alone: Vec<(usize, Option<Vec<String>>)> = not_entered
            .par_iter()
            .map(|&i| walk_alone(root, &dirs, i).map(|listed| (i, listed)))
            .collect::<Result<_, HashError>>()?;
        for (i, listed) in walked_alone {
            match listed {
                Some(listed) => files[i] = listed,
                None => {
                    index.remove(&dirs[i]);
                }
            }
        }

        files.par_iter_mut().for_each(|f| f.sort_unstable());
        tracing::debug!(
            files = files.iter().map(Vec::len).sum::<usize>(),
            walked_alone = not_entered.len(),
            elapsed = ?started.elapsed(),
            "listed the workspace"
        );
        let mut by_dir: Vec<usize> = (0..dirs.len()).collect();
        by_dir.sort_unstable_by(|&a, &b| dirs[a].cmp(&dirs[b]));
        Ok(Self {
            index,
            dirs,
            files,
            entered,
            by_dir,
        })
    }

    /// The files of the package at `package_dir` (root-relative, as given to
    /// [`RepoListing::walk`]), those of the packages nested inside it included:
    /// package-relative, `/`-separated, sorted, ready for [`crate::InputOptions::listing`].
    /// `None` for a directory the listing was not built for, or that does not exist.
    pub fn files(&self, package_dir: &str) -> Option<Cow<'_, [String]>> {
        let dir = normalize(package_dir).ok()?;
        let &i = self.index.get(dir)?;
        let own = self.files[i].as_slice();
        if !self.entered[i] {
            return Some(Cow::Borrowed(own));
        }
        let nested: Vec<usize> = self
            .nested(dir)
            .filter(|&j| self.entered[j] && self.index.contains_key(&self.dirs[j]))
            .filter(|&j| !self.files[j].is_empty())
            .collect();
        if nested.is_empty() {
            return Some(Cow::Borrowed(own));
        }
        let mut all = own.to_vec();
        for j in nested {
            let rel = &self.dirs[j][if dir.is_empty() { 0 } else { dir.len() + 1 }..];
            all.extend(self.files[j].iter().map(|f| format!("{rel}/{f}")));
        }
        all.sort_unstable();
        Some(Cow::Owned(all))
    }

    /// The indices of the directories strictly below `dir` (every other one, for the root).
    fn nested<'s>(&'s self, dir: &str) -> impl Iterator<Item = usize> + 's {
        let range = if dir.is_empty() {
            1.min(self.by_dir.len())..self.by_dir.len()
        } else {
            // Strictly below `dir` sorts from `dir/` up to, not including, `dir0`.
            let lo = format!("{dir}/");
            let hi = format!("{dir}0");
            let start = self.by_dir.partition_point(|&k| self.dirs[k] < lo);
            let end = self.by_dir.partition_point(|&k| self.dirs[k] < hi);
            start..end
        };
        self.by_dir[range].iter().copied()
    }
}

/// `./a/b/` → `a/b`, `.` → ``; absolute or `..` paths are refused.
fn normalize(dir: &str) -> Result<&str, HashError> {
    let mut trimmed = dir.trim_end_matches('/');
    while let Some(rest) = trimmed.strip_prefix("./") {
        trimmed = rest;
    }
    if trimmed == "." {
        trimmed = "";
    }
    if trimmed.starts_with('/') || trimmed.split('/').any(|c| c == "..") {
        return Err(HashError::InvalidPackageDir {
            dir: dir.to_string(),
        });
    }
    Ok(trimmed)
}

/// What one walker thread found.
#[derive(Default)]
struct Found {
    /// (owning package, package-relative path).
    files: Vec<(usize, String)>,
    /// Packages whose directory the walk entered.
    entered: Vec<usize>,
}

/// The parallel walk of the whole root. Each walker thread keeps its own [`Found`] and hands
/// it over when the walk drops it, so no lock is taken per file.
fn walk_once(
    root: &Path,
    dirs: &[String],
    index: &HashMap<String, usize>,
) -> Result<Vec<Found>, HashError> {
    let mut builder = walk_builder(root);
    builder.filter_entry(|entry| entry.depth() == 0 || !is_always_excluded(entry.file_name()));
    let shared = Shared {
        root,
        dirs,
        index,
        found: Mutex::new(Vec::new()),
        failure: Mutex::new(None),
    };
    // Parallel: unlike the per-package walks, this is the only walk running, and the walk is
    // bound by `opendir`/`getdents`; on two cores it takes half the time of a sequential one.
    builder.build_parallel().visit(&mut &shared);
    if let Some(err) = shared.failure.into_inner().expect("walk failure lock") {
        return Err(err);
    }
    Ok(shared.found.into_inner().expect("walk result lock"))
}

struct Shared<'a> {
    root: &'a Path,
    /// Normalised package directories; index 0 is the root package.
    dirs: &'a [String],
    index: &'a HashMap<String, usize>,
    found: Mutex<Vec<Found>>,
    failure: Mutex<Option<HashError>>,
}

impl<'s> ParallelVisitorBuilder<'s> for &'s Shared<'s> {
    fn build(&mut self) -> Box<dyn ParallelVisitor + 's> {
        Box::new(Visitor {
            shared: self,
            found: Found::default(),
            last_parent: None,
        })
    }
}

struct Visitor<'s> {
    shared: &'s Shared<'s>,
    found: Found,
    /// The owner of the last file's directory: a directory's files mostly come in a row.
    last_parent: Option<(String, usize)>,
}

impl Visitor<'_> {
    fn take(&mut self, entry: &DirEntry) -> Result<(), HashError> {
        if let Some(err) = entry.error() {
            // A malformed line in a .gitignore: git skips it too.
            tracing::warn!(path = %entry.path().display(), "ignore file: {err}");
        }
        let Some(file_type) = entry.file_type() else {
            return Ok(());
        };
        if entry.depth() == 0 {
            return Ok(());
        }
        let rel = relative(self.shared.root, entry.path())?;
        if file_type.is_dir() {
            if let Some(&owner) = self.shared.index.get(rel.as_ref()) {
                self.found.entered.push(owner);
            }
            return Ok(());
        }
        if !(file_type.is_file() || file_type.is_symlink()) {
            return Ok(());
        }
        let parent = rel.rfind('/').map_or("", |slash| &rel[..slash]);
        let owner = match &self.last_parent {
            Some((last, owner)) if last == parent => *owner,
            _ => {
                let owner = owner_of(self.shared.index, parent);
                self.last_parent = Some((parent.to_string(), owner));
                owner
            }
        };
        let dir_len = self.shared.dirs[owner].len();
        let package_rel = if dir_len == 0 {
            &rel[..]
        } else {
            &rel[dir_len + 1..]
        };
        self.found.files.push((owner, package_rel.to_string()));
        Ok(())
    }
}

impl ParallelVisitor for Visitor<'_> {
    fn visit(&mut self, result: Result<DirEntry, ignore::Error>) -> WalkState {
        let outcome = match result {
            Ok(entry) => self.take(&entry),
            Err(source) => match walk_error(self.shared.root, source) {
                None => Ok(()),
                Some(err) => Err(err),
            },
        };
        match outcome {
            Ok(()) => WalkState::Continue,
            Err(err) => {
                let mut failure = self.shared.failure.lock().expect("walk failure lock");
                failure.get_or_insert(err);
                WalkState::Quit
            }
        }
    }
}

impl Drop for Visitor<'_> {
    fn drop(&mut self) {
        let found = std::mem::take(&mut self.found);
        if let Ok(mut all) = self.shared.found.lock() {
            all.push(found);
        }
    }
}

/// The deepest package directory at or above `dir` (root-relative); `0`, the root package,
/// when there is none.
fn owner_of(index: &HashMap<String, usize>, mut dir: &str) -> usize {
    loop {
        if let Some(&owner) = index.get(dir) {
            return owner;
        }
        match dir.rfind('/') {
            Some(slash) => dir = &dir[..slash],
            None => return 0,
        }
    }
}

/// A package directory the single walk did not enter, walked the per-package way (nested
/// packages included); `None` if it does not exist as a directory.
fn walk_alone(root: &Path, dirs: &[String], i: usize) -> Result<Option<Vec<String>>, HashError> {
    let dir = &dirs[i];
    if !root.join(dir).is_dir() {
        return Ok(None);
    }
    walk(root, dir).map(Some)
}

#[cfg(test)]
#[path = "listing_tests.rs"]
mod tests;
