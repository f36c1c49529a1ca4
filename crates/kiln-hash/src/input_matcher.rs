//! [`InputMatcher`]: is this one path among a task's inputs? The per-path form of
//! [`crate::collect_inputs`], for `--affected`, where the changed files come from git and
//! a deleted file can no longer be walked.

use crate::HashError;
use crate::glob::{InputOp, OutputMatcher, compile_inputs};

/// A task's input selection, applied to one path at a time.
pub struct InputMatcher {
    ops: Vec<InputOp>,
    outputs: OutputMatcher,
    default_set: bool,
}

impl InputMatcher {
    /// `inputs` and `outputs` as the task declares them (package-relative); `within` names
    /// the package directory in errors.
    pub fn new(inputs: &[String], outputs: &[String], within: &str) -> Result<Self, HashError> {
        Ok(InputMatcher {
            ops: compile_inputs(inputs, within)?,
            outputs: OutputMatcher::new(outputs, within)?,
            default_set: inputs.is_empty(),
        })
    }

    /// Whether the package-relative `rel` (a file git does not ignore) is an input: the
    /// same rules as [`crate::collect_inputs`], `package.json` always included.
    pub fn matches(&self, rel: &str) -> bool {
        if never_walked(rel) {
            return false;
        }
        if rel == "package.json" {
            return true;
        }
        if self.default_set {
            return !self.outputs.is_output(rel);
        }
        let mut selected = false;
        for op in &self.ops {
            match op {
                InputOp::Default => selected |= !self.outputs.is_output(rel),
                InputOp::Add { set, literal } => {
                    selected |= set.is_match(rel) || literal.as_deref() == Some(rel);
                }
                InputOp::Remove(set) => selected &= !set.is_match(rel),
            }
        }
        selected
    }

    /// For root-relative globs (`globalDependencies`, `$TURBO_ROOT$/` inputs): the globs
    /// alone decide, with no default set and no `package.json` rule.
    pub fn matches_global(&self, rel: &str) -> bool {
        if never_walked(rel) {
            return false;
        }
        let mut selected = false;
        for op in &self.ops {
            match op {
                InputOp::Default => {}
                InputOp::Add { set, literal } => {
                    selected |= set.is_match(rel) || literal.as_deref() == Some(rel);
                }
                InputOp::Remove(set) => selected &= !set.is_match(rel),
            }
        }
        selected
    }
}

/// A path under a directory the walk never enters (`node_modules/`, `.turbo/`, …) is no
/// input, whatever git says about it.
pub fn never_walked(rel: &str) -> bool {
    rel.split('/')
        .rev()
        .skip(1)
        .any(|c| crate::walk::ALWAYS_EXCLUDED.contains(&c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher(inputs: &[&str], outputs: &[&str]) -> InputMatcher {
        let s = |v: &[&str]| v.iter().map(|g| g.to_string()).collect::<Vec<_>>();
        InputMatcher::new(&s(inputs), &s(outputs), "pkg").unwrap()
    }

    #[test]
    fn default_inputs_are_every_file_but_the_outputs() {
        let m = matcher(&[], &["dist/**"]);
        assert!(m.matches("src/a.ts"));
        assert!(m.matches("README.md"));
        assert!(!m.matches("dist/a.js"));
    }

    #[test]
    fn globs_apply_in_order_and_package_json_always_counts() {
        let m = matcher(&["src/**", "!src/**/*.test.ts"], &[]);
        assert!(m.matches("src/a.ts"));
        assert!(!m.matches("src/a.test.ts"));
        assert!(!m.matches("README.md"));
        assert!(m.matches("package.json"));
        let m = matcher(&["$TURBO_DEFAULT$", "!README.md"], &["dist/**"]);
        assert!(m.matches("src/a.ts"));
        assert!(!m.matches("README.md"));
        assert!(!m.matches("dist/x"));
        let m = matcher(&["src"], &[]);
        assert!(
            m.matches("src/deep/a.ts"),
            "a directory names what is under it"
        );
    }
}
