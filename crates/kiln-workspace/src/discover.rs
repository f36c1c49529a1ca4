//! [`Workspace::discover`]: from a directory to the workspace around it.
//!
//! Order of work: find the root (walking up), read the root's files (`package.json`,
//! `kiln.toml`, `pnpm-workspace.yaml`), pick the package manager, expand the package globs,
//! read every member's manifest and package-level config (in parallel: with thousands of
//! packages the reads and JSON parsing dominate), then resolve internal dependencies once
//! every name is known, and read the pipeline.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use kiln_core::PackageName;
use rayon::prelude::*;
use serde::Deserialize;

use crate::error::ConfigError;
use crate::kiln_toml::{self, KilnToml, Place};
use crate::manifest::{self, PackageJson, Target};
use crate::members::{self, Pattern};
use crate::package_manager::{self, Evidence};
use crate::{
    ConfigSource, Package, PackageKind, Pipeline, TaskDefinition, Workspace, WorkspaceError,
    turbo_json,
};

const TURBO_FILES: [&str; 2] = ["turbo.json", "turbo.jsonc"];

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

/// The nearest ancestor that declares a workspace, else the nearest with a `turbo.json`.
fn find_root(start: &Path) -> Result<Option<PathBuf>, WorkspaceError> {
    let mut turbo_dir = None;
    for dir in start.ancestors() {
        if let Some(text) = read_optional(&dir.join("kiln.toml"))? {
            let file = dir.join("kiln.toml");
            let table: toml::Table = toml::from_str(&text).map_err(|e| {
                let span = e.span().unwrap_or(0..1);
                ConfigError::new(&file, &text, span, e.message().trim_end(), "here")
            })?;
            if table.contains_key("workspace") {
                return Ok(Some(dir.to_path_buf()));
            }
        }
        if dir.join("pnpm-workspace.yaml").is_file() {
            return Ok(Some(dir.to_path_buf()));
        }
        let file = dir.join("package.json");
        if let Some(text) = read_optional(&file)?
            && manifest::parse(&file, &text)?.workspaces.is_some()
        {
            return Ok(Some(dir.to_path_buf()));
        }
        if turbo_dir.is_none() && TURBO_FILES.iter().any(|f| dir.join(f).is_file()) {
            turbo_dir = Some(dir.to_path_buf());
        }
    }
    Ok(turbo_dir)
}

/// The file's text, `None` when it does not exist.
fn read_optional(path: &Path) -> io::Result<Option<String>> {
    match fs_err::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        // A start path that is a file makes `file/package.json` "not a directory".
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
struct PnpmWorkspace {
    #[serde(default)]
    packages: Vec<String>,
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

    let (package_manager, lockfile) = package_manager::detect(&Evidence {
        root: &root,
        package_manager_field: root_json
            .as_ref()
            .and_then(|j| j.package_manager.as_deref()),
        has_pnpm_workspace: pnpm.is_some(),
        has_package_json: root_json.is_some(),
    });

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

    let source = config_source(&root, kiln.is_some());
    let read: Vec<Result<Option<Member>, WorkspaceError>> = dirs
        .par_iter()
        .map(|(dir, kiln_member)| read_member(&root, dir, *kiln_member, &source))
        .collect();
    let mut found = Vec::with_capacity(read.len());
    for member in read {
        found.extend(member?);
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    for pair in found.windows(2) {
        if pair[0].name == pair[1].name {
            return Err(WorkspaceError::DuplicateName {
                name: pair[0].name.clone(),
                first: pair[0].dir.clone(),
                second: pair[1].dir.clone(),
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
        let (mut deps, external) = dependencies(m.json.as_ref(), &m.dir, &names, &by_dir);
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
        } else {
            TURBO_FILES
                .iter()
                .find(|f| root.join(f).is_file())
                .unwrap_or(&"turbo.json")
                .to_string()
        },
        json: root_json,
        ..Member::default()
    };
    let (root_deps, root_external) = dependencies(root_member.json.as_ref(), "", &names, &by_dir);
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
        cargo_lockfile: None,
        pipeline,
    })
}

fn parse_pnpm(text: &str) -> Result<PnpmWorkspace, ConfigError> {
    if text.trim().is_empty() {
        return Ok(PnpmWorkspace {
            packages: Vec::new(),
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

fn config_source(root: &Path, has_kiln: bool) -> ConfigSource {
    if has_kiln {
        return ConfigSource::Kiln("kiln.toml".into());
    }
    TURBO_FILES
        .iter()
        .find(|f| root.join(f).is_file())
        .map_or(ConfigSource::Default, |f| ConfigSource::Turbo(f.into()))
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
    /// A package-level `turbo.json` (relative path, text), parsed once the root's is known.
    turbo: Option<(PathBuf, String)>,
}

fn read_member(
    root: &Path,
    dir: &str,
    kiln_member: bool,
    source: &ConfigSource,
) -> Result<Option<Member>, WorkspaceError> {
    let abs = root.join(dir);
    let json_file = format!("{dir}/package.json");
    let json = read_optional(&abs.join("package.json"))?
        .map(|text| manifest::parse(Path::new(&json_file), &text))
        .transpose()?;
    let kiln_file = PathBuf::from(format!("{dir}/kiln.toml"));
    let kiln = match source {
        ConfigSource::Kiln(_) => read_optional(&abs.join("kiln.toml"))?
            .map(|text| kiln_toml::parse(&kiln_file, &text, Place::Member).map(|k| (k, text)))
            .transpose()?,
        _ => None,
    };
    let package_table = kiln.as_ref().and_then(|(k, _)| k.package.as_ref());
    let json_name = json.as_ref().and_then(|j| j.name.clone());
    let (name, manifest) = match (json_name, package_table) {
        (Some(name), _) => (name, json_file),
        (None, Some(table)) if kiln_member => {
            let default = dir.rsplit('/').next().unwrap_or(dir).to_string();
            (
                table.get_ref().name.clone().unwrap_or(default),
                kiln_file.display().to_string(),
            )
        }
        (None, _) => {
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
        let msg = format!("[package] name `{other}` differs from package.json's `{name}`");
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
    }))
}

/// The manifest's dependency fields split in two: the workspace packages they name (sorted,
/// unique, not itself), and the third-party ones (name → spec).
fn dependencies(
    json: Option<&PackageJson>,
    dir: &str,
    names: &BTreeMap<&str, &str>,
    by_dir: &BTreeMap<&str, &str>,
) -> (Vec<String>, BTreeMap<String, String>) {
    let own = by_dir.get(dir).copied();
    let mut internal = Vec::new();
    let mut external = BTreeMap::new();
    for (key, spec) in json.into_iter().flat_map(PackageJson::dependency_specs) {
        let workspace_package = match manifest::target(key, spec) {
            Target::Name(name) => names.contains_key(name).then_some(name),
            Target::Path(rel) => {
                manifest::join_dir(dir, rel).and_then(|d| by_dir.get(d.as_str()).copied())
            }
            Target::External => None,
        };
        match workspace_package {
            Some(name) if Some(name) != own => internal.push(name.to_string()),
            Some(_) => {}
            None => {
                external.insert(key.to_string(), spec.to_string());
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
    Package {
        name: PackageName::new(name),
        dir: m.dir.clone(),
        version: json.and_then(|j| j.version.clone()),
        scripts: json.map(|j| j.scripts.clone()).unwrap_or_default(),
        dependencies: deps.into_iter().map(PackageName::new).collect(),
        manifest: m.manifest.clone(),
        kind: if m.json.is_some() || m.dir.is_empty() {
            PackageKind::Node
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
                let tasks = turbo_json::parse_package(file, text, &base)?;
                p.package_tasks.insert(PackageName::new(&m.name), tasks);
            }
            p
        }
        _ => Pipeline::default(),
    };
    pipeline.source = Some(source);
    Ok(pipeline)
}
