//! Environment variables in a key: which ones, and what of them is kept.
//!
//! Patterns are Turborepo's: a name (`API_URL`), a wildcard (`NEXT_PUBLIC_*`, `*` anywhere),
//! and `!pattern` to exclude names that another pattern brought in (exclusions win whatever
//! their position). A named variable that is not set still takes part: unset and set-to-empty
//! digest differently, so exporting `CI=` is a change. Wildcards only bring in variables that
//! are set. Only a digest of each value is ever kept, never the value: the manifest is written
//! to disk and values are often secrets.

use std::collections::BTreeMap;

use crate::Digest;
use crate::encode::Encoder;

const ENV_VALUE_CONTEXT: &str = "kiln 2025 env value v1";

/// A list of variable patterns split into what it includes and what its `!` entries
/// exclude (exclusions win whatever their position).
#[derive(Clone, Debug, Default)]
pub struct EnvPatterns<'a> {
    include: Vec<&'a str>,
    exclude: Vec<&'a str>,
}

impl<'a> EnvPatterns<'a> {
    pub fn new(patterns: &'a [String]) -> Self {
        Self::from_strs(patterns.iter().map(String::as_str))
    }

    pub fn from_strs(patterns: impl IntoIterator<Item = &'a str>) -> Self {
        let mut split = EnvPatterns::default();
        for pattern in patterns {
            match pattern.strip_prefix('!') {
                Some(p) if !p.is_empty() => split.exclude.push(p),
                Some(_) => {}
                None if !pattern.is_empty() => split.include.push(pattern),
                None => {}
            }
        }
        split
    }

    /// A positive entry matches `name`.
    pub fn includes(&self, name: &str) -> bool {
        self.include.iter().any(|p| wildcard_match(p, name))
    }

    /// A `!` entry matches `name`.
    pub fn excludes(&self, name: &str) -> bool {
        self.exclude.iter().any(|p| wildcard_match(p, name))
    }

    /// Included and not excluded.
    pub fn matches(&self, name: &str) -> bool {
        self.includes(name) && !self.excludes(name)
    }
}

/// The variables selected by `patterns` from `env`, sorted by name, each with the digest of
/// its value (see [`env_value_digest`]).
pub fn env_digests(patterns: &[String], env: &BTreeMap<String, String>) -> Vec<(String, Digest)> {
    let split = EnvPatterns::new(patterns);
    let mut selected: BTreeMap<&str, Digest> = BTreeMap::new();
    for &pattern in &split.include {
        if pattern.contains('*') {
            for (name, value) in env {
                if wildcard_match(pattern, name) && !split.excludes(name) {
                    selected.insert(name, env_value_digest(Some(value)));
                }
            }
        } else if !split.excludes(pattern) {
            let value = env.get(pattern).map(String::as_str);
            selected.insert(pattern, env_value_digest(value));
        }
    }
    selected
        .into_iter()
        .map(|(name, digest)| (name.to_string(), digest))
        .collect()
}

/// The digest of one variable's value; `None` (unset) differs from `Some("")`.
pub fn env_value_digest(value: Option<&str>) -> Digest {
    Encoder::new(ENV_VALUE_CONTEXT).opt_str(value).finish()
}

/// A snapshot of this process's environment. Variables whose name or value is not UTF-8
/// are left out (with a debug note): a pattern can only name UTF-8 variables anyway.
pub fn process_env() -> BTreeMap<String, String> {
    std::env::vars_os()
        .filter_map(
            |(name, value)| match (name.into_string(), value.into_string()) {
                (Ok(name), Ok(value)) => Some((name, value)),
                (name, _) => {
                    tracing::debug!(?name, "skipping a non-UTF-8 environment variable");
                    None
                }
            },
        )
        .collect()
}

/// `*` matches any run of characters, everything else matches itself.
fn wildcard_match(pattern: &str, name: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn names(patterns: &[&str], e: &BTreeMap<String, String>) -> Vec<String> {
        let patterns: Vec<String> = patterns.iter().map(|s| s.to_string()).collect();
        env_digests(&patterns, e)
            .into_iter()
            .map(|(n, _)| n)
            .collect()
    }

    #[test]
    fn wildcards_match_anywhere_in_the_name() {
        assert!(wildcard_match("NEXT_PUBLIC_*", "NEXT_PUBLIC_URL"));
        assert!(wildcard_match("NEXT_PUBLIC_*", "NEXT_PUBLIC_"));
        assert!(!wildcard_match("NEXT_PUBLIC_*", "NEXT_URL"));
        assert!(wildcard_match("*_KEY", "STRIPE_KEY"));
        assert!(wildcard_match("A*B*C", "AxxBxxC"));
        assert!(!wildcard_match("A*B*C", "AxxC"));
        assert!(!wildcard_match("AB*B", "AB"));
        assert!(wildcard_match("EXACT", "EXACT") && !wildcard_match("EXACT", "EXACTLY"));
    }

    #[test]
    fn selects_names_and_wildcards_minus_exclusions_sorted() {
        let e = env(&[
            ("NEXT_PUBLIC_A", "1"),
            ("NEXT_PUBLIC_SECRET", "2"),
            ("HOME", "/root"),
            ("API", "x"),
        ]);
        assert_eq!(
            names(
                &["!NEXT_PUBLIC_SECRET", "NEXT_PUBLIC_*", "API", "UNSET"],
                &e
            ),
            ["API", "NEXT_PUBLIC_A", "UNSET"]
        );
    }

    #[test]
    fn unset_and_empty_differ_and_values_are_never_kept() {
        let unset = env_digests(&["X".to_string()], &env(&[]));
        let empty = env_digests(&["X".to_string()], &env(&[("X", "")]));
        assert_ne!(unset, empty);
        let set = env_digests(&["X".to_string()], &env(&[("X", "hunter2")]));
        assert_eq!(set[0].1, env_value_digest(Some("hunter2")));
        assert_ne!(set[0].1.to_hex(), "hunter2");
    }
}
