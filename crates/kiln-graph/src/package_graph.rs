//! The package graph: one node per workspace package, an edge per internal dependency.
//!
//! Building it never fails: Turborepo runs a repository whose packages depend on each other
//! in a loop (it only warns), and fails later only if a *task* cycle follows from it (a
//! `^build` through the loop). So a cycle here is something to ask about
//! ([`PackageGraph::check_acyclic`]), not a construction error.

use std::collections::{BTreeSet, HashMap};

use kiln_core::PackageName;
use kiln_workspace::Package;

use crate::GraphError;
use crate::topo::{invert, topological_order};

/// Packages and their internal dependencies, with index maps for O(1) lookups.
#[derive(Clone, Debug)]
pub struct PackageGraph {
    /// Sorted by name; a package's index is its position here.
    names: Vec<PackageName>,
    index: HashMap<PackageName, usize>,
    deps: Vec<Vec<usize>>,
    dependents: Vec<Vec<usize>>,
}

impl PackageGraph {
    /// Builds the graph. A dependency on a name that is not among `packages` is ignored (with
    /// a trace): discovery only lists workspace packages, so it can only come from a caller
    /// that passed a subset.
    pub fn new(packages: &[Package]) -> Self {
        let mut names: Vec<PackageName> = packages.iter().map(|p| p.name.clone()).collect();
        names.sort();
        names.dedup();
        let index: HashMap<PackageName, usize> = names
            .iter()
            .enumerate()
            .map(|(i, name)| (name.clone(), i))
            .collect();
        let mut deps = vec![Vec::new(); names.len()];
        for package in packages {
            let from = index[&package.name];
            for dep in &package.dependencies {
                match index.get(dep) {
                    Some(&to) => deps[from].push(to),
                    None => tracing::debug!(
                        package = %package.name,
                        dependency = %dep,
                        "ignoring dependency on a package outside the graph"
                    ),
                }
            }
        }
        for list in &mut deps {
            list.sort_unstable();
            list.dedup();
        }
        let dependents = invert(&deps);
        Self {
            names,
            index,
            deps,
            dependents,
        }
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Every package name, sorted.
    pub fn packages(&self) -> &[PackageName] {
        &self.names
    }

    pub fn contains(&self, name: &PackageName) -> bool {
        self.index.contains_key(name)
    }

    /// Direct internal dependencies of `name`, sorted (empty for an unknown package).
    pub fn dependencies(&self, name: &PackageName) -> impl Iterator<Item = &PackageName> {
        self.neighbours(&self.deps, name)
    }

    /// Packages that depend on `name` directly, sorted (empty for an unknown package).
    pub fn dependents(&self, name: &PackageName) -> impl Iterator<Item = &PackageName> {
        self.neighbours(&self.dependents, name)
    }

    /// Every package `name` depends on, directly or not (`name` itself only through a cycle).
    pub fn transitive_dependencies(&self, name: &PackageName) -> BTreeSet<PackageName> {
        self.closure(&self.deps, [name])
    }

    /// Every package that depends on `name`, directly or not.
    pub fn transitive_dependents(&self, name: &PackageName) -> BTreeSet<PackageName> {
        self.closure(&self.dependents, [name])
    }

    /// What the root package (`//`) depends on, transitively, `//` itself left out. Turborepo
    /// counts these as dependencies of every package (`PackageGraph::dependencies`).
    pub fn root_dependencies(&self) -> BTreeSet<PackageName> {
        let root = PackageName::root();
        let mut deps = self.transitive_dependencies(&root);
        deps.remove(&root);
        deps
    }

    /// Transitive dependencies of a whole set at once (one walk, not one per package).
    pub fn dependencies_of_all<'a>(
        &self,
        names: impl IntoIterator<Item = &'a PackageName>,
    ) -> BTreeSet<PackageName> {
        self.closure(&self.deps, names)
    }

    /// Transitive dependents of a whole set at once.
    pub fn dependents_of_all<'a>(
        &self,
        names: impl IntoIterator<Item = &'a PackageName>,
    ) -> BTreeSet<PackageName> {
        self.closure(&self.dependents, names)
    }

    /// Packages with dependencies first (ties in name order), or the cycle that prevents it.
    pub fn topological_order(&self) -> Result<Vec<&PackageName>, GraphError> {
        match topological_order(&self.deps) {
            Ok(order) => Ok(order.into_iter().map(|i| &self.names[i]).collect()),
            Err(cycle) => Err(GraphError::PackageCycle {
                cycle: cycle.into_iter().map(|i| self.names[i].clone()).collect(),
            }),
        }
    }

    /// `Err(PackageCycle)` naming one cycle in order (`a → b → c → a`), the same one every run.
    pub fn check_acyclic(&self) -> Result<(), GraphError> {
        self.topological_order().map(|_| ())
    }

    fn neighbours<'a>(
        &'a self,
        adjacency: &'a [Vec<usize>],
        name: &PackageName,
    ) -> impl Iterator<Item = &'a PackageName> {
        let list = self
            .index
            .get(name)
            .map(|&i| adjacency[i].as_slice())
            .unwrap_or_default();
        list.iter().map(|&i| &self.names[i])
    }

    /// Everything reachable from `start` through `adjacency`, excluding the start nodes
    /// unless a path leads back to them.
    fn closure<'a>(
        &self,
        adjacency: &[Vec<usize>],
        start: impl IntoIterator<Item = &'a PackageName>,
    ) -> BTreeSet<PackageName> {
        let mut seen = vec![false; self.names.len()];
        let mut stack: Vec<usize> = start
            .into_iter()
            .filter_map(|name| self.index.get(name).copied())
            .collect();
        let mut out = BTreeSet::new();
        while let Some(node) = stack.pop() {
            for &next in &adjacency[node] {
                if !seen[next] {
                    seen[next] = true;
                    out.insert(self.names[next].clone());
                    stack.push(next);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::packages;

    fn names(set: impl IntoIterator<Item = impl ToString>) -> Vec<String> {
        set.into_iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn looks_up_direct_and_transitive_neighbours() {
        let graph = PackageGraph::new(&packages(&["web -> ui utils", "ui -> utils", "utils"]));
        let web = PackageName::from("web");
        let utils = PackageName::from("utils");
        assert_eq!(names(graph.dependencies(&web)), ["ui", "utils"]);
        assert_eq!(names(graph.dependents(&utils)), ["ui", "web"]);
        assert_eq!(names(graph.transitive_dependencies(&web)), ["ui", "utils"]);
        assert_eq!(names(graph.transitive_dependents(&utils)), ["ui", "web"]);
        assert!(graph.transitive_dependents(&web).is_empty());
    }

    #[test]
    fn root_dependencies_are_the_roots_closure() {
        let graph = PackageGraph::new(&packages(&["// -> a |", "a -> b", "b", "c"]));
        assert_eq!(names(graph.root_dependencies()), ["a", "b"]);
        let graph = PackageGraph::new(&packages(&["a"]));
        assert!(graph.root_dependencies().is_empty());
    }

    #[test]
    fn unknown_packages_have_no_neighbours() {
        let graph = PackageGraph::new(&packages(&["a"]));
        assert_eq!(graph.dependencies(&"zzz".into()).count(), 0);
        assert!(graph.transitive_dependents(&"zzz".into()).is_empty());
    }

    #[test]
    fn orders_dependencies_first() {
        let graph = PackageGraph::new(&packages(&["a -> b", "b -> c", "c", "d"]));
        assert_eq!(
            names(graph.topological_order().unwrap()),
            ["//", "c", "b", "a", "d"]
        );
    }

    #[test]
    fn a_cycle_is_reported_in_dependency_order() {
        let graph = PackageGraph::new(&packages(&["a -> b", "b -> c", "c -> a", "d -> a"]));
        let err = graph.check_acyclic().unwrap_err();
        assert_eq!(err.to_string(), "package dependency cycle: a → b → c → a");
        // A cycle is still a graph you can walk: Turborepo only warns about it.
        assert_eq!(
            names(graph.transitive_dependencies(&"a".into())),
            ["a", "b", "c"]
        );
    }

    #[test]
    fn dependencies_on_packages_outside_the_list_are_ignored() {
        let graph = PackageGraph::new(&packages(&["a -> ghost"]));
        assert_eq!(graph.dependencies(&"a".into()).count(), 0);
    }
}
