//! The third-party versions in each package's key: its transitive external dependency
//! closure, resolved through the lockfile of its ecosystem (`kiln-lockfile`).
//!
//! A package's entry maps each third-party package name to its resolved version(s) (several
//! copies of one name are listed together). A declared dependency the lockfile does not
//! resolve (an out-of-date lockfile) goes in as written, `unresolved <spec>`, with a warning
//! for the packages of the run ([`ExternalVersions::warn_unresolved`]).
//! A lockfile that cannot be read falls back to its content digest in every key of its
//! ecosystem, with a warning: any change to it then re-runs all of them (safe, not minimal).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use kiln_core::PackageName;
use kiln_hash::Digest;
use kiln_lockfile::{Importer, Lockfile};
use kiln_workspace::{PackageKind, Workspace};
use rayon::prelude::*;

/// Each package's resolved third-party dependencies: name → version(s).
#[derive(Debug, Default)]
pub struct ExternalVersions {
    by_package: BTreeMap<PackageName, BTreeMap<String, String>>,
    /// Per package, the declared dependencies the lockfile does not resolve.
    unresolved: BTreeMap<PackageName, Vec<String>>,
}

/// A lockfile's content, for [`ExternalVersions::from_texts`]: `None` when it does not exist.
pub struct LockfileText<'a> {
    pub path: &'a Path,
    pub text: Option<&'a [u8]>,
}

impl ExternalVersions {
    /// From the lockfiles on disk, for the packages `wanted` names.
    pub fn resolve(ws: &Workspace, wanted: &(dyn Fn(&PackageName) -> bool + Sync)) -> Self {
        let read = |path: &Path| std::fs::read(ws.root.join(path)).ok();
        let node = ws.lockfile.as_deref().map(|p| (p, read(p)));
        let cargo = ws.cargo_lockfile.as_deref().map(|p| (p, read(p)));
        Self::for_packages(
            ws,
            wanted,
            node.as_ref().map(|(path, bytes)| LockfileText {
                path,
                text: bytes.as_deref(),
            }),
            cargo.as_ref().map(|(path, bytes)| LockfileText {
                path,
                text: bytes.as_deref(),
            }),
        )
    }

    /// From given lockfile contents (the lockfiles at another revision, for `--affected`),
    /// for every package.
    pub fn from_texts(
        ws: &Workspace,
        node: Option<LockfileText<'_>>,
        cargo: Option<LockfileText<'_>>,
    ) -> Self {
        Self::for_packages(ws, &|_| true, node, cargo)
    }

    fn for_packages(
        ws: &Workspace,
        wanted: &(dyn Fn(&PackageName) -> bool + Sync),
        node: Option<LockfileText<'_>>,
        cargo: Option<LockfileText<'_>>,
    ) -> Self {
        let node = node.map(|l| Resolver::new(l.path, l.text));
        let cargo = cargo.map(|l| Resolver::new(l.path, l.text));
        let resolved: Vec<(PackageName, BTreeMap<String, String>, Vec<String>)> = ws
            .packages
            .par_iter()
            .filter(|package| wanted(&package.name))
            .map(|package| {
                let resolver = match package.kind {
                    PackageKind::Node => node.as_ref(),
                    PackageKind::Cargo => cargo.as_ref(),
                    PackageKind::Kiln => None,
                };
                let (versions, unresolved) = resolver.map_or_else(Default::default, |r| {
                    r.versions(&Importer {
                        dir: &package.dir,
                        name: if package.name.is_root() {
                            ""
                        } else {
                            package.name.as_str()
                        },
                        dependencies: &package.external_dependencies,
                    })
                });
                (package.name.clone(), versions, unresolved)
            })
            .collect();
        let mut out = ExternalVersions::default();
        for (name, versions, unresolved) in resolved {
            if !unresolved.is_empty() {
                out.unresolved.insert(name.clone(), unresolved);
            }
            out.by_package.insert(name, versions);
        }
        out
    }

    /// Warns, once per package, about the declared dependencies the lockfile does not
    /// resolve, for the `packages` a run hashes (nobody else's are any concern of it).
    pub fn warn_unresolved<'p>(&self, packages: impl IntoIterator<Item = &'p PackageName>) {
        for package in packages {
            if let Some(names) = self.unresolved.get(package) {
                tracing::warn!(
                    "{package}: the lockfile does not resolve {} (is it up to date?); their \
                     declared ranges go into the key",
                    names.join(", ")
                );
            }
        }
    }

    pub fn of(&self, package: &PackageName) -> BTreeMap<String, String> {
        self.by_package.get(package).cloned().unwrap_or_default()
    }

    /// Packages whose versions differ between `self` (earlier) and `now`, with the first
    /// difference as a reason.
    pub fn changed_since(&self, now: &ExternalVersions) -> BTreeMap<PackageName, String> {
        let mut out = BTreeMap::new();
        let names: BTreeSet<&PackageName> = self
            .by_package
            .keys()
            .chain(now.by_package.keys())
            .collect();
        let empty = BTreeMap::new();
        for name in names {
            let old = self.by_package.get(name).unwrap_or(&empty);
            let new = now.by_package.get(name).unwrap_or(&empty);
            if old == new {
                continue;
            }
            let first = old
                .iter()
                .find(|(k, v)| new.get(*k) != Some(*v))
                .map(|(k, v)| match new.get(k) {
                    Some(to) => format!("external dependency `{k}` {v} → {to}"),
                    None => format!("external dependency `{k}` {v} removed"),
                })
                .or_else(|| {
                    new.iter()
                        .find(|(k, _)| !old.contains_key(*k))
                        .map(|(k, v)| format!("new external dependency `{k}` {v}"))
                })
                .unwrap_or_default();
            out.insert(name.clone(), first);
        }
        out
    }
}

/// One lockfile, parsed or (when it cannot be read) stood for by its digest.
enum Resolver {
    Parsed(Lockfile),
    WholeFile { entry: String, digest: String },
    Missing,
}

impl Resolver {
    fn new(path: &Path, text: Option<&[u8]>) -> Self {
        let Some(bytes) = text else {
            return Resolver::Missing;
        };
        let rel = path.to_string_lossy().replace('\\', "/");
        let parsed = std::str::from_utf8(bytes)
            .map_err(|_| format!("{rel} is not UTF-8"))
            .and_then(|text| Lockfile::parse(path, text).map_err(|e| e.to_string()));
        match parsed {
            Ok(lockfile) => Resolver::Parsed(lockfile),
            Err(why) => {
                tracing::warn!(
                    "cannot read the lockfile ({why}); hashing all of `{rel}` into every key \
                     that depends on it"
                );
                Resolver::WholeFile {
                    entry: format!("lockfile {rel}"),
                    digest: Digest::of_bytes(bytes).to_hex(),
                }
            }
        }
    }

    /// The importer's versions, and the names of its declared dependencies the lockfile
    /// does not resolve.
    fn versions(&self, importer: &Importer<'_>) -> (BTreeMap<String, String>, Vec<String>) {
        match self {
            Resolver::Missing => Default::default(),
            Resolver::WholeFile { entry, digest } => {
                ([(entry.clone(), digest.clone())].into(), Vec::new())
            }
            Resolver::Parsed(lockfile) => {
                let closure = lockfile.closure(importer);
                let mut versions: BTreeMap<String, Vec<String>> = BTreeMap::new();
                for p in closure.packages {
                    versions.entry(p.name).or_default().push(p.version);
                }
                let unresolved: Vec<String> =
                    closure.unresolved.iter().map(|(n, _)| n.clone()).collect();
                for (name, spec) in closure.unresolved {
                    versions
                        .entry(name)
                        .or_default()
                        .push(format!("unresolved {spec}"));
                }
                let versions = versions
                    .into_iter()
                    .map(|(name, mut list)| {
                        list.sort();
                        list.dedup();
                        (name, list.join(", "))
                    })
                    .collect();
                (versions, unresolved)
            }
        }
    }
}
