//! npm `package-lock.json` / `npm-shrinkwrap.json`, lockfileVersion 2 and 3.
//!
//! Both versions carry the `packages` map, keyed by install location (`""` for the root,
//! `packages/app` for a workspace, `node_modules/a`, `node_modules/a/node_modules/b`,
//! `packages/app/node_modules/c`). A dependency is resolved the way Node resolves `require`:
//! from the importing location, try `<loc>/node_modules/<name>`, then each ancestor directory,
//! up to the root's `node_modules`. Entries with `link: true` are symlinks to workspace
//! packages and are not traversed. Version 1 (only the nested `dependencies` tree) is refused
//! as unsupported: the caller then hashes the whole file.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::Deserialize;

use crate::graph::{Graph, NodeId, is_registry_tarball, qualified};
use crate::importer::{Recorded, Roots, stale_declarations};
use crate::{Format, Importer, LockfileError, ResolvedPackage};

#[derive(Deserialize)]
struct RawLock {
    #[serde(rename = "lockfileVersion")]
    lockfile_version: Option<serde_json::Value>,
    packages: Option<HashMap<String, RawEntry>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct RawEntry {
    name: Option<String>,
    version: Option<String>,
    resolved: Option<String>,
    link: bool,
    dependencies: BTreeMap<String, String>,
    optional_dependencies: BTreeMap<String, String>,
    peer_dependencies: BTreeMap<String, String>,
    dev_dependencies: BTreeMap<String, String>,
}

impl RawEntry {
    /// Dependencies that are installed for a package in the tree (dev deps are only installed
    /// for importers).
    fn installed_deps(&self) -> impl Iterator<Item = &String> {
        self.dependencies
            .keys()
            .chain(self.optional_dependencies.keys())
            .chain(self.peer_dependencies.keys())
    }
}

/// What an install location holds.
#[derive(Clone, Copy)]
enum Target {
    External(NodeId),
    /// A workspace package (its own directory, or a `link: true` to it).
    Workspace,
}

#[derive(Debug)]
pub(crate) struct NpmLock {
    graph: Graph,
    locations: HashMap<String, LocationInfo>,
}

#[derive(Debug)]
struct LocationInfo {
    node: Option<NodeId>,
    /// For importer directories: their recorded deps, name → spec, dev deps included.
    importer_deps: Option<BTreeMap<String, String>>,
}

fn is_installed(location: &str) -> bool {
    location.starts_with("node_modules/") || location.contains("/node_modules/")
}

fn name_from_location(location: &str) -> &str {
    location
        .rfind("node_modules/")
        .map_or(location, |i| &location[i + "node_modules/".len()..])
}

impl NpmLock {
    pub(crate) fn parse(file: &Path, text: &str) -> Result<NpmLock, LockfileError> {
        let raw: RawLock = serde_json::from_str(text).map_err(|e| LockfileError::json(file, &e))?;
        let version = raw
            .lockfile_version
            .as_ref()
            .map_or_else(|| "missing".to_owned(), ToString::to_string);
        let packages = match (version.as_str(), raw.packages) {
            ("2" | "3", Some(packages)) => packages,
            _ => return Err(LockfileError::unsupported(file, version)),
        };

        let mut graph = Graph::default();
        let mut locations: HashMap<String, LocationInfo> = HashMap::with_capacity(packages.len());
        for (location, entry) in &packages {
            let node = (is_installed(location) && !entry.link).then(|| {
                let name = entry
                    .name
                    .clone()
                    .unwrap_or_else(|| name_from_location(location).to_owned());
                let version = entry.version.as_deref().unwrap_or("");
                let extra = entry
                    .resolved
                    .as_deref()
                    .filter(|r| !is_registry_tarball(r, &name, version));
                graph.add(ResolvedPackage {
                    version: qualified(version, extra),
                    name,
                })
            });
            let importer_deps = (!is_installed(location)).then(|| {
                let mut deps = BTreeMap::new();
                for (name, spec) in entry
                    .peer_dependencies
                    .iter()
                    .chain(&entry.optional_dependencies)
                    .chain(&entry.dev_dependencies)
                    .chain(&entry.dependencies)
                {
                    deps.insert(name.clone(), spec.clone());
                }
                deps
            });
            locations.insert(
                location.clone(),
                LocationInfo {
                    node,
                    importer_deps,
                },
            );
        }

        let mut lock = NpmLock { graph, locations };
        for (location, entry) in &packages {
            let Some(Some(id)) = lock.locations.get(location.as_str()).map(|l| l.node) else {
                continue;
            };
            let deps: Vec<NodeId> = entry
                .installed_deps()
                .filter_map(|dep| match lock.resolve(location, dep) {
                    Some(Target::External(node)) => Some(node),
                    Some(Target::Workspace) => None,
                    None => {
                        tracing::trace!(%location, %dep, "dependency not in the tree (optional or peer)");
                        None
                    }
                })
                .collect();
            lock.graph.nodes[id as usize].deps = deps;
        }
        Ok(lock)
    }

    /// Node's module resolution from `from` (an install location or an importer directory).
    fn resolve(&self, from: &str, dep: &str) -> Option<Target> {
        let mut base = from;
        let mut candidate = String::new();
        loop {
            candidate.clear();
            if !base.is_empty() {
                candidate.push_str(base);
                candidate.push('/');
            }
            candidate.push_str("node_modules/");
            candidate.push_str(dep);
            if let Some(info) = self.locations.get(candidate.as_str()) {
                return Some(info.node.map_or(Target::Workspace, Target::External));
            }
            if base.is_empty() {
                return None;
            }
            base = base.rfind('/').map_or("", |i| &base[..i]);
        }
    }
}

impl Format for NpmLock {
    fn graph(&self) -> &Graph {
        &self.graph
    }

    fn roots(&self, importer: &Importer<'_>) -> Roots {
        let recorded = self
            .locations
            .get(importer.dir)
            .and_then(|l| l.importer_deps.as_ref());
        let mut roots = Roots::default();
        match recorded {
            Some(deps) => {
                roots.nodes = deps
                    .keys()
                    .filter_map(|dep| match self.resolve(importer.dir, dep) {
                        Some(Target::External(node)) => Some(node),
                        _ => None,
                    })
                    .collect();
                roots.unresolved = stale_declarations(importer, |name| {
                    deps.get(name)
                        .map_or(Recorded::Absent, |spec| Recorded::WithSpec(spec))
                });
            }
            // Not recorded (lockfile older than the package): resolve the declarations from the
            // package's directory, as Node would at run time.
            None => {
                for (name, spec) in importer.dependencies {
                    match self.resolve(importer.dir, name) {
                        Some(Target::External(node)) => roots.nodes.push(node),
                        Some(Target::Workspace) => {}
                        None => roots.unresolved.push((name.clone(), spec.clone())),
                    }
                }
            }
        }
        roots
    }
}
