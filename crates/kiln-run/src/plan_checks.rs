//! Checks on a planned task graph that no single task can make.

use std::collections::BTreeMap;

use kiln_core::PackageName;
use kiln_graph::{TaskGraph, TaskNode};
use kiln_hash::outputs_overlap;
use kiln_workspace::Workspace;

use crate::RunError;
use crate::error::OutputsOverlap;

/// Two tasks of one package whose `outputs` can name the same file would overwrite each
/// other's files (a restore of one clobbers what the other built): refuse the plan.
/// Persistent tasks and tasks without a command produce nothing kiln stores.
pub fn check_outputs(ws: &Workspace, graph: &TaskGraph) -> Result<(), RunError> {
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
                if let Some((first_glob, second_glob)) =
                    outputs_overlap(&a.task.outputs, &b.task.outputs, within)?
                {
                    return Err(RunError::OverlappingOutputs(Box::new(OutputsOverlap {
                        first: a.id.clone(),
                        second: b.id.clone(),
                        first_glob,
                        second_glob,
                    })));
                }
            }
        }
    }
    Ok(())
}
