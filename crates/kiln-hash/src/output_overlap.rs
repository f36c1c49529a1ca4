//! Whether two tasks' `outputs` can name the same file: then restoring one task's artifact
//! overwrites the other's outputs, so kiln refuses such a plan.
//!
//! Globs are compared through *witnesses*: for each positive glob, a concrete path it
//! matches (every wildcard replaced by a plain name, `dist/**` → `dist/x`). Two output sets
//! overlap when one set matches a witness of the other (its `!` exclusions applied). That
//! finds `dist/**` against `dist/types/**` and `**/*.js` against `lib/*.js`, and leaves
//! `dist/*.js` and `dist/*.css`, or `dist/**` with `!dist/cache/**` against
//! `dist/cache/**`, alone.

use crate::HashError;
use crate::glob::OutputMatcher;

/// The first pair of globs (one from each list) that can name the same file, if any.
pub fn outputs_overlap(
    a: &[String],
    b: &[String],
    within: &str,
) -> Result<Option<(String, String)>, HashError> {
    // One glob with its list's exclusions: what that glob contributes to the outputs.
    let single = |glob: &str, list: &[String]| -> Result<OutputMatcher, HashError> {
        let mut globs = vec![glob.to_string()];
        globs.extend(list.iter().filter(|g| g.starts_with('!')).cloned());
        OutputMatcher::new(&globs, within)
    };
    for ga in positive(a) {
        let ma = single(ga, a)?;
        for gb in positive(b) {
            let mb = single(gb, b)?;
            let both = |path: String| ma.is_output(&path) && mb.is_output(&path);
            if both(witness(ga)) || both(witness(gb)) {
                return Ok(Some((ga.to_string(), gb.to_string())));
            }
        }
    }
    Ok(None)
}

fn positive(globs: &[String]) -> impl Iterator<Item = &str> {
    globs
        .iter()
        .map(String::as_str)
        .filter(|g| !g.starts_with('!'))
}

/// A path `glob` matches: wildcards and classes become plain names, alternations their
/// first choice.
fn witness(glob: &str) -> String {
    let glob = glob.trim_start_matches("./").trim_end_matches('/');
    let mut out = String::new();
    let mut chars = glob.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' => {
                while chars.peek() == Some(&'*') {
                    chars.next();
                }
                out.push('x');
            }
            '?' => out.push('x'),
            '[' => {
                for c in chars.by_ref() {
                    if c == ']' {
                        break;
                    }
                }
                out.push('x');
            }
            '{' => {
                let mut first = String::new();
                let mut in_first = true;
                for c in chars.by_ref() {
                    match c {
                        '}' => break,
                        ',' => in_first = false,
                        c if in_first => first.push(c),
                        _ => {}
                    }
                }
                out.push_str(&first);
            }
            c => out.push(c),
        }
    }
    if out.is_empty() { "x".into() } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn overlap(a: &[&str], b: &[&str]) -> bool {
        let s = |v: &[&str]| v.iter().map(|g| g.to_string()).collect::<Vec<_>>();
        outputs_overlap(&s(a), &s(b), "pkg").unwrap().is_some()
    }

    #[test]
    fn nested_and_wildcard_outputs_overlap() {
        assert!(overlap(&["dist/**"], &["dist/types/**"]));
        assert!(overlap(&["dist/types/**"], &["dist/**"]));
        assert!(overlap(&["dist"], &["dist/index.js"]));
        assert!(overlap(&["**/*.js"], &["lib/*.js"]));
        assert!(overlap(&["coverage/**", "dist/**"], &["dist/**"]));
    }

    #[test]
    fn disjoint_outputs_do_not() {
        assert!(!overlap(&["dist/**"], &["coverage/**"]));
        assert!(!overlap(&["dist/*.js"], &["dist/*.css"]));
        assert!(!overlap(&["dist/**", "!dist/cache/**"], &["dist/cache/**"]));
        assert!(!overlap(&[], &["dist/**"]));
        assert!(!overlap(&["distribution/**"], &["dist/**"]));
    }

    #[test]
    fn the_overlapping_pair_is_named() {
        let s = |v: &[&str]| v.iter().map(|g| g.to_string()).collect::<Vec<_>>();
        let pair =
            outputs_overlap(&s(&["coverage/**", "dist/**"]), &s(&["dist/types/**"]), "p").unwrap();
        assert_eq!(pair, Some(("dist/**".into(), "dist/types/**".into())));
    }
}
