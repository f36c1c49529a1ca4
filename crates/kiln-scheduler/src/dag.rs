//! The graph a walk runs over: nodes `0..n`, their dependencies and what each one needs to
//! run (a [`NodeSpec`]: priority, cpus, memory, locks, persistence).
//!
//! The walker never sees names; the caller keeps its own table from node index to task, and
//! from lock name to lock index. Validation happens once here, so the walker can trust every
//! index and never waits on a node that can never become ready.

use std::collections::{BTreeMap, BTreeSet};

/// What one node needs from the walk, besides its dependencies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSpec {
    /// Higher starts first among ready nodes (kiln passes the longest remaining path,
    /// weighted by historical durations).
    pub priority: u64,
    /// CPU slots the node holds while it runs, out of [`Budget::slots`](crate::Budget::slots).
    /// 0 for no-op nodes that cost nothing.
    pub cpus: u32,
    /// Bytes of memory the node holds while it runs, out of
    /// [`Budget::memory`](crate::Budget::memory); 0 means unknown or none.
    pub memory: u64,
    /// Indices of named locks: two nodes sharing one never run at the same time in this walk.
    /// The caller maps lock names to indices; order and duplicates do not matter.
    pub locks: Vec<usize>,
    /// A node that never exits by itself (dev server, watcher): it holds no budget, so the
    /// walk never waits for it to start other work. It still waits for its dependencies and
    /// respects its locks. Its dependents wait for it to return like any other node's, so a
    /// caller will usually reject graphs where something depends on a persistent node.
    pub persistent: bool,
}

impl Default for NodeSpec {
    /// Priority 0, one CPU slot, no memory, no locks, not persistent.
    fn default() -> Self {
        NodeSpec {
            priority: 0,
            cpus: 1,
            memory: 0,
            locks: Vec::new(),
            persistent: false,
        }
    }
}

impl NodeSpec {
    /// The default spec with `priority`.
    pub fn with_priority(priority: u64) -> Self {
        NodeSpec {
            priority,
            ..NodeSpec::default()
        }
    }

    /// Whether running the node takes anything from the budget: persistent nodes and nodes
    /// asking for nothing are only held back by dependencies and locks.
    pub(crate) fn is_costly(&self) -> bool {
        !self.persistent && (self.cpus > 0 || self.memory > 0)
    }
}

/// Why a [`Dag`] could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DagError {
    /// `deps` and `priority` disagree on how many nodes there are ([`Dag::new`]).
    #[error("the graph has {nodes} nodes but {priorities} priorities")]
    PriorityCount { nodes: usize, priorities: usize },
    /// `deps` and `specs` disagree on how many nodes there are ([`Dag::with_specs`]).
    #[error("the graph has {nodes} nodes but {specs} node specs")]
    SpecCount { nodes: usize, specs: usize },
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
    specs: Vec<NodeSpec>,
    /// Per node, its locks renumbered densely (`0..lock_count`), so a walk can keep one flag
    /// per lock whatever indices the caller chose.
    dense_locks: Vec<Vec<usize>>,
    lock_count: usize,
}

impl Dag {
    /// Builds a graph where node `i` depends on `deps[i]` and has `priority[i]` (higher runs
    /// first), every node with the default [`NodeSpec`] otherwise (one CPU slot, no memory,
    /// no locks, not persistent). Fails like [`Dag::with_specs`], or on a length mismatch.
    pub fn new(deps: Vec<Vec<usize>>, priority: Vec<u64>) -> Result<Self, DagError> {
        if priority.len() != deps.len() {
            return Err(DagError::PriorityCount {
                nodes: deps.len(),
                priorities: priority.len(),
            });
        }
        let specs = priority.into_iter().map(NodeSpec::with_priority).collect();
        Self::with_specs(deps, specs)
    }

    /// Builds a graph where node `i` depends on `deps[i]` and runs as `specs[i]` says.
    /// Duplicate dependencies and locks are merged. Fails on a length mismatch, a dependency
    /// out of range or a cycle (including a node depending on itself).
    pub fn with_specs(deps: Vec<Vec<usize>>, mut specs: Vec<NodeSpec>) -> Result<Self, DagError> {
        let n = deps.len();
        if specs.len() != n {
            return Err(DagError::SpecCount {
                nodes: n,
                specs: specs.len(),
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
        let mut dense: BTreeMap<usize, usize> = BTreeMap::new();
        for spec in &mut specs {
            spec.locks.sort_unstable();
            spec.locks.dedup();
            for &lock in &spec.locks {
                let next = dense.len();
                dense.entry(lock).or_insert(next);
            }
        }
        let dense_locks = specs
            .iter()
            .map(|spec| spec.locks.iter().map(|lock| dense[lock]).collect())
            .collect();
        let dag = Dag {
            deps: merged,
            dependents,
            specs,
            dense_locks,
            lock_count: dense.len(),
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
        self.specs[node].priority
    }

    /// What `node` needs to run (its locks ascending and without duplicates).
    pub fn spec(&self, node: usize) -> &NodeSpec {
        &self.specs[node]
    }

    /// The locks of `node`, renumbered densely in `0..lock_count()`.
    pub(crate) fn dense_locks(&self, node: usize) -> &[usize] {
        &self.dense_locks[node]
    }

    /// How many distinct locks the nodes use.
    pub(crate) fn lock_count(&self) -> usize {
        self.lock_count
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
    fn a_spec_per_node_is_required() {
        assert_eq!(
            Dag::with_specs(vec![vec![]], vec![]).unwrap_err(),
            DagError::SpecCount { nodes: 1, specs: 0 }
        );
    }

    #[test]
    fn new_gives_every_node_the_default_spec_with_its_priority() {
        let dag = Dag::new(vec![vec![], vec![0]], vec![7, 3]).unwrap();
        assert_eq!(dag.spec(0), &NodeSpec::with_priority(7));
        assert_eq!(dag.priority(1), 3);
        assert_eq!(dag.spec(1).cpus, 1);
        assert_eq!(dag.lock_count(), 0);
    }

    #[test]
    fn locks_are_merged_and_renumbered_densely() {
        let spec = |locks: Vec<usize>| NodeSpec {
            locks,
            ..NodeSpec::default()
        };
        let dag = Dag::with_specs(
            vec![vec![]; 3],
            vec![spec(vec![1_000_000, 5, 5]), spec(vec![]), spec(vec![5])],
        )
        .unwrap();
        assert_eq!(dag.spec(0).locks, [5, 1_000_000]);
        assert_eq!(dag.lock_count(), 2);
        assert_eq!(dag.dense_locks(0), &[0, 1]);
        assert_eq!(dag.dense_locks(2), &[0]);
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
