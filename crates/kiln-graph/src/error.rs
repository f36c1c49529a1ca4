use std::fmt::Write as _;

use kiln_core::{PackageName, TaskId, TaskName};

/// Everything that can go wrong while planning: each variant names what it is about.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    /// Packages that depend on each other in a loop, listed in dependency order with the
    /// first package repeated at the end (`a → b → a`).
    #[error("package dependency cycle: {}", join_path(.cycle))]
    PackageCycle { cycle: Vec<PackageName> },

    /// Tasks that depend on each other in a loop (`a#build → b#build → a#build`).
    #[error("task dependency cycle: {}", join_path(.cycle))]
    TaskCycle { cycle: Vec<TaskId> },

    /// A task whose `dependsOn` names itself.
    #[error("`{task}` depends on itself")]
    SelfDependency { task: TaskId },

    /// A requested task that the pipeline defines for no package at all.
    #[error("could not find task `{task}` in the pipeline")]
    UnknownTask { task: TaskName },

    /// A task id (`pkg#task`, requested or in `dependsOn`) names a package that does not exist.
    #[error("could not find package `{package}` referenced by task `{task}`")]
    UnknownPackage { package: PackageName, task: TaskId },

    /// `dependent` depends on `task`, but the pipeline does not define `task` for its package.
    #[error(
        "`{dependent}` depends on `{task}`, but the pipeline defines no `{}` task for package `{}`",
        .task.task,
        .task.package
    )]
    MissingDefinition { task: TaskId, dependent: TaskId },

    /// A root task (`//#x`) reached without a `//#x` entry in the pipeline.
    #[error(
        "`{dependent}` depends on `{task}`, which needs its own `{task}` entry in the pipeline \
         (root tasks are only defined as `//#task`)"
    )]
    MissingRootTask { task: TaskId, dependent: TaskId },

    /// A persistent task (a long-running server) that some other task waits for.
    #[error("`{task}` is a persistent task, `{dependent}` cannot depend on it")]
    PersistentDependency { task: TaskId, dependent: TaskId },

    /// A `dependsOn` entry that is not `task`, `^task` or `pkg#task`.
    #[error("invalid `dependsOn` entry `{spec}` in task `{task}`: {reason}")]
    InvalidDependsOn {
        spec: String,
        task: TaskId,
        reason: &'static str,
    },

    /// A `--filter` that cannot be parsed.
    #[error("invalid filter `{filter}`: {reason}")]
    InvalidFilter { filter: String, reason: String },

    /// A filter naming one package exactly (no glob) that does not exist.
    #[error("no package found with name `{name}` in the workspace (filter `{filter}`)")]
    NoPackageNamed { name: String, filter: String },
}

fn join_path<T: std::fmt::Display>(items: &[T]) -> String {
    let mut out = String::new();
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(" → ");
        }
        let _ = write!(out, "{item}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cycles_read_as_arrows() {
        let err = GraphError::TaskCycle {
            cycle: vec![
                TaskId::new("a", "build"),
                TaskId::new("b", "build"),
                TaskId::new("a", "build"),
            ],
        };
        assert_eq!(
            err.to_string(),
            "task dependency cycle: a#build → b#build → a#build"
        );
    }

    #[test]
    fn missing_definition_names_both_ends() {
        let err = GraphError::MissingDefinition {
            task: TaskId::new("b", "lint"),
            dependent: TaskId::new("a", "build"),
        };
        assert_eq!(
            err.to_string(),
            "`a#build` depends on `b#lint`, but the pipeline defines no `lint` task for package `b`"
        );
    }
}
