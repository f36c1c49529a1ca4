//! `Cargo.lock`, format versions 1 to 4.
//!
//! Every `[[package]]` has a name, a version, a `source` unless it is a workspace member or a
//! path dependency, and `dependencies` written as `"name"` when the name is unique in the file,
//! `"name version"` when it is not, and `"name version (source)"` when even that is ambiguous.
//! Source-less entries are internal and never traversed; the importer is the source-less entry
//! named like the crate. A crates.io package's identity is its plain version; any other source
//! (a git commit, another registry) is part of the identity. Version-1 files also have a
//! `[root]` table for the root crate, read like a member.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;

use crate::error::line_of;
use crate::graph::{Graph, NodeId, qualified};
use crate::importer::{Recorded, Roots, stale_declarations};
use crate::{Format, Importer, LockfileError, ResolvedPackage};

const CRATES_IO: [&str; 2] = [
    "registry+https://github.com/rust-lang/crates.io-index",
    "sparse+https://index.crates.io/",
];

#[derive(Deserialize)]
struct RawLock {
    version: Option<u32>,
    #[serde(default)]
    package: Vec<RawPackage>,
    root: Option<RawPackage>,
}

#[derive(Deserialize)]
struct RawPackage {
    name: String,
    version: String,
    source: Option<String>,
    #[serde(default)]
    dependencies: Vec<String>,
}

#[derive(Debug)]
pub(crate) struct CargoLock {
    graph: Graph,
    /// Per `[[package]]`: its node, `None` for workspace members and path crates.
    nodes: Vec<Option<NodeId>>,
    entries: Vec<(String, String, Option<String>)>,
    by_name: HashMap<String, Vec<usize>>,
    /// Per entry, its dependencies resolved to entry indices.
    edges: Vec<Vec<usize>>,
    dep_names: Vec<Vec<String>>,
}

impl CargoLock {
    pub(crate) fn parse(file: &Path, text: &str) -> Result<CargoLock, LockfileError> {
        let raw: RawLock = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| line_of(text, s.start));
            LockfileError::parse(file, line, e.message())
        })?;
        if let Some(version) = raw.version.filter(|v| *v > 4) {
            return Err(LockfileError::unsupported(file, version.to_string()));
        }
        let packages: Vec<RawPackage> = raw.root.into_iter().chain(raw.package).collect();

        let mut graph = Graph::default();
        let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
        let mut nodes = Vec::with_capacity(packages.len());
        for (index, package) in packages.iter().enumerate() {
            by_name.entry(package.name.clone()).or_default().push(index);
            nodes.push(package.source.as_ref().map(|source| {
                let extra = (!CRATES_IO.contains(&source.as_str())).then_some(source.as_str());
                graph.add(ResolvedPackage {
                    name: package.name.clone(),
                    version: qualified(&package.version, extra),
                })
            }));
        }
        let mut lock = CargoLock {
            graph,
            nodes,
            entries: packages
                .iter()
                .map(|p| (p.name.clone(), p.version.clone(), p.source.clone()))
                .collect(),
            by_name,
            edges: Vec::new(),
            dep_names: Vec::new(),
        };
        for package in &packages {
            let mut edges = Vec::with_capacity(package.dependencies.len());
            for dep in &package.dependencies {
                let found = lock.find(dep).ok_or_else(|| {
                    LockfileError::parse(
                        file,
                        None,
                        format!(
                            "package `{}` depends on `{dep}`, which has no entry",
                            package.name
                        ),
                    )
                })?;
                edges.push(found);
            }
            lock.edges.push(edges);
            lock.dep_names.push(
                package
                    .dependencies
                    .iter()
                    .map(|d| d.split(' ').next().unwrap_or(d).to_owned())
                    .collect(),
            );
        }
        for (index, edges) in lock.edges.iter().enumerate() {
            if let Some(id) = lock.nodes[index] {
                lock.graph.nodes[id as usize].deps =
                    edges.iter().filter_map(|&e| lock.nodes[e]).collect();
            }
        }
        Ok(lock)
    }

    /// The entry a dependency string (`name`, `name version`, `name version (source)`) means.
    fn find(&self, dep: &str) -> Option<usize> {
        let mut parts = dep.splitn(3, ' ');
        let name = parts.next()?;
        let version = parts.next();
        let source = parts
            .next()
            .map(|s| s.trim_start_matches('(').trim_end_matches(')'));
        let candidates = self.by_name.get(name)?;
        let matches = |&&i: &&usize| {
            let (_, v, s) = &self.entries[i];
            version.is_none_or(|version| v == version)
                && source.is_none_or(|source| s.as_deref() == Some(source))
        };
        candidates.iter().find(matches).copied()
    }
}

impl Format for CargoLock {
    fn graph(&self) -> &Graph {
        &self.graph
    }

    fn roots(&self, importer: &Importer<'_>) -> Roots {
        let member = self.by_name.get(importer.name).and_then(|candidates| {
            candidates
                .iter()
                .copied()
                .find(|&i| self.entries[i].2.is_none())
        });
        let mut roots = Roots::default();
        let Some(member) = member else {
            // Not locked yet: a declared crate whose name is unique in the file is still known.
            for (name, spec) in importer.dependencies {
                match self.by_name.get(name).map(Vec::as_slice) {
                    Some(&[only]) if self.nodes[only].is_some() => {
                        roots.nodes.extend(self.nodes[only]);
                    }
                    _ => roots.unresolved.push((name.clone(), spec.clone())),
                }
            }
            return roots;
        };
        roots.nodes = self.edges[member]
            .iter()
            .filter_map(|&e| self.nodes[e])
            .collect();
        let names = &self.dep_names[member];
        roots.unresolved = stale_declarations(importer, |name| {
            if names.iter().any(|n| n == name) {
                Recorded::Present
            } else {
                Recorded::Absent
            }
        });
        roots
    }
}
