//! Building the task graph from a pipeline, with Turborepo 2.x's semantics.
//!
//! A repository with a `turbo.json` must get from kiln the graph `turbo run` builds: the same
//! nodes and the same edges. Each rule below was checked against `turbo run <task> --dry=json`
//! (Turborepo 2.11) on a fixture repository, and has a test of the same name below.
//!
//! **Entry points.**
//! 1. `entry_for_every_package_that_defines_the_task`: for each package in scope and each
//!    requested task, the node `pkg#task` exists when the pipeline defines the task for that
//!    package (a root `task` or `pkg#task` entry, or the package's own `turbo.json`), *whether
//!    or not its `package.json` has the script*. Without a script the node is a no-op
//!    (`command: None`; turbo prints `<NONEXISTENT>`) that still orders its neighbours.
//! 2. `root_tasks_only_through_root_entries`: the root package `//` gets a node only from a
//!    `//#task` entry, never from a plain `task` entry, even when the root `package.json` has
//!    the script. It is in scope by default (no filter) and with `--filter=//`.
//! 3. `unknown_task_is_an_error`: a requested task defined for no package of the repository
//!    is an error (turbo: "Could not find task `x` in project"). A task defined only for
//!    packages outside the scope is not: the graph is just empty.
//! 4. `requested_package_task_ignores_the_scope`: a requested `pkg#task` is an entry point
//!    even when `pkg` is outside the scope (turbo adds it); an unknown `pkg` or an undefined
//!    task is an error.
//!
//! **Edges** (`dependsOn` of each node, followed transitively from the entry points).
//! 5. `caret_means_the_task_in_each_dependency`: `^x` adds `dep#x` for each direct internal
//!    dependency `dep` of the package. For the root package these are the workspace packages
//!    its own `package.json` depends on.
//! 6. `plain_name_means_the_same_package`: `x` adds `pkg#x`; `//#x` from a root task.
//! 7. `package_task_means_that_task`: `other#x` adds that node; `//#x` is the root's.
//! 8. `dependencies_are_followed_outside_the_scope`: nodes reached by edges are added whatever
//!    the filter said (the scope only picks entry points).
//! 9. `dependency_without_definition_is_an_error`: every node reached must be defined for its
//!    package: a `^lint` reaching a package with no `lint` definition fails (turbo: `Could not
//!    find "b#lint" in root turbo.json or "lint" in package`), and so does `other#x`. There is
//!    no silent skipping, unlike Turborepo 1.x.
//! 10. `dependency_on_unknown_package_is_an_error`: `zzz#build` in `dependsOn` with no package
//!     `zzz`. (A `zzz#build` *definition* for no package is ignored, as turbo does.)
//! 11. `root_dependency_needs_a_root_entry`: `//#x` reached without a `//#x` entry fails.
//! 12. `dependency_without_script_is_a_noop_node`: a dependency whose package has no script
//!     is still a node (no-op), and its own `dependsOn` is still followed through it.
//!
//! **Validation.**
//! 13. `task_cycles_are_errors`: a cycle between tasks (`build → test → build`, or `^build`
//!     through packages that depend on each other) fails, naming one cycle in order. A
//!     package cycle that no `^` edge follows is fine (turbo only warns).
//! 14. `self_dependency_is_an_error` (turbo: "c#build depends on itself").
//! 15. `depending_on_a_persistent_task_is_an_error`: an edge to a persistent task that has a
//!     command fails (turbo: `"b#dev" is a persistent task, "b#test" cannot depend on it`);
//!     a persistent task *without* a command may be depended on.
//!
//! 16. `with_adds_siblings_without_edges`: each task's `with` entries (`task` in the same
//!     package, or `pkg#task`) are added to the graph, whatever the scope, with no edge:
//!     they run alongside it (a dev server's watcher). Their own `dependsOn` is followed.
//! 17. `only_keeps_the_requested_tasks` ([`TaskGraph::only`], `--only`): just the entry
//!     points, and the edges between them.

use std::collections::{BTreeSet, HashMap};

use kiln_core::{PackageName, TaskId, TaskName};
use kiln_workspace::{ResolvedTask, Workspace};

use crate::GraphError;
use crate::task_graph::{TaskGraph, TaskNode};

impl TaskGraph {
    /// The graph `turbo run <tasks> --filter=…` would build, where `scope` is the set of
    /// packages the filters selected (see [`crate::select_packages`]). The rules are in the
    /// module documentation.
    #[tracing::instrument(level = "debug", skip_all, fields(tasks = ?tasks, scope = scope.len()))]
    pub fn build(
        ws: &Workspace,
        tasks: &[TaskName],
        scope: &BTreeSet<PackageName>,
    ) -> Result<TaskGraph, GraphError> {
        let mut builder = Builder::new(ws);
        for task in tasks {
            builder.add_entry_points(task, scope)?;
        }
        builder.expand()?;
        let Builder { nodes, deps, .. } = builder;
        let index = nodes
            .iter()
            .enumerate()
            .map(|(i, node)| (node.id.clone(), i))
            .collect();
        let graph = TaskGraph::assemble(nodes, deps, index)?;
        check_persistent_dependencies(&graph)?;
        tracing::debug!(nodes = graph.len(), "task graph built");
        Ok(graph)
    }
}

/// A node while building: (package index, task-name index). Interning both keeps the hot
/// loop free of string hashing and allocation; `TaskId`s are made once per node.
type Key = (u32, u32);

struct Builder<'a> {
    ws: &'a Workspace,
    /// The workspace's packages by index, plus `//` if it was not among them.
    pkg_names: Vec<PackageName>,
    pkg_index: HashMap<PackageName, u32>,
    /// Internal dependencies by package index (names outside the workspace dropped).
    pkg_deps: Vec<Vec<u32>>,
    task_names: Vec<TaskName>,
    task_index: HashMap<String, u32>,
    index: HashMap<Key, usize>,
    keys: Vec<Key>,
    nodes: Vec<TaskNode>,
    deps: Vec<Vec<usize>>,
    /// Nodes whose `dependsOn` is not expanded yet.
    queue: Vec<usize>,
}

impl<'a> Builder<'a> {
    fn new(ws: &'a Workspace) -> Self {
        let mut pkg_names: Vec<PackageName> = ws.packages.iter().map(|p| p.name.clone()).collect();
        if !pkg_names.iter().any(PackageName::is_root) {
            pkg_names.push(PackageName::root());
        }
        let pkg_index: HashMap<PackageName, u32> = pkg_names
            .iter()
            .enumerate()
            .map(|(i, name)| (name.clone(), i as u32))
            .collect();
        let mut pkg_deps: Vec<Vec<u32>> = ws
            .packages
            .iter()
            .map(|p| {
                p.dependencies
                    .iter()
                    .filter_map(|d| pkg_index.get(d).copied())
                    .collect()
            })
            .collect();
        pkg_deps.resize(pkg_names.len(), Vec::new());
        Self {
            ws,
            pkg_names,
            pkg_index,
            pkg_deps,
            task_names: Vec::new(),
            task_index: HashMap::new(),
            index: HashMap::new(),
            keys: Vec::new(),
            nodes: Vec::new(),
            deps: Vec::new(),
            queue: Vec::new(),
        }
    }

    fn add_entry_points(
        &mut self,
        task: &TaskName,
        scope: &BTreeSet<PackageName>,
    ) -> Result<(), GraphError> {
        if let Ok(id) = TaskId::parse(task.as_str()) {
            let Some(&p) = self.pkg_index.get(&id.package) else {
                return Err(GraphError::UnknownPackage {
                    package: id.package.clone(),
                    task: id,
                });
            };
            if self
                .ws
                .task_definition(&id.package, id.task.as_str())
                .is_none()
            {
                return Err(GraphError::UnknownTask { task: task.clone() });
            }
            let t = self.intern(id.task.as_str());
            self.node((p, t), None)?;
            return Ok(());
        }
        let t = self.intern(task.as_str());
        let mut found = false;
        for package in scope {
            let Some(&p) = self.pkg_index.get(package) else {
                continue;
            };
            if self.index.contains_key(&(p, t)) {
                found = true;
            } else if let Some(resolved) = self.ws.resolve_task(package, task.as_str()) {
                found = true;
                self.insert((p, t), resolved);
            }
        }
        // A task the pipeline defines for every package is known even when no package is
        // there to run it (workspace globs that match nothing): as Turborepo, nothing runs.
        let defined_somewhere = found
            || self.ws.pipeline.tasks.contains_key(task.as_str())
            || self
                .pkg_names
                .iter()
                .any(|p| self.ws.task_definition(p, task.as_str()).is_some());
        if !defined_somewhere {
            return Err(GraphError::UnknownTask { task: task.clone() });
        }
        Ok(())
    }

    fn expand(&mut self) -> Result<(), GraphError> {
        let mut targets = Vec::new();
        while let Some(i) = self.queue.pop() {
            // Borrowed out and put back, so `node` can grow `self.nodes` meanwhile.
            let specs = std::mem::take(&mut self.nodes[i].task.depends_on);
            for spec in &specs {
                targets.clear();
                self.targets(i, spec, &mut targets)?;
                for &target in &targets {
                    let d = self.node(target, Some(i))?;
                    self.deps[i].push(d);
                }
            }
            self.nodes[i].task.depends_on = specs;
            let siblings = std::mem::take(&mut self.nodes[i].task.with);
            for spec in siblings.iter().filter(|s| !s.starts_with('^')) {
                targets.clear();
                self.targets(i, spec, &mut targets)?;
                for &target in &targets {
                    self.node(target, Some(i))?;
                }
            }
            self.nodes[i].task.with = siblings;
        }
        Ok(())
    }

    /// The tasks one `dependsOn` entry of node `i` names, pushed onto `out`.
    fn targets(&mut self, i: usize, spec: &str, out: &mut Vec<Key>) -> Result<(), GraphError> {
        let invalid = |reason| GraphError::InvalidDependsOn {
            spec: spec.to_string(),
            task: self.nodes[i].id.clone(),
            reason,
        };
        let (package, _) = self.keys[i];
        if let Some(task) = spec.strip_prefix('^') {
            if task.is_empty() {
                return Err(invalid("`^` must be followed by a task name"));
            }
            if task.contains('#') {
                return Err(invalid("`^` takes a task name, not `package#task`"));
            }
            let t = self.intern(task);
            out.extend(self.pkg_deps[package as usize].iter().map(|&d| (d, t)));
            return Ok(());
        }
        if spec.contains('#') {
            let target = TaskId::parse(spec).map_err(|_| invalid("expected `package#task`"))?;
            let Some(&p) = self.pkg_index.get(&target.package) else {
                return Err(GraphError::UnknownPackage {
                    package: target.package.clone(),
                    task: target,
                });
            };
            let t = self.intern(target.task.as_str());
            out.push((p, t));
            return Ok(());
        }
        if spec.is_empty() {
            return Err(invalid("empty task name"));
        }
        let t = self.intern(spec);
        out.push((package, t));
        Ok(())
    }

    fn intern(&mut self, task: &str) -> u32 {
        if let Some(&t) = self.task_index.get(task) {
            return t;
        }
        let t = self.task_names.len() as u32;
        self.task_names.push(TaskName::from(task));
        self.task_index.insert(task.to_string(), t);
        t
    }

    /// The index of `key`, adding (and queueing) the node on first sight. `dependent` is the
    /// node whose `dependsOn` led here, for the error message; `None` for an entry point.
    fn node(&mut self, key: Key, dependent: Option<usize>) -> Result<usize, GraphError> {
        if let Some(&i) = self.index.get(&key) {
            return Ok(i);
        }
        let package = &self.pkg_names[key.0 as usize];
        let task = &self.task_names[key.1 as usize];
        let Some(resolved) = self.ws.resolve_task(package, task.as_str()) else {
            let id = TaskId {
                package: package.clone(),
                task: task.clone(),
            };
            let dependent = dependent.map_or_else(|| id.clone(), |d| self.nodes[d].id.clone());
            return Err(if id.package.is_root() {
                GraphError::MissingRootTask {
                    task: id,
                    dependent,
                }
            } else {
                GraphError::MissingDefinition {
                    dependent,
                    task: id,
                }
            });
        };
        Ok(self.insert(key, resolved))
    }

    fn insert(&mut self, key: Key, task: ResolvedTask) -> usize {
        let i = self.nodes.len();
        let id = TaskId {
            package: self.pkg_names[key.0 as usize].clone(),
            task: self.task_names[key.1 as usize].clone(),
        };
        self.index.insert(key, i);
        self.keys.push(key);
        self.nodes.push(TaskNode {
            id,
            task,
            args: Vec::new(),
        });
        self.deps.push(Vec::new());
        self.queue.push(i);
        i
    }
}

/// Rule 15: a persistent task never finishes, so a task waiting for it would wait forever.
fn check_persistent_dependencies(graph: &TaskGraph) -> Result<(), GraphError> {
    let nodes = graph.nodes();
    for (i, deps) in graph.deps().iter().enumerate() {
        for &d in deps {
            let dep = &nodes[d];
            if dep.task.persistent && !dep.is_noop() {
                return Err(GraphError::PersistentDependency {
                    task: dep.id.clone(),
                    dependent: nodes[i].id.clone(),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
