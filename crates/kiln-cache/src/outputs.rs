//! Which files of a package are a task's outputs.
//!
//! Outputs are globs relative to the package directory, Turborepo style: `dist/**`,
//! `.next/**`, `tsconfig.tsbuildinfo`, with `!`-prefixed exclusions (`!dist/cache/**`). A path
//! is an output when it matches an inclusion and no exclusion. `X/**` also matches `X` itself,
//! so the directory is part of the outputs (kept when empty, its mode restored).
//!
//! The same matcher serves packing (what goes into an artifact), restoring (which stale files
//! to remove first) and checking (every restored entry must be an output), so the three can
//! never disagree. Walking starts at the literal prefix of each inclusion (`dist` for
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

impl OutputGlobs {
    /// Compiles `patterns`; a pattern that is absolute, leaves the package (`..`) or does not
    /// parse is an error naming it.
    pub fn new(patterns: &[String]) -> Result<Self, CacheError> {
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
            if body.is_empty() {
                return Err(bad("empty pattern"));
            }
            if body.starts_with('/') || body.split('/').any(|c| c == "..") {
                return Err(bad("outputs must stay inside the package"));
            }
            let glob = |text: &str| {
                GlobBuilder::new(text)
                    .literal_separator(true)
                    .build()
                    .map_err(|e| bad(&e.kind().to_string()))
            };
            let target = if negated { &mut exclude } else { &mut include };
            target.add(glob(body)?);
            if let Some(dir) = body.strip_suffix("/**") {
                target.add(glob(dir)?);
                if negated {
                    exclude_subtree.add(glob(dir)?);
                }
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
        })
    }

    /// Whether the package-relative path `rel` is an output.
    pub fn matches(&self, rel: &str) -> bool {
        self.include.is_match(rel) && !self.exclude.is_match(rel)
    }

    /// All outputs present under `package_dir`, parents before children, siblings sorted.
    pub(crate) fn find(&self, package_dir: &Path) -> io::Result<Vec<Found>> {
        let mut found = Vec::new();
        for base in &self.bases {
            if !real_dir_chain(package_dir, base)? {
                continue;
            }
            if base.is_empty() {
                self.walk_dir(package_dir, "", &mut found)?;
                continue;
            }
            let meta = match fs_err::symlink_metadata(package_dir.join(base)) {
                Ok(meta) => meta,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            self.visit(
                package_dir,
                base.clone(),
                kind_of(meta.file_type()),
                &mut found,
            )?;
        }
        Ok(found)
    }

    fn visit(
        &self,
        package_dir: &Path,
        rel: String,
        kind: Kind,
        found: &mut Vec<Found>,
    ) -> io::Result<()> {
        let descend = kind == Kind::Dir && !self.exclude_subtree.is_match(&rel);
        if self.matches(&rel) {
            found.push(Found {
                rel: rel.clone(),
                kind,
            });
        }
        if descend {
            self.walk_dir(package_dir, &rel, found)?;
        }
        Ok(())
    }

    fn walk_dir(&self, package_dir: &Path, rel: &str, found: &mut Vec<Found>) -> io::Result<()> {
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
            self.visit(package_dir, child, kind, found)?;
        }
        Ok(())
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

/// The leading components of `pattern` that hold no glob syntax (`dist/**` gives `dist`).
fn literal_prefix(pattern: &str) -> String {
    let literal: Vec<&str> = pattern
        .split('/')
        .take_while(|c| !c.contains(['*', '?', '[', ']', '{', '}', '\\']))
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
mod tests {
    use super::*;

    fn globs(patterns: &[&str]) -> OutputGlobs {
        OutputGlobs::new(&patterns.iter().map(|p| p.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn a_double_star_glob_covers_its_directory_and_everything_below() {
        let g = globs(&["dist/**", "!dist/cache/**"]);
        assert!(g.matches("dist"));
        assert!(g.matches("dist/a/b.js"));
        assert!(!g.matches("dist/cache"));
        assert!(!g.matches("dist/cache/x"));
        assert!(!g.matches("distribution"));
        assert!(!g.matches("src/index.ts"));
    }

    #[test]
    fn a_single_star_does_not_cross_directories() {
        let g = globs(&["dist/*.js"]);
        assert!(g.matches("dist/a.js"));
        assert!(!g.matches("dist/sub/a.js"));
    }

    #[test]
    fn walking_starts_at_literal_prefixes_that_do_not_nest() {
        let g = globs(&[
            "dist/**",
            "dist/types/**",
            ".next/**",
            "tsconfig.tsbuildinfo",
        ]);
        assert_eq!(g.bases, [".next", "dist", "tsconfig.tsbuildinfo"]);
        assert_eq!(globs(&["**/*.js", "dist/**"]).bases, [""]);
    }

    #[test]
    fn patterns_leaving_the_package_are_refused() {
        for bad in ["../x/**", "/abs/**", "!", "dist/[", "a/../../b"] {
            let err = OutputGlobs::new(&[bad.to_string()]).unwrap_err();
            assert!(
                matches!(err, CacheError::Glob { ref pattern, .. } if pattern == bad),
                "{bad}"
            );
        }
    }

    #[test]
    fn finds_outputs_without_following_symlinks_or_entering_node_modules() {
        let dir = tempfile::tempdir().unwrap();
        let pkg = dir.path();
        fs_err::create_dir_all(pkg.join("dist/sub")).unwrap();
        fs_err::create_dir_all(pkg.join("dist/node_modules/x")).unwrap();
        fs_err::create_dir_all(pkg.join("elsewhere")).unwrap();
        fs_err::write(pkg.join("dist/sub/a.js"), "a").unwrap();
        fs_err::write(pkg.join("elsewhere/secret"), "s").unwrap();
        std::os::unix::fs::symlink("../elsewhere", pkg.join("dist/link")).unwrap();

        let found = globs(&["dist/**"]).find(pkg).unwrap();
        let rels: Vec<(&str, Kind)> = found.iter().map(|f| (f.rel.as_str(), f.kind)).collect();
        assert_eq!(
            rels,
            [
                ("dist", Kind::Dir),
                ("dist/link", Kind::Symlink),
                ("dist/sub", Kind::Dir),
                ("dist/sub/a.js", Kind::File),
            ]
        );
    }

    #[test]
    fn a_symlinked_base_directory_is_not_walked_through() {
        let dir = tempfile::tempdir().unwrap();
        let pkg = dir.path().join("pkg");
        fs_err::create_dir_all(dir.path().join("outside/js")).unwrap();
        fs_err::write(dir.path().join("outside/js/a.js"), "a").unwrap();
        fs_err::create_dir_all(&pkg).unwrap();
        std::os::unix::fs::symlink("../outside", pkg.join("dist")).unwrap();
        assert!(globs(&["dist/js/*.js"]).find(&pkg).unwrap().is_empty());
    }
}
