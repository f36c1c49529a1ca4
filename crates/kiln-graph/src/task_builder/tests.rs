//! One test per rule of the module doc; the expected graphs are what `turbo run --dry=json`
//! printed for the same repository.

use std::collections::BTreeSet;

use kiln_core::{PackageName, TaskId, TaskName};
use kiln_workspace::Workspace;

use crate::testkit::workspace;
use crate::{GraphError, TaskGraph};

fn build(ws: &Workspace, tasks: &[&str], scope: Option<&[&str]>) -> Result<TaskGraph, GraphError> {
    let tasks: Vec<TaskName> = tasks.iter().map(|t| TaskName::from(*t)).collect();
    let scope: BTreeSet<PackageName> = match scope {
        Some(names) => names.iter().map(|n| PackageName::from(*n)).collect(),
        None => ws.packages.iter().map(|p| p.name.clone()).collect(),
    };
    TaskGraph::build(ws, &tasks, &scope)
}

fn nodes(graph: &TaskGraph) -> Vec<String> {
    let mut out: Vec<String> = graph.topological_order().map(|id| id.to_string()).collect();
    out.sort();
    out
}

fn edges(graph: &TaskGraph) -> Vec<String> {
    let mut out = Vec::new();
    for id in graph.topological_order() {
        for dep in graph.dependencies(id) {
            out.push(format!("{id} -> {dep}"));
        }
    }
    out.sort();
    out
}

fn noops(graph: &TaskGraph) -> Vec<String> {
    let mut out: Vec<String> = graph
        .nodes()
        .iter()
        .filter(|n| n.is_noop())
        .map(|n| n.id.to_string())
        .collect();
    out.sort();
    out
}

/// a → b → c; c has only a `test` script, d has no scripts.
fn chain(tasks: &[&str]) -> Workspace {
    workspace(
        &["a -> b | build", "b -> c | build", "c | test", "d |"],
        tasks,
    )
}

#[test]
fn entry_for_every_package_that_defines_the_task() {
    let ws = chain(&["build -> ^build"]);
    let graph = build(&ws, &["build"], None).unwrap();
    assert_eq!(nodes(&graph), ["a#build", "b#build", "c#build", "d#build"]);
    assert_eq!(edges(&graph), ["a#build -> b#build", "b#build -> c#build"]);
    assert_eq!(noops(&graph), ["c#build", "d#build"]);

    let ws = chain(&["build -> ^build", "test -> build"]);
    let graph = build(&ws, &["test"], None).unwrap();
    assert_eq!(graph.len(), 8);
    assert_eq!(
        edges(&graph),
        [
            "a#build -> b#build",
            "a#test -> a#build",
            "b#build -> c#build",
            "b#test -> b#build",
            "c#test -> c#build",
            "d#test -> d#build",
        ]
    );
}

#[test]
fn package_level_definitions_add_entry_points_for_that_package_only() {
    let ws = workspace(
        &["a | build", "d | build"],
        &["build", "[d] only-d -> build"],
    );
    let graph = build(&ws, &["only-d"], None).unwrap();
    assert_eq!(edges(&graph), ["d#only-d -> d#build"]);
    assert_eq!(noops(&graph), ["d#only-d"]);
}

#[test]
fn root_tasks_only_through_root_entries() {
    let packages = ["// | build", "a -> b | build", "b | build"];
    let ws = workspace(&packages, &["build -> ^build"]);
    let graph = build(&ws, &["build"], None).unwrap();
    assert_eq!(nodes(&graph), ["a#build", "b#build"]);

    let ws = workspace(&packages, &["build -> ^build", "//#build"]);
    let graph = build(&ws, &["build"], None).unwrap();
    assert_eq!(nodes(&graph), ["//#build", "a#build", "b#build"]);
    assert!(!graph.node(&TaskId::new("//", "build")).unwrap().is_noop());

    let graph = build(&ws, &["build"], Some(&["a"])).unwrap();
    assert_eq!(nodes(&graph), ["a#build", "b#build"]);
    let graph = build(&ws, &["build"], Some(&["//"])).unwrap();
    assert_eq!(nodes(&graph), ["//#build"]);
}

#[test]
fn unknown_task_is_an_error() {
    let ws = chain(&["build -> ^build", "a#lint"]);
    let err = build(&ws, &["deploy"], None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "could not find task `deploy` in the pipeline"
    );
    // Defined, but not for any package in scope: an empty graph, not an error.
    let graph = build(&ws, &["lint"], Some(&["b"])).unwrap();
    assert!(graph.is_empty());
}

#[test]
fn requested_package_task_ignores_the_scope() {
    let ws = chain(&["build -> ^build"]);
    let graph = build(&ws, &["a#build"], Some(&["b"])).unwrap();
    assert_eq!(nodes(&graph), ["a#build", "b#build", "c#build"]);

    let err = build(&ws, &["zzz#build"], None).unwrap_err();
    assert!(matches!(err, GraphError::UnknownPackage { package, .. } if package.as_str() == "zzz"));
    let err = build(&ws, &["d#lint"], None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "could not find task `d#lint` in the pipeline"
    );
}

#[test]
fn caret_means_the_task_in_each_dependency() {
    let ws = workspace(
        &[
            "app -> ui utils | build",
            "ui -> utils | build",
            "utils | build",
        ],
        &["build -> ^build"],
    );
    let graph = build(&ws, &["build"], Some(&["app"])).unwrap();
    assert_eq!(
        edges(&graph),
        [
            "app#build -> ui#build",
            "app#build -> utils#build",
            "ui#build -> utils#build"
        ]
    );
}

#[test]
fn caret_from_the_root_follows_the_root_manifest_dependencies() {
    let ws = workspace(
        &[
            "// -> a | build",
            "a -> b | build",
            "b | build",
            "c | build",
        ],
        &["build -> ^build", "//#build -> ^build"],
    );
    let graph = build(&ws, &["build"], Some(&["//"])).unwrap();
    assert_eq!(edges(&graph), ["//#build -> a#build", "a#build -> b#build"]);
}

#[test]
fn plain_name_means_the_same_package() {
    let ws = workspace(
        &["a | build test", "// | lint check"],
        &["build", "test -> build", "//#lint", "//#check -> lint"],
    );
    let graph = build(&ws, &["test", "check"], None).unwrap();
    assert_eq!(edges(&graph), ["//#check -> //#lint", "a#test -> a#build"]);
}

#[test]
fn package_task_means_that_task() {
    let ws = workspace(
        &["a | build", "d | build"],
        &["build", "a#build -> d#build //#codegen", "//#codegen"],
    );
    let graph = build(&ws, &["build"], Some(&["a"])).unwrap();
    assert_eq!(
        edges(&graph),
        ["a#build -> //#codegen", "a#build -> d#build"]
    );
}

#[test]
fn dependencies_are_followed_outside_the_scope() {
    let ws = chain(&["build -> ^build"]);
    let graph = build(&ws, &["build"], Some(&["b"])).unwrap();
    assert_eq!(nodes(&graph), ["b#build", "c#build"]);
}

#[test]
fn dependency_without_definition_is_an_error() {
    let ws = chain(&["build -> ^lint", "a#lint", "c#lint"]);
    let err = build(&ws, &["build"], None).unwrap_err();
    assert_eq!(
        err,
        GraphError::MissingDefinition {
            task: TaskId::new("b", "lint"),
            dependent: TaskId::new("a", "build"),
        }
    );

    let ws = chain(&["build -> lint"]);
    let err = build(&ws, &["build"], Some(&["d"])).unwrap_err();
    assert!(
        matches!(err, GraphError::MissingDefinition { task, .. } if task == TaskId::new("d", "lint"))
    );

    let ws = chain(&["build", "a#build -> d#lint"]);
    let err = build(&ws, &["build"], Some(&["a"])).unwrap_err();
    assert!(
        matches!(err, GraphError::MissingDefinition { task, .. } if task == TaskId::new("d", "lint"))
    );
}

#[test]
fn dependency_on_unknown_package_is_an_error() {
    let ws = chain(&["build -> zzz#build"]);
    let err = build(&ws, &["build"], None).unwrap_err();
    assert_eq!(
        err,
        GraphError::UnknownPackage {
            package: "zzz".into(),
            task: TaskId::new("zzz", "build"),
        }
    );
    // A definition for a package that does not exist is harmless.
    let ws = chain(&["build", "zzz#build"]);
    assert_eq!(build(&ws, &["build"], None).unwrap().len(), 4);
}

#[test]
fn root_dependency_needs_a_root_entry() {
    let ws = chain(&["build -> //#x"]);
    let err = build(&ws, &["build"], Some(&["d"])).unwrap_err();
    assert_eq!(
        err,
        GraphError::MissingRootTask {
            task: TaskId::new("//", "x"),
            dependent: TaskId::new("d", "build"),
        }
    );
    let ws = chain(&["build -> //#x", "//#x"]);
    let graph = build(&ws, &["build"], Some(&["d"])).unwrap();
    assert_eq!(edges(&graph), ["d#build -> //#x"]);
    assert_eq!(noops(&graph), ["//#x", "d#build"]);
}

#[test]
fn dependency_without_script_is_a_noop_node() {
    // b has no build script, yet a#build still waits for c#build through it.
    let ws = workspace(
        &["a -> b | build", "b -> c |", "c | build"],
        &["build -> ^build"],
    );
    let graph = build(&ws, &["build"], Some(&["a"])).unwrap();
    assert_eq!(edges(&graph), ["a#build -> b#build", "b#build -> c#build"]);
    assert_eq!(noops(&graph), ["b#build"]);
}

#[test]
fn task_cycles_are_errors() {
    let ws = chain(&["build -> test", "test -> build"]);
    let err = build(&ws, &["build"], Some(&["d"])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "task dependency cycle: d#build → d#test → d#build"
    );

    let ws = chain(&["build -> ^build", "c#build -> a#build"]);
    let err = build(&ws, &["build"], None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "task dependency cycle: a#build → b#build → c#build → a#build"
    );
}

#[test]
fn package_cycles_only_matter_through_caret() {
    let packages = ["a -> b | build", "b -> a | build"];
    let ws = workspace(&packages, &["build"]);
    assert_eq!(build(&ws, &["build"], None).unwrap().len(), 2);

    let ws = workspace(&packages, &["build -> ^build"]);
    let err = build(&ws, &["build"], None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "task dependency cycle: a#build → b#build → a#build"
    );
}

#[test]
fn self_dependency_is_an_error() {
    let ws = chain(&["build -> build"]);
    let err = build(&ws, &["build"], None).unwrap_err();
    assert_eq!(err.to_string(), "`a#build` depends on itself");
}

#[test]
fn depending_on_a_persistent_task_is_an_error() {
    let ws = chain(&["build -> ^build (persistent)"]);
    let err = build(&ws, &["build"], None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "`b#build` is a persistent task, `a#build` cannot depend on it"
    );
    // Alone, a persistent task is fine.
    assert_eq!(build(&ws, &["build"], Some(&["d"])).unwrap().len(), 1);

    let ws = workspace(
        &["a | dev test", "c | test"],
        &["dev -> (persistent)", "test -> dev"],
    );
    // c has no `dev` script: nothing would run, so nothing would wait forever.
    let graph = build(&ws, &["test"], Some(&["c"])).unwrap();
    assert_eq!(edges(&graph), ["c#test -> c#dev"]);
    let err = build(&ws, &["test"], Some(&["a"])).unwrap_err();
    assert_eq!(
        err,
        GraphError::PersistentDependency {
            task: TaskId::new("a", "dev"),
            dependent: TaskId::new("a", "test"),
        }
    );
}

#[test]
fn with_adds_siblings_without_edges() {
    // As turbo 2.11: `dev` with `watch` beside it, and `api#serve` from outside the scope.
    let ws = workspace(
        &["web -> lib | dev watch", "lib | dev watch", "api | serve"],
        &[
            "dev -> ^dev (with:watch) (with:api#serve)",
            "watch",
            "serve",
        ],
    );
    let graph = build(&ws, &["dev"], Some(&["web"])).unwrap();
    assert_eq!(
        nodes(&graph),
        ["api#serve", "lib#dev", "lib#watch", "web#dev", "web#watch"]
    );
    assert_eq!(edges(&graph), ["web#dev -> lib#dev"]);
}

#[test]
fn only_keeps_the_requested_tasks() {
    let ws = workspace(
        &["web -> ui | build lint", "ui | build lint"],
        &["build -> ^build", "lint -> build"],
    );
    let tasks = [TaskName::from("build"), TaskName::from("lint")];
    let web: BTreeSet<PackageName> = [PackageName::from("web")].into();
    let graph = build(&ws, &["build", "lint"], Some(&["web"])).unwrap();
    let only = graph.only(&tasks, &web);
    assert_eq!(nodes(&only), ["web#build", "web#lint"]);
    assert_eq!(edges(&only), ["web#lint -> web#build"]);
    let all: BTreeSet<PackageName> = ws.packages.iter().map(|p| p.name.clone()).collect();
    let graph = build(&ws, &["build"], None).unwrap();
    let only = graph.only(&tasks[..1], &all);
    assert_eq!(edges(&only), ["web#build -> ui#build"]);
}

#[test]
fn invalid_depends_on_entries_name_the_task() {
    for spec in ["^", "^a#build", "#build"] {
        let ws = chain(&[&format!("build -> {spec}")]);
        let err = build(&ws, &["build"], Some(&["d"])).unwrap_err();
        assert!(
            matches!(&err, GraphError::InvalidDependsOn { spec: s, task, .. } if s == spec && task == &TaskId::new("d", "build")),
            "{spec}: {err}"
        );
    }
}

#[test]
fn order_is_topological_and_independent_of_request_order() {
    let ws = chain(&["build -> ^build", "test -> build"]);
    let one = build(&ws, &["test", "build"], None).unwrap();
    let two = build(&ws, &["build", "test"], None).unwrap();
    let order: Vec<_> = one.topological_order().collect();
    assert_eq!(order, two.topological_order().collect::<Vec<_>>());
    for (i, deps) in one.deps().iter().enumerate() {
        assert!(
            deps.iter().all(|&d| d < i),
            "{} waits for a later node",
            order[i]
        );
    }
    assert_eq!(
        order.iter().map(|id| id.to_string()).collect::<Vec<_>>(),
        [
            "c#build", "b#build", "a#build", "a#test", "b#test", "c#test", "d#build", "d#test"
        ]
    );
}

#[test]
fn two_thousand_packages_build_in_one_pass() {
    let lines: Vec<String> = (0..2000)
        .map(|i| {
            let deps: Vec<String> = (1..=3)
                .filter(|k| i >= *k * 7)
                .map(|k| format!("p{:04}", i - k * 7))
                .collect();
            format!("p{i:04} -> {}", deps.join(" "))
        })
        .collect();
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let ws = workspace(&lines, &["build -> ^build", "test -> build"]);
    let graph = build(&ws, &["build", "test"], None).unwrap();
    assert_eq!(graph.len(), 4000);
    assert!(graph.to_dot().lines().count() > 4000);
}
