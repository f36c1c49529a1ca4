//! `kiln state show|verify|clean`: look into, check and reset `.kiln/state/`.

use std::io::Write;
use std::path::Path;

use kiln_core::TaskId;
use kiln_state::{BuildState, TaskState};
use kiln_workspace::Workspace;
use serde_json::json;

use crate::cli::StateCommand;
use crate::exit::Exit;

pub(crate) fn run(cwd: &Path, command: &StateCommand) -> Result<i32, Exit> {
    let root = Workspace::discover(cwd).map_err(Exit::diagnostic)?.root;
    let state = BuildState::new(&kiln_core::Layout::of(&root).state());
    match command {
        StateCommand::Show { task: None, json } => show_all(&state, *json),
        StateCommand::Show {
            task: Some(task),
            json,
        } => show_one(&state, &parse(task)?, *json),
        StateCommand::Verify { repair } => verify(&state, *repair),
        StateCommand::Clean { task: None } => {
            state.clean().map_err(|e| Exit::user(e.to_string()))?;
            println_out(&format!("removed {}", state.dir().display()));
            Ok(0)
        }
        StateCommand::Clean { task: Some(task) } => {
            let id = parse(task)?;
            let removed = state.forget(&id).map_err(|e| Exit::user(e.to_string()))?;
            println_out(&if removed {
                format!("forgot {id}")
            } else {
                format!("nothing recorded for {id}")
            });
            Ok(0)
        }
    }
}

fn parse(task: &str) -> Result<TaskId, Exit> {
    TaskId::parse(task).map_err(|e| Exit::user(e.to_string()))
}

fn println_out(line: &str) {
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

fn show_all(state: &BuildState, json_output: bool) -> Result<i32, Exit> {
    let list = state.list();
    let mut out = std::io::stdout().lock();
    if json_output {
        let tasks: Vec<_> = list
            .iter()
            .map(|(path, read)| match read {
                Ok(s) => json!({ "task": s.task.to_string(), "runs": s.runs }),
                Err(e) => json!({ "file": path.display().to_string(), "error": e.to_string() }),
            })
            .collect();
        let _ = writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&tasks).unwrap_or_default()
        );
        return Ok(0);
    }
    if list.is_empty() {
        let _ = writeln!(out, "no build state recorded in {}", state.dir().display());
        return Ok(0);
    }
    let mut rows: Vec<&TaskState> = list.iter().filter_map(|(_, r)| r.as_ref().ok()).collect();
    rows.sort_by(|a, b| a.task.cmp(&b.task));
    let width = rows
        .iter()
        .map(|s| s.task.to_string().len())
        .max()
        .unwrap_or(4)
        .max(4);
    let _ = writeln!(
        out,
        "{:width$}  {:16}  {:>8}  {:>9}  how",
        "TASK", "LAST KEY", "AGO", "TOOK"
    );
    for s in rows {
        if let Some(run) = s.last() {
            let _ = writeln!(
                out,
                "{:width$}  {:16}  {:>8}  {:>9}  {}",
                s.task.to_string(),
                &run.key.to_hex()[..16],
                crate::console::fmt_ago(run.finished_unix_ms),
                format!("{}ms", run.duration_ms),
                if run.cached { "cache" } else { "ran" }
            );
        }
    }
    for (path, read) in &list {
        if let Err(e) = read {
            let _ = writeln!(out, "unusable: {} ({e})", path.display());
        }
    }
    Ok(0)
}

fn show_one(state: &BuildState, id: &TaskId, json_output: bool) -> Result<i32, Exit> {
    let Some(task) = state.task(id) else {
        return Err(Exit::user(format!("no build state recorded for {id}")));
    };
    let manifest = state.last_manifest(id);
    let mut out = std::io::stdout().lock();
    if json_output {
        let value = json!({ "task": id.to_string(), "runs": task.runs, "manifest": manifest });
        let _ = writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        );
        return Ok(0);
    }
    let _ = writeln!(out, "{id}");
    let _ = writeln!(out, "  runs (newest first):");
    for run in &task.runs {
        let _ = writeln!(
            out,
            "    {}  {} ago, {}ms, {}",
            run.key,
            crate::console::fmt_ago(run.finished_unix_ms),
            run.duration_ms,
            if run.cached { "from the cache" } else { "ran" }
        );
    }
    let Some(m) = manifest else {
        let _ = writeln!(out, "  inputs of the last run: not recorded");
        return Ok(0);
    };
    let _ = writeln!(out, "  inputs of the last run:");
    let _ = writeln!(out, "    definition  {}", m.definition);
    let _ = writeln!(out, "    global      {}", m.global);
    let _ = writeln!(out, "    platform    {}/{}", m.platform.os, m.platform.arch);
    let _ = writeln!(out, "    files ({}):", m.files.len());
    for (path, digest) in &m.files {
        let _ = writeln!(out, "      {}  {path}", &digest.to_hex()[..16]);
    }
    let _ = writeln!(out, "    env ({}):", m.env.len());
    for name in m.env.keys() {
        let _ = writeln!(out, "      {name}");
    }
    let _ = writeln!(out, "    dependencies ({}):", m.dependencies.len());
    for dep in &m.dependencies {
        let _ = writeln!(out, "      {}  {}", &dep.key.to_hex()[..16], dep.task);
    }
    let _ = writeln!(out, "    external ({}):", m.external.len());
    for (name, version) in &m.external {
        let _ = writeln!(out, "      {name} {version}");
    }
    Ok(0)
}

/// Reads every file of the state in full. Exit 1 when something is damaged (and, with
/// `--repair`, removes it: the state is a cache of explanations, losing a file is safe).
fn verify(state: &BuildState, repair: bool) -> Result<i32, Exit> {
    let mut out = std::io::stdout().lock();
    let mut problems = Vec::new();
    let mut referenced = std::collections::HashSet::new();
    let tasks = state.list();
    for (path, read) in &tasks {
        match read {
            Ok(s) => {
                for run in &s.runs {
                    referenced.insert(run.key);
                }
                if let Some(last) = s.last()
                    && state.manifest(&last.key).is_none()
                {
                    let _ = writeln!(
                        out,
                        "note: {}: the inputs of its last run are not recorded",
                        s.task
                    );
                }
            }
            Err(e) => problems.push((path.clone(), e.to_string())),
        }
    }
    let manifests = state.manifest_files();
    let mut orphans = 0;
    for path in &manifests {
        match state.check_manifest_file(path) {
            Ok(m) if !referenced.contains(&m.key) => orphans += 1,
            Ok(_) => {}
            Err(e) => problems.push((path.clone(), e.to_string())),
        }
    }
    let _ = writeln!(
        out,
        "checked {} task records and {} manifests in {}",
        tasks.len(),
        manifests.len(),
        state.dir().display()
    );
    if orphans > 0 {
        let _ = writeln!(
            out,
            "note: {orphans} manifests belong to no task record (harmless)"
        );
    }
    if problems.is_empty() {
        let _ = writeln!(out, "ok: no damaged state files");
        return Ok(0);
    }
    for (path, why) in &problems {
        let _ = writeln!(out, "damaged: {} ({why})", path.display());
        if repair {
            let _ = std::fs::remove_file(path);
        }
    }
    if repair {
        let _ = writeln!(out, "removed {} damaged files", problems.len());
        return Ok(0);
    }
    let _ = writeln!(
        out,
        "{} damaged files (kiln ignores them; `kiln state verify --repair` removes them)",
        problems.len()
    );
    Ok(1)
}
