//! [`Workspace::discover`]: from a directory to the workspace around it.
//!
//! Order of work: find the root (walking up), read the root's files (`package.json`,
//! `kiln.toml`, `pnpm-workspace.yaml`, `Cargo.toml`), pick the package manager, expand the
//! package globs and the Cargo workspace's members, read every member's manifest and
//! package-level config (in parallel: with thousands of packages the reads and JSON parsing
//! dominate), then resolve internal dependencies once every name is known, and read the
//! pipeline.
//!
//! Mixed repositories: the JavaScript members and the crates join one workspace. A directory
//! that is both a JavaScript member with a named `package.json` and a crate is one package,
//! the `package.json`'s (scripts, name, npm dependencies), which also keeps the crate's
//! internal edges (so a change in a crate it builds against still invalidates it); a
//! warning says so. A root crate (`[package]` in the root `Cargo.toml`) is a package named
//! after the crate in directory `""` next to `//`, so that generic tasks (`build`) run for it;
//! with a root `package.json` it is folded into `//` the same way instead.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use kiln_core::PackageName;
use rayon::prelude::*;
use serde::Deserialize;

use crate::cargo_members::{self, Crate};
use crate::cargo_toml::{self, CargoManifest};
use crate::error::ConfigError;
use crate::kiln_toml::{self, KilnToml, Place};
use crate::linking::Linking;
use crate::manifest::{self, PackageJson, Target};
use crate::members::{self, Pattern};
use crate::package_manager::{self, Evidence};
use crate::root::{TURBO_FILES, find_root, read_optional};
use crate::{
    ConfigSource, Package, PackageKind, Pipeline, TaskDefinition, Workspace, WorkspaceError,
    turbo_json,
};

impl Workspace {
    /// Discovers the workspace containing `start` (a directory, relative or absolute).
    #[tracing::instrument(level = "debug")]
    pub fn discover(start: &Path) -> Result<Workspace, WorkspaceError> {
        let absolute = fs_err::canonicalize(start)?;
        let root = find_root(&absolute)?.ok_or_else(|| WorkspaceError::NoRoot {
            start: start.to_path_buf(),
        })?;
        let workspace = load(root)?;
        tracing::debug!(
            root = %workspace.root.display(),
            packages = workspace.packages.len(),
            package_manager = ?workspace.package_manager,
            "discovered workspace"
        );
        Ok(workspace)
    }
}

#[derive(Deserialize)]
struct PnpmWorkspace {
    #[serde(default)]
    packages: Vec<String>,
    /// `true`, `false` or `deep`.
    #[serde(rename = "linkWorkspacePackages")]
    link_workspace_packages: Option<serde_yaml::Value>,
}

fn load(root: PathBuf) -> Result<Workspace, WorkspaceError> {
    let root_json = read_optional(&root.join("package.json"))?
        .map(|text| manifest::parse(Path::new("package.json"), &text))
        .transpose()?;
    let kiln = read_optional(&root.join("kiln.toml"))?
        .map(|text| kiln_toml::parse(Path::new("kiln.toml"), &text, Place::Root))
        .transpose()?;
    let pnpm = read_optional(&root.join("pnpm-workspace.yaml"))?
        .map(|text| parse_pnpm(&text))
        .transpose()?;
    let cargo = read_optional(&root.join("Cargo.toml"))?
        .map(|text| cargo_toml::parse(Path::new("Cargo.toml"), &text, cargo_toml::Place::Root))
        .transpose()?;

    let (package_manager, lockfile) = package_manager::detect(&Evidence {
        root: &root,
        package_manager_field: root_json
            .as_ref()
            .and_then(|j| j.package_manager.as_deref()),
        has_pnpm_workspace: pnpm.is_some(),
        has_package_json: root_json.is_some(),
    });
    let linking = Linking::detect(
        &root,
        package_manager,
        root_json
            .as_ref()
            .and_then(|j| j.package_manager.as_deref())
            .and_then(|field| field.split_once('@'))
            .map(|(_, version)| version),
        pnpm.as_ref()
            .and_then(|p| p.link_workspace_packages.as_ref())
            .map(|v| match v {
                serde_yaml::Value::Bool(b) => *b,
                other => other.as_str() == Some("deep"),
            }),
    );

    // pnpm reads only pnpm-workspace.yaml; the others only package.json `workspaces`.
    let npm_globs = root_json.as_ref().and_then(|j| j.workspaces.as_ref());
    let pm_globs: Vec<Pattern<'_>> = match (package_manager, &pnpm, npm_globs) {
        (crate::PackageManager::Pnpm, Some(p), _) | (_, Some(p), None) => {
            patterns(&p.packages, "pnpm-workspace.yaml", false)
        }
        (_, _, Some(w)) => patterns(w.globs(), "package.json", false),
        _ => Vec::new(),
    };
    let workspace_table = kiln
        .as_ref()
        .and_then(|k| k.workspace.as_ref())
        .map(|w| w.get_ref());
    let mut include = pm_globs;
    let mut exclude = Vec::new();
    if let Some(table) = workspace_table {
        include.extend(patterns(&table.members, "kiln.toml", true));
        exclude.extend(patterns(&table.exclude, "kiln.toml", true));
    }
    let dirs = members::expand(&root, &include, &exclude)?;
    if dirs.is_empty() && !include.is_empty() {
        let globs: Vec<String> = include
            .iter()
            .map(|p| format!("`{}` in {}", p.glob, p.file.display()))
            .collect();
        tracing::warn!(
            "the workspace globs ({}) match no directory with a package manifest",
            globs.join(", ")
        );
    }
    let has_cargo_workspace = cargo.as_ref().is_some_and(|c| c.workspace.is_some());
    let mut crates = match cargo {
        Some(CargoManifest {
            workspace: Some(ws),
            package,
        }) => cargo_members::crates(&root, &ws, package)?,
        _ => BTreeMap::new(),
    };
    // `kiln.toml`'s `exclude` removes members of every kind.
    let kiln_excludes = members::exclusions(&exclude)?;
    crates.retain(|dir, _| dir.is_empty() || !members::excluded(&kiln_excludes, dir));
    let cargo_lockfile = (!crates.is_empty() && root.join("Cargo.lock").is_file())
        .then(|| PathBuf::from("Cargo.lock"));
    let root_crate = crates.remove("");

    // One entry per member directory: listed by the package manager's or kiln's globs, a
    // crate, or both.
    let mut entries: BTreeMap<String, Entry> = dirs
        .into_iter()
        .map(|(dir, kiln)| {
            let entry = Entry {
                listed: Some(kiln),
                krate: None,
            };
            (dir, entry)
        })
        .collect();
    for (dir, krate) in crates {
        entries.entry(dir).or_default().krate = Some(krate);
    }
    let entries: Vec<(String, Entry)> = entries.into_iter().collect();
    let source = config_source(&root, kiln.is_some())?;
    let read: Vec<Result<Option<Member>, WorkspaceError>> = entries
        .into_par_iter()
        .map(|(dir, entry)| read_member(&root, &dir, entry, &source))
        .collect();
    let mut found = Vec::with_capacity(read.len() + 1);
    for member in read {
        found.extend(member?);
    }
    let mut root_folded_crate = None;
    if let Some(krate) = root_crate {
        if root_json.is_some() {
            tracing::warn!(
                "Cargo.toml: the root crate `{}` is the root package `//`, since there is a \
                 root package.json: define its tasks as `//#task`",
                krate.name
            );
            root_folded_crate = Some(krate);
        } else {
            found.push(Member {
                name: krate.name.clone(),
                manifest: krate.manifest.clone(),
                krate: Some(krate),
                ..Member::default()
            });
        }
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    for pair in found.windows(2) {
        if pair[0].name == pair[1].name {
            return Err(WorkspaceError::DuplicateName {
                name: pair[0].name.clone(),
                first: pair[0].manifest.clone(),
                second: pair[1].manifest.clone(),
            });
        }
    }

    let names: BTreeMap<&str, &str> = found
        .iter()
        .map(|m| (m.name.as_str(), m.dir.as_str()))
        .collect();
    let by_dir: BTreeMap<&str, &str> = found
        .iter()
        .map(|m| (m.dir.as_str(), m.name.as_str()))
        .collect();
    let known = Known {
        names: &names,
        by_dir: &by_dir,
        versions: found
            .iter()
            .map(|m| (m.name.as_str(), member_version(m)))
            .collect(),
        linking,
    };
    let mut packages = Vec::with_capacity(found.len() + 1);
    for m in &found {
        for (dep, span) in &m.kiln_deps {
            if !names.contains_key(dep.as_str()) {
                let (file, text) = m
                    .kiln_text
                    .as_ref()
                    .map_or((PathBuf::new(), ""), |(f, t)| (f.clone(), t));
                let msg = format!("`{dep}` is not a package of this workspace");
                return Err(
                    ConfigError::new(&file, text, span.clone(), msg, "unknown package").into(),
                );
            }
        }
        let (mut deps, external) = all_dependencies(m, &known);
        deps.extend(m.kiln_deps.iter().map(|(d, _)| d.clone()));
        packages.push(package(m, &m.name, deps, external));
    }

    let root_member = Member {
        name: kiln_core::ROOT_PACKAGE.to_string(),
        dir: String::new(),
        manifest: if root_json.is_some() {
            "package.json".into()
        } else if kiln.is_some() {
            "kiln.toml".into()
        } else if has_cargo_workspace {
            "Cargo.toml".into()
        } else {
            TURBO_FILES
                .iter()
                .find(|f| root.join(f).is_file())
                .unwrap_or(&"turbo.json")
                .to_string()
        },
        json: root_json,
        krate: root_folded_crate,
        ..Member::default()
    };
    let (root_deps, root_external) = all_dependencies(&root_member, &known);
    packages.push(package(
        &root_member,
        kiln_core::ROOT_PACKAGE,
        root_deps,
        root_external,
    ));
    packages.sort_by(|a, b| a.name.cmp(&b.name));

    let pipeline = pipeline(&root, source, kiln.as_ref(), &found)?;
    Ok(Workspace {
        root,
        package_manager,
        packages,
        lockfile,
        cargo_lockfile,
        pipeline,
    })
}

fn parse_pnpm(text: &str) -> Result<PnpmWorkspace, ConfigError> {
    if text.trim().is_empty() {
        return Ok(PnpmWorkspace {
            packages: Vec::new(),
            link_workspace_packages: None,
        });
    }
    serde_yaml::from_str(text).map_err(|e| {
        let at = e.location().map_or(0, |l| l.index());
        let message = e.to_string();
        let message = message
            .rsplit_once(" at line ")
            .map_or(message.as_str(), |(m, _)| m);
        ConfigError::new(
            Path::new("pnpm-workspace.yaml"),
            text,
            at..at + 1,
            message,
            "here",
        )
    })
}

fn patterns<'a>(globs: &'a [String], file: &'a str, kiln: bool) -> Vec<Pattern<'a>> {
    globs
        .iter()
        .map(|glob| Pattern {
            glob,
            file: Path::new(file),
            kiln,
        })
        .collect()
}

fn config_source(root: &Path, has_kiln: bool) -> std::io::Result<ConfigSource> {
    if has_kiln {
        return Ok(ConfigSource::Kiln("kiln.toml".into()));
    }
    let Some(found) = TURBO_FILES.iter().find(|f| root.join(f).exists()) else {
        return Ok(ConfigSource::Default);
    };
    let path = root.join(found);
    if !path.is_file() {
        // Skipping it would leave the pipeline empty and every task "not found".
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "{} is not a file: the pipeline is read from it",
                path.display()
            ),
        ));
    }
    Ok(ConfigSource::Turbo(found.into()))
}

/// What one member directory declares, before names are cross-checked.
#[derive(Default)]
struct Member {
    name: String,
    dir: String,
    manifest: String,
    json: Option<PackageJson>,
    /// `[package] dependencies` of a `kiln.toml`, with their spans for errors.
    kiln_deps: Vec<(String, std::ops::Range<usize>)>,
    kiln_text: Option<(PathBuf, String)>,
    kiln_tasks: BTreeMap<String, TaskDefinition>,
    /// The crate in this directory, when it is a member of the Cargo workspace.
    krate: Option<Crate>,
    /// A package-level `turbo.json` (relative path, text), parsed once the root's is known.
    turbo: Option<(PathBuf, String)>,
}

/// Why a directory is a member.
#[derive(Default)]
struct Entry {
    /// Matched by the package manager's globs or `kiln.toml`'s (`Some(true)` for the latter).
    listed: Option<bool>,
    /// A crate of the Cargo workspace.
    krate: Option<Crate>,
}

fn read_member(
    root: &Path,
    dir: &str,
    entry: Entry,
    source: &ConfigSource,
) -> Result<Option<Member>, WorkspaceError> {
    let abs = root.join(dir);
    let kiln_member = entry.listed == Some(true);
    let krate = entry.krate;
    let json_file = format!("{dir}/package.json");
    // A package.json where only Cargo looks is no npm member: npm would not link it.
    let mut json = match entry.listed {
        Some(_) => read_optional(&abs.join("package.json"))?
            .map(|text| manifest::parse(Path::new(&json_file), &text))
            .transpose()?,
        None => None,
    };
    let kiln_file = PathBuf::from(format!("{dir}/kiln.toml"));
    let kiln = match source {
        ConfigSource::Kiln(_) => read_optional(&abs.join("kiln.toml"))?
            .map(|text| kiln_toml::parse(&kiln_file, &text, Place::Member).map(|k| (k, text)))
            .transpose()?,
        _ => None,
    };
    let package_table = kiln.as_ref().and_then(|(k, _)| k.package.as_ref());
    let json_name = json.as_ref().and_then(|j| j.name.clone());
    let (name, manifest) = match (json_name, &krate, package_table) {
        (Some(name), krate, _) => {
            if let Some(krate) = krate {
                tracing::warn!(
                    "{dir} holds both a package.json and the crate `{}`: they are one package, \
                     `{name}` from package.json, which keeps the crate's workspace dependencies",
                    krate.name
                );
            }
            (name, json_file)
        }
        (None, Some(krate), _) => {
            // A nameless package.json beside a crate is not a package of its own.
            json = None;
            (krate.name.clone(), krate.manifest.clone())
        }
        (None, None, Some(table)) if kiln_member => {
            let default = dir.rsplit('/').next().unwrap_or(dir).to_string();
            (
                table.get_ref().name.clone().unwrap_or(default),
                kiln_file.display().to_string(),
            )
        }
        (None, None, _) => {
            if json.is_some() {
                // Turborepo skips such a file too (test fixtures, bundler output); say so,
                // since a package that silently vanishes is hard to track down.
                tracing::warn!("{json_file}: no \"name\", so not a workspace package; skipping it");
            }
            return Ok(None);
        }
    };
    if let (Some(table), Some((_, text))) = (package_table, &kiln)
        && let Some(other) = table.get_ref().name.as_ref().filter(|n| **n != name)
    {
        let msg = format!("[package] name `{other}` differs from `{name}` in {manifest}");
        return Err(
            ConfigError::new(&kiln_file, text, table.span(), msg, "conflicting name").into(),
        );
    }
    let turbo = match source {
        ConfigSource::Turbo(_) => {
            let mut found = None;
            for f in TURBO_FILES {
                if let Some(text) = read_optional(&abs.join(f))? {
                    found = Some((PathBuf::from(format!("{dir}/{f}")), text));
                    break;
                }
            }
            found
        }
        _ => None,
    };
    Ok(Some(Member {
        name,
        dir: dir.to_string(),
        manifest,
        json,
        kiln_deps: package_table
            .map(|t| {
                t.get_ref()
                    .dependencies
                    .iter()
                    .map(|d| (d.get_ref().clone(), d.span()))
                    .collect()
            })
            .unwrap_or_default(),
        kiln_tasks: kiln.as_ref().map(|(k, _)| k.tasks()).unwrap_or_default(),
        kiln_text: kiln.map(|(_, text)| (kiln_file, text)),
        turbo,
        krate,
    }))
}

/// What is known of the workspace's packages once every member is read.
struct Known<'a> {
    /// Name → directory.
    names: &'a BTreeMap<&'a str, &'a str>,
    /// Directory → name.
    by_dir: &'a BTreeMap<&'a str, &'a str>,
    versions: BTreeMap<&'a str, Option<&'a str>>,
    linking: Linking,
}

fn member_version(m: &Member) -> Option<&str> {
    match (&m.json, &m.krate) {
        (Some(j), _) => j.version.as_deref(),
        (None, Some(krate)) => krate.version.as_deref(),
        (None, None) => None,
    }
}

/// A member's dependencies from every manifest it has, split in two: the workspace packages
/// (unsorted) and the third-party ones, which come from the manifest that names the package
/// (`package.json` over `Cargo.toml`), so that they stay in one ecosystem.
fn all_dependencies(m: &Member, known: &Known<'_>) -> (Vec<String>, BTreeMap<String, String>) {
    let (mut internal, mut external) = dependencies(m.json.as_ref(), &m.dir, known);
    if let Some(krate) = &m.krate {
        let (crates, third_party) = cargo_members::split_dependencies(krate, known.by_dir);
        internal.extend(crates);
        if m.json.is_none() {
            external = third_party;
        }
    }
    (internal, external)
}

/// The manifest's dependency fields split in two: the workspace packages they link (sorted,
/// unique, not itself; see `linking.rs`), and the third-party ones (name → spec; a name in
/// several fields keeps its first spec, `dependencies` first, as lockfiles record it).
fn dependencies(
    json: Option<&PackageJson>,
    dir: &str,
    known: &Known<'_>,
) -> (Vec<String>, BTreeMap<String, String>) {
    let own = known.by_dir.get(dir).copied();
    let mut internal = Vec::new();
    let mut external = BTreeMap::new();
    for (key, spec) in json.into_iter().flat_map(PackageJson::dependency_specs) {
        let links = |name: &str| {
            let version = known.versions.get(name).copied().flatten();
            known.linking.links(spec, version)
        };
        let workspace_package = match manifest::target(key, spec) {
            Target::Name(name) => known
                .names
                .contains_key(name)
                .then_some(name)
                .filter(|n| links(n)),
            Target::Path(rel) => manifest::join_dir(dir, rel)
                .and_then(|d| known.by_dir.get(d.as_str()).copied())
                .filter(|n| links(n)),
            Target::External => None,
        };
        match workspace_package {
            Some(name) if Some(name) != own => internal.push(name.to_string()),
            Some(name) => {
                // Turborepo warns and drops the edge; a self-edge could only be a cycle.
                tracing::warn!(
                    "package `{name}` depends on itself (`{key}` in {}); ignored",
                    if dir.is_empty() {
                        "package.json".to_string()
                    } else {
                        format!("{dir}/package.json")
                    }
                );
            }
            None => {
                external
                    .entry(key.to_string())
                    .or_insert_with(|| spec.to_string());
            }
        }
    }
    internal.sort();
    internal.dedup();
    (internal, external)
}

fn package(
    m: &Member,
    name: &str,
    mut deps: Vec<String>,
    external_dependencies: BTreeMap<String, String>,
) -> Package {
    deps.sort();
    deps.dedup();
    deps.retain(|d| d != name);
    let json = m.json.as_ref();
    let version = match (json, &m.krate) {
        (Some(j), _) => j.version.clone(),
        (None, Some(krate)) => krate.version.clone(),
        (None, None) => None,
    };
    Package {
        name: PackageName::new(name),
        dir: m.dir.clone(),
        version,
        scripts: json.map(|j| j.scripts.clone()).unwrap_or_default(),
        dependencies: deps.into_iter().map(PackageName::new).collect(),
        manifest: m.manifest.clone(),
        kind: if m.json.is_some() {
            PackageKind::Node
        } else if m.krate.is_some() {
            PackageKind::Cargo
        } else {
            PackageKind::Kiln
        },
        external_dependencies,
    }
}

fn pipeline(
    root: &Path,
    source: ConfigSource,
    kiln: Option<&KilnToml>,
    members: &[Member],
) -> Result<Pipeline, WorkspaceError> {
    let mut pipeline = match (&source, kiln) {
        (ConfigSource::Kiln(_), Some(kiln)) => {
            let ws = kiln.workspace.as_ref().map(|w| w.get_ref());
            let mut p = Pipeline {
                tasks: kiln.tasks(),
                ..Pipeline::default()
            };
            if let Some(ws) = ws {
                p.global_dependencies = ws.global_inputs.clone();
                p.global_env = ws.global_env.clone();
                p.global_pass_through_env = ws.global_pass_through_env.clone();
                p.runner = ws.runner.into();
                p.env_mode = ws.env_mode.map(Into::into);
                p.framework_inference = ws.framework_inference;
            }
            for m in members.iter().filter(|m| !m.kiln_tasks.is_empty()) {
                p.package_tasks
                    .insert(PackageName::new(&m.name), m.kiln_tasks.clone());
            }
            p
        }
        (ConfigSource::Turbo(file), _) => {
            let text = fs_err::read_to_string(root.join(file))?;
            let mut p = turbo_json::parse_root(file, &text)?;
            for m in members {
                let Some((file, text)) = &m.turbo else {
                    continue;
                };
                let base = |task: &str| {
                    p.tasks
                        .get(&format!("{}#{task}", m.name))
                        .or_else(|| p.tasks.get(task))
                        .cloned()
                };
                let mut ignored = Vec::new();
                let tasks = turbo_json::parse_package(file, text, &base, &mut ignored)?;
                p.ignored_keys.extend(ignored);
                p.package_tasks.insert(PackageName::new(&m.name), tasks);
            }
            p
        }
        _ => Pipeline::default(),
    };
    pipeline.source = Some(source);
    Ok(pipeline)
}
