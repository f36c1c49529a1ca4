//! Workspaces written as specs, for tests.
//!
//! Packages, one a line: `"web -> ui utils | build test"` is package `web` depending on `ui`
//! and `utils`, with `package.json` scripts `build` and `test`. Without `| …` a package gets
//! a script for every task named in the pipeline; `"c |"` has none. The root package `//`
//! is always there (no scripts, no dependencies) unless a line describes it (`"// -> a | build"`).
//! Packages live in `packages/<name>` (`@acme/ui` in `packages/acme-ui`).
//!
//! Pipeline tasks, one a line, as keyed in `turbo.json`: `"build -> ^build"`,
//! `"web#build -> ^build codegen"`, `"//#lint"`, `"dev -> (persistent)"`. A line starting
//! `[web]` is a package-level definition (a `turbo.json` in `web` that extends the root).

use std::collections::BTreeMap;
use std::path::PathBuf;

use kiln_core::PackageName;
use kiln_workspace::{Package, PackageManager, Pipeline, TaskDefinition, Workspace};

/// Packages from spec lines, sorted by name, the root included.
pub(crate) fn packages(lines: &[&str]) -> Vec<Package> {
    build_packages(lines, &[])
}

/// A workspace from package lines and pipeline task lines.
pub(crate) fn workspace(package_lines: &[&str], task_lines: &[&str]) -> Workspace {
    let mut pipeline = Pipeline::default();
    let mut task_names: Vec<String> = Vec::new();
    for line in task_lines {
        let (owner, line) = match line.strip_prefix('[') {
            Some(rest) => {
                let (owner, rest) = rest.split_once(']').expect("`[pkg]` prefix is closed");
                (Some(PackageName::from(owner.trim())), rest.trim())
            }
            None => (None, line.trim()),
        };
        let (key, rest) = line.split_once("->").unwrap_or((line, ""));
        let key = key.trim().to_string();
        let mut def = TaskDefinition::default();
        let mut depends_on = Vec::new();
        for token in rest.split_whitespace() {
            match token {
                "(persistent)" => def.persistent = Some(true),
                "(no-cache)" => def.cache = Some(false),
                with if with.starts_with("(with:") => def
                    .with
                    .get_or_insert_default()
                    .push(with["(with:".len()..with.len() - 1].to_string()),
                dep => depends_on.push(dep.to_string()),
            }
        }
        def.depends_on = Some(depends_on);
        let bare = key.rsplit_once('#').map_or(key.as_str(), |(_, t)| t);
        task_names.push(bare.to_string());
        match owner {
            Some(pkg) => {
                pipeline
                    .package_tasks
                    .entry(pkg)
                    .or_default()
                    .insert(key, def);
            }
            None => {
                pipeline.tasks.insert(key, def);
            }
        }
    }
    task_names.sort();
    task_names.dedup();
    let default_scripts: Vec<&str> = task_names.iter().map(String::as_str).collect();
    Workspace {
        root: PathBuf::from("/repo"),
        package_manager: PackageManager::Npm,
        packages: build_packages(package_lines, &default_scripts),
        lockfile: None,
        cargo_lockfile: None,
        pipeline,
    }
}

fn build_packages(lines: &[&str], default_scripts: &[&str]) -> Vec<Package> {
    let mut out: BTreeMap<PackageName, Package> = BTreeMap::new();
    for line in lines {
        let (graph_part, scripts) = match line.split_once('|') {
            Some((g, s)) => (g, s.split_whitespace().collect::<Vec<_>>()),
            None => (*line, default_scripts.to_vec()),
        };
        let (name, deps) = graph_part.split_once("->").unwrap_or((graph_part, ""));
        let name = PackageName::from(name.trim());
        let mut dependencies: Vec<PackageName> =
            deps.split_whitespace().map(PackageName::from).collect();
        dependencies.sort();
        dependencies.dedup();
        let is_root = name.is_root();
        let scripts = if is_root && !line.contains('|') {
            Vec::new()
        } else {
            scripts
        };
        let dir = if is_root {
            String::new()
        } else {
            format!(
                "packages/{}",
                name.as_str().trim_start_matches('@').replace('/', "-")
            )
        };
        out.insert(
            name.clone(),
            Package {
                manifest: if is_root {
                    "package.json".into()
                } else {
                    format!("{dir}/package.json")
                },
                dir,
                kind: Default::default(),
                external_dependencies: Default::default(),
                name: name.clone(),
                version: Some("1.0.0".into()),
                scripts: scripts
                    .iter()
                    .map(|s| (s.to_string(), format!("run {s} in {name}")))
                    .collect(),
                dependencies,
            },
        );
    }
    out.entry(PackageName::root()).or_insert_with(|| Package {
        name: PackageName::root(),
        dir: String::new(),
        version: None,
        scripts: BTreeMap::new(),
        dependencies: Vec::new(),
        manifest: "package.json".into(),
        kind: Default::default(),
        external_dependencies: BTreeMap::new(),
    });
    out.into_values().collect()
}

/// A package whose directory is given, for filter tests.
pub(crate) fn package_in(name: &str, dir: &str, deps: &[&str]) -> Package {
    Package {
        name: name.into(),
        dir: dir.into(),
        version: None,
        scripts: BTreeMap::new(),
        dependencies: deps.iter().map(|d| PackageName::from(*d)).collect(),
        manifest: format!("{dir}/package.json"),
        kind: Default::default(),
        external_dependencies: BTreeMap::new(),
    }
}
