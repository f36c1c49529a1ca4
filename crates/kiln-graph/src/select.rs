//! Applying `--filter`s: which packages a run starts from.
//!
//! This follows Turborepo 2.x's `FilterResolver::filter_graph` (turborepo-scope/filter.rs),
//! rule by rule:
//!
//! - the result is the union of what the include filters select, minus the union of what
//!   the `!` filters select;
//! - with no filter at all, every package, the root `//` among them (whose tasks only exist
//!   as `//#task` entries, so it adds nothing unless the pipeline has some); with only `!`
//!   filters, every package but the root: the root has to be included explicitly;
//! - `x...` adds `x`'s dependencies, and `...x...` the dependencies of `x`'s dependents,
//!   where, as in Turborepo's `PackageGraph::dependencies`, every package also depends on
//!   what the root package depends on (transitively);
//! - so `...x` selects every package, the root included, when the root depends on `x`;
//! - an exact name that matches nothing is an error ("No package found with name …"),
//!   while a glob or directory that matches nothing only selects nothing;
//! - a git range (`[main]`) keeps, of the packages the name and directory match (all, with
//!   neither), those the range changed; `name...[main]` keeps those of which the package
//!   or one of its dependencies changed. The changed packages come from the caller
//!   ([`ChangedPackages`]); then `...` and `^` apply as usual.

use std::collections::{BTreeSet, HashSet};

use kiln_core::PackageName;
use kiln_workspace::Package;

use crate::filter::{DirPattern, GitRange, NamePattern};
use crate::{Filter, GraphError, PackageGraph};

/// The packages each git range of the filters changed, worked out by the caller from git.
pub type ChangedPackages = std::collections::BTreeMap<GitRange, BTreeSet<PackageName>>;

/// The packages the filters select, and the filters that matched no package (for the caller
/// to warn about).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selection {
    pub packages: BTreeSet<PackageName>,
    /// Filters, as written, whose name or directory matched no package at all.
    pub unmatched: Vec<String>,
}

/// The packages `filters` select; see [`select`] for the report of unmatched filters.
pub fn select_packages(
    graph: &PackageGraph,
    packages: &[Package],
    filters: &[Filter],
) -> Result<BTreeSet<PackageName>, GraphError> {
    select(graph, packages, filters).map(|s| s.packages)
}

/// [`select_packages`], also saying which filters matched nothing.
pub fn select(
    graph: &PackageGraph,
    packages: &[Package],
    filters: &[Filter],
) -> Result<Selection, GraphError> {
    select_changed(graph, packages, filters, &ChangedPackages::new())
}

/// [`select`] for filters with git ranges: `changed` holds the packages each range changed.
pub fn select_changed(
    graph: &PackageGraph,
    packages: &[Package],
    filters: &[Filter],
    changed: &ChangedPackages,
) -> Result<Selection, GraphError> {
    let package_dirs: HashSet<&str> = packages.iter().map(|p| p.dir.as_str()).collect();
    let root_deps = graph.root_dependencies();
    let mut included: Option<BTreeSet<PackageName>> = None;
    let mut excluded = BTreeSet::new();
    let mut unmatched = Vec::new();
    for filter in filters {
        if filter.dir.as_ref().is_some_and(DirPattern::leaves_root) {
            return Err(GraphError::InvalidFilter {
                filter: filter.to_string(),
                reason: "the directory leads outside the workspace root".into(),
            });
        }
        let mut matched: Vec<&PackageName> = packages
            .iter()
            .filter(|p| matches(filter, p, &package_dirs))
            .map(|p| &p.name)
            .collect();
        if matched.is_empty() {
            if let (Some(NamePattern::Exact(name)), None) = (&filter.name, &filter.dir) {
                return Err(GraphError::NoPackageNamed {
                    name: name.clone(),
                    filter: filter.to_string(),
                });
            }
            tracing::debug!(filter = %filter, "filter matched no package");
            unmatched.push(filter.to_string());
            continue;
        }
        if let Some(range) = &filter.git {
            let Some(changed) = changed.get(range) else {
                return Err(GraphError::InvalidFilter {
                    filter: filter.to_string(),
                    reason: format!("the packages {range} changed are not known"),
                });
            };
            matched.retain(|p| {
                changed.contains(*p)
                    || filter.git_through_dependencies
                        && graph
                            .dependencies_of_all([*p])
                            .iter()
                            .chain(&root_deps)
                            .any(|d| changed.contains(d))
            });
            if matched.is_empty() {
                continue;
            }
        }
        let selected = expand(graph, &root_deps, filter, &matched);
        if filter.exclude {
            excluded.extend(selected);
        } else {
            included.get_or_insert_with(BTreeSet::new).extend(selected);
        }
    }
    let mut packages_out = included.unwrap_or_else(|| {
        if filters.iter().all(|f| f.exclude) {
            let root = filters.is_empty();
            packages
                .iter()
                .filter(|p| root || !p.name.is_root())
                .map(|p| p.name.clone())
                .collect()
        } else {
            // Every include filter matched nothing.
            BTreeSet::new()
        }
    });
    packages_out.retain(|p| !excluded.contains(p));
    Ok(Selection {
        packages: packages_out,
        unmatched,
    })
}

fn matches(filter: &Filter, package: &Package, package_dirs: &HashSet<&str>) -> bool {
    let name_ok = filter
        .name
        .as_ref()
        .is_none_or(|n| n.matches(package.name.as_str()));
    let dir_ok = filter.dir.as_ref().is_none_or(|d| {
        let is_package_dir = matches!(d, DirPattern::Path(p) if package_dirs.contains(p.as_str()));
        d.matches(&package.dir, is_package_dir)
    });
    name_ok && dir_ok
}

/// What one filter selects from the packages its name/directory `matched`.
fn expand(
    graph: &PackageGraph,
    root_deps: &BTreeSet<PackageName>,
    filter: &Filter,
    matched: &[&PackageName],
) -> BTreeSet<PackageName> {
    if filter.with_dependents && matched.iter().any(|p| root_deps.contains(*p)) {
        // Every package depends on the root's dependencies, so all are dependents: Turborepo
        // then returns the whole graph, the matched package itself included even with `^`.
        return graph.packages().iter().cloned().collect();
    }
    let mut out = BTreeSet::new();
    if !filter.exclude_self {
        out.extend(matched.iter().map(|&p| p.clone()));
    }
    if filter.with_dependencies {
        out.extend(graph.dependencies_of_all(matched.iter().copied()));
        // Turborepo takes each package's dependencies apart, each without the package
        // itself: a lone matched package stays out of its own (`x^...`).
        let mut implied = root_deps.clone();
        if let [only] = matched {
            implied.remove(*only);
        }
        out.extend(implied);
    }
    if filter.with_dependents {
        let dependents = graph.dependents_of_all(matched.iter().copied());
        if filter.with_dependencies && !dependents.is_empty() {
            out.extend(graph.dependencies_of_all(&dependents));
            out.extend(root_deps.iter().cloned());
        }
        out.extend(dependents);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::package_in;

    /// a → b, a → x, b → c, y → x; @x/d and @y/e nested under packages/nested.
    fn repo() -> Vec<Package> {
        repo_with_root(&[])
    }

    fn repo_with_root(root_deps: &[&str]) -> Vec<Package> {
        vec![
            package_in("//", "", root_deps),
            package_in("@x/d", "packages/nested/d", &[]),
            package_in("@y/e", "packages/nested/e", &[]),
            package_in("a", "packages/a", &["b", "x"]),
            package_in("b", "packages/b", &["c"]),
            package_in("c", "packages/c", &[]),
            package_in("x", "packages/x", &[]),
            package_in("y", "packages/y", &["x"]),
        ]
    }

    fn select_str(filters: &[&str]) -> Result<Vec<String>, GraphError> {
        select_in(repo(), filters)
    }

    fn select_in(packages: Vec<Package>, filters: &[&str]) -> Result<Vec<String>, GraphError> {
        let graph = PackageGraph::new(&packages);
        let filters: Vec<Filter> = filters.iter().map(|f| Filter::parse(f).unwrap()).collect();
        Ok(select_packages(&graph, &packages, &filters)?
            .into_iter()
            .map(|p| p.to_string())
            .collect())
    }

    fn sel(filters: &[&str]) -> Vec<String> {
        select_str(filters).unwrap_or_else(|e| panic!("{filters:?}: {e}"))
    }

    #[test]
    fn no_filter_selects_every_package_and_the_root() {
        assert_eq!(sel(&[]), ["//", "@x/d", "@y/e", "a", "b", "c", "x", "y"]);
    }

    #[test]
    fn names_and_globs() {
        assert_eq!(sel(&["b"]), ["b"]);
        assert_eq!(sel(&["@x/*"]), ["@x/d"]);
        assert_eq!(sel(&["@*/e"]), ["@y/e"]);
        assert_eq!(sel(&["*"]).len(), 8);
        assert_eq!(sel(&["b", "c"]), ["b", "c"]);
        assert_eq!(sel(&["//"]), ["//"]);
    }

    #[test]
    fn directories() {
        assert_eq!(sel(&["./packages/b"]), ["b"]);
        assert_eq!(sel(&["./packages/b/"]), ["b"]);
        assert_eq!(sel(&["{./packages/*}"]), ["a", "b", "c", "x", "y"]);
        assert_eq!(sel(&["./packages/nested/*"]), ["@x/d", "@y/e"]);
        // Not a package's directory: everything under it.
        assert_eq!(sel(&["./packages/nested"]), ["@x/d", "@y/e"]);
        // The root's own directory is the root package only, as in Turborepo.
        assert_eq!(sel(&["."]), ["//"]);
        assert_eq!(sel(&["b{./packages/b}"]), ["b"]);
        assert!(sel(&["a{./packages/b}"]).is_empty());
    }

    #[test]
    fn dependencies_and_dependents() {
        assert_eq!(sel(&["b..."]), ["b", "c"]);
        assert_eq!(sel(&["b^..."]), ["c"]);
        assert_eq!(sel(&["...x"]), ["a", "x", "y"]);
        assert_eq!(sel(&["...^x"]), ["a", "y"]);
        // Dependents bring their own dependencies along: x comes in through a.
        assert_eq!(sel(&["...b..."]), ["a", "b", "c", "x"]);
        // ... which can bring the excluded package back, as Turborepo does.
        assert_eq!(sel(&["...^b..."]), ["a", "b", "c", "x"]);
        assert_eq!(sel(&["{./packages/b}..."]), ["b", "c"]);
    }

    #[test]
    fn exclusions_apply_after_includes() {
        assert_eq!(sel(&["!a"]), ["@x/d", "@y/e", "b", "c", "x", "y"]);
        assert_eq!(sel(&["b...", "!c"]), ["b"]);
        assert_eq!(sel(&["!...c", "a..."]), ["x"]);
        assert_eq!(sel(&["!b...", "!@*/*"]), ["a", "x", "y"]);
    }

    #[test]
    fn only_exclusions_start_from_every_package_but_the_root() {
        // Turborepo's filter_graph: "the root package has to be explicitly included".
        assert_eq!(sel(&["!x"]), ["@x/d", "@y/e", "a", "b", "c", "y"]);
        assert_eq!(sel(&["!x", "//"]), ["//"]);
        assert_eq!(sel(&[]).first().map(String::as_str), Some("//"));
    }

    #[test]
    fn the_roots_dependencies_are_everyones_dependencies() {
        // The root package.json depends on b (so on c too).
        let sel = |filters: &[&str]| select_in(repo_with_root(&["b"]), filters).unwrap();
        assert_eq!(sel(&["y..."]), ["b", "c", "x", "y"]);
        assert_eq!(sel(&["b^..."]), ["c"]);
        assert_eq!(sel(&["{./packages/nested/*}^..."]), ["b", "c"]);
        // Every package depends on c, so every package is a dependent of c.
        let everything = ["//", "@x/d", "@y/e", "a", "b", "c", "x", "y"];
        assert_eq!(sel(&["...c"]), everything);
        assert_eq!(sel(&["...^c"]), everything);
        assert_eq!(sel(&["...x"]), ["a", "x", "y"]);
        assert_eq!(sel(&["...x..."]), ["a", "b", "c", "x", "y"]);
        assert_eq!(sel(&["!...c"]), Vec::<String>::new());
    }

    #[test]
    fn git_ranges_keep_the_changed_packages_then_follow_the_graph() {
        // a → b, a → x, b → c, y → x; the range changed c and y.
        let packages = repo();
        let graph = PackageGraph::new(&packages);
        let range = GitRange {
            from: "main".into(),
            to: None,
        };
        let changed: ChangedPackages =
            [(range, ["c".into(), "y".into()].into_iter().collect())].into();
        let sel = |filters: &[&str]| -> Vec<String> {
            let filters: Vec<Filter> = filters.iter().map(|f| Filter::parse(f).unwrap()).collect();
            select_changed(&graph, &packages, &filters, &changed)
                .unwrap()
                .packages
                .into_iter()
                .map(|p| p.to_string())
                .collect()
        };
        assert_eq!(sel(&["[main]"]), ["c", "y"]);
        assert_eq!(sel(&["...[main]"]), ["a", "b", "c", "y"]);
        assert_eq!(sel(&["...^[main]"]), ["a", "b"]);
        assert_eq!(sel(&["[main]..."]), ["c", "x", "y"]);
        assert_eq!(sel(&["b[main]"]), Vec::<String>::new());
        assert_eq!(sel(&["c[main]"]), ["c"]);
        // `name...[range]`: the package, if it or a dependency changed.
        assert_eq!(sel(&["b...[main]"]), ["b"]);
        assert_eq!(sel(&["x...[main]"]), Vec::<String>::new());
        assert_eq!(sel(&["{./packages/*}[main]"]), ["c", "y"]);
        // An unknown range is the caller's mistake, said so.
        let other = vec![Filter::parse("[dev]").unwrap()];
        assert!(select_changed(&graph, &packages, &other, &changed).is_err());
    }

    #[test]
    fn a_directory_above_the_root_is_an_error() {
        for filter in ["./..", "{../x}", "!../packages/a"] {
            let err = select_str(&[filter]).unwrap_err();
            assert!(
                matches!(err, GraphError::InvalidFilter { .. }),
                "{filter}: {err}"
            );
        }
    }

    #[test]
    fn an_unknown_exact_name_is_an_error() {
        for filters in [&["nope"][..], &["nope", "b"], &["!nope"], &["...nope"]] {
            let err = select_str(filters).unwrap_err();
            assert!(
                matches!(err, GraphError::NoPackageNamed { ref name, .. } if name == "nope"),
                "{err}"
            );
        }
    }

    #[test]
    fn globs_and_directories_matching_nothing_are_reported() {
        let packages = repo();
        let graph = PackageGraph::new(&packages);
        let filters: Vec<Filter> = ["nope*", "./apps", "b"]
            .iter()
            .map(|f| Filter::parse(f).unwrap())
            .collect();
        let selection = select(&graph, &packages, &filters).unwrap();
        assert_eq!(selection.unmatched, ["nope*", "./apps"]);
        assert_eq!(selection.packages.len(), 1);

        let selection = select(&graph, &packages, &filters[..1]).unwrap();
        assert!(selection.packages.is_empty());
    }
}
