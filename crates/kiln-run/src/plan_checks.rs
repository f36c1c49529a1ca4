//! Checks on a planned task graph that no single task can make.

use std::collections::BTreeMap;

use kiln_core::PackageName;
use kiln_graph::{TaskGraph, TaskNode};
use kiln_hash::outputs_overlap;
use kiln_workspace::Workspace;

use crate::RunError;

/// Two tasks of one package whose outputs can name the same file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputsOverlap {
    /// The task earlier in graph order: it runs (or is restored) first.
    pub first: kiln_core::TaskId,
    pub second: kiln_core::TaskId,
    pub first_glob: String,
    pub second_glob: String,
}

impl std::fmt::Display for OutputsOverlap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}` and `{}` declare overlapping outputs (`{}` and `{}`): kiln runs them one \
             after the other, `{}` first, so that each stores only what it wrote",
            self.first, self.second, self.first_glob, self.second_glob, self.first
        )
    }
}

/// Whether one of the two tasks waits for the other, directly or not: then they never run at
/// once, and always in one order.
fn ordered(graph: &TaskGraph, a: &kiln_core::TaskId, b: &kiln_core::TaskId) -> bool {
    let (Some(a), Some(b)) = (graph.index_of(a), graph.index_of(b)) else {
        return false;
    };
    // Graph order is topological: only the later one can depend on the earlier one.
    let (earlier, later) = (a.min(b), a.max(b));
    let mut seen = vec![false; later + 1];
    let mut stack = vec![later];
    while let Some(i) = stack.pop() {
        for &d in &graph.deps()[i] {
            if d == earlier {
                return true;
            }
            if d > earlier && !std::mem::replace(&mut seen[d], true) {
                stack.push(d);
            }
        }
    }
    false
}

/// Every pair of tasks of one package whose `outputs` can name the same file (`build` and
/// `typecheck` both writing `.cache/tsbuildinfo.json`) that the graph does not already order,
/// first task first in graph order.
/// Turborepo runs such tasks; so does kiln, one after the other (see
/// [`crate::ExecuteOptions::overlaps`]), so that neither packs the other's half-written
/// files and a restore replays them in the order they ran. Persistent tasks and tasks
/// without a command produce nothing kiln stores.
pub fn output_overlaps(ws: &Workspace, graph: &TaskGraph) -> Result<Vec<OutputsOverlap>, RunError> {
    let mut found = Vec::new();
    let mut by_package: BTreeMap<&PackageName, Vec<&TaskNode>> = BTreeMap::new();
    for node in graph.nodes() {
        if !node.is_noop() && !node.task.persistent && !node.task.outputs.is_empty() {
            by_package.entry(&node.id.package).or_default().push(node);
        }
    }
    for (package, nodes) in by_package {
        let within = ws.package(package).map_or(".", |p| {
            if p.dir.is_empty() {
                "."
            } else {
                p.dir.as_str()
            }
        });
        for (i, a) in nodes.iter().enumerate() {
            for b in &nodes[i + 1..] {
                if ordered(graph, &a.id, &b.id) {
                    continue;
                }
                if let Some((first_glob, second_glob)) =
                    outputs_overlap(&a.task.outputs, &b.task.outputs, within)?
                {
                    found.push(OutputsOverlap {
                        first: a.id.clone(),
                        second: b.id.clone(),
                        first_glob,
                        second_glob,
                    });
                }
            }
        }
    }
    Ok(found)
}
