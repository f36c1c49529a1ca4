//! `kiln why <pkg#task>`: would the task run, and why — down to the root cause.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;

use kiln_core::{PackageName, TaskId, TaskName};
use kiln_graph::TaskGraph;
use kiln_hash::ChangeReason;
use kiln_state::{BuildState, Explainer, Explanation};
use kiln_workspace::Workspace;
use serde_json::json;

use crate::exit::Exit;
use kiln_run::hash_plan;

pub(crate) fn run(cwd: &Path, task: &str, json_output: bool) -> Result<i32, Exit> {
    let ws = Workspace::discover(cwd).map_err(Exit::diagnostic)?;
    let id = task_id(&ws, cwd, task)?;
    if ws.package(&id.package).is_none() {
        return Err(Exit::user(format!(
            "no package named `{}` in the workspace",
            id.package
        )));
    }
    let scope: BTreeSet<PackageName> = [id.package.clone()].into();
    let graph = TaskGraph::build(&ws, &[TaskName::new(id.task.as_str())], &scope)
        .map_err(|e| Exit::user(e.to_string()))?;
    if !graph.contains(&id) {
        return Err(Exit::user(format!(
            "`{id}` is not a task: `{}` defines no `{}` task",
            id.package, id.task
        )));
    }
    let (plan, _) = hash_plan(&ws, &graph, &kiln_hash::process_env())?;
    let state = BuildState::new(&kiln_core::Layout::of(&ws.root).state());
    let explainer = Explainer::new(&state, plan.tasks.iter().map(|t| &t.manifest), &plan.global);
    let explanation = explainer
        .explain(&id)
        .ok_or_else(|| Exit::Internal(format!("`{id}` was planned but not hashed")))?;
    let store = kiln_run::open_local_store(&ws, None)?;
    let key = match &explanation {
        Explanation::NeverRun { key, .. } | Explanation::Unchanged { key, .. } => *key,
        Explanation::Changed { to, .. } | Explanation::Unrecorded { to, .. } => *to,
    };
    let node = graph.node(&id);
    let cacheable = node.is_some_and(|n| n.is_cacheable());
    let cached = cacheable && matches!(store.peek(&key.to_hex()), Ok(Some(_)));
    let last = state.task(&id).and_then(|s| s.last().cloned());

    let mut out = std::io::stdout().lock();
    if json_output {
        let causes: Vec<_> = explanation
            .root_causes()
            .into_iter()
            .map(|(chain, reason)| {
                json!({
                    "chain": chain.iter().map(ToString::to_string).collect::<Vec<_>>(),
                    "reason": reason,
                    "message": leaf(&ws, chain.last().unwrap_or(&id), &reason),
                })
            })
            .collect();
        let value = json!({
            "task": id.to_string(),
            "key": key.to_hex(),
            "cacheable": cacheable,
            "in_cache": cached,
            "last_run": last.as_ref().map(|r| json!({
                "key": r.key.to_hex(),
                "finished_unix_ms": r.finished_unix_ms,
                "duration_ms": r.duration_ms,
                "cached": r.cached,
            })),
            "explanation": explanation,
            "root_causes": causes,
        });
        let _ = writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        );
        return Ok(0);
    }

    let verdict = match (&explanation, cacheable, cached) {
        (_, false, _) => "would run: it is never cached".to_string(),
        (_, true, true) => "would be a cache hit (its key is in the local cache)".to_string(),
        (Explanation::Unchanged { .. }, true, false) => {
            "would run: its inputs are unchanged since its last successful run, but that \
             result is not in the local cache (evicted or cleared)"
                .to_string()
        }
        (_, true, false) => "would run (its key is not in the local cache)".to_string(),
    };
    let _ = writeln!(out, "{id} {verdict}");
    match &last {
        Some(run) => {
            let _ = writeln!(
                out,
                "  last success: {} ago, key {} ({})",
                crate::console::fmt_ago(run.finished_unix_ms),
                short(&run.key.to_hex()),
                if run.cached { "from the cache" } else { "ran" }
            );
        }
        None => {
            let _ = writeln!(out, "  last success: none recorded");
        }
    }
    let _ = writeln!(out, "  key now:      {}", short(&key.to_hex()));
    match &explanation {
        Explanation::NeverRun { .. } => {
            let _ = writeln!(out, "\nNo earlier successful run to compare with.");
        }
        Explanation::Unchanged { .. } => {
            let _ = writeln!(out, "\nNothing changed since its last successful run.");
        }
        Explanation::Unrecorded { .. } => {
            let _ = writeln!(
                out,
                "\nIts inputs changed, but those of its last run are no longer recorded."
            );
        }
        Explanation::Changed { .. } => {
            let _ = writeln!(out, "\nWhat changed since its last successful run:");
            print_tree(&mut out, &explanation, 1, &mut Default::default());
            let causes = explanation.root_causes();
            if !causes.is_empty() {
                let _ = writeln!(
                    out,
                    "\nRoot cause{}:",
                    if causes.len() > 1 { "s" } else { "" }
                );
                for (chain, reason) in &causes {
                    let mut parts: Vec<String> = chain.iter().map(ToString::to_string).collect();
                    parts.push(leaf(&ws, chain.last().unwrap_or(&id), reason));
                    let _ = writeln!(out, "  {}", parts.join(" ← "));
                }
            }
        }
    }
    Ok(0)
}

/// The explanation as an indented tree; a dependency reached again (a diamond in the graph)
/// is explained once.
/// `pkg#task`, or a bare task name inside a package's directory (that package's task).
fn task_id(ws: &Workspace, cwd: &Path, task: &str) -> Result<TaskId, Exit> {
    if task.contains('#') {
        return TaskId::parse(task).map_err(|e| Exit::user(e.to_string()));
    }
    let package = crate::run_cmd::cwd_in_workspace(cwd, &ws.root)
        .and_then(|dir| kiln_graph::Inference::new(&ws.packages, &dir))
        .and_then(|inference| inference.package);
    match package {
        Some(package) => Ok(TaskId::new(package.as_str(), task)),
        None => Err(Exit::user(format!(
            "`{task}`: name the task as `package#{task}` (or run `kiln why {task}` inside a package)"
        ))),
    }
}

fn print_tree(
    out: &mut impl Write,
    e: &Explanation,
    depth: usize,
    shown: &mut std::collections::HashSet<TaskId>,
) {
    let pad = "  ".repeat(depth);
    match e {
        Explanation::Changed {
            reasons, causes, ..
        } => {
            for reason in reasons {
                let ChangeReason::DependencyChanged { task: dep } = reason else {
                    let _ = writeln!(out, "{pad}- {reason}");
                    continue;
                };
                if !shown.insert(dep.clone()) {
                    let _ = writeln!(out, "{pad}- {reason} (see above)");
                    continue;
                }
                let _ = writeln!(out, "{pad}- {reason}:");
                if let Some(cause) = causes.iter().find(|c| c.task() == dep) {
                    print_tree(out, cause, depth + 1, shown);
                }
            }
        }
        Explanation::Unrecorded { .. } => {
            let _ = writeln!(out, "{pad}(its earlier inputs are no longer recorded)");
        }
        Explanation::Unchanged { .. } => {
            let _ = writeln!(out, "{pad}(nothing changed in it since)");
        }
        Explanation::NeverRun { .. } => {}
    }
}

/// A root cause as a user names it: files by their path from the workspace root.
fn leaf(ws: &Workspace, task: &TaskId, reason: &ChangeReason) -> String {
    let dir = ws
        .package(&task.package)
        .map(|p| p.dir.as_str())
        .unwrap_or_default();
    let full = |path: &str| match (path.strip_prefix(kiln_run::TURBO_ROOT), dir) {
        (Some(rooted), _) => rooted.to_string(),
        (None, "") => path.to_string(),
        (None, dir) => format!("{dir}/{path}"),
    };
    match reason {
        ChangeReason::FileAdded { path } => format!("{} added", full(path)),
        ChangeReason::FileRemoved { path } => format!("{} removed", full(path)),
        ChangeReason::FileModified { path } => format!("{} modified", full(path)),
        other => other.to_string(),
    }
}

fn short(hex: &str) -> &str {
    &hex[..hex.len().min(16)]
}
