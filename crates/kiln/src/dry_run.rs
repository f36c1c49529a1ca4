//! `--dry-run`: what would run, with keys and cache status. The JSON form carries the
//! fields of `turbo run --dry=json` (so scripts written for it keep working) plus kiln's own
//! under `kiln`.

use std::io::Write;

use kiln_cache::LocalStore;
use kiln_graph::TaskGraph;
use kiln_run::HashedTask;
use kiln_workspace::{PackageManager, Workspace};
use serde_json::{Value, json};

use crate::cli::DryRunFormat;

/// Turborepo's placeholder for a task whose package has no such script.
const NONEXISTENT: &str = "<NONEXISTENT>";

pub(crate) fn print(
    format: DryRunFormat,
    ws: &Workspace,
    graph: &TaskGraph,
    hashed: &[HashedTask],
    store: &LocalStore,
) {
    let rows: Vec<Row<'_>> = graph
        .nodes()
        .iter()
        .zip(hashed)
        .map(|(node, h)| {
            let cacheable = node.is_cacheable();
            let cached = cacheable && matches!(store.peek(&h.key.to_hex()), Ok(Some(_)));
            Row {
                node,
                hashed: h,
                cached,
            }
        })
        .collect();
    let mut out = std::io::stdout().lock();
    let _ = match format {
        DryRunFormat::Json => {
            let text = serde_json::to_string_pretty(&to_json(ws, graph, &rows)).unwrap_or_default();
            writeln!(out, "{text}")
        }
        DryRunFormat::Text => write_text(&mut out, ws, &rows),
    };
}

struct Row<'a> {
    node: &'a kiln_graph::TaskNode,
    hashed: &'a HashedTask,
    cached: bool,
}

fn directory(ws: &Workspace, row: &Row<'_>) -> String {
    ws.package(&row.node.id.package)
        .map(|p| p.dir.clone())
        .unwrap_or_default()
}

fn write_text(out: &mut impl Write, ws: &Workspace, rows: &[Row<'_>]) -> std::io::Result<()> {
    let width = rows
        .iter()
        .map(|r| r.node.id.to_string().len())
        .max()
        .unwrap_or(0);
    let cached = rows.iter().filter(|r| r.cached).count();
    writeln!(out, "Tasks to run: {} ({} cached)", rows.len(), cached)?;
    for r in rows {
        let status = if r.cached { "HIT " } else { "MISS" };
        let dir = directory(ws, r);
        let dir = if dir.is_empty() { "." } else { dir.as_str() };
        let command = r.node.task.command.as_deref().unwrap_or(NONEXISTENT);
        writeln!(
            out,
            "  {:width$}  {status}  {}  {dir}  {command}",
            r.node.id.to_string(),
            &r.hashed.key.to_hex()[..16],
        )?;
    }
    Ok(())
}

fn to_json(ws: &Workspace, graph: &TaskGraph, rows: &[Row<'_>]) -> Value {
    let mut packages: Vec<&str> = rows.iter().map(|r| r.node.id.package.as_str()).collect();
    packages.sort_unstable();
    packages.dedup();
    let tasks: Vec<Value> = rows.iter().map(|r| task_json(ws, graph, r)).collect();
    json!({
        "id": null,
        "version": "1",
        "kilnVersion": env!("CARGO_PKG_VERSION"),
        "monorepo": true,
        "packageManager": package_manager(ws.package_manager),
        "packages": packages,
        "envMode": "loose",
        "tasks": tasks,
    })
}

fn task_json(ws: &Workspace, graph: &TaskGraph, r: &Row<'_>) -> Value {
    let task = &r.node.task;
    let id = &r.node.id;
    let (outputs, excluded): (Vec<&String>, Vec<&String>) =
        task.outputs.iter().partition(|o| !o.starts_with('!'));
    let excluded: Vec<&str> = excluded.iter().map(|o| &o[1..]).collect();
    let deps: Vec<String> = graph.dependencies(id).map(|d| d.to_string()).collect();
    let dependents: Vec<String> = graph.dependents(id).map(|d| d.to_string()).collect();
    let saved_ms = 0;
    json!({
        "taskId": id.to_string(),
        "task": id.task.as_str(),
        "package": id.package.as_str(),
        "hash": r.hashed.key.to_hex(),
        "inputs": r.hashed.manifest.files,
        "hashOfExternalDependencies": external_digest(&r.hashed.manifest.external),
        "cache": {
            "local": r.cached,
            "remote": false,
            "status": if r.cached { "HIT" } else { "MISS" },
            "source": if r.cached { Value::from("LOCAL") } else { Value::Null },
            "timeSaved": saved_ms,
        },
        "command": task.command.as_deref().unwrap_or(NONEXISTENT),
        "cliArguments": [],
        "outputs": outputs,
        "excludedOutputs": excluded,
        "directory": directory(ws, r),
        "dependencies": deps,
        "dependents": dependents,
        "resolvedTaskDefinition": {
            "outputs": task.outputs,
            "cache": task.cache,
            "dependsOn": task.depends_on,
            "inputs": task.inputs,
            "outputLogs": "full",
            "persistent": task.persistent,
            "env": task.env,
            "passThroughEnv": task.pass_through_env,
            "interactive": false,
        },
        "environmentVariables": {
            "specified": { "env": task.env, "passThroughEnv": task.pass_through_env },
            "configured": r.hashed.manifest.env.keys().collect::<Vec<_>>(),
        },
        "kiln": {
            "cacheable": r.node.is_cacheable(),
            "env": r.hashed.manifest.env,
            "global": r.hashed.manifest.global.to_hex(),
            "definition": r.hashed.manifest.definition.to_hex(),
        },
    })
}

fn package_manager(pm: PackageManager) -> &'static str {
    match pm {
        PackageManager::Npm => "npm",
        PackageManager::Yarn => "yarn",
        PackageManager::Pnpm => "pnpm",
        PackageManager::Bun => "bun",
        PackageManager::None => "none",
    }
}

/// One digest for a package's resolved third-party versions (Turborepo's field).
fn external_digest(external: &std::collections::BTreeMap<String, String>) -> String {
    let mut hasher = blake3::Hasher::new();
    for (name, version) in external {
        hasher.update(name.as_bytes());
        hasher.update(b"\0");
        hasher.update(version.as_bytes());
        hasher.update(b"\n");
    }
    hasher.finalize().to_hex()[..16].to_string()
}
