//! `--filter` expressions, in the syntax pnpm and Turborepo share.
//!
//! ```text
//! [!] [...[^]] ( name | name-glob | ./dir | {dir} | name{dir} ) [[...][range]] [[^]...]
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
//! | `[main]`          | the packages with a file changed since `main` (work tree included) |
//! | `[a...b]`         | the packages with a file changed between the merge-base of `a` and `b`, and `b` |
//! | `...[HEAD^1]`, `[HEAD^1]...` | the changed packages and their dependents / dependencies |
//! | `web[main]`, `{./apps/*}[main]` | the packages matched that changed             |
//! | `web...[main]`    | `web`, if it or anything it depends on changed                   |
//!
//! Directories are parsed as written (`../x` keeps its `..`) and are relative to the
//! workspace root when selected; started below the root, the CLI first rebases them onto the
//! current directory ([`crate::Inference`]). A directory that is a package's own directory
//! selects that package only, as Turborepo does (`./` is the root package); a directory that
//! holds no package itself selects every package under it, as pnpm does (Turborepo selects
//! nothing there, which is never what the user meant). `dir/**` also matches `dir`, as in
//! Turborepo.
//! Which packages a git range changed is the caller's to work out from git (this crate reads
//! no files), as Turborepo does: see [`crate::ChangedPackages`]. A selector that starts with
//! `.` is a directory glob through its end, as in Turborepo (`./packages/[ab]` is a glob, not
//! a range): a range takes a braced directory, `{./packages/*}[main]`.

use std::fmt;

use globset::{Glob, GlobBuilder, GlobMatcher};

use crate::GraphError;

/// One parsed `--filter`.
#[derive(Clone, Debug)]
pub struct Filter {
    pub(crate) raw: String,
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
    /// `[range]`: only the matched packages that the range changed.
    pub git: Option<GitRange>,
    /// `name...[range]`: the matched packages of which they or a dependency changed.
    pub git_through_dependencies: bool,
}

/// The revisions of a `[from]` or `[from...to]` filter.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GitRange {
    pub from: String,
    /// `None`: up to the work tree, uncommitted and untracked files included.
    pub to: Option<String>,
}

impl fmt::Display for GitRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.to {
            Some(to) => write!(f, "[{}...{to}]", self.from),
            None => write!(f, "[{}]", self.from),
        }
    }
}

/// How a filter names packages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NamePattern {
    Exact(String),
    /// Contains `*`, which matches any run of characters (including `/` and nothing).
    Glob(String),
}

/// How a filter picks packages by directory: lexically normalised, `/`-separated, empty for
/// the root itself. As parsed it may start with `..` components (relative to a current
/// directory); [`DirPattern::rebase`] resolves them, and selection rejects what is left.
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
        let mut git = None;
        let mut git_through_dependencies = false;
        if !rest.starts_with('.')
            && rest.ends_with(']')
            && let Some(open) = rest.rfind('[')
        {
            let inner = &rest[open + 1..rest.len() - 1];
            git = Some(parse_range(inner).map_err(|r| invalid(&r))?);
            rest = &rest[..open];
            if let Some(r) = rest.strip_suffix("...") {
                rest = r;
                git_through_dependencies = true;
            }
        }
        if rest.is_empty() && git.is_none() {
            return Err(invalid("it names no package, directory or glob"));
        }
        if rest.contains(['[', ']']) && !rest.starts_with('.') {
            return Err(invalid(
                "a git range goes at the end, in brackets: `[main]`, `web[HEAD^1]`, `[a...b]`",
            ));
        }
        if rest.contains('^') {
            return Err(invalid(
                "`^` only goes between `...` and the package (`...^web`, `web^...`)",
            ));
        }
        let (name, dir) = if rest.is_empty() {
            (None, None)
        } else if let Some(open) = rest.find('{') {
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
            git,
            git_through_dependencies,
        })
    }

    /// A filter that selects nothing by itself, shown as `raw` (one the CLI infers).
    pub(crate) fn implied(raw: String) -> Filter {
        Filter {
            raw,
            exclude: false,
            name: None,
            dir: None,
            with_dependencies: false,
            with_dependents: false,
            exclude_self: false,
            git: None,
            git_through_dependencies: false,
        }
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
    /// The pattern as normalised (`packages/*`, `../x`).
    pub fn as_str(&self) -> &str {
        match self {
            DirPattern::Path(path) => path,
            DirPattern::Glob { pattern, .. } => pattern,
        }
    }

    /// The directory the pattern looks in: its leading components without glob syntax
    /// (`apps` for `apps/*/web`, all of a plain path).
    pub fn base(&self) -> &str {
        let text = self.as_str();
        let literal = text
            .split('/')
            .take_while(|c| !c.contains(GLOB_CHARS))
            .map(|c| c.len() + 1)
            .sum::<usize>();
        &text[..literal.saturating_sub(1).min(text.len())]
    }

    /// Parses a directory as written in a filter (`./apps/*`, `../x`).
    pub fn parse(raw: &str) -> Result<DirPattern, String> {
        parse_dir(raw)
    }

    /// Whether the pattern still starts with `..`: above the directory it is relative to.
    pub fn leaves_root(&self) -> bool {
        self.as_str().split('/').next() == Some("..")
    }

    /// The pattern taken relative to `dir` (relative to the root) instead of the root.
    pub fn rebase(&self, dir: &str) -> Result<DirPattern, String> {
        if dir.is_empty() {
            return Ok(self.clone());
        }
        parse_dir(&format!("{dir}/{}", self.as_str()))
    }

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
            // `dir/**` matches `dir` itself too (wax does; globset wants one more component).
            DirPattern::Glob { pattern, matcher } => {
                matcher.is_match(dir)
                    || pattern.ends_with("/**") && matcher.is_match(format!("{dir}/_"))
            }
        }
    }
}

const GLOB_CHARS: [char; 4] = ['*', '?', '[', '{'];

/// The inside of `[…]`: `ref`, or `from...to`.
fn parse_range(inner: &str) -> Result<GitRange, String> {
    let bad = |what: &str| Err(format!("`[{inner}]`: {what}"));
    match inner.split_once("...") {
        Some((from, to)) if from.trim().is_empty() || to.trim().is_empty() => {
            bad("a range needs a revision on each side of `...`")
        }
        Some((from, to)) => Ok(GitRange {
            from: from.trim().to_string(),
            to: Some(to.trim().to_string()),
        }),
        None if inner.trim().is_empty() => bad("names no revision"),
        None => Ok(GitRange {
            from: inner.trim().to_string(),
            to: None,
        }),
    }
}

/// `./a/../b/` → `b`; `.` → `` (the root); `../x` stays `../x` (see [`DirPattern::rebase`]).
fn parse_dir(raw: &str) -> Result<DirPattern, String> {
    if raw.starts_with('/') {
        return Err("directories are relative to the workspace root".into());
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in raw.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|p| *p != "..") => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    let path = parts.join("/");
    if !path.contains(GLOB_CHARS) {
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
            "", "!", "...", "^...", "{}", "{./a", "{/abs}", "[]", "[a...]", "we[x]b", "we^b",
        ] {
            let err = Filter::parse(bad).unwrap_err();
            assert!(
                matches!(err, GraphError::InvalidFilter { .. }),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn parses_git_ranges_as_turbo_writes_them() {
        let range = |from: &str, to: Option<&str>| {
            Some(GitRange {
                from: from.into(),
                to: to.map(str::to_string),
            })
        };
        let f = parse("[main...HEAD]");
        assert_eq!(f.git, range("main", Some("HEAD")));
        assert!(f.name.is_none() && f.dir.is_none());
        let f = parse("...[HEAD^1]");
        assert_eq!(f.git, range("HEAD^1", None));
        assert!(f.with_dependents && !f.with_dependencies);
        let f = parse("[HEAD~2]^...");
        assert!(f.with_dependencies && f.exclude_self);
        let f = parse("web...[main]");
        assert!(f.git_through_dependencies && !f.with_dependencies);
        assert_eq!(f.name, Some(NamePattern::Exact("web".into())));
        let f = parse("{./apps/*}[HEAD^1]");
        assert!(matches!(f.dir, Some(DirPattern::Glob { .. })));
        assert_eq!(f.git, range("HEAD^1", None));
        // A selector starting with `.` is a directory glob to its end, as in Turborepo.
        assert!(parse("./packages/[ab]").git.is_none());
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
    fn parent_directories_are_kept_until_rebased() {
        let dir = parse("{../lib/*}").dir.unwrap();
        assert_eq!(dir.as_str(), "../lib/*");
        assert!(dir.leaves_root());
        let rebased = dir.rebase("apps/web").unwrap();
        assert_eq!(rebased.as_str(), "apps/lib/*");
        assert!(!rebased.leaves_root());
        assert!(rebased.matches("apps/lib/x", false));
        assert!(parse("./..").dir.unwrap().rebase("").unwrap().leaves_root());
    }

    #[test]
    fn the_base_is_the_part_before_any_glob() {
        let base = |s: &str| parse(s).dir.unwrap().base().to_string();
        assert_eq!(base("{./apps/*/web}"), "apps");
        assert_eq!(base("./apps/web"), "apps/web");
        assert_eq!(base("{*}"), "");
        assert_eq!(base("."), "");
    }

    #[test]
    fn a_trailing_globstar_matches_the_directory_itself() {
        let dir = parse("{./apps/**}").dir.unwrap();
        assert!(dir.matches("apps", false));
        assert!(dir.matches("apps/web", false));
        assert!(dir.matches("apps/group/web", false));
        assert!(!dir.matches("application", false));
    }

    #[test]
    fn directory_globs_stay_within_one_level() {
        let f = parse("{./packages/*}");
        let dir = f.dir.unwrap();
        assert!(dir.matches("packages/b", false));
        assert!(!dir.matches("packages/nested/d", false));
    }
}
