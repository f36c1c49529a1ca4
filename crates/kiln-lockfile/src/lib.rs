//! Lockfiles: which exact external packages each workspace package depends on.
//!
//! kiln puts into a task's key only the resolved versions of its package's *transitive external*
//! dependencies, so bumping one dependency in the lockfile re-runs only the packages whose
//! closure includes it; `kiln run --affected` compares these closures between a base revision
//! and now. This crate reads npm (`package-lock.json` v2/v3, `npm-shrinkwrap.json`), pnpm
//! (`pnpm-lock.yaml` 5.x, 6, 9), yarn classic and berry (`yarn.lock`), bun (`bun.lock`) and
//! Cargo (`Cargo.lock` v1–v4).
//!
//! Main types: [`Lockfile`] (parse once, then ask [`Lockfile::closure`] per [`Importer`]),
//! [`Closure`] (a sorted set of [`ResolvedPackage`] plus the declared dependencies the lockfile
//! does not know), [`LockfileError`]; [`jsonc`] reads JSON with comments and trailing commas,
//! for `bun.lock` here and for `turbo.json` in `kiln-workspace`. Place in the flow:
//! *discover* — `kiln-workspace` finds the lockfile next to the workspace root; *hash* —
//! `kiln-run` (`ExternalVersions`, in `external.rs`) parses it and takes each package's
//! closure, which goes into the package's task keys. This crate is a leaf: it knows no other
//! kiln crate.
//!
//! ```
//! use std::collections::BTreeMap;
//! use std::path::Path;
//! use kiln_lockfile::{Importer, Lockfile};
//!
//! let text = r#"{ "lockfileVersion": 3, "packages": {
//!   "": { "dependencies": { "ms": "^2.1.0" } },
//!   "node_modules/ms": { "version": "2.1.3" } } }"#;
//! let lock = Lockfile::parse(Path::new("package-lock.json"), text).unwrap();
//! let deps = BTreeMap::new();
//! let closure = lock.closure(&Importer { dir: "", name: "root", dependencies: &deps });
//! assert_eq!(closure.packages.iter().next().unwrap().version, "2.1.3");
//! ```

mod berry;
mod bun;
mod cargo;
mod error;
mod graph;
mod importer;
pub mod jsonc;
mod npm;
mod pnpm;
mod yarn_classic;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

pub use error::LockfileError;
use graph::Graph;
use importer::Roots;

/// Which tool wrote a lockfile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LockfileKind {
    /// `package-lock.json` / `npm-shrinkwrap.json`, lockfileVersion 2 or 3.
    Npm,
    /// `pnpm-lock.yaml`, lockfileVersion 5.x, 6.x or 9.x.
    Pnpm,
    /// Yarn classic (v1) `yarn.lock`.
    Yarn,
    /// Yarn berry (v2+) `yarn.lock`, recognised by its `__metadata` entry.
    Berry,
    /// Bun's text `bun.lock` (bun ≥ 1.2).
    Bun,
    /// `Cargo.lock`, v1 to v4.
    Cargo,
}

impl LockfileKind {
    /// The kind a lockfile's name (and, for `yarn.lock`, its text) says it is.
    pub fn detect(name: &Path, text: &str) -> Option<LockfileKind> {
        let file = name.file_name()?.to_str()?;
        Some(match file {
            "package-lock.json" | "npm-shrinkwrap.json" => LockfileKind::Npm,
            "pnpm-lock.yaml" => LockfileKind::Pnpm,
            "yarn.lock" if text.lines().any(|l| l.starts_with("__metadata:")) => {
                LockfileKind::Berry
            }
            "yarn.lock" => LockfileKind::Yarn,
            "bun.lock" => LockfileKind::Bun,
            "Cargo.lock" => LockfileKind::Cargo,
            _ => return None,
        })
    }
}

/// A workspace package, as the caller discovered it, whose closure is wanted.
#[derive(Clone, Copy, Debug)]
pub struct Importer<'a> {
    /// The package's directory relative to the workspace root, '/'-separated, "" for the root.
    pub dir: &'a str,
    /// Its name (npm name, or Cargo crate name).
    pub name: &'a str,
    /// Its third-party dependencies as its manifest declares them: name → spec (workspace
    /// packages already removed by the caller).
    pub dependencies: &'a BTreeMap<String, String>,
}

/// One installed external package.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ResolvedPackage {
    /// The package's real name (an alias `my-ms: npm:ms@2` resolves to `ms`).
    pub name: String,
    /// The version plus anything else that changes what gets installed (peer suffix, patch
    /// hash, a git commit, the source for Cargo non-registry sources): a plain "1.2.3" in the
    /// common case.
    pub version: String,
}

impl std::fmt::Display for ResolvedPackage {
    /// `name@version`, the spelling used in logs and `kiln why`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.name, self.version)
    }
}

/// The external packages an importer depends on, transitively.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Closure {
    /// Every external package reachable from the importer's declared deps through the lockfile,
    /// deduplicated, sorted.
    pub packages: BTreeSet<ResolvedPackage>,
    /// Declared deps the lockfile has no entry for (lockfile out of date): (name, spec). The
    /// caller puts them in the key as written and warns.
    pub unresolved: Vec<(String, String)>,
}

/// What each format's parser provides: the package graph and a way to find an importer's
/// direct dependencies in it.
pub(crate) trait Format: Send + Sync + std::fmt::Debug {
    fn graph(&self) -> &Graph;
    fn roots(&self, importer: &Importer<'_>) -> Roots;
}

/// A parsed lockfile.
#[derive(Debug)]
pub struct Lockfile {
    kind: LockfileKind,
    format: Box<dyn Format>,
}

impl Lockfile {
    /// Parses a lockfile; the kind comes from the file name (package-lock.json,
    /// npm-shrinkwrap.json, pnpm-lock.yaml, yarn.lock (classic or berry by content), bun.lock,
    /// Cargo.lock). `name` is only for errors.
    #[tracing::instrument(level = "debug", skip(text), fields(bytes = text.len()))]
    pub fn parse(name: &Path, text: &str) -> Result<Lockfile, LockfileError> {
        let kind =
            LockfileKind::detect(name, text).ok_or_else(|| LockfileError::UnknownFormat {
                file: name.to_path_buf(),
            })?;
        let format: Box<dyn Format> = match kind {
            LockfileKind::Npm => Box::new(npm::NpmLock::parse(name, text)?),
            LockfileKind::Pnpm => Box::new(pnpm::PnpmLock::parse(name, text)?),
            LockfileKind::Yarn => Box::new(yarn_classic::YarnLock::parse(name, text)?),
            LockfileKind::Berry => Box::new(berry::BerryLock::parse(name, text)?),
            LockfileKind::Bun => Box::new(bun::BunLock::parse(name, text)?),
            LockfileKind::Cargo => Box::new(cargo::CargoLock::parse(name, text)?),
        };
        tracing::debug!(
            ?kind,
            packages = format.graph().nodes.len(),
            "parsed lockfile"
        );
        Ok(Lockfile { kind, format })
    }

    /// Which tool wrote the lockfile.
    pub fn kind(&self) -> LockfileKind {
        self.kind
    }

    /// The external packages an importer (a workspace package) depends on, transitively, with
    /// the exact resolved identity of each.
    ///
    /// The lockfile's own record of the importer (npm `packages[dir]`, pnpm `importers[dir]`,
    /// berry's workspace entry, bun `workspaces[dir]`, Cargo's member entry) gives the roots,
    /// since it is what was installed; `importer.dependencies` is then only checked against it
    /// (a declared dep missing there, or declared with another spec, is `unresolved`). Yarn
    /// classic has no such record, so the declared specs are looked up directly.
    pub fn closure(&self, importer: &Importer<'_>) -> Closure {
        let roots = self.format.roots(importer);
        Closure {
            packages: self.format.graph().reachable(&roots.nodes),
            unresolved: roots.unresolved,
        }
    }

    /// Number of external packages in the lockfile (identical copies counted once per copy).
    pub fn len(&self) -> usize {
        self.format.graph().nodes.len()
    }

    /// Whether the lockfile records no external package.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests;
