use std::fmt;

use serde::{Deserialize, Serialize};

/// The name Turborepo gives the workspace root package in task ids (`//#build`).
pub const ROOT_PACKAGE: &str = "//";

/// A workspace package's name, as in its `package.json` (`@acme/web`), or `//` for the root.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PackageName(String);

impl PackageName {
    pub fn new(name: impl Into<String>) -> Self {
        Self(name.into())
    }

    pub fn root() -> Self {
        Self(ROOT_PACKAGE.to_string())
    }

    pub fn is_root(&self) -> bool {
        self.0 == ROOT_PACKAGE
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PackageName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for PackageName {
    fn from(s: &str) -> Self {
        Self::new(s)
    }
}

/// A task's name: the key of a script in `package.json` or of a task in the pipeline (`build`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TaskName(String);

impl TaskName {
    pub fn new(name: impl Into<String>) -> Self {
        Self(name.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TaskName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for TaskName {
    fn from(s: &str) -> Self {
        Self::new(s)
    }
}

/// One node of the task graph: a task in a package, written `pkg#task` as Turborepo does.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TaskId {
    pub package: PackageName,
    pub task: TaskName,
}

impl TaskId {
    pub fn new(package: impl Into<String>, task: impl Into<String>) -> Self {
        Self {
            package: PackageName::new(package),
            task: TaskName::new(task),
        }
    }

    /// Parses `pkg#task`. The package part may itself contain `#`-free scopes (`@a/b#build`);
    /// the last `#` separates the task.
    pub fn parse(s: &str) -> Result<Self, TaskIdParseError> {
        match s.rsplit_once('#') {
            Some((pkg, task)) if !pkg.is_empty() && !task.is_empty() => Ok(Self::new(pkg, task)),
            _ => Err(TaskIdParseError(s.to_string())),
        }
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.package, self.task)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskIdParseError(pub String);

impl fmt::Display for TaskIdParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` is not a task id (expected `package#task`)", self.0)
    }
}

impl std::error::Error for TaskIdParseError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_scoped_and_root_ids() {
        let id = TaskId::parse("@acme/web#build").unwrap();
        assert_eq!(id.package.as_str(), "@acme/web");
        assert_eq!(id.task.as_str(), "build");
        assert!(TaskId::parse("//#lint").unwrap().package.is_root());
        assert_eq!(id.to_string(), "@acme/web#build");
    }

    #[test]
    fn rejects_ids_without_both_halves() {
        assert!(TaskId::parse("build").is_err());
        assert!(TaskId::parse("#build").is_err());
        assert!(TaskId::parse("web#").is_err());
    }
}
