//! Which files are a task's inputs.
//!
//! | `inputs` | selected files |
//! |---|---|
//! | empty | the default set: every file under the package not ignored by git (see [`crate::walk`] for the rules), minus the task's own `outputs` that git does not track. As in Turborepo, that includes the files of packages nested inside it, and the root package's set is every file of the workspace |
//! | globs | the (not ignored) files matching each glob, in order: a glob adds, `!glob` removes from what came before, `$TURBO_DEFAULT$` adds the default set |
//!
//! In both cases the package's `package.json` is an input (it holds the scripts and the
//! dependency ranges), and with globs its `turbo.json` too, as Turborepo has it. Outputs git
//! does not track are taken out of the default set, so that a package that forgot to
//! gitignore `dist/` does not change its own key by building; explicit globs are the user's
//! word and are not filtered. A file git tracks although an ignore rule matches it (`git add
//! -f .env.example`) is in the default set: git sees its changes. A literal glob
//! (`.env.local`) names its file even if git ignores it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::HashError;
use crate::glob::{InputOp, OutputMatcher, compile_inputs};
use crate::walk::walk;

/// What [`collect_inputs`] needs to know about one task.
#[derive(Clone, Copy)]
pub struct InputOptions<'a> {
    /// Absolute path of the workspace root.
    pub root: &'a Path,
    /// The package's directory relative to the root, `/`-separated; `""` for the root package.
    pub package_dir: &'a str,
    /// The task's `inputs` globs (package-relative); empty means the default set.
    pub inputs: &'a [String],
    /// The task's `outputs` globs (package-relative), taken out of the default set.
    pub outputs: &'a [String],
    /// The package's files already listed ([`crate::RepoListing::files`]: package-relative,
    /// sorted), used instead of walking the package.
    pub listing: Option<&'a [String]>,
    /// Files git tracks in the package although an ignore rule matches them
    /// (package-relative, sorted): git reports their changes, so they are in the default set
    /// too, as in Turborepo.
    pub tracked_ignored: &'a [String],
    /// Whether git tracks a package-relative path. A file matching the task's `outputs` is
    /// left out of the default set only when untracked: a tracked one is a source, and
    /// leaving it out would let a hit restore an old copy over an edit of it. `None`
    /// (outside git): every output is left out.
    pub is_tracked: Option<&'a (dyn Fn(&str) -> bool + Sync)>,
}

/// One input file.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InputFile {
    /// Relative to the package (or to the root, for global inputs), `/`-separated. This is
    /// the name that goes into the key: it never depends on where the checkout lives.
    pub rel: String,
    /// Where the file is on this machine; never part of a key.
    pub abs: PathBuf,
}

/// The input files of a task, sorted by [`InputFile::rel`].
#[tracing::instrument(level = "debug", skip_all, fields(package = opts.package_dir))]
pub fn collect_inputs(opts: &InputOptions<'_>) -> Result<Vec<InputFile>, HashError> {
    let package_dir = opts.package_dir.trim_end_matches('/');
    if package_dir.starts_with('/') || package_dir.split('/').any(|c| c == "..") {
        return Err(HashError::InvalidPackageDir {
            dir: opts.package_dir.to_string(),
        });
    }
    let within = if package_dir.is_empty() {
        "."
    } else {
        package_dir
    };
    let ops = compile_inputs(opts.inputs, within)?;
    let outputs = OutputMatcher::new(opts.outputs, within)?;
    let package_abs = if package_dir.is_empty() {
        opts.root.to_path_buf()
    } else {
        opts.root.join(package_dir)
    };

    let walked;
    let listed: &[String] = match opts.listing {
        Some(listing) => listing,
        None => {
            walked = walk(opts.root, package_dir)?;
            &walked
        }
    };
    let merged;
    let universe: &[String] = if opts.tracked_ignored.is_empty() {
        listed
    } else {
        let mut all: Vec<String> = listed.iter().chain(opts.tracked_ignored).cloned().collect();
        all.sort_unstable();
        all.dedup();
        merged = all;
        &merged
    };
    let left_out = |rel: &str| outputs.is_output(rel) && !opts.is_tracked.is_some_and(|t| t(rel));
    let default = || universe.iter().filter(|rel| !left_out(rel));

    if opts.inputs.is_empty() {
        // The common case, kept off the set: the universe is sorted and has no duplicates.
        let mut selected: Vec<&String> = default().collect();
        let manifest = "package.json".to_string();
        if let Err(at) = selected.binary_search(&&manifest)
            && is_file_or_symlink(&package_abs.join(&manifest))
        {
            selected.insert(at, &manifest);
        }
        return Ok(selected
            .into_iter()
            .map(|rel| InputFile {
                abs: package_abs.join(rel),
                rel: rel.clone(),
            })
            .collect());
    }

    let mut selected = BTreeSet::new();
    for op in &ops {
        match op {
            InputOp::Default => selected.extend(default().cloned()),
            InputOp::Add { set, literal } => {
                selected.extend(universe.iter().filter(|rel| set.is_match(rel)).cloned());
                if let Some(path) = literal {
                    add_literal(&mut selected, &package_abs, path);
                }
            }
            InputOp::Remove(set) => selected.retain(|rel| !set.is_match(rel)),
        }
    }
    // As Turborepo: the package's own manifest and turbo.json, whatever the globs say.
    for always in ["package.json", "turbo.json", "turbo.jsonc"] {
        add_literal(&mut selected, &package_abs, always);
    }

    Ok(to_input_files(selected, &package_abs))
}

/// The global input files: files under the workspace root matching `globs` (root-relative,
/// same syntax and ignore rules as task inputs; `$TURBO_DEFAULT$` means nothing here), sorted.
/// Only the directories a glob can reach are walked (`config/*.json` walks `config/`).
#[tracing::instrument(level = "debug", skip_all)]
pub fn collect_global_inputs(root: &Path, globs: &[String]) -> Result<Vec<InputFile>, HashError> {
    let ops = compile_inputs(globs, ".")?;
    let mut selected = BTreeSet::new();
    for (op, raw) in ops.iter().zip(globs) {
        match op {
            InputOp::Default => {
                tracing::warn!("`{raw}` has no meaning in global dependencies; skipped");
            }
            InputOp::Add { set, literal } => {
                let base = match literal {
                    Some(path) => path.clone(),
                    None => walk_base(raw.trim_start_matches("./")),
                };
                if root.join(&base).is_dir() {
                    let prefix = if base.is_empty() {
                        String::new()
                    } else {
                        format!("{base}/")
                    };
                    selected.extend(
                        walk(root, &base)?
                            .into_iter()
                            .map(|rel| format!("{prefix}{rel}"))
                            .filter(|rel| set.is_match(rel)),
                    );
                } else if let Some(path) = literal {
                    add_literal(&mut selected, root, path);
                }
            }
            InputOp::Remove(set) => selected.retain(|rel| !set.is_match(rel)),
        }
    }
    Ok(to_input_files(selected, root))
}

/// The directories of a glob before its first metacharacter: the only place it can match.
fn walk_base(glob: &str) -> String {
    let components: Vec<&str> = glob.split('/').collect();
    let literal_dirs = components[..components.len().saturating_sub(1)]
        .iter()
        .take_while(|c| !c.contains(['*', '?', '[', ']', '{', '}', '\\']))
        .copied()
        .collect::<Vec<_>>();
    literal_dirs.join("/")
}

/// A path the user named: an input whether or not git ignores it, if it is a file or a
/// symlink (a directory is covered by the glob's directory form).
fn add_literal(selected: &mut BTreeSet<String>, base: &Path, rel: &str) {
    if selected.contains(rel) {
        return;
    }
    if is_file_or_symlink(&base.join(rel)) {
        selected.insert(rel.to_string());
    }
}

fn is_file_or_symlink(path: &Path) -> bool {
    fs_err::symlink_metadata(path).is_ok_and(|meta| meta.is_file() || meta.file_type().is_symlink())
}

fn to_input_files(selected: BTreeSet<String>, base: &Path) -> Vec<InputFile> {
    selected
        .into_iter()
        .map(|rel| InputFile {
            abs: base.join(&rel),
            rel,
        })
        .collect()
}

#[cfg(test)]
#[path = "inputs_tests.rs"]
mod tests;
