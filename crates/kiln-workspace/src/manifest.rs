//! `package.json`: the few fields discovery reads, and which dependency specs point at a
//! workspace package.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::error::{ConfigError, offset_of};

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PackageJson {
    pub(crate) name: Option<String>,
    pub(crate) version: Option<String>,
    #[serde(default)]
    pub(crate) scripts: BTreeMap<String, String>,
    #[serde(default)]
    dependencies: BTreeMap<String, String>,
    #[serde(default)]
    dev_dependencies: BTreeMap<String, String>,
    #[serde(default)]
    optional_dependencies: BTreeMap<String, String>,
    pub(crate) workspaces: Option<Workspaces>,
    pub(crate) package_manager: Option<String>,
}

/// npm/yarn/bun `workspaces`: a list of globs, or yarn's `{ "packages": [...] }`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum Workspaces {
    List(Vec<String>),
    Object {
        #[serde(default)]
        packages: Vec<String>,
    },
}

impl Workspaces {
    pub(crate) fn globs(&self) -> &[String] {
        match self {
            Workspaces::List(globs) | Workspaces::Object { packages: globs } => globs,
        }
    }
}

/// Parses a `package.json`; `file` is how errors name it.
pub(crate) fn parse(file: &Path, text: &str) -> Result<PackageJson, ConfigError> {
    serde_json::from_str(text).map_err(|e| {
        let at = offset_of(text, e.line(), e.column());
        let full = e.to_string();
        let message = full
            .rsplit_once(" at line ")
            .map_or(full.as_str(), |(m, _)| m);
        ConfigError::new(file, text, at..at + 1, message, "here")
    })
}

impl PackageJson {
    /// Every (name, spec) of the fields that make internal dependencies: `dependencies`,
    /// `devDependencies` and `optionalDependencies`, as Turborepo's `all_dependencies`.
    /// `peerDependencies` are left out: the package that installs a peer provides it, so
    /// counting them adds `^build` edges Turborepo does not have (and false cycles).
    pub(crate) fn dependency_specs(&self) -> impl Iterator<Item = (&str, &str)> {
        [
            &self.dependencies,
            &self.dev_dependencies,
            &self.optional_dependencies,
        ]
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// What a dependency spec points at, before knowing the workspace's packages.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Target<'a> {
    /// The package of this name, if the workspace has one.
    Name(&'a str),
    /// The package in this directory, relative to the depending package's directory.
    Path(&'a str),
    /// Never a workspace package: a registry alias to another name, a git or tarball URL.
    External,
}

/// Where `"key": "spec"` points. Plain ranges and `workspace:*`/`^`/`~` point at `key`;
/// `workspace:other@*` and `npm:other@1` at `other` (an `npm:` alias is fetched from the
/// registry, so it is external unless it names `key` itself); `workspace:../p`, `file:`,
/// `link:` and `portal:` at a directory.
pub(crate) fn target<'a>(key: &'a str, spec: &'a str) -> Target<'a> {
    let spec = spec.trim();
    if let Some(rest) = spec.strip_prefix("workspace:") {
        if is_path(rest) {
            return Target::Path(rest);
        }
        return Target::Name(alias_name(rest).unwrap_or(key));
    }
    if let Some(rest) = spec.strip_prefix("npm:") {
        return match alias_name(rest).unwrap_or(rest) {
            name if name == key => Target::Name(key),
            _ => Target::External,
        };
    }
    for protocol in ["file:", "link:", "portal:"] {
        if let Some(rest) = spec.strip_prefix(protocol) {
            return Target::Path(rest);
        }
    }
    if is_path(spec) {
        return Target::Path(spec);
    }
    // Ranges never contain `/` or `:`; URLs, `github:x/y` and `user/repo` shorthands do.
    if spec.contains(['/', ':']) {
        return Target::External;
    }
    Target::Name(key)
}

fn is_path(spec: &str) -> bool {
    spec.starts_with("./") || spec.starts_with("../") || spec == "." || spec == ".."
}

/// `name` of `name@range` (`@scope/name@range` too), `None` when there is no alias.
fn alias_name(spec: &str) -> Option<&str> {
    let at = spec.get(1..)?.find('@')? + 1;
    Some(&spec[..at]).filter(|name| !name.is_empty())
}

/// `base/rel` made lexically normal and `/`-separated; `None` if it leaves the root.
pub(crate) fn join_dir(base: &str, rel: &str) -> Option<String> {
    let mut parts: Vec<&str> = base.split('/').filter(|p| !p.is_empty()).collect();
    for part in rel.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_the_workspace_protocol_point_at_the_key() {
        for spec in [
            "*",
            "^1.2.0",
            ">=1 <2",
            "workspace:*",
            "workspace:^",
            "workspace:~",
            "workspace:^1.0.0",
        ] {
            assert_eq!(target("a", spec), Target::Name("a"), "{spec}");
        }
    }

    #[test]
    fn workspace_aliases_point_at_the_aliased_name() {
        assert_eq!(target("x", "workspace:y@*"), Target::Name("y"));
        assert_eq!(target("x", "workspace:@s/y@^1"), Target::Name("@s/y"));
    }

    #[test]
    fn npm_aliases_to_another_name_are_external() {
        assert_eq!(target("x", "npm:other@1"), Target::External);
        assert_eq!(target("x", "npm:@s/other@1"), Target::External);
        assert_eq!(target("x", "npm:x@1"), Target::Name("x"));
    }

    #[test]
    fn paths_and_urls() {
        assert_eq!(target("x", "workspace:../b"), Target::Path("../b"));
        assert_eq!(target("x", "file:../b"), Target::Path("../b"));
        assert_eq!(target("x", "link:./vendor/x"), Target::Path("./vendor/x"));
        assert_eq!(target("x", "github:acme/x"), Target::External);
        assert_eq!(target("x", "acme/x#main"), Target::External);
        assert_eq!(target("x", "https://example.com/x.tgz"), Target::External);
    }

    #[test]
    fn joins_directories_lexically() {
        assert_eq!(
            join_dir("packages/a", "../b").as_deref(),
            Some("packages/b")
        );
        assert_eq!(
            join_dir("packages/a", "./c/").as_deref(),
            Some("packages/a/c")
        );
        assert_eq!(join_dir("a", "../../x"), None);
    }
}
