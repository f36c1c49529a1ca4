//! The graph a walk runs over: nodes `0..n`, their dependencies and their priorities.
//!
//! The walker never sees names; the caller keeps its own table from node index to task.
//! Validation happens once here, so the walker can trust every index and never waits on a
//! node that can never become ready.

use std::collections::BTreeSet;

/// Why a [`Dag`] could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DagError {
    /// `deps` and `priority` disagree on how many nodes there are.
    #[error("the graph has {nodes} nodes but {priorities} priorities")]
    PriorityCount { nodes: usize, priorities: usize },
    /// A dependency names a node that does not exist.
    #[error("node {node} depends on node {dep}, but the graph only has nodes 0..{nodes}")]
    UnknownDependency {
        node: usize,
        dep: usize,
        nodes: usize,
    },
    /// The dependencies loop back on themselves; `cycle` lists the nodes of one loop in order
    /// (each depends on the next, the last on the first).
    #[error("the graph has a dependency cycle through nodes {cycle:?}")]
    Cycle { cycle: Vec<usize> },
}

/// A validated directed acyclic graph: node `i` depends on every node in `deps(i)`.
#[derive(Debug, Clone)]
pub struct Dag {
    deps: Vec<Vec<usize>>,
    dependents: Vec<Vec<usize>>,
    priority: Vec<u64>,
}

impl Dag {
    /// Builds a graph where node `i` depends on `deps[i]` and has `priority[i]` (higher runs
    /// first). Duplicate dependencies are merged. Fails on a length mismatch, an index out of
    /// range or a cycle (including a node depending on itself).
    pub fn new(deps: Vec<Vec<usize>>, priority: Vec<u64>) -> Result<Self, DagError> {
        let n = deps.len();
        if priority.len() != n {
            return Err(DagError::PriorityCount {
                nodes: n,
                priorities: priority.len(),
            });
        }
        let mut merged = Vec::with_capacity(n);
        let mut dependents = vec![Vec::new(); n];
        for (node, list) in deps.into_iter().enumerate() {
            let unique: BTreeSet<usize> = list.into_iter().collect();
            for &dep in &unique {
                if dep >= n {
                    return Err(DagError::UnknownDependency {
                        node,
                        dep,
                        nodes: n,
                    });
                }
                dependents[dep].push(node);
            }
            merged.push(unique.into_iter().collect::<Vec<_>>());
        }
        let dag = Dag {
            deps: merged,
            dependents,
            priority,
        };
        if let Some(cycle) = dag.find_cycle() {
            return Err(DagError::Cycle { cycle });
        }
        Ok(dag)
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.deps.len()
    }

    /// True for the empty graph.
    pub fn is_empty(&self) -> bool {
        self.deps.is_empty()
    }

    /// The nodes `node` depends on, ascending and without duplicates.
    pub fn deps(&self, node: usize) -> &[usize] {
        &self.deps[node]
    }

    /// The nodes that depend on `node`, ascending.
    pub fn dependents(&self, node: usize) -> &[usize] {
        &self.dependents[node]
    }

    /// The priority of `node`; the walker starts higher priorities first.
    pub fn priority(&self, node: usize) -> u64 {
        self.priority[node]
    }

    /// Iterative three-colour DFS (no recursion: task graphs can be deep chains).
    fn find_cycle(&self) -> Option<Vec<usize>> {
        #[derive(Clone, Copy, PartialEq)]
        enum Colour {
            White,
            Grey,
            Black,
        }
        let mut colour = vec![Colour::White; self.len()];
        // The current DFS path, each entry with the index of the next dependency to visit.
        let mut path: Vec<(usize, usize)> = Vec::new();
        for root in 0..self.len() {
            if colour[root] != Colour::White {
                continue;
            }
            colour[root] = Colour::Grey;
            path.push((root, 0));
            while let Some(top) = path.last_mut() {
                let node = top.0;
                if let Some(&dep) = self.deps[node].get(top.1) {
                    top.1 += 1;
                    match colour[dep] {
                        Colour::White => {
                            colour[dep] = Colour::Grey;
                            path.push((dep, 0));
                        }
                        Colour::Grey => {
                            let start = path.iter().position(|&(n, _)| n == dep)?;
                            return Some(path[start..].iter().map(|&(n, _)| n).collect());
                        }
                        Colour::Black => {}
                    }
                } else {
                    colour[node] = Colour::Black;
                    path.pop();
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_dependencies_are_merged_and_dependents_listed() {
        let dag = Dag::new(vec![vec![], vec![0, 0], vec![1, 0]], vec![0; 3]).unwrap();
        assert_eq!(dag.deps(1), &[0]);
        assert_eq!(dag.deps(2), &[0, 1]);
        assert_eq!(dag.dependents(0), &[1, 2]);
        assert_eq!(dag.dependents(2), &[] as &[usize]);
    }

    #[test]
    fn a_priority_per_node_is_required() {
        assert_eq!(
            Dag::new(vec![vec![], vec![]], vec![1]).unwrap_err(),
            DagError::PriorityCount {
                nodes: 2,
                priorities: 1
            }
        );
    }

    #[test]
    fn an_unknown_dependency_is_named() {
        assert_eq!(
            Dag::new(vec![vec![], vec![5]], vec![0, 0]).unwrap_err(),
            DagError::UnknownDependency {
                node: 1,
                dep: 5,
                nodes: 2
            }
        );
    }

    #[test]
    fn a_cycle_is_reported_with_its_nodes() {
        // 0 -> 1 -> 2 -> 1, and 3 on its own.
        let err = Dag::new(vec![vec![1], vec![2], vec![1], vec![]], vec![0; 4]).unwrap_err();
        assert_eq!(err, DagError::Cycle { cycle: vec![1, 2] });
        assert!(err.to_string().contains("[1, 2]"));
    }

    #[test]
    fn a_self_dependency_is_a_cycle() {
        let err = Dag::new(vec![vec![0]], vec![0]).unwrap_err();
        assert_eq!(err, DagError::Cycle { cycle: vec![0] });
    }

    #[test]
    fn a_long_chain_does_not_overflow_the_stack() {
        let n = 200_000;
        let deps = (0..n)
            .map(|i| if i == 0 { vec![] } else { vec![i - 1] })
            .collect();
        assert_eq!(Dag::new(deps, vec![0; n]).unwrap().len(), n);
    }
}
