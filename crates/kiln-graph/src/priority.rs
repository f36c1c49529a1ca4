//! Critical-path priorities for the scheduler.
//!
//! A task's priority is the heaviest path from it to the end of the graph through its
//! dependents, its own weight included: how much work, at least, still has to happen in
//! sequence once it starts. Starting the highest first keeps the critical path moving while
//! short side branches fill idle workers (the "longest remaining path" heuristic of list
//! scheduling; it is what makes a 2-core run of a deep graph finish close to its critical path).

use kiln_core::TaskId;

use crate::TaskGraph;

/// `priorities[i]` for node `i` of [`TaskGraph::nodes`]: its weight plus the largest priority
/// among its dependents. Weights typically come from historical durations (in ms); use 1 for
/// unknown tasks so depth still counts. Saturates instead of overflowing.
pub fn priorities(graph: &TaskGraph, weight: impl Fn(&TaskId) -> u64) -> Vec<u64> {
    let nodes = graph.nodes();
    let dependents = graph.dependents_indices();
    let mut out = vec![0u64; nodes.len()];
    // Dependents always come later in topological order, so walking backwards sees every
    // dependent's priority before the node that needs it.
    for i in (0..nodes.len()).rev() {
        let tail = dependents[i].iter().map(|&d| out[d]).max().unwrap_or(0);
        out[i] = weight(&nodes[i].id).saturating_add(tail);
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeSet, HashMap};

    use kiln_core::TaskName;

    use super::*;
    use crate::testkit::workspace;

    fn priorities_by_id(weights: &[(&str, u64)]) -> HashMap<String, u64> {
        // app → lib → core; tool → core; docs alone.
        let ws = workspace(
            &["app -> lib", "lib -> core", "core", "tool -> core", "docs"],
            &["build -> ^build"],
        );
        let scope: BTreeSet<_> = ws.packages.iter().map(|p| p.name.clone()).collect();
        let graph = TaskGraph::build(&ws, &[TaskName::from("build")], &scope).unwrap();
        let weights: HashMap<String, u64> =
            weights.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        let prio = priorities(&graph, |id| {
            weights.get(id.package.as_str()).copied().unwrap_or(1)
        });
        graph
            .nodes()
            .iter()
            .zip(prio)
            .map(|(n, p)| (n.id.package.to_string(), p))
            .collect()
    }

    #[test]
    fn unit_weights_give_the_remaining_depth() {
        let p = priorities_by_id(&[]);
        assert_eq!(p["core"], 3);
        assert_eq!(p["lib"], 2);
        assert_eq!(p["app"], 1);
        assert_eq!(p["tool"], 1);
        assert_eq!(p["docs"], 1);
    }

    #[test]
    fn the_heaviest_dependent_chain_wins() {
        let p = priorities_by_id(&[("core", 5), ("lib", 10), ("app", 1), ("tool", 50)]);
        // core → tool (5 + 50) outweighs core → lib → app (5 + 10 + 1).
        assert_eq!(p["core"], 55);
        assert_eq!(p["lib"], 11);
    }

    #[test]
    fn huge_weights_saturate() {
        let p = priorities_by_id(&[("core", u64::MAX), ("lib", 2)]);
        assert_eq!(p["core"], u64::MAX);
    }
}
