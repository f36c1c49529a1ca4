//! Expanding package globs (`packages/*`, `apps/**`, `tools/x`, `!packages/legacy`) to the
//! directories they match.
//!
//! Patterns are matched one path component at a time, from the root down: a literal
//! component costs one `stat`, a glob component one `read_dir` of the directory above it,
//! and only `**` walks a subtree. Walking the whole tree and testing every path against a
//! `GlobSet` would read every source directory of every package to find the few that are
//! packages. Nothing descends into `node_modules`, `.git` or `.kiln`.
//!
//! The rules are Turborepo 2's (checked against `turbo ls` 2.11), since the package set
//! decides the task graph:
//! - a `!` exclusion is matched against both `dir` and `dir/package.json` (so
//!   `!packages/legacy/**` and pnpm's `!**/test/**` exclude the package itself);
//! - `*` and `**` match hidden directories too (`packages/.internal`);
//! - a package may lie inside another (`packages/*` and `packages/outer/inner` both
//!   listed, or one `packages/**`): both are packages. With `**` that includes a bundler's
//!   `dist/package.json` or a test fixture's; Turborepo refuses such a repository when the
//!   names clash, and so does kiln (see the duplicate-name check in discovery).

use std::collections::BTreeMap;
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
        found: BTreeMap::new(),
    };
    for (comps, kiln) in &compiled {
        walker.walk(comps, String::new(), *kiln)?;
    }
    let mut found = walker.found;
    found.retain(|dir, _| !dir.is_empty() && !excluded(&excludes, dir));
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

    /// Subdirectories of `rel`, hidden ones included (name, whether a real directory
    /// rather than a link).
    fn subdirs(&self, rel: &str) -> io::Result<Vec<(String, bool)>> {
        subdirs(&self.root.join(rel), NEVER, Hidden::Include)
    }
}

/// Whether a glob component may match a hidden directory: Turborepo's workspace globs do,
/// Cargo's `members` do not.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hidden {
    Include,
    Skip,
}

/// The subdirectories of `dir` a workspace glob may enter: not in `never` (nor hidden, with
/// [`Hidden::Skip`]), with whether each is a real directory (`false`: a symlink to one). A
/// missing `dir` has none.
pub(crate) fn subdirs(
    dir: &Path,
    never: &[&str],
    hidden: Hidden,
) -> io::Result<Vec<(String, bool)>> {
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
        if hidden == Hidden::Skip && name.starts_with('.') || never.contains(&name.as_str()) {
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
