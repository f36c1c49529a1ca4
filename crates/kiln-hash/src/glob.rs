//! Input and output globs, as Turborepo writes them.
//!
//! Globs are relative to a base directory (the package, or the workspace root for global
//! inputs) and use `globset` syntax with `*` not crossing `/` and `**` crossing any number of
//! directories. Two conveniences a user expects: a glob that names a directory (`src`,
//! `src/`) also matches everything under it, and a literal path (no glob metacharacter)
//! names its file even when git ignores it (`.env` in `globalDependencies` is the usual case).
//! A glob may not leave its base: absolute globs and `..` components are errors, so an
//! input set never depends on files outside the package.

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};

use crate::HashError;

/// Turborepo's token for "the default input set" inside an explicit `inputs` list.
pub const TURBO_DEFAULT: &str = "$TURBO_DEFAULT$";

/// One entry of an `inputs` list, applied in order.
pub(crate) enum InputOp {
    /// Add the files matching the glob; `literal` is the path when the glob has no
    /// metacharacter, so an ignored file can still be named.
    Add {
        set: GlobSet,
        literal: Option<String>,
    },
    /// `$TURBO_DEFAULT$`: add the default input set.
    Default,
    /// `!glob`: remove the matching files from what the earlier entries selected.
    Remove(GlobSet),
}

/// Compiles an `inputs` (or global dependencies) list. `within` names the base directory
/// in errors.
pub(crate) fn compile_inputs(globs: &[String], within: &str) -> Result<Vec<InputOp>, HashError> {
    let mut ops = Vec::with_capacity(globs.len());
    for raw in globs {
        if raw == TURBO_DEFAULT {
            ops.push(InputOp::Default);
            continue;
        }
        let (negated, body) = match raw.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, raw.as_str()),
        };
        let pattern = normalize(raw, body, within)?;
        let set = compile_one(raw, &pattern, within)?;
        if negated {
            ops.push(InputOp::Remove(set));
        } else {
            let literal = is_literal(&pattern).then(|| pattern.clone());
            ops.push(InputOp::Add { set, literal });
        }
    }
    Ok(ops)
}

/// The task's `outputs`: a file is an output when a positive glob matches it and no `!`
/// glob does (`.next/**`, `!.next/cache/**`).
pub(crate) struct OutputMatcher {
    include: PathSet,
    exclude: PathSet,
}

impl OutputMatcher {
    pub(crate) fn new(globs: &[String], within: &str) -> Result<Self, HashError> {
        let mut include = PathSetBuilder::default();
        let mut exclude = PathSetBuilder::default();
        for raw in globs {
            let (builder, body) = match raw.strip_prefix('!') {
                Some(rest) => (&mut exclude, rest),
                None => (&mut include, raw.as_str()),
            };
            // Outputs that point outside the package can never match a package file; the
            // cache crate is the one that rejects them.
            let pattern = body.trim_start_matches("./").trim_end_matches('/');
            builder.add(raw, pattern, within)?;
        }
        Ok(Self {
            include: include.build(globs, within)?,
            exclude: exclude.build(globs, within)?,
        })
    }

    pub(crate) fn is_output(&self, rel: &str) -> bool {
        self.include.is_match(rel) && !self.exclude.is_match(rel)
    }
}

/// Globs, each also matching everything under what it matches. The usual outputs are a
/// directory (`dist`, `dist/**`): those are compared as strings, because compiling a
/// `GlobSet` for every package was most of the cost of selecting inputs on a large
/// workspace, and the answer is the same.
struct PathSet {
    /// Matches the path itself and everything under it (`dist`).
    dirs: Vec<String>,
    /// Matches only what is under it (`dist/**`).
    under: Vec<String>,
    globs: Option<GlobSet>,
}

#[derive(Default)]
struct PathSetBuilder {
    dirs: Vec<String>,
    under: Vec<String>,
    globs: Option<GlobSetBuilder>,
}

impl PathSetBuilder {
    fn add(&mut self, raw: &str, pattern: &str, within: &str) -> Result<(), HashError> {
        let literal = |p: &str| !p.is_empty() && is_literal(p);
        if literal(pattern) {
            self.dirs.push(pattern.to_string());
        } else if let Some(dir) = pattern.strip_suffix("/**").filter(|d| literal(d)) {
            self.under.push(dir.to_string());
        } else {
            let builder = self.globs.get_or_insert_with(GlobSetBuilder::new);
            for glob in variants(raw, pattern, within)? {
                builder.add(glob);
            }
        }
        Ok(())
    }

    fn build(self, all: &[String], within: &str) -> Result<PathSet, HashError> {
        let globs = match self.globs {
            None => None,
            Some(builder) => Some(builder.build().map_err(|source| HashError::InvalidGlob {
                glob: all.join(", "),
                package_dir: within.to_string(),
                source,
            })?),
        };
        Ok(PathSet {
            dirs: self.dirs,
            under: self.under,
            globs,
        })
    }
}

impl PathSet {
    fn is_match(&self, rel: &str) -> bool {
        let is_under = |dir: &str| {
            rel.len() > dir.len() + 1 && rel.starts_with(dir) && rel.as_bytes()[dir.len()] == b'/'
        };
        self.dirs.iter().any(|d| rel == d || is_under(d))
            || self.under.iter().any(|d| is_under(d))
            || self.globs.as_ref().is_some_and(|g| g.is_match(rel))
    }
}

fn normalize(raw: &str, body: &str, within: &str) -> Result<String, HashError> {
    let outside = || HashError::GlobOutsidePackage {
        glob: raw.to_string(),
        package_dir: within.to_string(),
    };
    let mut pattern = body;
    while let Some(rest) = pattern.strip_prefix("./") {
        pattern = rest;
    }
    let pattern = pattern.trim_end_matches('/');
    if body.starts_with('/') || pattern.split('/').any(|c| c == "..") {
        return Err(outside());
    }
    if pattern.is_empty() || pattern == "." {
        return Ok("**".to_string());
    }
    Ok(pattern.to_string())
}

fn compile_one(raw: &str, pattern: &str, within: &str) -> Result<GlobSet, HashError> {
    let mut builder = GlobSetBuilder::new();
    for glob in variants(raw, pattern, within)? {
        builder.add(glob);
    }
    builder.build().map_err(|source| HashError::InvalidGlob {
        glob: raw.to_string(),
        package_dir: within.to_string(),
        source,
    })
}

/// The glob itself and, unless it already ends in `**`, the glob as a directory prefix.
fn variants(raw: &str, pattern: &str, within: &str) -> Result<Vec<Glob>, HashError> {
    let build = |p: &str| {
        GlobBuilder::new(p)
            .literal_separator(true)
            .build()
            .map_err(|source| HashError::InvalidGlob {
                glob: raw.to_string(),
                package_dir: within.to_string(),
                source,
            })
    };
    let mut globs = vec![build(pattern)?];
    if !pattern.ends_with("**") {
        globs.push(build(&format!("{pattern}/**"))?);
    }
    Ok(globs)
}

fn is_literal(pattern: &str) -> bool {
    !pattern.contains(['*', '?', '[', ']', '{', '}', '\\'])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn star_stays_within_a_directory_and_double_star_crosses() {
        let ops = compile_inputs(&strings(&["src/*.ts", "test/**/*.ts"]), "pkg").unwrap();
        let matches = |rel: &str| {
            ops.iter()
                .any(|op| matches!(op, InputOp::Add { set, .. } if set.is_match(rel)))
        };
        assert!(matches("src/a.ts"));
        assert!(!matches("src/deep/a.ts"));
        assert!(matches("test/a/b/c.ts"));
    }

    #[test]
    fn a_directory_glob_matches_everything_under_it() {
        let ops = compile_inputs(&strings(&["./src/"]), "pkg").unwrap();
        let InputOp::Add { set, literal } = &ops[0] else {
            panic!("expected an add")
        };
        assert!(set.is_match("src/a/b.ts"));
        assert_eq!(literal.as_deref(), Some("src"));
    }

    #[test]
    fn globs_that_leave_the_package_are_errors() {
        for glob in ["../other/**", "/etc/passwd", "!src/../../x", "a/../../b"] {
            let err = compile_inputs(&strings(&[glob]), "packages/a")
                .err()
                .unwrap();
            assert!(
                matches!(err, HashError::GlobOutsidePackage { .. }),
                "{glob}"
            );
        }
    }

    #[test]
    fn an_invalid_glob_names_itself_and_its_package() {
        let err = compile_inputs(&strings(&["src/[a"]), "packages/a")
            .err()
            .unwrap();
        let text = err.to_string();
        assert!(
            text.contains("src/[a") && text.contains("packages/a"),
            "{text}"
        );
    }

    #[test]
    fn outputs_honour_negations() {
        let outputs =
            OutputMatcher::new(&strings(&[".next/**", "!.next/cache/**", "dist"]), "").unwrap();
        assert!(outputs.is_output(".next/server/page.js"));
        assert!(!outputs.is_output(".next/cache/x"));
        assert!(outputs.is_output("dist/index.js"));
        assert!(!outputs.is_output("src/index.ts"));
    }

    #[test]
    fn directory_outputs_compared_as_strings_agree_with_their_globs() {
        let patterns = [
            "dist", "dist/**", ".next/**", "a/b", "a/b/**", "a+(b)", "d.ts",
        ];
        let paths = [
            "dist", "dist/x", "dist/x/y", "distx", "dist.js", "x/dist", "x/dist/y", ".next",
            ".next/a", "a/b", "a/bc", "a/b/c", "a/b/.c", "a", "a+(b)", "a+(b)/c", "d.ts", "dxts",
        ];
        for pattern in patterns {
            let fast = OutputMatcher::new(&strings(&[pattern]), "").unwrap();
            assert!(
                fast.include.globs.is_none(),
                "{pattern} takes the string path"
            );
            let mut builder = GlobSetBuilder::new();
            for glob in variants(pattern, pattern, "").unwrap() {
                builder.add(glob);
            }
            let slow = builder.build().unwrap();
            for path in paths {
                assert_eq!(
                    fast.is_output(path),
                    slow.is_match(path),
                    "{pattern} vs {path}"
                );
            }
        }
    }
}
