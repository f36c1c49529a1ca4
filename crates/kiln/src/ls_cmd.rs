//! `kiln ls`: the workspace's packages as `turbo ls` lists them (text, or `--json` /
//! `--output=json`), filtered like a run; with package names, each one's directory,
//! dependencies and tasks.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;

use kiln_core::PackageName;
use kiln_graph::PackageGraph;
use kiln_workspace::Workspace;
use serde_json::json;

use crate::cli::{LsArgs, LsOutput};
use crate::dry_run::package_manager;
use crate::exit::Exit;

pub(crate) fn run(cwd: &Path, args: &LsArgs) -> Result<i32, Exit> {
    let ws = Workspace::discover(cwd).map_err(Exit::diagnostic)?;
    let json_output = args.json || args.output == Some(LsOutput::Json);
    let graph = PackageGraph::new(&ws.packages);
    let mut out = std::io::stdout().lock();
    if !args.packages.is_empty() {
        return describe(&ws, &args.packages, json_output, &mut out);
    }
    let mut selected = crate::selection::packages(&ws, &graph, cwd, &args.filters)?;
    if args.affected {
        let change = crate::affected_cmd::Change::detect(&ws, &args.range.clone().into())?;
        let affected = change.packages(&ws)?;
        selected.retain(|p| affected.contains_key(p));
    }
    selected.remove(&PackageName::root());
    let pm = package_manager(ws.package_manager);
    let rows: Vec<(&str, &str)> = ws
        .packages
        .iter()
        .filter(|p| selected.contains(&p.name))
        .map(|p| (p.name.as_str(), p.dir.as_str()))
        .collect();
    if json_output {
        let items: Vec<_> = rows
            .iter()
            .map(|(name, path)| json!({ "name": name, "path": path }))
            .collect();
        let value = json!({
            "packageManager": pm,
            "packages": { "count": items.len(), "items": items },
        });
        let _ = writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        );
        return Ok(0);
    }
    let noun = if rows.len() == 1 {
        "package"
    } else {
        "packages"
    };
    let _ = writeln!(out, "{} {noun} ({pm})\n", rows.len());
    for (name, path) in rows {
        let _ = writeln!(out, "  {name} {path}");
    }
    Ok(0)
}

/// `kiln ls web ui`: each package's directory, dependencies, dependents and tasks (every
/// task the pipeline defines, with the package's command for it, empty when it has none).
fn describe(
    ws: &Workspace,
    names: &[String],
    json_output: bool,
    out: &mut impl Write,
) -> Result<i32, Exit> {
    let tasks = crate::suggest::task_names(ws);
    let mut described = Vec::new();
    for name in names {
        let known: Vec<String> = ws.packages.iter().map(|p| p.name.to_string()).collect();
        let Some(package) = ws.package(&PackageName::new(name.as_str())) else {
            let hint = crate::suggest::closest(name, &known)
                .map(|n| format!("; did you mean `{n}`?"))
                .unwrap_or_default();
            return Err(Exit::user(format!("package `{name}` not found{hint}")));
        };
        let dependents: BTreeSet<String> = ws
            .packages
            .iter()
            .filter(|p| p.dependencies.contains(&package.name))
            .map(|p| p.name.to_string())
            .collect();
        let commands: Vec<(String, String)> = tasks
            .iter()
            .filter(|t| ws.task_definition(&package.name, t).is_some())
            .map(|t| {
                let command = ws
                    .resolve_task(&package.name, t)
                    .and_then(|r| r.command)
                    .unwrap_or_default();
                (t.clone(), command)
            })
            .collect();
        described.push((package, dependents, commands));
    }
    if json_output {
        let packages: Vec<_> = described
            .iter()
            .map(|(p, dependents, commands)| {
                let items: Vec<_> = commands
                    .iter()
                    .map(|(name, command)| json!({ "name": name, "command": command }))
                    .collect();
                json!({
                    "name": p.name.as_str(),
                    "path": p.dir,
                    "tasks": { "count": items.len(), "items": items },
                    "dependencies": p.dependencies.iter().map(|d| d.as_str()).collect::<Vec<_>>(),
                    "dependents": dependents,
                })
            })
            .collect();
        let value = json!({ "packages": packages });
        let _ = writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        );
        return Ok(0);
    }
    for (i, (p, _, commands)) in described.iter().enumerate() {
        if i > 0 {
            let _ = writeln!(out);
        }
        let deps: Vec<&str> = p.dependencies.iter().map(|d| d.as_str()).collect();
        let deps = if deps.is_empty() {
            "<no packages>".to_string()
        } else {
            deps.join(", ")
        };
        let _ = writeln!(out, "{}\n{} depends on: {deps}\n\ntasks:", p.dir, p.name);
        for (name, command) in commands {
            let _ = writeln!(out, "  {name}: {command}");
        }
    }
    Ok(0)
}
