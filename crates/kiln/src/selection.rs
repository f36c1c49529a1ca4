//! `--filter`s to the packages a command starts from, for `kiln run` and `kiln ls`: parsed,
//! adapted to where kiln was started (below the root, as Turborepo infers), git ranges
//! (`[main]`, `[a...b]`) answered from git, then applied by `kiln_graph::select_changed`.

use std::collections::BTreeSet;
use std::path::Path;

use kiln_core::PackageName;
use kiln_graph::{ChangedPackages, Filter, GitRange, PackageGraph, select_changed};
use kiln_scm::{Git, Revision};
use kiln_workspace::Workspace;

use crate::affected_cmd::{Change, Range};
use crate::exit::Exit;
use crate::run_cmd::cwd_in_workspace;
use kiln_core::error_chain;

/// The packages `raw` filters select (every package with none).
pub(crate) fn packages(
    ws: &Workspace,
    graph: &PackageGraph,
    cwd: &Path,
    raw: &[String],
) -> Result<BTreeSet<PackageName>, Exit> {
    let mut filters = raw
        .iter()
        .map(|f| Filter::parse(f))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Exit::user(e.to_string()))?;
    let inference = cwd_in_workspace(cwd, &ws.root)
        .and_then(|dir| kiln_graph::Inference::new(&ws.packages, &dir));
    if let Some(inference) = inference {
        tracing::debug!(?inference, "selection inferred from the current directory");
        filters = inference
            .apply(&filters)
            .map_err(|e| Exit::user(e.to_string()))?;
    }
    // As Turborepo: a directory that does not exist is a typo, not an empty selection.
    for filter in &filters {
        if let Some(dir) = filter.dir.as_ref().filter(|d| !d.leaves_root()) {
            let path = ws.root.join(dir.base());
            if !path.exists() {
                return Err(Exit::user(format!(
                    "directory {} in filter `{filter}` does not exist",
                    path.display()
                )));
            }
        }
    }
    let changed = changed_by_ranges(ws, &filters)?;
    let selection = select_changed(graph, &ws.packages, &filters, &changed)
        .map_err(|e| Exit::user(crate::suggest::explain(ws, &e)))?;
    for f in &selection.unmatched {
        tracing::warn!("filter `{f}` matched no package");
    }
    Ok(selection.packages)
}

/// The packages each git range of `filters` changed, by Turborepo's rules: a file belongs to
/// the innermost package holding it (the root package `//` for the rest); a change to the
/// pipeline's config or a global input changes every package; a lockfile change, the
/// packages whose resolved third-party versions differ (every package when the root's do).
/// `[a]` compares `a` with the work tree (uncommitted and untracked files included);
/// `[a...b]` compares the merge-base of `a` and `b` with `b`.
fn changed_by_ranges(ws: &Workspace, filters: &[Filter]) -> Result<ChangedPackages, Exit> {
    let ranges: BTreeSet<&GitRange> = filters.iter().filter_map(|f| f.git.as_ref()).collect();
    let mut changed = ChangedPackages::new();
    if ranges.is_empty() {
        return Ok(changed);
    }
    let git = Git::open(&ws.root).map_err(|e| {
        Exit::user(format!(
            "a git range in --filter needs a git repository: {}",
            error_chain(&e)
        ))
    })?;
    for range in ranges {
        let packages = changed_between(ws, &git, range)?;
        tracing::debug!(%range, packages = packages.len(), "changed packages");
        changed.insert(range.clone(), packages);
    }
    Ok(changed)
}

fn changed_between(
    ws: &Workspace,
    git: &Git,
    range: &GitRange,
) -> Result<BTreeSet<PackageName>, Exit> {
    let failed = |e: kiln_scm::ScmError| Exit::user(format!("filter {range}: {}", error_chain(&e)));
    let base = match &range.to {
        Some(to) => git
            .resolve_base(Some(&range.from), Some(to))
            .map_err(failed)?,
        None => {
            let commit = git.commit_of(&range.from).map_err(failed)?.ok_or_else(|| {
                Exit::user(format!(
                    "filter {range}: `{}` names no commit in this repository",
                    range.from
                ))
            })?;
            Revision {
                spec: range.from.clone(),
                commit,
            }
        }
    };
    let as_range = Range {
        base: Some(range.from.clone()),
        head: range.to.clone(),
    };
    let change = Change::between(ws, git, base, &as_range, failed)?;
    // A change to the root's third-party versions reaches every package, as in Turborepo.
    if change.external.contains_key(&PackageName::root()) {
        return Ok(ws.packages.iter().map(|p| p.name.clone()).collect());
    }
    Ok(change.direct_packages(ws)?.into_keys().collect())
}
