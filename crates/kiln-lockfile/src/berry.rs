//! Yarn berry (v2+) `yarn.lock`: YAML whose keys are comma-separated descriptors
//! (`"a@npm:^1.0.0, a@npm:^1.1.0"`) and whose entries carry a `resolution` locator.
//!
//! The locator is the identity: `ms@npm:2.1.2` for a registry package (so an alias
//! `my-ms@npm:ms@2.1.2` resolves to `ms`), `is-odd@patch:is-odd@npm%3A3.0.1#…::hash=…` for a
//! patched one, whose hash changes with the patch, and `app@workspace:packages/app` for a
//! workspace, which is the importer record and is never traversed. Dependencies are `name:
//! range` pairs, found again through the descriptor `name@range`.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::Deserialize;

use crate::graph::{Graph, NodeId, qualified, split_name};
use crate::importer::{Recorded, Roots, stale_declarations};
use crate::{Format, Importer, LockfileError, ResolvedPackage};

#[derive(Deserialize)]
struct RawEntry {
    #[serde(default)]
    version: Option<serde_yaml::Value>,
    resolution: String,
    /// `name: range`; yarn 2 and 3 write a range like `2` or `0.3` unquoted, so YAML reads a
    /// number.
    #[serde(default)]
    dependencies: BTreeMap<String, serde_yaml::Value>,
}

#[derive(Clone, Copy, Debug)]
enum Target {
    External(NodeId),
    Workspace,
}

#[derive(Debug)]
pub(crate) struct BerryLock {
    graph: Graph,
    descriptors: HashMap<String, Target>,
    /// Workspace dir (`.` for the root) → its recorded dependencies, name → range.
    workspaces: HashMap<String, BTreeMap<String, String>>,
}

fn scalar(value: Option<&serde_yaml::Value>) -> String {
    match value {
        Some(serde_yaml::Value::String(s)) => s.clone(),
        Some(serde_yaml::Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

impl BerryLock {
    pub(crate) fn parse(file: &Path, text: &str) -> Result<BerryLock, LockfileError> {
        let raw: HashMap<String, serde_yaml::Value> =
            serde_yaml::from_str(text).map_err(|e| LockfileError::yaml(file, &e))?;
        let mut graph = Graph::default();
        let mut descriptors = HashMap::new();
        let mut workspaces = HashMap::new();
        let mut pending: Vec<(NodeId, BTreeMap<String, String>)> = Vec::new();
        for (key, value) in raw {
            if key == "__metadata" {
                continue;
            }
            let entry: RawEntry = serde_yaml::from_value(value)
                .map_err(|e| LockfileError::parse(file, None, format!("entry `{key}`: {e}")))?;
            let (name, reference) = split_name(&entry.resolution).ok_or_else(|| {
                LockfileError::parse(
                    file,
                    None,
                    format!(
                        "entry `{key}`: resolution `{}` is not name@reference",
                        entry.resolution
                    ),
                )
            })?;
            let dependencies: BTreeMap<String, String> = entry
                .dependencies
                .iter()
                .map(|(name, range)| (name.clone(), scalar(Some(range))))
                .collect();
            let target = if let Some(dir) = reference.strip_prefix("workspace:") {
                workspaces.insert(dir.to_owned(), dependencies);
                Target::Workspace
            } else {
                let version = scalar(entry.version.as_ref());
                let extra =
                    (reference.strip_prefix("npm:") != Some(version.as_str())).then_some(reference);
                let id = graph.add(ResolvedPackage {
                    name: name.to_owned(),
                    version: qualified(&version, extra),
                });
                pending.push((id, dependencies));
                Target::External(id)
            };
            for descriptor in key.split(',') {
                descriptors.insert(descriptor.trim().to_owned(), target);
            }
        }
        let mut lock = BerryLock {
            graph,
            descriptors,
            workspaces,
        };
        for (id, deps) in pending {
            lock.graph.nodes[id as usize].deps = deps
                .iter()
                .filter_map(|(name, range)| lock.external(name, range))
                .collect();
        }
        Ok(lock)
    }

    /// The entry `name@range` resolves to. Yarn 4 (lockfile v8) writes a dependency's range
    /// with its protocol (`npm:^7.1.3`), yarn 2 and 3 (v4 to v6) without it (`^7.1.3`),
    /// while the entry's key always has it: `npm:` is the default protocol.
    fn lookup(&self, name: &str, range: &str) -> Option<Target> {
        self.descriptors
            .get(&format!("{name}@{range}"))
            .or_else(|| self.descriptors.get(&format!("{name}@npm:{range}")))
            .copied()
    }

    fn external(&self, name: &str, range: &str) -> Option<NodeId> {
        match self.lookup(name, range) {
            Some(Target::External(id)) => Some(id),
            _ => None,
        }
    }
}

impl Format for BerryLock {
    fn graph(&self) -> &Graph {
        &self.graph
    }

    fn roots(&self, importer: &Importer<'_>) -> Roots {
        let dir = if importer.dir.is_empty() {
            "."
        } else {
            importer.dir
        };
        let mut roots = Roots::default();
        let Some(deps) = self.workspaces.get(dir) else {
            // Not recorded: look the declarations up as yarn would, `npm:` being the default
            // protocol.
            for (name, spec) in importer.dependencies {
                match self.lookup(name, spec) {
                    Some(Target::External(id)) => roots.nodes.push(id),
                    Some(Target::Workspace) => {}
                    None => roots.unresolved.push((name.clone(), spec.clone())),
                }
            }
            return roots;
        };
        roots.nodes = deps
            .iter()
            .filter_map(|(name, range)| self.external(name, range))
            .collect();
        roots.unresolved = stale_declarations(importer, |name| {
            let Some(locked) = deps.get(name) else {
                return Recorded::Absent;
            };
            let declared = &importer.dependencies[name];
            // Yarn writes ranges with their protocol (`^1.0.0` becomes `npm:^1.0.0`) and may
            // rewrite patch paths, so only a plainly different range counts as stale.
            let same = locked == declared
                || locked.strip_prefix("npm:") == Some(declared.as_str())
                || locked.starts_with("patch:");
            if same {
                Recorded::Present
            } else {
                Recorded::WithSpec(locked)
            }
        });
        roots
    }
}
