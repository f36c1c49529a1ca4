//! Expanding package globs (`packages/*`, `apps/**`, `tools/x`, `!packages/legacy`) to the
//! directories they match.
//!
//! Patterns are matched one path component at a time, from the root down: a literal
//! component costs one `stat`, a glob component one `read_dir` of the directory above it,
//! and only `**` walks a subtree. Walking the whole tree and testing every path against a
//! `GlobSet` would read every source directory of every package to find the few that are
//! packages. As pnpm and npm do, `*` and `**` skip hidden directories, and nothing descends
//! into `node_modules`, `.git` or `.kiln`.
//!
//! Two rules follow Turborepo's globwalk: a `!` exclusion is matched against both `dir` and
//! `dir/package.json` (so `!packages/legacy/**` and pnpm's `!**/test/**` exclude the package
//! itself), and nothing under a matched package is a package (a bundler's
//! `dist/package.json`, test fixtures): `**` stops at a matched directory holding a
//! manifest, which also spares a `read_dir` of every source directory.

use std::collections::{BTreeMap, HashSet};
use std::io;
use std::path::Path;

use globset::{Glob, GlobBuilder, GlobMatcher};

use crate::WorkspaceError;

/// Directories never searched for packages.
const NEVER: &[&str] = &["node_modules", ".git", ".kiln"];

/// One workspace glob as written, with the file it came from (for errors).
pub(crate) struct Pattern<'a> {
    pub(crate) glob: &'a str,
    pub(crate) file: &'a Path,
    /// From `kiln.toml` `members`: a match may be a `kiln.toml`-only package.
    pub(crate) kiln: bool,
}

/// The directories (relative, `/`-separated, root excluded) matched by the include patterns
/// and by no exclude pattern (`!`-prefixed entries of either list exclude), each with
/// whether a `kiln.toml` pattern matched it.
pub(crate) fn expand(
    root: &Path,
    include: &[Pattern<'_>],
    exclude: &[Pattern<'_>],
) -> Result<BTreeMap<String, bool>, WorkspaceError> {
    let mut excludes: Vec<GlobMatcher> = Vec::new();
    let mut compiled = Vec::new();
    let listed = include.iter().map(|p| (p, false));
    for (pattern, listed_as_exclude) in listed.chain(exclude.iter().map(|p| (p, true))) {
        let negated = pattern.glob.trim().strip_prefix('!');
        let text = negated.unwrap_or(pattern.glob);
        let Some(normal) = normalise(text).map_err(|reason| invalid(pattern, reason))? else {
            continue;
        };
        if negated.is_some() || listed_as_exclude {
            let glob = GlobBuilder::new(&normal)
                .literal_separator(true)
                .build()
                .map_err(|e| invalid(pattern, e.kind().to_string()))?;
            excludes.push(glob.compile_matcher());
        } else {
            let comps = normal
                .split('/')
                .map(|c| component(c).map_err(|e| invalid(pattern, e)))
                .collect::<Result<Vec<_>, _>>()?;
            compiled.push((comps, pattern.kiln));
        }
    }
    let mut walker = Walker {
        root,
        excludes: &excludes,
        found: BTreeMap::new(),
    };
    for (comps, kiln) in &compiled {
        walker.walk(comps, String::new(), *kiln)?;
    }
    let mut found = walker.found;
    found.retain(|dir, _| !dir.is_empty() && !excluded(&excludes, dir));
    // Packages under another matched package are dropped, whichever globs matched them.
    let packages: HashSet<String> = found
        .iter()
        .filter(|(dir, kiln)| has_manifest(root, dir, **kiln))
        .map(|(dir, _)| dir.clone())
        .collect();
    found.retain(|dir, _| {
        let nested = dir
            .match_indices('/')
            .any(|(i, _)| packages.contains(&dir[..i]));
        if nested {
            tracing::debug!(dir, "skipping a directory inside another package");
        }
        !nested
    });
    Ok(found)
}

/// `kiln.toml`'s `exclude` globs, compiled, for the members that do not come from
/// [`expand`] (Cargo's).
pub(crate) fn exclusions(exclude: &[Pattern<'_>]) -> Result<Vec<GlobMatcher>, WorkspaceError> {
    let mut out = Vec::new();
    for pattern in exclude {
        let text = pattern.glob.trim();
        let text = text.strip_prefix('!').unwrap_or(text);
        if let Some(normal) = normalise(text).map_err(|reason| invalid(pattern, reason))? {
            let glob = GlobBuilder::new(&normal)
                .literal_separator(true)
                .build()
                .map_err(|e| invalid(pattern, e.kind().to_string()))?;
            out.push(glob.compile_matcher());
        }
    }
    Ok(out)
}

/// Whether an exclusion matches `dir` or its manifest (`dir/package.json`, `dir/kiln.toml`,
/// `dir/Cargo.toml`).
pub(crate) fn excluded(excludes: &[GlobMatcher], dir: &str) -> bool {
    excludes.iter().any(|g| {
        g.is_match(dir)
            || g.is_match(format!("{dir}/package.json"))
            || g.is_match(format!("{dir}/kiln.toml"))
            || g.is_match(format!("{dir}/Cargo.toml"))
    })
}

/// Whether `dir` declares a package: a `package.json`, or a `kiln.toml` for `kiln.toml` members.
fn has_manifest(root: &Path, dir: &str, kiln: bool) -> bool {
    let dir = root.join(dir);
    dir.join("package.json").is_file() || kiln && dir.join("kiln.toml").is_file()
}

fn invalid(pattern: &Pattern<'_>, reason: String) -> WorkspaceError {
    WorkspaceError::InvalidGlob {
        file: pattern.file.to_path_buf(),
        pattern: pattern.glob.to_string(),
        reason,
    }
}

/// `./packages/*/` → `packages/*`; `None` for the root itself.
pub(crate) fn normalise(glob: &str) -> Result<Option<String>, String> {
    let mut g = glob.trim();
    while let Some(rest) = g.strip_prefix("./") {
        g = rest;
    }
    let g = g.trim_end_matches('/');
    if g.starts_with('/') || g.contains('\\') && !g.contains('*') {
        return Err("patterns are relative to the workspace root, with `/` separators".into());
    }
    if g.split('/').any(|c| c == "..") {
        return Err("patterns cannot leave the workspace root".into());
    }
    let parts: Vec<&str> = g
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    Ok((!parts.is_empty()).then(|| parts.join("/")))
}

enum Component {
    Literal(String),
    Glob(GlobMatcher),
    Recursive,
}

fn component(c: &str) -> Result<Component, String> {
    if c == "**" {
        Ok(Component::Recursive)
    } else if c.contains(['*', '?', '[', '{', '\\']) {
        let glob = Glob::new(c).map_err(|e| e.kind().to_string())?;
        Ok(Component::Glob(glob.compile_matcher()))
    } else {
        Ok(Component::Literal(c.to_string()))
    }
}

struct Walker<'r> {
    root: &'r Path,
    excludes: &'r [GlobMatcher],
    found: BTreeMap<String, bool>,
}

impl Walker<'_> {
    fn walk(&mut self, comps: &[Component], rel: String, kiln: bool) -> io::Result<()> {
        let Some((first, rest)) = comps.split_first() else {
            *self.found.entry(rel).or_default() |= kiln;
            return Ok(());
        };
        match first {
            Component::Literal(name) => {
                let child = join(&rel, name);
                if !NEVER.contains(&name.as_str()) && self.root.join(&child).is_dir() {
                    self.walk(rest, child, kiln)?;
                }
            }
            Component::Glob(matcher) => {
                for (name, _) in self.subdirs(&rel)? {
                    if matcher.is_match(&name) {
                        self.walk(rest, join(&rel, &name), kiln)?;
                    }
                }
            }
            Component::Recursive => {
                self.walk(rest, rel.clone(), kiln)?;
                // A matched package ends the descent: nothing below it can be a package.
                if let Some(&matched_kiln) = self.found.get(&rel)
                    && !rel.is_empty()
                    && !excluded(self.excludes, &rel)
                    && has_manifest(self.root, &rel, matched_kiln)
                {
                    return Ok(());
                }
                for (name, real) in self.subdirs(&rel)? {
                    // A symlinked directory may point back up: never recurse through one.
                    if real {
                        self.walk(comps, join(&rel, &name), kiln)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Visible subdirectories of `rel` (name, whether a real directory rather than a link).
    fn subdirs(&self, rel: &str) -> io::Result<Vec<(String, bool)>> {
        visible_subdirs(&self.root.join(rel), NEVER)
    }
}

/// The subdirectories of `dir` a workspace glob may enter: not hidden, not in `never`,
/// with whether each is a real directory (`false`: a symlink to one). A missing `dir` has
/// none.
pub(crate) fn visible_subdirs(dir: &Path, never: &[&str]) -> io::Result<Vec<(String, bool)>> {
    let entries = match fs_err::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut dirs = Vec::new();
    for entry in entries {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if name.starts_with('.') || never.contains(&name.as_str()) {
            continue;
        }
        let kind = entry.file_type()?;
        if kind.is_dir() {
            dirs.push((name, true));
        } else if kind.is_symlink() && entry.path().is_dir() {
            dirs.push((name, false));
        }
    }
    Ok(dirs)
}

fn join(rel: &str, name: &str) -> String {
    if rel.is_empty() {
        name.to_string()
    } else {
        format!("{rel}/{name}")
    }
}
