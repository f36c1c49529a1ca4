//! `--filter` expressions, in the syntax pnpm and Turborepo share.
//!
//! ```text
//! [!] [...[^]] ( name | name-glob | ./dir | {dir} | name{dir} ) [[^]...]
//! ```
//!
//! | filter            | selects                                                         |
//! |-------------------|-----------------------------------------------------------------|
//! | `web`, `@acme/*`  | the package named so; `*` matches any run of characters, `/` too |
//! | `./apps/web`, `{apps/web}` | the package in that directory (see below)              |
//! | `{./apps/*}`      | packages whose directory matches the glob                        |
//! | `web{./apps/*}`   | both conditions                                                  |
//! | `web...`          | `web` and everything it depends on, transitively                 |
//! | `...web`          | `web` and everything that depends on it                          |
//! | `...web...`       | `web`, its dependents, and the dependencies of all of those      |
//! | `web^...`, `...^web` | the same without `web` itself                                 |
//! | `!web`, `!web...` | removed from the result, after every other filter is applied     |
//!
//! Directories are relative to the workspace root (the CLI makes them so). A directory that
//! is a package's own directory selects that package only, as Turborepo does (`./` is the
//! root package); a directory that holds no package itself selects every package under it,
//! as pnpm does (Turborepo selects nothing there, which is never what the user meant).
//! Git ranges (`[main]`, `...[HEAD^]`) are not supported here: they belong to `--affected`.

use std::fmt;

use globset::{Glob, GlobBuilder, GlobMatcher};

use crate::GraphError;

/// One parsed `--filter`.
#[derive(Clone, Debug)]
pub struct Filter {
    raw: String,
    /// `!…`: remove what this filter selects instead of adding it.
    pub exclude: bool,
    pub name: Option<NamePattern>,
    pub dir: Option<DirPattern>,
    /// `…...`: add the matched packages' dependencies, transitively.
    pub with_dependencies: bool,
    /// `...…`: add the matched packages' dependents, transitively.
    pub with_dependents: bool,
    /// `^`: leave the matched packages themselves out.
    pub exclude_self: bool,
}

/// How a filter names packages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NamePattern {
    Exact(String),
    /// Contains `*`, which matches any run of characters (including `/` and nothing).
    Glob(String),
}

/// How a filter picks packages by directory (normalised, relative to the root, `/`-separated,
/// empty for the root itself).
#[derive(Clone, Debug)]
pub enum DirPattern {
    Path(String),
    Glob {
        pattern: String,
        matcher: GlobMatcher,
    },
}

impl Filter {
    pub fn parse(input: &str) -> Result<Filter, GraphError> {
        let invalid = |reason: &str| GraphError::InvalidFilter {
            filter: input.to_string(),
            reason: reason.to_string(),
        };
        let mut rest = input.trim();
        let exclude = match rest.strip_prefix('!') {
            Some(r) => {
                rest = r;
                true
            }
            None => false,
        };
        let mut exclude_self = false;
        let with_dependents = match rest.strip_prefix("...") {
            Some(r) => {
                rest = r;
                if let Some(r) = rest.strip_prefix('^') {
                    rest = r;
                    exclude_self = true;
                }
                true
            }
            None => false,
        };
        let with_dependencies = match rest.strip_suffix("...") {
            Some(r) => {
                rest = r;
                if let Some(r) = rest.strip_suffix('^') {
                    rest = r;
                    exclude_self = true;
                }
                true
            }
            None => false,
        };
        if rest.is_empty() {
            return Err(invalid("it names no package, directory or glob"));
        }
        if rest.contains('[') {
            return Err(invalid(
                "git ranges (`[ref]`) are not supported in filters; use `--affected`",
            ));
        }
        if rest.contains('^') {
            return Err(invalid(
                "`^` only goes between `...` and the package (`...^web`, `web^...`)",
            ));
        }
        let (name, dir) = if let Some(open) = rest.find('{') {
            let Some(inner) = rest[open + 1..].strip_suffix('}') else {
                return Err(invalid("a `{` directory must close with `}` at the end"));
            };
            if inner.is_empty() {
                return Err(invalid("`{}` names no directory"));
            }
            let name = &rest[..open];
            (
                (!name.is_empty()).then_some(name),
                Some(parse_dir(inner).map_err(|r| invalid(&r))?),
            )
        } else if rest.starts_with('.') {
            (None, Some(parse_dir(rest).map_err(|r| invalid(&r))?))
        } else {
            (Some(rest), None)
        };
        let name = name.map(|n| {
            if n.contains('*') {
                NamePattern::Glob(n.to_string())
            } else {
                NamePattern::Exact(n.to_string())
            }
        });
        Ok(Filter {
            raw: input.to_string(),
            exclude,
            name,
            dir,
            with_dependencies,
            with_dependents,
            exclude_self,
        })
    }

    /// The filter as the user wrote it.
    pub fn as_str(&self) -> &str {
        &self.raw
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl std::str::FromStr for Filter {
    type Err = GraphError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Filter::parse(s)
    }
}

impl NamePattern {
    pub fn matches(&self, name: &str) -> bool {
        match self {
            NamePattern::Exact(exact) => exact == name,
            NamePattern::Glob(glob) => wildcard_match(glob, name),
        }
    }
}

impl DirPattern {
    /// Whether `dir` (a package directory, normalised like the pattern) is selected.
    /// `is_package_dir` says whether the pattern's path is itself some package's directory.
    pub(crate) fn matches(&self, dir: &str, pattern_is_package_dir: bool) -> bool {
        match self {
            DirPattern::Path(path) if pattern_is_package_dir => dir == path,
            DirPattern::Path(path) => {
                path.is_empty()
                    || dir
                        .strip_prefix(path.as_str())
                        .is_some_and(|rest| rest.starts_with('/'))
            }
            DirPattern::Glob { matcher, .. } => matcher.is_match(dir),
        }
    }
}

/// `./a/../b/` → `b`; `.` → `` (the root). Fails on paths leaving the root.
fn parse_dir(raw: &str) -> Result<DirPattern, String> {
    if raw.starts_with('/') {
        return Err("directories are relative to the workspace root".into());
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in raw.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(format!("`{raw}` leads outside the workspace root"));
                }
            }
            p => parts.push(p),
        }
    }
    let path = parts.join("/");
    if !path.contains(['*', '?', '[', '{']) {
        return Ok(DirPattern::Path(path));
    }
    let glob: Glob = GlobBuilder::new(&path)
        .literal_separator(true)
        .build()
        .map_err(|e| format!("bad directory glob: {e}"))?;
    Ok(DirPattern::Glob {
        pattern: path,
        matcher: glob.compile_matcher(),
    })
}

/// `*` matches any run of characters; everything else matches itself.
fn wildcard_match(pattern: &str, text: &str) -> bool {
    let mut pieces = pattern.split('*');
    let first = pieces.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let pieces: Vec<&str> = pieces.collect();
    let Some((last, middle)) = pieces.split_last() else {
        return rest.is_empty(); // no `*` at all
    };
    for piece in middle {
        match rest.find(piece) {
            Some(at) => rest = &rest[at + piece.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Filter {
        Filter::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn parses_graph_operators() {
        let f = parse("...^web...");
        assert!(f.with_dependents && f.with_dependencies && f.exclude_self && !f.exclude);
        assert_eq!(f.name, Some(NamePattern::Exact("web".into())));
        let f = parse("!@acme/*...");
        assert!(f.exclude && f.with_dependencies && !f.with_dependents && !f.exclude_self);
        assert_eq!(f.name, Some(NamePattern::Glob("@acme/*".into())));
        let f = parse("web^...");
        assert!(f.exclude_self && f.with_dependencies);
    }

    #[test]
    fn parses_directories() {
        let dir = |s: &str| match parse(s).dir {
            Some(DirPattern::Path(p)) => p,
            other => panic!("{s}: {other:?}"),
        };
        assert_eq!(dir("./packages/b/"), "packages/b");
        assert_eq!(dir("{packages/b}"), "packages/b");
        assert_eq!(dir("."), "");
        assert_eq!(dir("./"), "");
        assert_eq!(dir("./apps/../packages/b"), "packages/b");
        let f = parse("web{./apps/*}...");
        assert_eq!(f.name, Some(NamePattern::Exact("web".into())));
        assert!(matches!(f.dir, Some(DirPattern::Glob { ref pattern, .. }) if pattern == "apps/*"));
        assert!(f.with_dependencies);
    }

    #[test]
    fn rejects_what_it_cannot_mean() {
        for bad in [
            "",
            "!",
            "...",
            "^...",
            "{}",
            "{./a",
            "./..",
            "{/abs}",
            "[main]",
            "web[HEAD^1]",
            "we^b",
        ] {
            let err = Filter::parse(bad).unwrap_err();
            assert!(
                matches!(err, GraphError::InvalidFilter { .. }),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn name_globs_cross_scopes() {
        let glob = NamePattern::Glob;
        assert!(glob("@acme/*".into()).matches("@acme/ui"));
        assert!(!glob("@acme/*".into()).matches("@other/ui"));
        assert!(glob("@*/e".into()).matches("@y/e"));
        assert!(glob("*".into()).matches("//"));
        assert!(glob("*-app".into()).matches("web-app"));
        assert!(!glob("*-app".into()).matches("web-api"));
        assert!(glob("a*a".into()).matches("aa"));
        assert!(!glob("a*a".into()).matches("a"));
    }

    #[test]
    fn directory_globs_stay_within_one_level() {
        let f = parse("{./packages/*}");
        let dir = f.dir.unwrap();
        assert!(dir.matches("packages/b", false));
        assert!(!dir.matches("packages/nested/d", false));
    }
}
