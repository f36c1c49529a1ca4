//! The task graph: one node per (package, task) that a run needs, an edge per "depends on".
//!
//! Nodes are numbered `0..n` in a deterministic topological order (dependencies first, ties
//! in task-id order), so every edge points from a higher index to a lower one. The scheduler
//! and [`crate::priorities`] rely on that: walking indices forwards visits dependencies
//! before their dependents, walking backwards the reverse. How the graph is built from a
//! pipeline is in `task_builder.rs`.

use std::collections::HashMap;
use std::fmt::Write as _;

use kiln_core::{TaskId, TaskName};
use kiln_workspace::ResolvedTask;

use crate::GraphError;
use crate::topo::{invert, topological_order};

/// One task of the run and its definition with defaults applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskNode {
    pub id: TaskId,
    pub task: ResolvedTask,
    /// Arguments passed to its command (`kiln run build -- --prod`: every `build` node).
    pub args: Vec<String>,
}

impl TaskNode {
    /// The package has neither a script nor a command for this task: running it does
    /// nothing, but it still orders what depends on it after what it depends on (as
    /// Turborepo's `<NONEXISTENT>` tasks do).
    pub fn is_noop(&self) -> bool {
        self.task.command.is_none()
    }

    /// Whether results of this task are cached: `cache` is on, it is not a persistent (long
    /// running) task, and it runs something.
    pub fn is_cacheable(&self) -> bool {
        self.task.cache && !self.task.persistent && !self.is_noop()
    }
}

/// A validated, acyclic task graph in topological order.
#[derive(Clone, Debug)]
pub struct TaskGraph {
    nodes: Vec<TaskNode>,
    index: HashMap<TaskId, usize>,
    deps: Vec<Vec<usize>>,
    dependents: Vec<Vec<usize>>,
}

impl TaskGraph {
    /// Numbers `nodes` topologically. `deps[i]` lists the nodes `nodes[i]` depends on, by
    /// their position in `nodes` (any order, duplicates allowed); `index` maps each id to
    /// its position in `nodes` and is renumbered in place.
    pub(crate) fn assemble(
        nodes: Vec<TaskNode>,
        deps: Vec<Vec<usize>>,
        mut index: HashMap<TaskId, usize>,
    ) -> Result<Self, GraphError> {
        // Rank nodes by id first, so the order (and any cycle reported) does not depend on the
        // order the builder happened to discover them in.
        let mut by_id: Vec<usize> = (0..nodes.len()).collect();
        by_id.sort_by(|&a, &b| nodes[a].id.cmp(&nodes[b].id));
        let mut rank = vec![0; nodes.len()];
        for (r, &i) in by_id.iter().enumerate() {
            rank[i] = r;
        }
        let mut ranked_deps = vec![Vec::new(); nodes.len()];
        for (i, list) in deps.iter().enumerate() {
            let mut ranked: Vec<usize> = list.iter().map(|&d| rank[d]).collect();
            ranked.sort_unstable();
            ranked.dedup();
            ranked_deps[rank[i]] = ranked;
        }
        let order = topological_order(&ranked_deps).map_err(|cycle| {
            let ids: Vec<TaskId> = cycle.iter().map(|&r| nodes[by_id[r]].id.clone()).collect();
            if ids.len() == 2 {
                GraphError::SelfDependency {
                    task: ids[0].clone(),
                }
            } else {
                GraphError::TaskCycle { cycle: ids }
            }
        })?;
        let mut position = vec![0; nodes.len()];
        for (p, &r) in order.iter().enumerate() {
            position[r] = p;
        }
        let mut slots: Vec<Option<TaskNode>> = nodes.into_iter().map(Some).collect();
        let mut ordered = Vec::with_capacity(slots.len());
        let mut final_deps = Vec::with_capacity(slots.len());
        for &r in &order {
            let node = slots[by_id[r]].take().expect("each node is placed once");
            ordered.push(node);
            let mut list: Vec<usize> = ranked_deps[r].iter().map(|&d| position[d]).collect();
            list.sort_unstable();
            final_deps.push(list);
        }
        for i in index.values_mut() {
            *i = position[rank[*i]];
        }
        let dependents = invert(&final_deps);
        Ok(Self {
            nodes: ordered,
            index,
            deps: final_deps,
            dependents,
        })
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Every node, dependencies before dependents; a node's index is its position here.
    pub fn nodes(&self) -> &[TaskNode] {
        &self.nodes
    }

    /// Task ids in topological order (dependencies first).
    pub fn topological_order(&self) -> impl Iterator<Item = &TaskId> {
        self.nodes.iter().map(|n| &n.id)
    }

    pub fn index_of(&self, id: &TaskId) -> Option<usize> {
        self.index.get(id).copied()
    }

    pub fn node(&self, id: &TaskId) -> Option<&TaskNode> {
        self.index_of(id).map(|i| &self.nodes[i])
    }

    pub fn contains(&self, id: &TaskId) -> bool {
        self.index.contains_key(id)
    }

    /// The tasks `id` depends on directly (empty for an unknown id), in topological order.
    pub fn dependencies(&self, id: &TaskId) -> impl Iterator<Item = &TaskId> {
        self.neighbours(&self.deps, id)
    }

    /// The tasks that depend on `id` directly (empty for an unknown id), in topological order.
    pub fn dependents(&self, id: &TaskId) -> impl Iterator<Item = &TaskId> {
        self.neighbours(&self.dependents, id)
    }

    /// For the scheduler: `deps()[i]` lists the indices node `i` waits for (all `< i`).
    pub fn deps(&self) -> &[Vec<usize>] {
        &self.deps
    }

    /// `dependents_indices()[i]` lists the indices that wait for node `i` (all `> i`).
    pub fn dependents_indices(&self) -> &[Vec<usize>] {
        &self.dependents
    }

    /// The graph restricted to the nodes of `keep` and every node they depend on,
    /// transitively (what running those tasks needs). Order is kept.
    pub fn with_dependencies(&self, keep: impl IntoIterator<Item = usize>) -> TaskGraph {
        let mut kept = vec![false; self.nodes.len()];
        let mut stack: Vec<usize> = keep.into_iter().collect();
        while let Some(i) = stack.pop() {
            if !std::mem::replace(&mut kept[i], true) {
                stack.extend(&self.deps[i]);
            }
        }
        self.restricted(&kept)
    }

    /// The nodes with `kept[i]`, in order, and the edges between them.
    fn restricted(&self, kept: &[bool]) -> TaskGraph {
        let mut position = vec![usize::MAX; self.nodes.len()];
        let mut nodes = Vec::new();
        for (i, node) in self.nodes.iter().enumerate().filter(|(i, _)| kept[*i]) {
            position[i] = nodes.len();
            nodes.push(node.clone());
        }
        let deps: Vec<Vec<usize>> = (0..self.nodes.len())
            .filter(|i| kept[*i])
            .map(|i| {
                self.deps[i]
                    .iter()
                    .filter(|&&d| kept[d])
                    .map(|&d| position[d])
                    .collect()
            })
            .collect();
        let index = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.id.clone(), i))
            .collect();
        let dependents = invert(&deps);
        TaskGraph {
            nodes,
            index,
            deps,
            dependents,
        }
    }

    /// Every node that depends on one of `from`, transitively, `from` included; sorted.
    pub fn dependents_closure(&self, from: impl IntoIterator<Item = usize>) -> Vec<usize> {
        let mut seen = vec![false; self.nodes.len()];
        let mut stack: Vec<usize> = from.into_iter().collect();
        while let Some(i) = stack.pop() {
            if !std::mem::replace(&mut seen[i], true) {
                stack.extend(&self.dependents[i]);
            }
        }
        (0..self.nodes.len()).filter(|i| seen[*i]).collect()
    }

    /// `--only`: the nodes of `tasks` in the packages of `scope` (a `pkg#task` whatever
    /// the scope), and the edges between them; nothing they depend on is added.
    pub fn only(
        &self,
        tasks: &[TaskName],
        scope: &std::collections::BTreeSet<kiln_core::PackageName>,
    ) -> TaskGraph {
        let keep: Vec<bool> = self
            .nodes
            .iter()
            .map(|n| {
                tasks.iter().any(|t| match TaskId::parse(t.as_str()) {
                    Ok(id) => id == n.id,
                    Err(_) => t == &n.id.task && scope.contains(&n.id.package),
                })
            })
            .collect();
        self.restricted(&keep)
    }

    /// Passes `args` to the command of every node whose task is one of `tasks` (`build`, or
    /// the task of `pkg#build`), in any package, as Turborepo passes arguments after `--` to
    /// the tasks named on the command line and not to what they depend on.
    pub fn pass_args(&mut self, tasks: &[TaskName], args: &[String]) {
        if args.is_empty() {
            return;
        }
        let named: Vec<&str> = tasks
            .iter()
            .map(|t| {
                let t = t.as_str();
                t.rsplit_once('#').map_or(t, |(_, task)| task)
            })
            .collect();
        for node in &mut self.nodes {
            if named.contains(&node.id.task.as_str()) {
                node.args = args.to_vec();
            }
        }
    }

    /// Graphviz DOT, one line per edge (or per isolated node), in a stable order;
    /// no-op tasks are drawn dashed.
    pub fn to_dot(&self) -> String {
        let mut out = String::from("digraph tasks {\n    rankdir = \"BT\";\n");
        for (i, node) in self.nodes.iter().enumerate() {
            if node.is_noop() {
                let _ = writeln!(out, "    \"{}\" [style = dashed];", node.id);
            } else if self.deps[i].is_empty() && self.dependents[i].is_empty() {
                let _ = writeln!(out, "    \"{}\";", node.id);
            }
            for &d in &self.deps[i] {
                let _ = writeln!(out, "    \"{}\" -> \"{}\";", node.id, self.nodes[d].id);
            }
        }
        out.push_str("}\n");
        out
    }

    fn neighbours<'a>(
        &'a self,
        adjacency: &'a [Vec<usize>],
        id: &TaskId,
    ) -> impl Iterator<Item = &'a TaskId> {
        let list = self
            .index_of(id)
            .map(|i| adjacency[i].as_slice())
            .unwrap_or_default();
        list.iter().map(|&i| &self.nodes[i].id)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use kiln_core::{TaskId, TaskName};

    use crate::TaskGraph;
    use crate::testkit::workspace;

    fn graph() -> TaskGraph {
        // app → ui; ui has no build script.
        let ws = workspace(&["app -> ui | build", "ui |"], &["build -> ^build"]);
        let scope: BTreeSet<_> = ws.packages.iter().map(|p| p.name.clone()).collect();
        TaskGraph::build(&ws, &[TaskName::from("build")], &scope).unwrap()
    }

    #[test]
    fn looks_up_both_directions_by_id_and_by_index() {
        let graph = graph();
        let app = TaskId::new("app", "build");
        let ui = TaskId::new("ui", "build");
        assert_eq!(graph.dependencies(&app).collect::<Vec<_>>(), [&ui]);
        assert_eq!(graph.dependents(&ui).collect::<Vec<_>>(), [&app]);
        assert_eq!(graph.dependencies(&TaskId::new("zzz", "build")).count(), 0);
        let (a, u) = (graph.index_of(&app).unwrap(), graph.index_of(&ui).unwrap());
        assert_eq!(graph.deps()[a], [u]);
        assert_eq!(graph.dependents_indices()[u], [a]);
        assert!(graph.node(&ui).unwrap().is_noop());
        assert!(!graph.node(&app).unwrap().is_noop());
    }

    #[test]
    fn dot_draws_edges_and_dashes_noops() {
        assert_eq!(
            graph().to_dot(),
            "digraph tasks {\n    rankdir = \"BT\";\n    \"ui#build\" [style = dashed];\n    \
             \"app#build\" -> \"ui#build\";\n}\n"
        );
    }

    #[test]
    fn subgraphs_keep_dependencies_and_closures_follow_dependents() {
        // web → ui → core; docs alone.
        let ws = workspace(
            &[
                "web -> ui | build",
                "ui -> core | build",
                "core | build",
                "docs | build",
            ],
            &["build -> ^build"],
        );
        let scope: BTreeSet<_> = ws.packages.iter().map(|p| p.name.clone()).collect();
        let graph = TaskGraph::build(&ws, &[TaskName::from("build")], &scope).unwrap();
        let id = |p: &str| graph.index_of(&TaskId::new(p, "build")).unwrap();
        let ids = |g: &TaskGraph| {
            g.topological_order()
                .map(|t| t.to_string())
                .collect::<Vec<_>>()
        };

        let sub = graph.with_dependencies([id("ui")]);
        assert_eq!(ids(&sub), ["core#build", "ui#build"]);
        assert_eq!(
            sub.dependencies(&TaskId::new("ui", "build"))
                .collect::<Vec<_>>(),
            [&TaskId::new("core", "build")]
        );
        assert_eq!(sub.deps()[1], [0]);

        let up: Vec<String> = graph
            .dependents_closure([id("ui")])
            .into_iter()
            .map(|i| graph.nodes()[i].id.to_string())
            .collect();
        assert_eq!(up, ["ui#build", "web#build"]);
        assert_eq!(graph.dependents_closure([id("docs")]).len(), 1);
    }
}
