//! JSON with comments and trailing commas (`turbo.json`, `turbo.jsonc`), read with
//! `serde_json` after [`strip`] (`kiln_lockfile::jsonc`, shared with `bun.lock`) blanks the
//! comments and trailing commas out, byte for byte, so every offset, line and column
//! `serde_json` reports is one of the original text.
//!
//! `serde_json::Value` keeps no positions, so semantic errors ("`$FOO` in dependsOn") find
//! their token again with [`locate`], which walks the stripped text along a key path. It
//! only ever runs on text `serde_json` has already accepted, and only when there is an error
//! to report, so it can stay small: it skips values without validating them.

use std::ops::Range;

pub(crate) use kiln_lockfile::jsonc::strip;

/// One step of a path into a JSON document.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

/// The byte range of the value at `path` in `text` (valid JSON, e.g. from [`strip`]), or of
/// its key (quotes included) when `key` is true and the last step is a `Key`. `None` when
/// the path does not exist.
pub(crate) fn locate(text: &str, path: &[Seg<'_>], key: bool) -> Option<Range<usize>> {
    Scanner { text, i: 0 }.find(path, key)
}

struct Scanner<'t> {
    text: &'t str,
    i: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.i).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn string(&mut self) -> Range<usize> {
        let start = self.i;
        self.i += 1;
        while let Some(c) = self.peek() {
            self.i += if c == b'\\' { 2 } else { 1 };
            if c == b'"' {
                break;
            }
        }
        start..self.i.min(self.text.len())
    }

    fn value(&mut self) -> Range<usize> {
        self.ws();
        let start = self.i;
        match self.peek() {
            Some(b'"') => return self.string(),
            Some(b'{' | b'[') => {
                let mut depth = 0usize;
                while let Some(c) = self.peek() {
                    match c {
                        b'"' => {
                            self.string();
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                self.i += 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                    self.i += 1;
                }
            }
            _ => {
                while let Some(c) = self.peek() {
                    if matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
                        break;
                    }
                    self.i += 1;
                }
            }
        }
        start..self.i
    }

    fn eat(&mut self, c: u8) -> bool {
        self.ws();
        let found = self.peek() == Some(c);
        if found {
            self.i += 1;
        }
        found
    }

    fn find(&mut self, path: &[Seg<'_>], key: bool) -> Option<Range<usize>> {
        let Some((seg, rest)) = path.split_first() else {
            return Some(self.value());
        };
        match *seg {
            Seg::Key(wanted) => {
                if !self.eat(b'{') {
                    return None;
                }
                loop {
                    self.ws();
                    if self.peek() != Some(b'"') {
                        return None;
                    }
                    let name = self.string();
                    if !self.eat(b':') {
                        return None;
                    }
                    if self.key_is(name.clone(), wanted) {
                        if rest.is_empty() && key {
                            return Some(name);
                        }
                        return self.find(rest, key);
                    }
                    self.value();
                    self.eat(b',');
                }
            }
            Seg::Index(n) => {
                if !self.eat(b'[') {
                    return None;
                }
                for _ in 0..n {
                    self.ws();
                    if self.peek() == Some(b']') {
                        return None;
                    }
                    self.value();
                    self.eat(b',');
                }
                self.ws();
                if self.peek() == Some(b']') {
                    return None;
                }
                self.find(rest, key)
            }
        }
    }

    fn key_is(&self, span: Range<usize>, wanted: &str) -> bool {
        let raw = &self.text[span.start + 1..span.end.saturating_sub(1).max(span.start + 1)];
        if raw.contains('\\') {
            serde_json::from_str::<String>(&self.text[span]).is_ok_and(|k| k == wanted)
        } else {
            raw == wanted
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_keys_and_values_along_a_path() {
        let text = r#"{"tasks": {"a": {}, "bu\u0069ld": {"dependsOn": ["x", {"y": 1}, "$FOO"]}}}"#;
        let path = [Seg::Key("tasks"), Seg::Key("build"), Seg::Key("dependsOn")];
        let key = locate(text, &path, true).unwrap();
        assert_eq!(&text[key], "\"dependsOn\"");
        let mut deep = path.to_vec();
        deep.push(Seg::Index(2));
        assert_eq!(&text[locate(text, &deep, false).unwrap()], "\"$FOO\"");
        deep[3] = Seg::Index(1);
        assert_eq!(&text[locate(text, &deep, false).unwrap()], "{\"y\": 1}");
        deep[3] = Seg::Index(3);
        assert_eq!(locate(text, &deep, false), None);
        assert_eq!(locate(text, &[Seg::Key("nope")], true), None);
    }
}
