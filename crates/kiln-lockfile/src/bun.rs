//! Bun's text lockfile `bun.lock` (bun ≥ 1.2): JSON with trailing commas.
//!
//! `workspaces` is keyed by directory (`""` for the root) and records each workspace's
//! declared dependencies. `packages` maps an install *path* to
//! `[ "name@version", registry, { dependencies… }, integrity ]` (other sources have other
//! shapes; the first element is always the identity and the first object the metadata). A path
//! is the hoisted name (`ms`) or a chain of names for a copy nested under its parent
//! (`debug/ms`, or `lib/is-number` under the workspace package `lib`), so a dependency is
//! resolved like Node does: from `parent/child` try `parent/child/dep`, then `parent/dep`, then
//! `dep`. Patches are recorded only as paths (`patchedDependencies`), so a patch's identity is
//! its path: a change of the patch's content is not visible in this file.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::Deserialize;

use crate::graph::{Graph, NodeId, qualified, split_name};
use crate::importer::{Recorded, Roots, stale_declarations};
use crate::{Format, Importer, LockfileError, ResolvedPackage, jsonc};

const SUPPORTED_VERSIONS: std::ops::RangeInclusive<u64> = 0..=2;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawLock {
    lockfile_version: u64,
    #[serde(default)]
    workspaces: HashMap<String, RawDeps>,
    #[serde(default)]
    packages: HashMap<String, Vec<serde_json::Value>>,
    #[serde(default)]
    patched_dependencies: BTreeMap<String, String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct RawDeps {
    name: Option<String>,
    dependencies: BTreeMap<String, String>,
    dev_dependencies: BTreeMap<String, String>,
    optional_dependencies: BTreeMap<String, String>,
    peer_dependencies: BTreeMap<String, String>,
}

impl RawDeps {
    fn all(&self) -> impl Iterator<Item = (&String, &String)> {
        self.dependencies
            .iter()
            .chain(&self.dev_dependencies)
            .chain(&self.optional_dependencies)
            .chain(&self.peer_dependencies)
    }
}

#[derive(Clone, Copy, Debug)]
enum Target {
    External(NodeId),
    Workspace,
}

#[derive(Debug)]
pub(crate) struct BunLock {
    graph: Graph,
    paths: HashMap<String, Target>,
    /// Workspace dir → (its package name, its declared dependencies name → spec).
    workspaces: HashMap<String, (Option<String>, BTreeMap<String, String>)>,
}

/// The names along a package path: `@s/a/b` is `["@s/a", "b"]`.
fn path_names(path: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut rest = path;
    while !rest.is_empty() {
        let mut cut = rest.find('/').unwrap_or(rest.len());
        if rest.starts_with('@') && cut < rest.len() {
            cut = rest[cut + 1..]
                .find('/')
                .map_or(rest.len(), |c| cut + 1 + c);
        }
        names.push(&rest[..cut]);
        rest = rest.get(cut + 1..).unwrap_or("");
    }
    names
}

impl BunLock {
    pub(crate) fn parse(file: &Path, text: &str) -> Result<BunLock, LockfileError> {
        let raw: RawLock =
            serde_json::from_str(&jsonc::strip(text)).map_err(|e| LockfileError::json(file, &e))?;
        if !SUPPORTED_VERSIONS.contains(&raw.lockfile_version) {
            return Err(LockfileError::unsupported(
                file,
                raw.lockfile_version.to_string(),
            ));
        }
        let mut graph = Graph::default();
        let mut paths = HashMap::with_capacity(raw.packages.len());
        let mut pending = Vec::new();
        for (path, entry) in &raw.packages {
            let malformed =
                |what: &str| LockfileError::parse(file, None, format!("package `{path}`: {what}"));
            let ident = entry
                .first()
                .and_then(|v| v.as_str())
                .ok_or_else(|| malformed("expected [\"name@version\", …]"))?;
            let (name, reference) =
                split_name(ident).ok_or_else(|| malformed("identity is not name@version"))?;
            if reference.starts_with("workspace:") {
                paths.insert(path.clone(), Target::Workspace);
                continue;
            }
            let patch = raw
                .patched_dependencies
                .get(ident)
                .or_else(|| raw.patched_dependencies.get(name))
                .map(|p| format!("patch: {p}"));
            let id = graph.add(ResolvedPackage {
                name: name.to_owned(),
                version: qualified(reference, patch.as_deref()),
            });
            paths.insert(path.clone(), Target::External(id));
            let meta = entry.iter().skip(1).find_map(|v| v.as_object());
            let deps: Vec<String> = meta
                .into_iter()
                .flat_map(|m| {
                    ["dependencies", "optionalDependencies", "peerDependencies"]
                        .into_iter()
                        .filter_map(|field| m.get(field)?.as_object())
                        .flat_map(|deps| deps.keys().cloned())
                })
                .collect();
            pending.push((id, path.as_str(), deps));
        }
        let mut lock = BunLock {
            graph,
            paths,
            workspaces: HashMap::new(),
        };
        for (id, path, deps) in pending {
            lock.graph.nodes[id as usize].deps = deps
                .iter()
                .filter_map(|dep| lock.external(path, dep))
                .collect();
        }
        lock.workspaces = raw
            .workspaces
            .into_iter()
            .map(|(dir, ws)| {
                let deps = ws.all().map(|(n, s)| (n.clone(), s.clone())).collect();
                (dir, (ws.name, deps))
            })
            .collect();
        Ok(lock)
    }

    /// Resolves `dep` as required from the package at `from` (a path; "" for the root).
    fn resolve(&self, from: &str, dep: &str) -> Option<Target> {
        let names = path_names(from);
        (0..=names.len()).rev().find_map(|depth| {
            let mut candidate = names[..depth].join("/");
            if !candidate.is_empty() {
                candidate.push('/');
            }
            candidate.push_str(dep);
            self.paths.get(&candidate).copied()
        })
    }

    fn external(&self, from: &str, dep: &str) -> Option<NodeId> {
        match self.resolve(from, dep) {
            Some(Target::External(id)) => Some(id),
            _ => None,
        }
    }
}

impl Format for BunLock {
    fn graph(&self) -> &Graph {
        &self.graph
    }

    fn roots(&self, importer: &Importer<'_>) -> Roots {
        let mut roots = Roots::default();
        // Copies nested for a workspace live under its package name (`lib/is-number`).
        let from = |name: Option<&str>| {
            if importer.dir.is_empty() {
                ""
            } else {
                name.unwrap_or(importer.name)
            }
            .to_owned()
        };
        let Some((name, deps)) = self.workspaces.get(importer.dir) else {
            let from = from(None);
            for (name, spec) in importer.dependencies {
                match self.resolve(&from, name) {
                    Some(Target::External(id)) => roots.nodes.push(id),
                    Some(Target::Workspace) => {}
                    None => roots.unresolved.push((name.clone(), spec.clone())),
                }
            }
            return roots;
        };
        let from = from(name.as_deref());
        roots.nodes = deps
            .keys()
            .filter_map(|dep| self.external(&from, dep))
            .collect();
        roots.unresolved = stale_declarations(importer, |name| {
            deps.get(name)
                .map_or(Recorded::Absent, |s| Recorded::WithSpec(s))
        });
        roots
    }
}

#[cfg(test)]
mod tests {
    use super::path_names;

    #[test]
    fn package_paths_split_into_names_keeping_scopes_whole() {
        assert_eq!(path_names("debug/ms"), ["debug", "ms"]);
        assert_eq!(
            path_names("@types/react-dom/@types/react"),
            ["@types/react-dom", "@types/react"]
        );
        assert_eq!(path_names("ms"), ["ms"]);
        assert!(path_names("").is_empty());
    }
}
