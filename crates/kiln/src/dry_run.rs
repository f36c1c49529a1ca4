//! `--dry-run`: what would run, with keys and cache status. The JSON form is the shape of
//! `turbo run --dry=json` (Turborepo 2.11: the same fields, `null` where it writes `null`),
//! so scripts written for it keep working, plus kiln's own fields under `kiln`; the run
//! summary of `--summarize` (see `run_summary.rs`) builds on the same document.
//!
//! Differences a script may notice: `hash` is kiln's 64-hex key; input digests are BLAKE3,
//! not git blob ids; `expandedOutputs` is empty (as in Turborepo's dry runs).

use std::collections::BTreeMap;
use std::io::Write;

use kiln_cache::LocalStore;
use kiln_graph::{TaskGraph, TaskNode};
use kiln_hash::{EnvPatterns, GlobalInputs};
use kiln_run::PlannedTask;
use kiln_workspace::{ConfigSource, PackageManager, Workspace};
use serde_json::{Value, json};
use sha2::Digest as _;

use crate::cli::DryRunFormat;

/// Turborepo's placeholder for a task whose package has no such script.
const NONEXISTENT: &str = "<NONEXISTENT>";

/// Turborepo's constant global cache key, kept for scripts that read it.
const ROOT_KEY: &str = "I can\u{2019}t see ya, but I know you\u{2019}re here";

/// Everything a dry run (or a run summary) describes.
pub(crate) struct RunView<'a> {
    pub(crate) ws: &'a Workspace,
    pub(crate) graph: &'a TaskGraph,
    /// The planned tasks, in graph order.
    pub(crate) hashed: &'a [PlannedTask<'a>],
    pub(crate) global: &'a GlobalInputs,
    /// The environment the run hashed.
    pub(crate) env: &'a BTreeMap<String, String>,
    /// The packages the filters selected.
    pub(crate) scope: &'a std::collections::BTreeSet<kiln_core::PackageName>,
    /// Whether the run had filters (the root package is then listed when selected).
    pub(crate) filtered: bool,
}

pub(crate) fn print(format: DryRunFormat, view: &RunView<'_>, store: &LocalStore) {
    let cached: Vec<bool> = view
        .hashed
        .iter()
        .map(|t| t.node.is_cacheable() && matches!(store.peek(&t.key.to_hex()), Ok(Some(_))))
        .collect();
    let mut out = std::io::stdout().lock();
    let _ = match format {
        DryRunFormat::Json => {
            let text = serde_json::to_string_pretty(&to_json(view, &cached)).unwrap_or_default();
            writeln!(out, "{text}")
        }
        DryRunFormat::Text => write_text(&mut out, view, &cached),
    };
}

fn directory<'w>(ws: &'w Workspace, node: &TaskNode) -> &'w str {
    ws.package(&node.id.package).map_or("", |p| p.dir.as_str())
}

fn write_text(out: &mut impl Write, view: &RunView<'_>, cached: &[bool]) -> std::io::Result<()> {
    let nodes = view.graph.nodes();
    let width = nodes
        .iter()
        .map(|n| n.id.to_string().len())
        .max()
        .unwrap_or(0);
    let hits = cached.iter().filter(|c| **c).count();
    writeln!(out, "Tasks to run: {} ({} cached)", nodes.len(), hits)?;
    for (h, cached) in view.hashed.iter().zip(cached) {
        let node = h.node;
        let status = if *cached { "HIT " } else { "MISS" };
        let dir = directory(view.ws, node);
        let dir = if dir.is_empty() { "." } else { dir };
        let command = node.task.command.as_deref().unwrap_or(NONEXISTENT);
        writeln!(
            out,
            "  {:width$}  {status}  {}  {dir}  {command}",
            node.id.to_string(),
            &h.key.to_hex()[..16],
        )?;
    }
    Ok(())
}

/// The whole `--dry=json` document; `cached[i]`: whether task `i`'s key is in the cache.
pub(crate) fn to_json(view: &RunView<'_>, cached: &[bool]) -> Value {
    let ws = view.ws;
    // The packages in scope, as Turborepo lists them: the root when a filter chose it or it
    // has a task of its own (every run without a filter has it in scope, unlisted).
    let root_listed = view.filtered || view.graph.nodes().iter().any(|n| n.id.package.is_root());
    let packages: Vec<&str> = view
        .scope
        .iter()
        .filter(|p| root_listed || !p.is_root())
        .map(|p| p.as_str())
        .collect();
    let tasks: Vec<Value> = (0..view.graph.len())
        .map(|i| task_json(view, i, cached[i]))
        .collect();
    let pipeline = &ws.pipeline;
    let global_pass = pipeline.global_pass_through_env.as_ref();
    let root_external = ws
        .package(&kiln_core::PackageName::root())
        .map(|_| external_digest(&root_external(view)))
        .unwrap_or_default();
    json!({
        "id": null,
        "version": "1",
        "kilnVersion": env!("CARGO_PKG_VERSION"),
        "monorepo": true,
        "globalCacheInputs": {
            "rootKey": ROOT_KEY,
            "files": view.global.files.iter().map(|(k, v)| (k.clone(), v.to_hex())).collect::<BTreeMap<_, _>>(),
            "hashOfExternalDependencies": root_external,
            "hashOfInternalDependencies": "",
            "environmentVariables": {
                "specified": {
                    "env": deduplicated(&pipeline.global_env),
                    "passThroughEnv": global_pass.map(|p| deduplicated(p)),
                },
                "configured": hashed_values(&pipeline.global_env, view.env),
                "inferred": [],
                "passthrough": global_pass.map(|p| hashed_values(p, view.env)),
            },
            "engines": null,
        },
        "packageManager": package_manager(ws.package_manager),
        "packages": packages,
        "envMode": pipeline.env_mode.unwrap_or_default().as_str(),
        "frameworkInference": pipeline.framework_inference != Some(false),
        "tasks": tasks,
        "user": "",
        "scm": scm(ws),
    })
}

fn root_external(view: &RunView<'_>) -> BTreeMap<String, String> {
    view.hashed
        .iter()
        .find(|t| t.id().package.is_root())
        .map(|t| t.manifest.external.clone())
        .unwrap_or_default()
}

fn task_json(view: &RunView<'_>, i: usize, cached: bool) -> Value {
    let (ws, graph) = (view.ws, view.graph);
    let hashed = &view.hashed[i];
    let node = hashed.node;
    let task = &node.task;
    let id = &node.id;
    let dir = directory(ws, node);
    let (outputs, excluded): (Vec<&String>, Vec<&String>) =
        task.outputs.iter().partition(|o| !o.starts_with('!'));
    let mut outputs: Vec<&str> = outputs.iter().map(|o| o.as_str()).collect();
    let mut excluded: Vec<&str> = excluded.iter().map(|o| &o[1..]).collect();
    outputs.sort_unstable();
    excluded.sort_unstable();
    let deps: Vec<String> = graph.dependencies(id).map(|d| d.to_string()).collect();
    let dependents: Vec<String> = graph.dependents(id).map(|d| d.to_string()).collect();
    let written = ws.task_definition(&id.package, id.task.as_str());
    let pass_through = written
        .as_ref()
        .and_then(|d| d.pass_through_env.as_ref())
        .map(|_| sorted(&task.pass_through_env));
    let inferred_patterns =
        kiln_run::task_env::inferred_env(ws, node, |n| view.env.get(n).cloned());
    // As Turborepo writes them: without `$TURBO_DEFAULT$`, `$TURBO_ROOT$/x` from the package.
    let mut inputs: Vec<String> = task
        .inputs
        .iter()
        .filter(|g| *g != kiln_hash::TURBO_DEFAULT)
        .map(|g| {
            let (bang, glob) = g.strip_prefix('!').map_or(("", g.as_str()), |r| ("!", r));
            match glob.strip_prefix(kiln_run::TURBO_ROOT) {
                Some(rel) => format!("{bang}{}", relative_to(dir, rel)),
                None => g.clone(),
            }
        })
        .collect();
    inputs.sort();
    let mut value = json!({
        "taskId": id.to_string(),
        "task": id.task.as_str(),
        "package": id.package.as_str(),
        "hash": hashed.key.to_hex(),
        "inputs": turbo_inputs(dir, &hashed.manifest.files),
        "hashOfExternalDependencies": external_digest(&hashed.manifest.external),
        "cache": cache_json(cached),
        "command": task.command.as_deref().unwrap_or(NONEXISTENT),
        "cliArguments": node.args,
        "outputs": (!outputs.is_empty()).then_some(outputs),
        "excludedOutputs": (!excluded.is_empty()).then_some(excluded),
        "directory": dir,
        "dependencies": deps,
        "dependents": dependents,
        "with": task.with,
        "resolvedTaskDefinition": {
            "outputs": sorted(&task.outputs),
            "cache": task.cache,
            "dependsOn": sorted(&task.depends_on),
            "inputs": inputs,
            "outputLogs": task.output_logs.as_str(),
            "persistent": task.persistent,
            "interruptible": false,
            "env": sorted(&task.env),
            "passThroughEnv": pass_through,
            "interactive": false,
        },
        "expandedOutputs": [],
        "framework": task.framework.map_or("", |f| f.slug),
        "envMode": task.env_mode.as_str(),
        "environmentVariables": {
            "specified": { "env": sorted(&task.env), "passThroughEnv": pass_through },
            "configured": hashed_values(&task.env, view.env),
            "inferred": hashed_values(&inferred_patterns, view.env),
            "passthrough": pass_through.as_ref().map(|_| hashed_values(&task.pass_through_env, view.env)),
        },
        "kiln": {
            "cacheable": node.is_cacheable(),
            "env": hashed.manifest.env,
            "global": hashed.manifest.global.to_hex(),
            "definition": hashed.manifest.definition.to_hex(),
        },
    });
    if task.cache
        && let Some(fields) = value.as_object_mut()
    {
        fields.insert("logFile".into(), json!(log_file(dir, id.task.as_str())));
    }
    value
}

/// Where Turborepo keeps a task's log (root-relative), and kiln too in a repository with a
/// `turbo.json`.
pub(crate) fn log_file(dir: &str, task: &str) -> String {
    let file = format!(".turbo/{}", kiln_run::turbo_log_name(task));
    if dir.is_empty() {
        file
    } else {
        format!("{dir}/{file}")
    }
}

fn cache_json(cached: bool) -> Value {
    if cached {
        json!({ "local": true, "remote": false, "status": "HIT", "source": "LOCAL", "timeSaved": 0 })
    } else {
        json!({ "local": false, "remote": false, "status": "MISS", "timeSaved": 0 })
    }
}

/// `{type, sha, branch}` of the repository, as Turborepo reports it.
fn scm(ws: &Workspace) -> Value {
    let Ok(git) = kiln_scm::Git::open(&ws.root) else {
        return json!({ "type": "manual", "sha": null, "branch": null });
    };
    let sha = git.commit_of("HEAD").ok().flatten().unwrap_or_default();
    let branch = git.current_branch().ok().flatten().unwrap_or_default();
    json!({ "type": "git", "sha": sha, "branch": branch })
}

/// `NAME=<sha256 hex of the value>` for each set variable the patterns select, sorted, as
/// Turborepo prints them (values never appear).
fn hashed_values(patterns: &[String], env: &BTreeMap<String, String>) -> Vec<String> {
    let split = EnvPatterns::new(patterns);
    env.iter()
        .filter(|(name, _)| split.matches(name))
        .map(|(name, value)| {
            if value.is_empty() {
                format!("{name}=")
            } else {
                format!("{name}={:x}", sha2::Sha256::digest(value.as_bytes()))
            }
        })
        .collect()
}

fn sorted(list: &[String]) -> Vec<String> {
    let mut list = list.to_vec();
    list.sort();
    list
}

fn deduplicated(list: &[String]) -> Vec<String> {
    let mut list = sorted(list);
    list.dedup();
    list
}

/// The input files named as Turborepo names them: relative to the package, so that a file of
/// another package (an input written `../other/x` or `$TURBO_ROOT$/…`, kept root-relative
/// in the manifest) reads `../other/x`.
fn turbo_inputs(
    dir: &str,
    files: &BTreeMap<String, kiln_hash::Digest>,
) -> BTreeMap<String, String> {
    files
        .iter()
        .map(|(path, digest)| {
            let name = match path.strip_prefix(kiln_run::TURBO_ROOT) {
                Some(root_rel) => relative_to(dir, root_rel),
                None => path.clone(),
            };
            (name, digest.to_hex())
        })
        .collect()
}

/// `path` (root-relative) as seen from directory `dir` (root-relative): `../b/x` from `a`.
fn relative_to(dir: &str, path: &str) -> String {
    let from: Vec<&str> = dir.split('/').filter(|c| !c.is_empty()).collect();
    let to: Vec<&str> = path.split('/').collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<&str> = vec![".."; from.len() - common];
    parts.extend(&to[common..]);
    parts.join("/")
}

pub(crate) fn package_manager(pm: PackageManager) -> &'static str {
    match pm {
        PackageManager::Npm => "npm",
        PackageManager::Yarn => "yarn",
        PackageManager::Pnpm => "pnpm",
        PackageManager::Bun => "bun",
        PackageManager::None => "none",
    }
}

/// One digest for a package's resolved third-party versions (Turborepo's field).
fn external_digest(external: &BTreeMap<String, String>) -> String {
    let mut hasher = blake3::Hasher::new();
    for (name, version) in external {
        hasher.update(name.as_bytes());
        hasher.update(b"\0");
        hasher.update(version.as_bytes());
        hasher.update(b"\n");
    }
    hasher.finalize().to_hex()[..16].to_string()
}

/// Whether task logs go to `.turbo/turbo-<task>.log` as Turborepo writes them.
pub(crate) fn writes_turbo_logs(ws: &Workspace) -> bool {
    matches!(ws.pipeline.source, Some(ConfigSource::Turbo(_)))
}

#[cfg(test)]
mod tests {
    use super::relative_to;

    #[test]
    fn root_paths_read_relative_to_the_package() {
        assert_eq!(
            relative_to("packages/app", "packages/other/src/x.json"),
            "../other/src/x.json"
        );
        assert_eq!(
            relative_to("packages/app", "tsconfig.json"),
            "../../tsconfig.json"
        );
        assert_eq!(relative_to("", "a/b"), "a/b");
        assert_eq!(relative_to("a", "a/b"), "b");
    }
}
