//! Which tasks a set of changed files affects (`--affected`).
//!
//! A changed file affects the tasks of every package whose directory holds it (the root
//! package `//` holds every file, and an outer package its nested packages' files, as in
//! hashing) whose inputs match it (the same selection rules as hashing, applied to the one
//! path, so deleted files count), and any task whose root-relative inputs (`$TURBO_ROOT$/`,
//! `../`) match it. A global input (`globalDependencies`,
//! or the pipeline's own config file) affects every task. A lockfile change affects the
//! packages whose resolved third-party versions differ, which the caller works out. Then
//! every task that depends on an affected task is affected too: its key includes the
//! dependency's.

use std::collections::{BTreeMap, BTreeSet};

use kiln_core::PackageName;
use kiln_graph::TaskGraph;
use kiln_hash::InputMatcher;
use kiln_workspace::Workspace;

use crate::RunError;
use crate::hashing::split_root_inputs;

/// Files whose change affects every task: the pipeline's definition.
const CONFIG_FILES: [&str; 4] = [
    "turbo.json",
    "turbo.jsonc",
    "kiln.toml",
    "pnpm-workspace.yaml",
];

/// The tasks a change affects.
#[derive(Clone, Debug, Default)]
pub struct Affected {
    /// Tasks affected by the change itself, with why (one line).
    pub direct: BTreeMap<usize, String>,
    /// `direct` and every task that depends on one of them, sorted (graph indices).
    pub all: Vec<usize>,
    /// Set when a global input changed (every task is then affected).
    pub global: Option<String>,
}

/// `changed`: workspace-relative paths; `external`: packages whose resolved third-party
/// versions changed, with why.
pub fn affected_tasks(
    ws: &Workspace,
    graph: &TaskGraph,
    changed: &BTreeSet<String>,
    external: &BTreeMap<PackageName, String>,
) -> Result<Affected, RunError> {
    let global = global_change(ws, changed)?;
    if let Some(why) = global {
        return Ok(Affected {
            direct: (0..graph.len()).map(|i| (i, why.clone())).collect(),
            all: (0..graph.len()).collect(),
            global: Some(why),
        });
    }

    let mut direct = BTreeMap::new();
    for (i, node) in graph.nodes().iter().enumerate() {
        if let Some(why) = external.get(&node.id.package) {
            direct.insert(i, why.clone());
            continue;
        }
        let dir = ws.package(&node.id.package).map_or("", |p| p.dir.as_str());
        let split = split_root_inputs(dir, &node.task.inputs);
        let (package_inputs, root_inputs) = (split.package, split.root);
        let within = if dir.is_empty() { "." } else { dir };
        let files = files_under(changed, dir);
        if !files.is_empty() {
            let matcher = InputMatcher::new(&package_inputs, &node.task.outputs, within)?;
            let hits: Vec<&str> = files
                .iter()
                .filter(|(_, rel)| matcher.matches(rel))
                .map(|(full, _)| full.as_str())
                .collect();
            if !hits.is_empty() {
                direct.insert(i, files_changed(&hits));
                continue;
            }
        }
        if !root_inputs.is_empty() {
            let matcher = InputMatcher::new(&root_inputs, &[], ".")?;
            let hits: Vec<&str> = changed
                .iter()
                .map(String::as_str)
                .filter(|p| matcher.matches_global(p))
                .collect();
            if !hits.is_empty() {
                direct.insert(i, files_changed(&hits));
            }
        }
    }
    let all = graph.dependents_closure(direct.keys().copied());
    Ok(Affected {
        direct,
        all,
        global: None,
    })
}

/// The first changed file that is a global input (or the pipeline's config), as a reason.
pub fn global_change(
    ws: &Workspace,
    changed: &BTreeSet<String>,
) -> Result<Option<String>, RunError> {
    let globs = &ws.pipeline.global_dependencies;
    let matcher = InputMatcher::new(globs, &[], ".")?;
    Ok(changed
        .iter()
        .find(|path| {
            CONFIG_FILES.contains(&path.as_str())
                || (!globs.is_empty() && matcher.matches_global(path))
        })
        .map(|path| format!("global input `{path}` changed")))
}

/// The changed files under `dir` (every one for the root): (workspace-relative,
/// `dir`-relative) paths.
fn files_under<'c>(changed: &'c BTreeSet<String>, dir: &str) -> Vec<(&'c String, &'c str)> {
    if dir.is_empty() {
        return changed.iter().map(|p| (p, p.as_str())).collect();
    }
    let prefix = format!("{dir}/");
    changed
        .range(prefix.clone()..)
        .take_while(|p| p.starts_with(&prefix))
        .map(|p| (p, &p[prefix.len()..]))
        .collect()
}

/// Changed files by the package that owns them (the innermost package directory holding
/// them; the root package for the rest): (workspace-relative, package-relative) paths.
pub fn files_by_package(
    ws: &Workspace,
    changed: &BTreeSet<String>,
) -> BTreeMap<PackageName, Vec<(String, String)>> {
    let mut dirs: Vec<(&str, &PackageName)> = ws
        .packages
        .iter()
        .map(|p| (p.dir.as_str(), &p.name))
        .collect();
    dirs.sort_by_key(|(d, _)| std::cmp::Reverse(d.len()));
    let mut out: BTreeMap<PackageName, Vec<(String, String)>> = BTreeMap::new();
    for path in changed.iter().filter(|p| !kiln_hash::never_walked(p)) {
        let owner = dirs.iter().find(|(dir, _)| {
            dir.is_empty()
                || path
                    .strip_prefix(dir)
                    .is_some_and(|rest| rest.starts_with('/'))
        });
        if let Some((dir, name)) = owner {
            let rel = if dir.is_empty() {
                path.clone()
            } else {
                path[dir.len() + 1..].to_string()
            };
            out.entry((*name).clone())
                .or_default()
                .push((path.clone(), rel));
        }
    }
    out
}

/// `` `a` changed `` or `` `a` and 2 more files changed ``: why a task or package is affected.
pub fn files_changed(files: &[&str]) -> String {
    match files {
        [one] => format!("`{one}` changed"),
        [first, rest @ ..] => format!("`{first}` and {} more files changed", rest.len()),
        [] => String::new(),
    }
}
