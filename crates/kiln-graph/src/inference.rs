//! Package inference: what a run selects when kiln starts below the workspace root, as
//! Turborepo's `PackageInference` (turborepo-scope/filter.rs) does.
//!
//! - Inside a package's directory (or below it), the package is the one inferred: with no
//!   `--filter` only it is selected, and a directory filter (`./src`) is taken in it.
//! - Between the root and the packages (`apps/`), the directory is: with no `--filter`,
//!   every package under it is selected (`{apps/**}`), and `./x`, `../x`, `{./x}` are
//!   relative to it.
//! - A filter that names packages (`web`, `@acme/*`, `web{./apps/*}`) is left as written,
//!   directory included, as in Turborepo.
//!
//! At the root nothing is inferred. When the directory is inside one package and also
//! above another (nested packages), the enclosing package wins; Turborepo's answer there
//! depends on hash-map order.

use kiln_core::PackageName;
use kiln_workspace::Package;

use crate::filter::{DirPattern, NamePattern};
use crate::{Filter, GraphError};

/// Where kiln was started, as Turborepo infers a selection from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inference {
    /// The package whose directory holds the starting directory, if any.
    pub package: Option<PackageName>,
    /// That package's directory, else the starting directory itself (relative to the root,
    /// `/`-separated, never empty).
    pub dir: String,
}

impl Inference {
    /// The inference for starting in `cwd` (relative to the root, `/`-separated), or `None`
    /// at the root itself.
    pub fn new(packages: &[Package], cwd: &str) -> Option<Inference> {
        let cwd = cwd.trim_matches('/');
        if cwd.is_empty() || cwd == "." {
            return None;
        }
        let enclosing = packages
            .iter()
            .filter(|p| !p.name.is_root() && !p.dir.is_empty())
            .filter(|p| {
                cwd.strip_prefix(p.dir.as_str())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
            })
            .max_by_key(|p| p.dir.len());
        Some(match enclosing {
            Some(p) => Inference {
                package: Some(p.name.clone()),
                dir: p.dir.clone(),
            },
            None => Inference {
                package: None,
                dir: cwd.to_string(),
            },
        })
    }

    /// `filters` with the inference applied; with no filter at all, the one it implies.
    /// Fails when a rebased directory leads outside the workspace root.
    pub fn apply(&self, filters: &[Filter]) -> Result<Vec<Filter>, GraphError> {
        if filters.is_empty() {
            let raw = match &self.package {
                Some(name) => name.to_string(),
                None => format!("{{./{}/**}}", self.dir),
            };
            return Ok(vec![self.apply_one(&Filter::implied(raw))?]);
        }
        filters.iter().map(|f| self.apply_one(f)).collect()
    }

    fn apply_one(&self, filter: &Filter) -> Result<Filter, GraphError> {
        if filter.name.is_some() {
            return Ok(filter.clone());
        }
        let mut out = filter.clone();
        if let Some(name) = &self.package {
            out.name = Some(NamePattern::Exact(name.to_string()));
        }
        let invalid = |reason: String| GraphError::InvalidFilter {
            filter: filter.to_string(),
            reason,
        };
        out.dir = match (&filter.dir, &self.package) {
            (Some(dir), _) => Some(dir.rebase(&self.dir).map_err(invalid)?),
            (None, Some(_)) => None,
            (None, None) => Some(DirPattern::parse(&format!("{}/**", self.dir)).map_err(invalid)?),
        };
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::package_in;
    use crate::{PackageGraph, select_packages};

    fn repo() -> Vec<Package> {
        vec![
            package_in("//", "", &[]),
            package_in("web", "apps/web", &["ui"]),
            package_in("docs", "apps/docs", &[]),
            package_in("admin", "apps/group/admin", &[]),
            package_in("ui", "packages/ui", &[]),
        ]
    }

    /// What `kiln run --filter …` selects when started in `cwd`.
    fn run_in(cwd: &str, filters: &[&str]) -> Result<Vec<String>, GraphError> {
        let packages = repo();
        let graph = PackageGraph::new(&packages);
        let mut parsed: Vec<Filter> = filters.iter().map(|f| Filter::parse(f).unwrap()).collect();
        if let Some(inference) = Inference::new(&packages, cwd) {
            parsed = inference.apply(&parsed)?;
        }
        Ok(select_packages(&graph, &packages, &parsed)?
            .into_iter()
            .map(|p| p.to_string())
            .collect())
    }

    fn sel(cwd: &str, filters: &[&str]) -> Vec<String> {
        run_in(cwd, filters).unwrap_or_else(|e| panic!("{cwd} {filters:?}: {e}"))
    }

    #[test]
    fn inside_a_package_only_that_package_is_selected() {
        assert_eq!(sel("apps/web", &[]), ["web"]);
        assert_eq!(sel("apps/web/src/deep", &[]), ["web"]);
        assert_eq!(sel("apps/web", &["...ui"]), ["ui", "web"]);
        // Graph operators apply to the inferred package.
        assert_eq!(sel("apps/web", &["./..."]), ["ui", "web"]);
    }

    #[test]
    fn between_the_root_and_packages_everything_below_is_selected() {
        assert_eq!(sel("apps", &[]), ["admin", "docs", "web"]);
        assert_eq!(sel("apps/group", &[]), ["admin"]);
        // Exclusions alone start from every package, inferred directory or not.
        assert_eq!(sel("apps", &["!docs"]), ["admin", "ui", "web"]);
        assert_eq!(sel("apps", &["!./docs"]), ["admin", "ui", "web"]);
    }

    #[test]
    fn directory_filters_are_relative_to_the_starting_directory() {
        assert_eq!(sel("apps", &["./web"]), ["web"]);
        assert_eq!(sel("apps", &["{./*}"]), ["docs", "web"]);
        assert_eq!(sel("apps", &["../packages/ui"]), ["ui"]);
        assert_eq!(sel("apps", &["{../packages/*}..."]), ["ui"]);
        // Inside a package the package is inferred too: another directory selects nothing.
        assert!(sel("apps/web", &["../docs"]).is_empty());
        // A named filter is left as written, its directory relative to the root.
        assert_eq!(sel("apps", &["web{./apps/*}"]), ["web"]);
        assert_eq!(sel("", &["./apps/web"]), ["web"]);
    }

    #[test]
    fn a_rebased_directory_above_the_root_is_an_error() {
        let err = run_in("apps", &["../../x"]).unwrap_err();
        assert!(matches!(err, GraphError::InvalidFilter { .. }), "{err}");
    }

    #[test]
    fn nothing_is_inferred_at_the_root() {
        assert_eq!(Inference::new(&repo(), ""), None);
        assert_eq!(sel("", &[]).len(), 5);
    }
}
