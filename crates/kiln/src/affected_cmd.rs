//! `--affected` and `kiln affected`: what a change since a base revision affects.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;

use kiln_core::{PackageName, TaskName};
use kiln_graph::{PackageGraph, TaskGraph};
use kiln_run::{Affected, affected_tasks, files_by_package, files_changed, global_change};
use kiln_scm::{ChangedFiles, Git, Revision};
use kiln_workspace::Workspace;
use serde_json::json;

use crate::exit::Exit;
use kiln_core::error_chain;

/// `--base`/`--head` as given.
#[derive(Clone, Debug, Default)]
pub(crate) struct Range {
    pub(crate) base: Option<String>,
    pub(crate) head: Option<String>,
}

/// What changed, and what it affects in `graph`.
pub(crate) struct Change {
    pub(crate) base: Revision,
    pub(crate) head: Option<String>,
    pub(crate) files: ChangedFiles,
    /// Packages whose resolved third-party versions changed, with why.
    pub(crate) external: BTreeMap<PackageName, String>,
}

impl Change {
    pub(crate) fn detect(ws: &Workspace, range: &Range) -> Result<Change, Exit> {
        let git = Git::open(&ws.root).map_err(|e| {
            Exit::user(format!(
                "--affected needs a git repository: {}",
                error_chain(&e)
            ))
        })?;
        let base = git.resolve_base(range.base.as_deref(), range.head.as_deref())?;
        Change::between(ws, &git, base, range, |e| Exit::user(error_chain(&e)))
    }

    /// What changed from `base` to `range.head` (the work tree when none); `failed` words
    /// a git failure for the caller's context.
    pub(crate) fn between(
        ws: &Workspace,
        git: &Git,
        base: Revision,
        range: &Range,
        failed: impl Fn(kiln_scm::ScmError) -> Exit,
    ) -> Result<Change, Exit> {
        let files = git
            .changed_files(&base, range.head.as_deref())
            .map_err(failed)?;
        tracing::debug!(base = %base.commit, files = files.files.len(), "changed files");
        let external = crate::lockfile_diff::changed_packages(ws, git, &base, range, &files.files)?;
        Ok(Change {
            base,
            head: range.head.clone(),
            files,
            external,
        })
    }

    pub(crate) fn tasks(&self, ws: &Workspace, graph: &TaskGraph) -> Result<Affected, Exit> {
        affected_tasks(ws, graph, &self.files.files, &self.external)
            .map_err(|e| Exit::user(error_chain(&e)))
    }

    /// Packages with a changed input file or changed third-party versions, with why; every
    /// package when a global input changed.
    pub(crate) fn direct_packages(
        &self,
        ws: &Workspace,
    ) -> Result<BTreeMap<PackageName, String>, Exit> {
        if let Some(why) = global_change(ws, &self.files.files)? {
            return Ok(ws
                .packages
                .iter()
                .map(|p| (p.name.clone(), why.clone()))
                .collect());
        }
        let mut direct: BTreeMap<PackageName, String> = self.external.clone();
        for (name, files) in files_by_package(ws, &self.files.files) {
            if files.is_empty() {
                continue;
            }
            let paths: Vec<&str> = files.iter().map(|(full, _)| full.as_str()).collect();
            direct.entry(name).or_insert_with(|| files_changed(&paths));
        }
        Ok(direct)
    }

    /// [`Change::direct_packages`] and every package that depends on one of them, with why.
    pub(crate) fn packages(&self, ws: &Workspace) -> Result<BTreeMap<PackageName, String>, Exit> {
        let direct = self.direct_packages(ws)?;
        if direct.len() == ws.packages.len() {
            return Ok(direct);
        }
        let graph = PackageGraph::new(&ws.packages);
        let mut all = direct.clone();
        for name in direct.keys() {
            for dependent in graph.transitive_dependents(name) {
                all.entry(dependent)
                    .or_insert_with(|| format!("depends on `{name}`"));
            }
        }
        Ok(all)
    }
}

/// `kiln affected [TASK…]`: the affected packages (or tasks), as text or JSON.
pub(crate) fn run(
    cwd: &Path,
    tasks: &[String],
    range: &Range,
    json_output: bool,
) -> Result<i32, Exit> {
    let ws = Workspace::discover(cwd).map_err(Exit::diagnostic)?;
    let change = Change::detect(&ws, range)?;
    let head = change
        .head
        .clone()
        .unwrap_or_else(|| "the work tree".into());
    let base = format!(
        "{} ({})",
        change.base.spec,
        &change.base.commit[..change.base.commit.len().min(12)]
    );
    let changed = change.files.files.len();
    // (what is listed, each with why, and the headline)
    let (field, rows, headline) = if tasks.is_empty() {
        let packages = change.packages(&ws)?;
        let headline = format!(
            "{changed} changed files between {base} and {head}; {} affected packages",
            packages.len()
        );
        let rows: Vec<(String, String)> = packages
            .into_iter()
            .map(|(name, why)| (name.to_string(), why))
            .collect();
        ("packages", rows, headline)
    } else {
        let scope: BTreeSet<PackageName> = ws.packages.iter().map(|p| p.name.clone()).collect();
        let names: Vec<TaskName> = tasks.iter().map(|t| TaskName::new(t.as_str())).collect();
        let graph = TaskGraph::build(&ws, &names, &scope).map_err(|e| Exit::user(e.to_string()))?;
        let affected = change.tasks(&ws, &graph)?;
        let reason = |i: usize| -> String {
            affected.direct.get(&i).cloned().unwrap_or_else(|| {
                let dep = graph.deps()[i]
                    .iter()
                    .find(|d| affected.all.binary_search(d).is_ok())
                    .map(|&d| graph.nodes()[d].id.to_string())
                    .unwrap_or_default();
                format!("depends on `{dep}`")
            })
        };
        let headline = format!(
            "{changed} changed files between {} and {head}; {} of {} tasks affected",
            change.base.spec,
            affected.all.len(),
            graph.len()
        );
        let rows = affected
            .all
            .iter()
            .map(|&i| (graph.nodes()[i].id.to_string(), reason(i)))
            .collect();
        ("tasks", rows, headline)
    };
    let mut out = std::io::stdout().lock();
    if json_output {
        let key = if field == "packages" { "name" } else { "task" };
        let listed: Vec<_> = rows
            .iter()
            .map(|(what, why)| json!({ key: what, "reason": why }))
            .collect();
        let value = json!({
            "base": change.base.spec, "baseCommit": change.base.commit, "head": head,
            "changedFiles": change.files.files,
            field: listed,
        });
        let _ = writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        );
        return Ok(0);
    }
    let _ = writeln!(out, "{headline}");
    for (what, why) in &rows {
        let _ = writeln!(out, "  {what}  ({why})");
    }
    Ok(0)
}
