//! pnpm `pnpm-lock.yaml`: lockfileVersion 5.x (pnpm 7), 6.x (pnpm 8) and 9.x (pnpm 9, 10).
//!
//! `importers` (keyed by workspace dir, `.` for the root) map each dependency name to a
//! *reference*; a reference plus the name gives the key of an entry, and entries' own
//! dependencies are references again. The eras differ only in spelling:
//!
//! | era | entries in | key for `react-dom` → `18.3.1(react@18.3.1)` | alias `ms@2.1.2` |
//! |---|---|---|---|
//! | 9.x | `snapshots` (`packages` holds only metadata) | `react-dom@18.3.1(react@18.3.1)` | `ms@2.1.2` |
//! | 6.x | `packages` | `/react-dom@18.3.1(react@18.3.1)` | `/ms@2.1.2` |
//! | 5.x | `packages` | `/react-dom/18.3.1_react@18.3.1` | `/ms/2.1.2` |
//!
//! A reference is either a version (possibly with peer and `patch_hash` suffixes, which then
//! stay in the resolved identity: a different peer set or patch is a different install) or, for
//! aliases and non-registry sources, a whole key. So resolution tries `name@ref` (era-spelled)
//! first and `ref` alone second. `link:` references point at workspace packages and are not
//! followed.
//!
//! An importer records the specifier pnpm resolved, which is not always the manifest's:
//! `overrides` replace it (`"ms": "catalog:"` in package.json, `specifier: 2.1.2` in the
//! lockfile under `overrides: {ms: 2.1.2}`), and a catalog reference stands for the
//! catalog's specifier (`catalogs.default.vite.specifier`). Both count as the declaration
//! the lockfile was made from, so such a dependency is resolved, not reported stale.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::Deserialize;

use crate::graph::{Graph, NodeId, qualified, split_name};
use crate::importer::{Recorded, Roots, all_declared, stale_declarations};
use crate::{Format, Importer, LockfileError, ResolvedPackage};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Era {
    V5,
    V6,
    V9,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawLock {
    lockfile_version: Option<serde_yaml::Value>,
    importers: Option<BTreeMap<String, RawImporter>>,
    #[serde(default)]
    packages: HashMap<String, Option<RawEntry>>,
    snapshots: Option<HashMap<String, Option<RawEntry>>>,
    #[serde(default)]
    overrides: BTreeMap<String, String>,
    #[serde(default)]
    catalogs: BTreeMap<String, BTreeMap<String, RawCatalogEntry>>,
    /// A lockfile without `importers` (not a workspace) keeps the root's fields at top level.
    #[serde(flatten)]
    root: RawImporter,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct RawImporter {
    specifiers: BTreeMap<String, String>,
    dependencies: BTreeMap<String, RawDep>,
    dev_dependencies: BTreeMap<String, RawDep>,
    optional_dependencies: BTreeMap<String, RawDep>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawDep {
    /// 6.x and 9.x importers.
    Full { specifier: String, version: String },
    /// 5.x importers (spec in `specifiers`).
    Reference(String),
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct RawEntry {
    name: Option<String>,
    version: Option<String>,
    dependencies: BTreeMap<String, String>,
    optional_dependencies: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawCatalogEntry {
    Full { specifier: String },
    Specifier(String),
}

impl RawCatalogEntry {
    fn specifier(self) -> String {
        match self {
            RawCatalogEntry::Full { specifier } | RawCatalogEntry::Specifier(specifier) => {
                specifier
            }
        }
    }
}

/// One importer's recorded dependencies: name → (reference, spec when recorded).
type ImporterDeps = BTreeMap<String, (String, Option<String>)>;

#[derive(Debug)]
pub(crate) struct PnpmLock {
    era: Era,
    graph: Graph,
    keys: HashMap<String, NodeId>,
    importers: HashMap<String, ImporterDeps>,
    /// `overrides` that apply to an importer's own dependencies (`name` or `name@range`
    /// selectors; `parent>child` ones only reach transitive dependencies): name → spec.
    overrides: HashMap<String, String>,
    /// Catalog name (`default` for `catalog:`) → dependency → specifier.
    catalogs: BTreeMap<String, BTreeMap<String, String>>,
}

fn era_of(version: Option<&serde_yaml::Value>) -> Result<Era, String> {
    let text = match version {
        Some(serde_yaml::Value::String(s)) => s.clone(),
        Some(serde_yaml::Value::Number(n)) => n.to_string(),
        Some(other) => format!("{other:?}"),
        None => "missing".to_owned(),
    };
    match text.split('.').next() {
        Some("5") => Ok(Era::V5),
        Some("6") => Ok(Era::V6),
        // '7.0' was pnpm 9's pre-release spelling of the 9.0 format.
        Some("7" | "9") => Ok(Era::V9),
        _ => Err(text),
    }
}

/// The identity of the entry at `key`.
fn identity(era: Era, key: &str, entry: &RawEntry) -> ResolvedPackage {
    let registry = match era {
        Era::V9 => split_name(key),
        Era::V6 => key.strip_prefix('/').and_then(split_name),
        Era::V5 => key.strip_prefix('/').and_then(|rest| {
            let skip = if rest.starts_with('@') { 2 } else { 1 };
            let cut = rest.match_indices('/').nth(skip - 1)?.0;
            Some((&rest[..cut], &rest[cut + 1..]))
        }),
    };
    match registry {
        Some((name, version)) if entry.name.is_none() => ResolvedPackage {
            name: name.to_owned(),
            version: version.to_owned(),
        },
        // Git, tarball and `file:` entries are keyed by their source, and carry their name
        // and version as fields.
        _ => ResolvedPackage {
            name: entry.name.clone().unwrap_or_else(|| key.to_owned()),
            version: qualified(entry.version.as_deref().unwrap_or(""), Some(key)),
        },
    }
}

impl PnpmLock {
    pub(crate) fn parse(file: &Path, text: &str) -> Result<PnpmLock, LockfileError> {
        let raw: RawLock = serde_yaml::from_str(text).map_err(|e| LockfileError::yaml(file, &e))?;
        let era = era_of(raw.lockfile_version.as_ref())
            .map_err(|version| LockfileError::unsupported(file, version))?;
        let entries = match (era, raw.snapshots) {
            (Era::V9, Some(snapshots)) => snapshots,
            (Era::V9, None) if !raw.packages.is_empty() => {
                return Err(LockfileError::parse(
                    file,
                    None,
                    "lockfileVersion 9 with `packages` but no `snapshots`",
                ));
            }
            _ => raw.packages,
        };

        let mut graph = Graph::default();
        let empty = RawEntry::default();
        let keys: HashMap<String, NodeId> = entries
            .iter()
            .map(|(key, entry)| {
                let entry = entry.as_ref().unwrap_or(&empty);
                (key.clone(), graph.add(identity(era, key, entry)))
            })
            .collect();
        let overrides = raw
            .overrides
            .into_iter()
            .filter_map(|(selector, spec)| Some((direct_override(&selector)?.to_string(), spec)))
            .collect();
        let catalogs = raw
            .catalogs
            .into_iter()
            .map(|(catalog, entries)| {
                let entries = entries
                    .into_iter()
                    .map(|(dep, entry)| (dep, entry.specifier()))
                    .collect();
                (catalog, entries)
            })
            .collect();
        let mut lock = PnpmLock {
            era,
            graph,
            keys,
            importers: HashMap::new(),
            overrides,
            catalogs,
        };
        for (key, entry) in &entries {
            let Some(entry) = entry else { continue };
            let deps: Vec<NodeId> = entry
                .dependencies
                .iter()
                .chain(&entry.optional_dependencies)
                .filter_map(|(name, reference)| {
                    let found = lock.resolve(name, reference);
                    if found.is_none() && !reference.starts_with("link:") {
                        tracing::trace!(%key, %name, %reference, "dependency has no entry");
                    }
                    found
                })
                .collect();
            lock.graph.nodes[lock.keys[key.as_str()] as usize].deps = deps;
        }

        let importers = match raw.importers {
            Some(importers) => importers,
            None => BTreeMap::from([(".".to_owned(), raw.root)]),
        };
        lock.importers = importers
            .into_iter()
            .map(|(dir, importer)| (dir, flatten_importer(importer)))
            .collect();
        Ok(lock)
    }

    fn resolve(&self, name: &str, reference: &str) -> Option<NodeId> {
        if reference.starts_with("link:") {
            return None;
        }
        let spelled = match self.era {
            Era::V9 => format!("{name}@{reference}"),
            Era::V6 => format!("/{name}@{reference}"),
            Era::V5 => format!("/{name}/{reference}"),
        };
        self.keys
            .get(&spelled)
            .or_else(|| self.keys.get(reference))
            .copied()
    }
}

fn flatten_importer(importer: RawImporter) -> ImporterDeps {
    let RawImporter {
        specifiers,
        dependencies,
        dev_dependencies,
        optional_dependencies,
    } = importer;
    let mut deps = ImporterDeps::new();
    for (name, dep) in dev_dependencies
        .into_iter()
        .chain(optional_dependencies)
        .chain(dependencies)
    {
        let entry = match dep {
            RawDep::Full { specifier, version } => (version, Some(specifier)),
            RawDep::Reference(version) => {
                let spec = specifiers.get(&name).cloned();
                (version, spec)
            }
        };
        deps.insert(name, entry);
    }
    deps
}

/// The package an `overrides` selector replaces among an importer's own dependencies:
/// `name` of `name` or `name@range` (`@scope/name@>=1 <2` too); `None` for a `parent>child`
/// selector, which reaches transitive dependencies only. A `>` that opens a comparator
/// (after `@`, a space, `|` or `<`, or before `=`) is part of a range, not the separator.
fn direct_override(selector: &str) -> Option<&str> {
    let bytes = selector.as_bytes();
    let separates = (1..bytes.len()).any(|i| {
        bytes[i] == b'>'
            && !matches!(bytes[i - 1], b'@' | b' ' | b'|' | b'<')
            && bytes.get(i + 1) != Some(&b'=')
    });
    if separates {
        return None;
    }
    let name_end = match selector.strip_prefix('@') {
        Some(rest) => rest.find('@').map(|at| at + 1),
        None => selector.find('@'),
    };
    Some(name_end.map_or(selector, |end| &selector[..end]))
}

impl PnpmLock {
    /// Whether the manifest's `declared` spec of `name` is what pnpm recorded as `recorded`:
    /// the same text, or the override pnpm put in its place, or (for a `catalog:` reference)
    /// the catalog's specifier.
    fn same_declaration(&self, name: &str, declared: &str, recorded: &str) -> bool {
        let catalog = |spec: &str| -> Option<String> {
            let catalog = spec.strip_prefix("catalog:")?;
            let catalog = if catalog.is_empty() {
                "default"
            } else {
                catalog
            };
            self.catalogs.get(catalog)?.get(name).cloned()
        };
        declared == recorded
            || self.overrides.get(name).is_some_and(|o| o == recorded)
            || catalog(declared).is_some_and(|c| c == recorded)
            || catalog(recorded).is_some_and(|c| c == declared)
    }
}

impl Format for PnpmLock {
    fn graph(&self) -> &Graph {
        &self.graph
    }

    fn roots(&self, importer: &Importer<'_>) -> Roots {
        let dir = if importer.dir.is_empty() {
            "."
        } else {
            importer.dir
        };
        let Some(deps) = self.importers.get(dir) else {
            return Roots {
                nodes: Vec::new(),
                unresolved: all_declared(importer),
            };
        };
        Roots {
            nodes: deps
                .iter()
                .filter_map(|(name, (reference, _))| self.resolve(name, reference))
                .collect(),
            unresolved: stale_declarations(importer, |name| match deps.get(name) {
                None => Recorded::Absent,
                Some((_, Some(spec))) => {
                    let declared = importer.dependencies.get(name).map(String::as_str);
                    if declared.is_some_and(|d| self.same_declaration(name, d, spec)) {
                        Recorded::Present
                    } else {
                        Recorded::WithSpec(spec)
                    }
                }
                Some((_, None)) => Recorded::Present,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::direct_override;

    #[test]
    fn override_selectors_name_their_package_unless_they_have_a_parent() {
        assert_eq!(direct_override("ms"), Some("ms"));
        assert_eq!(direct_override("ms@^2"), Some("ms"));
        assert_eq!(direct_override("defu@>=6 <6.1.5"), Some("defu"));
        assert_eq!(direct_override("x@>4.0.0"), Some("x"));
        assert_eq!(direct_override("@scope/x@>=1"), Some("@scope/x"));
        assert_eq!(direct_override("@scope/x"), Some("@scope/x"));
        assert_eq!(direct_override("a>b"), None);
        assert_eq!(direct_override("a@1>b"), None);
        assert_eq!(direct_override("a@>1>b"), None);
    }
}
