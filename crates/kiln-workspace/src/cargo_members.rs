//! The crates of a Cargo workspace, found as Cargo finds them, so that kiln sees the members
//! `cargo metadata` lists.
//!
//! - `members` entries are globs matched one path segment at a time (`*`, `?`, `[..]`); every
//!   directory a `*`/literal entry matches must hold a `Cargo.toml` with a `[package]`, else
//!   the workspace is an error (as in Cargo). A glob matching nothing is a warning (Cargo
//!   errors). `**` matches any depth and keeps only the directories that hold a `Cargo.toml`
//!   (Cargo would demand one in every directory, which makes `**` unusable); it never enters
//!   `target`, `node_modules` or hidden directories, and wildcards skip hidden directories.
//! - `exclude` entries are paths, not globs: a crate is excluded when its directory is at or
//!   under one, unless a `members` entry names it (or a directory above it) literally.
//! - A root `Cargo.toml` with a `[package]` is a member itself (directory `""`).
//! - A path dependency of a member that lies inside the root and is not excluded is a member
//!   too, recursively: Cargo adds those implicitly, and leaving them out would let a change
//!   in such a crate go unseen by its dependents' keys.
//!
//! Path dependencies that still point at no package (outside the root, excluded) are kept
//! as third-party dependencies (`path:dir`) with a warning, by [`split_dependencies`].

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use globset::{Glob, GlobMatcher};
use rayon::prelude::*;

use crate::WorkspaceError;
use crate::cargo_toml::{self, CargoDep, CargoPackage, CargoWorkspace, DepSource, Place};
use crate::members;

const ROOT_MANIFEST: &str = "Cargo.toml";

/// Directories a `**` never enters.
const NEVER: &[&str] = &["target", "node_modules"];

/// One crate of the workspace.
#[derive(Debug)]
pub(crate) struct Crate {
    pub(crate) name: String,
    /// Relative to the workspace root, `/`-separated; `""` for a root crate.
    pub(crate) dir: String,
    /// `crates/a/Cargo.toml`.
    pub(crate) manifest: String,
    pub(crate) version: Option<String>,
    pub(crate) dependencies: Vec<CargoDep>,
}

impl Crate {
    fn new(dir: &str, package: CargoPackage) -> Crate {
        Crate {
            name: package.name,
            manifest: manifest_path(dir),
            dir: dir.to_string(),
            version: package.version,
            dependencies: package.dependencies,
        }
    }

    fn path_dependencies(&self) -> impl Iterator<Item = &str> {
        self.dependencies.iter().filter_map(|d| match &d.source {
            DepSource::Path(p) => Some(p.as_str()),
            _ => None,
        })
    }
}

/// Every crate of the workspace declared by the root `Cargo.toml`, by directory; the root
/// crate (when the root manifest has a `[package]`) under `""`.
#[tracing::instrument(level = "debug", skip_all)]
pub(crate) fn crates(
    root: &Path,
    workspace: &CargoWorkspace,
    root_package: Option<CargoPackage>,
) -> Result<BTreeMap<String, Crate>, WorkspaceError> {
    let rules = Exclusion::new(workspace);
    let mut dirs = Vec::new();
    for pattern in &workspace.members {
        member_dirs(root, pattern, root_package.is_some(), &rules, &mut dirs)?;
    }
    dirs.sort();
    dirs.dedup();
    let read: Vec<Result<Crate, WorkspaceError>> = dirs
        .par_iter()
        .map(|dir| read_crate(root, dir, workspace))
        .collect();
    let mut crates = BTreeMap::new();
    if let Some(package) = root_package {
        crates.insert(String::new(), Crate::new("", package));
    }
    for c in read {
        let c = c?;
        crates.insert(c.dir.clone(), c);
    }

    let mut pending: Vec<String> = crates
        .values()
        .flat_map(Crate::path_dependencies)
        .map(str::to_string)
        .collect();
    while let Some(dir) = pending.pop() {
        let outside = dir.is_empty() || dir.starts_with("..") || dir.starts_with('/');
        if outside
            || crates.contains_key(&dir)
            || rules.excludes(&dir)
            || !root.join(manifest_path(&dir)).is_file()
        {
            continue;
        }
        tracing::debug!(
            dir,
            "a path dependency inside the root: a member, as in Cargo"
        );
        let c = read_crate(root, &dir, workspace)?;
        pending.extend(c.path_dependencies().map(str::to_string));
        crates.insert(dir, c);
    }
    Ok(crates)
}

fn manifest_path(dir: &str) -> String {
    if dir.is_empty() {
        ROOT_MANIFEST.to_string()
    } else {
        format!("{dir}/{ROOT_MANIFEST}")
    }
}

fn read_crate(root: &Path, dir: &str, workspace: &CargoWorkspace) -> Result<Crate, WorkspaceError> {
    let file = manifest_path(dir);
    let text = fs_err::read_to_string(root.join(&file))?;
    let manifest = cargo_toml::parse(Path::new(&file), &text, Place::Member { dir, workspace })?;
    let package = manifest
        .package
        .expect("a member manifest without [package] is a parse error");
    Ok(Crate::new(dir, package))
}

/// Cargo's `exclude` rule.
struct Exclusion {
    exclude: Vec<String>,
    /// `members` entries as plain paths: naming a directory literally overrides `exclude`.
    explicit: Vec<String>,
}

impl Exclusion {
    fn new(workspace: &CargoWorkspace) -> Exclusion {
        let plain = |entries: &[String]| {
            entries
                .iter()
                .map(|e| cargo_toml::join("", e))
                .collect::<Vec<_>>()
        };
        Exclusion {
            exclude: plain(&workspace.exclude),
            explicit: plain(&workspace.members),
        }
    }

    fn excludes(&self, dir: &str) -> bool {
        let under = |base: &String| {
            base.is_empty()
                || dir == base
                || dir
                    .strip_prefix(base.as_str())
                    .is_some_and(|r| r.starts_with('/'))
        };
        self.exclude.iter().any(under) && !self.explicit.iter().any(under)
    }
}

/// Adds to `out` the member directories one `members` entry stands for.
fn member_dirs(
    root: &Path,
    pattern: &str,
    has_root_package: bool,
    rules: &Exclusion,
    out: &mut Vec<String>,
) -> Result<(), WorkspaceError> {
    let invalid = |reason: String| WorkspaceError::InvalidGlob {
        file: ROOT_MANIFEST.into(),
        pattern: pattern.to_string(),
        reason,
    };
    let Some(normal) = members::normalise(pattern).map_err(invalid)? else {
        // `"."`: the root crate, already a member when there is one.
        if !has_root_package {
            tracing::warn!(
                "{ROOT_MANIFEST}: member `{pattern}` is the root, which has no [package]"
            );
        }
        return Ok(());
    };
    let comps = normal
        .split('/')
        .map(|c| Segment::new(c).map_err(invalid))
        .collect::<Result<Vec<_>, _>>()?;
    let literal = comps.iter().all(|c| matches!(c, Segment::Literal(_)));
    let recursive = comps.iter().any(|c| matches!(c, Segment::Recursive));
    let mut matched = Vec::new();
    if literal {
        matched.push(normal.clone());
    } else {
        walk(root, &comps, String::new(), &mut matched)?;
        if matched.is_empty() {
            tracing::warn!(
                "{ROOT_MANIFEST}: workspace member pattern `{pattern}` matches no directory"
            );
        }
    }
    for dir in matched {
        if rules.excludes(&dir) {
            tracing::debug!(dir, "excluded by the root Cargo.toml");
            continue;
        }
        if !root.join(manifest_path(&dir)).is_file() {
            if recursive {
                continue;
            }
            return Err(WorkspaceError::CargoMemberWithoutManifest {
                file: ROOT_MANIFEST.into(),
                pattern: pattern.to_string(),
                dir,
            });
        }
        out.push(dir);
    }
    Ok(())
}

enum Segment {
    Literal(String),
    Glob(GlobMatcher),
    Recursive,
}

impl Segment {
    fn new(c: &str) -> Result<Segment, String> {
        if c == "**" {
            Ok(Segment::Recursive)
        } else if c.contains(['*', '?', '[']) {
            let glob = Glob::new(c).map_err(|e| e.kind().to_string())?;
            Ok(Segment::Glob(glob.compile_matcher()))
        } else {
            Ok(Segment::Literal(c.to_string()))
        }
    }
}

fn walk(root: &Path, comps: &[Segment], rel: String, out: &mut Vec<String>) -> io::Result<()> {
    let Some((first, rest)) = comps.split_first() else {
        if !rel.is_empty() {
            out.push(rel);
        }
        return Ok(());
    };
    match first {
        Segment::Literal(name) => {
            let child = join(&rel, name);
            if root.join(&child).is_dir() {
                walk(root, rest, child, out)?;
            }
        }
        Segment::Glob(matcher) => {
            for name in subdirs(root, &rel, true)? {
                if matcher.is_match(&name) {
                    walk(root, rest, join(&rel, &name), out)?;
                }
            }
        }
        Segment::Recursive => {
            walk(root, rest, rel.clone(), out)?;
            // Symlinked directories may point back up: `**` only follows real ones.
            for name in subdirs(root, &rel, false)? {
                walk(root, comps, join(&rel, &name), out)?;
            }
        }
    }
    Ok(())
}

/// Names of the visible subdirectories of `rel`; symlinks to directories only when `links`.
fn subdirs(root: &Path, rel: &str, links: bool) -> io::Result<Vec<String>> {
    let mut names: Vec<String> =
        crate::members::subdirs(&root.join(rel), NEVER, crate::members::Hidden::Skip)?
            .into_iter()
            .filter(|(_, real)| *real || links)
            .map(|(name, _)| name)
            .collect();
    names.sort();
    Ok(names)
}

fn join(rel: &str, name: &str) -> String {
    if rel.is_empty() {
        name.to_string()
    } else {
        format!("{rel}/{name}")
    }
}

/// A crate's dependencies split in two: the workspace packages they point at (by path, via
/// `by_dir`), and the third-party ones keyed by real crate name (the first table that names
/// a crate wins: normal, build, dev, then target tables).
pub(crate) fn split_dependencies(
    krate: &Crate,
    by_dir: &BTreeMap<&str, &str>,
) -> (Vec<String>, BTreeMap<String, String>) {
    let mut internal = Vec::new();
    let mut external = BTreeMap::new();
    for dep in &krate.dependencies {
        let spec = match &dep.source {
            DepSource::Path(dir) => {
                if let Some(name) = by_dir.get(dir.as_str()) {
                    internal.push(name.to_string());
                    continue;
                }
                tracing::warn!(
                    "{}: path dependency `{}` ({dir}) is not a package of this workspace; \
                     kiln treats it as third-party, so its changes do not invalidate `{}`",
                    krate.manifest,
                    dep.name,
                    krate.name
                );
                format!("path:{dir}")
            }
            DepSource::Git(url) => url.clone(),
            DepSource::Registry(req) => req.clone(),
        };
        external.entry(dep.name.clone()).or_insert(spec);
    }
    (internal, external)
}
