//! Which files of a package are a task's outputs.
//!
//! Outputs are globs relative to the package directory, Turborepo style: `dist/**`,
//! `.next/**`, `tsconfig.tsbuildinfo`, with `!`-prefixed exclusions (`!dist/cache/**`). A path
//! is an output when it matches an inclusion and no exclusion. `X/**` also matches `X` itself,
//! so the directory is part of the outputs (kept when empty, its mode restored). A pattern
//! without glob metacharacters (`dist`, `dist/`, `!dist/cache`) names a path *and everything
//! under it*, as `kiln-hash` reads outputs: `dist` means `dist` plus `dist/**`, so the two
//! crates agree on what a task produces.
//!
//! The outputs of a package never include another package: the directories of packages nested
//! inside it (all of them, for the root package) are given as `nested` and are neither matched
//! nor walked into, so a root task with `**/*.tsbuildinfo` cannot pack, delete or restore the
//! files of the packages below it.
//!
//! The same matcher serves packing (what goes into an artifact), restoring (which stale files
//! to remove first), checking (every restored entry must be an output) and the outputs
//! fingerprint, so they can never disagree. Walking starts at the literal prefix of each inclusion (`dist` for
//! `dist/**`) instead of the package root, never follows symlinks, and never enters
//! `node_modules`, `.git` or `.kiln`.

use std::io;
use std::path::Path;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use crate::error::CacheError;

/// Directory names that are never walked into, whatever the globs say.
const NEVER_WALKED: [&str; 3] = ["node_modules", ".git", ".kiln"];

/// A compiled set of output globs.
#[derive(Debug)]
pub struct OutputGlobs {
    include: GlobSet,
    exclude: GlobSet,
    /// Directories whose whole subtree is excluded (`!dist/cache/**` gives `dist/cache`).
    exclude_subtree: GlobSet,
    /// Literal prefixes of the inclusions, deduplicated so none lies inside another.
    bases: Vec<String>,
    /// Package-relative directories of nested packages: never outputs, never walked.
    nested: Vec<String>,
}

/// What kind of filesystem object an output path is (symlinks are never followed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    File,
    Dir,
    Symlink,
    /// A fifo, socket or device: never packed, but removed as a stale output.
    Other,
}

/// One output found on disk: its `/`-separated path relative to the package.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Found {
    pub(crate) rel: String,
    pub(crate) kind: Kind,
}

/// Everything a walk looked at: the outputs, the paths it looked at that are not outputs (a
/// base, a directory walked through: `dist` for `dist/*.js`) and the bases that are absent.
/// An outputs fingerprint needs all three to notice an output appearing later.
#[derive(Debug, Default)]
pub(crate) struct Walk {
    pub(crate) outputs: Vec<Found>,
    pub(crate) looked_at: Vec<Found>,
    pub(crate) absent_bases: Vec<String>,
}

impl OutputGlobs {
    /// Compiles `patterns` for a package without nested packages; see
    /// [`with_nested`](Self::with_nested).
    pub fn new(patterns: &[String]) -> Result<Self, CacheError> {
        Self::with_nested(patterns, &[])
    }

    /// Compiles `patterns`; a pattern that is absolute, leaves the package (`..`) or does not
    /// parse is an error naming it. `nested` are the package-relative directories of packages
    /// inside this one (`packages/a`): nothing in them is an output.
    pub fn with_nested(patterns: &[String], nested: &[String]) -> Result<Self, CacheError> {
        let mut include = GlobSetBuilder::new();
        let mut exclude = GlobSetBuilder::new();
        let mut exclude_subtree = GlobSetBuilder::new();
        let mut bases = Vec::new();
        for pattern in patterns {
            let (negated, body) = match pattern.strip_prefix('!') {
                Some(rest) => (true, rest),
                None => (false, pattern.as_str()),
            };
            let body = body.trim_start_matches("./");
            let bad = |reason: &str| CacheError::Glob {
                pattern: pattern.clone(),
                reason: reason.into(),
            };
            if body.starts_with('/') || body.split('/').any(|c| c == "..") {
                return Err(bad("outputs must stay inside the package"));
            }
            let body = body.trim_end_matches('/');
            if body.is_empty() {
                return Err(bad("empty pattern"));
            }
            let glob = |text: &str| {
                GlobBuilder::new(text)
                    .literal_separator(true)
                    .build()
                    .map_err(|e| bad(&e.kind().to_string()))
            };
            let target = if negated { &mut exclude } else { &mut include };
            target.add(glob(body)?);
            // A literal names a directory's whole subtree (or just a file, where `/**` is moot).
            let subtree = if is_literal(body) {
                Some(body)
            } else {
                body.strip_suffix("/**")
            };
            if let Some(dir) = subtree {
                let other = if dir == body {
                    format!("{dir}/**")
                } else {
                    dir.to_string()
                };
                target.add(glob(&other)?);
            }
            if negated && let Some(dir) = subtree {
                exclude_subtree.add(glob(dir)?);
            }
            if !negated {
                bases.push(literal_prefix(body));
            }
        }
        let build = |set: GlobSetBuilder| {
            set.build().map_err(|e| CacheError::Glob {
                pattern: patterns.join(" "),
                reason: e.to_string(),
            })
        };
        Ok(Self {
            include: build(include)?,
            exclude: build(exclude)?,
            exclude_subtree: build(exclude_subtree)?,
            bases: dedup_bases(bases),
            nested: nested
                .iter()
                .map(|n| n.trim_start_matches("./").trim_end_matches('/').to_string())
                .filter(|n| !n.is_empty() && n != ".")
                .collect(),
        })
    }

    /// Whether the package-relative path `rel` is an output.
    pub fn matches(&self, rel: &str) -> bool {
        self.include.is_match(rel) && !self.exclude.is_match(rel) && !self.in_nested(rel)
    }

    /// Whether `rel` is a nested package's directory or lies inside one.
    pub(crate) fn in_nested(&self, rel: &str) -> bool {
        self.nested.iter().any(|n| {
            rel.strip_prefix(n.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        })
    }

    /// All outputs present under `package_dir`, parents before children, siblings sorted.
    pub(crate) fn find(&self, package_dir: &Path) -> io::Result<Vec<Found>> {
        Ok(self.walk(package_dir)?.outputs)
    }

    /// Like [`find`](Self::find), also reporting what was looked at besides the outputs.
    pub(crate) fn walk(&self, package_dir: &Path) -> io::Result<Walk> {
        let mut walk = Walk::default();
        for base in &self.bases {
            if self.in_nested(base) || base.split('/').any(|c| NEVER_WALKED.contains(&c)) {
                continue;
            }
            if !real_dir_chain(package_dir, base)? {
                walk.absent_bases.push(base.clone());
                continue;
            }
            if base.is_empty() {
                walk.looked_at.push(Found {
                    rel: String::new(),
                    kind: Kind::Dir,
                });
                self.walk_dir(package_dir, "", &mut walk)?;
                continue;
            }
            let meta = match fs_err::symlink_metadata(package_dir.join(base)) {
                Ok(meta) => meta,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    walk.absent_bases.push(base.clone());
                    continue;
                }
                Err(e) => return Err(e),
            };
            self.visit(
                package_dir,
                base.clone(),
                kind_of(meta.file_type()),
                true,
                &mut walk,
            )?;
        }
        Ok(walk)
    }

    fn visit(
        &self,
        package_dir: &Path,
        rel: String,
        kind: Kind,
        is_base: bool,
        walk: &mut Walk,
    ) -> io::Result<()> {
        let descend = kind == Kind::Dir && !self.exclude_subtree.is_match(&rel);
        let found = Found {
            rel: rel.clone(),
            kind,
        };
        if self.matches(&rel) {
            walk.outputs.push(found);
        } else if descend || is_base {
            walk.looked_at.push(found);
        }
        if descend {
            self.walk_dir(package_dir, &rel, walk)?;
        }
        Ok(())
    }

    fn walk_dir(&self, package_dir: &Path, rel: &str, walk: &mut Walk) -> io::Result<()> {
        let dir = package_dir.join(rel);
        let mut children = Vec::new();
        for entry in fs_err::read_dir(&dir)? {
            let entry = entry?;
            let name = entry.file_name().into_string().map_err(|name| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: file name is not UTF-8", dir.join(name).display()),
                )
            })?;
            if NEVER_WALKED.contains(&name.as_str()) {
                continue;
            }
            children.push((name, kind_of(entry.file_type()?)));
        }
        children.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, kind) in children {
            let child = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            if self.in_nested(&child) {
                continue;
            }
            self.visit(package_dir, child, kind, false, walk)?;
        }
        Ok(())
    }
}

/// Whether a walk would now find something at `base` (a path [`Walk::absent_bases`] named):
/// it exists, below real directories only. An error counts as "something is there".
pub(crate) fn base_exists(package_dir: &Path, base: &str) -> bool {
    match real_dir_chain(package_dir, base) {
        Ok(true) => !matches!(
            fs_err::symlink_metadata(package_dir.join(base)),
            Err(e) if e.kind() == io::ErrorKind::NotFound
        ),
        Ok(false) => false,
        Err(_) => true,
    }
}

fn kind_of(file_type: std::fs::FileType) -> Kind {
    if file_type.is_symlink() {
        Kind::Symlink
    } else if file_type.is_dir() {
        Kind::Dir
    } else if file_type.is_file() {
        Kind::File
    } else {
        Kind::Other
    }
}

/// Whether every proper ancestor of `base` inside the package is a real directory (not a
/// symlink), so walking from `base` cannot leave the package.
fn real_dir_chain(package_dir: &Path, base: &str) -> io::Result<bool> {
    let mut path = package_dir.to_path_buf();
    let components: Vec<&str> = base.split('/').filter(|c| !c.is_empty()).collect();
    for component in components.iter().take(components.len().saturating_sub(1)) {
        if NEVER_WALKED.contains(component) {
            return Ok(false);
        }
        path.push(component);
        match fs_err::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_dir() => {}
            Ok(_) => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e),
        }
    }
    Ok(components
        .last()
        .is_none_or(|last| !NEVER_WALKED.contains(last)))
}

/// Whether `pattern` holds no glob syntax (the same test as kiln-hash's).
fn is_literal(pattern: &str) -> bool {
    !pattern.contains(['*', '?', '[', ']', '{', '}', '\\'])
}

/// The leading components of `pattern` that hold no glob syntax (`dist/**` gives `dist`).
fn literal_prefix(pattern: &str) -> String {
    let literal: Vec<&str> = pattern
        .split('/')
        .take_while(|c| is_literal(c))
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    literal.join("/")
}

fn dedup_bases(mut bases: Vec<String>) -> Vec<String> {
    bases.sort();
    bases.dedup();
    let inside = |child: &str, parent: &str| {
        parent.is_empty()
            || child
                .strip_prefix(parent)
                .is_some_and(|rest| rest.starts_with('/'))
    };
    let all = bases.clone();
    bases.retain(|b| !all.iter().any(|other| other != b && inside(b, other)));
    bases
}

#[cfg(test)]
mod tests;
