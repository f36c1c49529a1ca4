//! JSON with comments and trailing commas (`turbo.json`, `turbo.jsonc`), read with
//! `serde_json` after [`strip`] blanks the comments and trailing commas out, byte for byte,
//! so every offset, line and column `serde_json` reports is one of the original text.
//!
//! `serde_json::Value` keeps no positions, so semantic errors ("`$FOO` in dependsOn") find
//! their token again with [`locate`], which walks the stripped text along a key path. It
//! only ever runs on text `serde_json` has already accepted, and only when there is an error
//! to report, so it can stay small: it skips values without validating them.

use std::ops::Range;

/// `text` with `//` and `/* */` comments and trailing commas replaced by spaces (newlines
/// are kept), and a leading byte-order mark blanked. Strings are left intact.
pub(crate) fn strip(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = b.to_vec();
    let mut i = 0;
    if b.starts_with("\u{feff}".as_bytes()) {
        out[..3].fill(b' ');
        i = 3;
    }
    let mut pending_comma: Option<usize> = None;
    while i < b.len() {
        match b[i] {
            b'"' => {
                pending_comma = None;
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    out[i] = b' ';
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let end = text[i + 2..].find("*/").map_or(b.len(), |e| i + 2 + e + 2);
                for byte in &mut out[i..end] {
                    if !matches!(*byte, b'\n' | b'\r') {
                        *byte = b' ';
                    }
                }
                i = end;
            }
            b',' => {
                pending_comma = Some(i);
                i += 1;
            }
            b'}' | b']' => {
                if let Some(comma) = pending_comma.take() {
                    out[comma] = b' ';
                }
                i += 1;
            }
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            _ => {
                pending_comma = None;
                i += 1;
            }
        }
    }
    // Only whole comments (every byte of their characters) and ASCII commas were replaced.
    String::from_utf8(out).expect("blanking whole comments keeps UTF-8 valid")
}

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
    fn comments_and_trailing_commas_become_spaces_in_place() {
        let text = "{\n  // note\n  \"a\": [1, 2,], /* x\n y */ \"b\": \"//not a comment\",\n}";
        let stripped = strip(text);
        assert_eq!(stripped.len(), text.len());
        assert_eq!(stripped.lines().count(), text.lines().count());
        let v: serde_json::Value = serde_json::from_str(&stripped).unwrap();
        assert_eq!(v["b"], "//not a comment");
        assert_eq!(v["a"], serde_json::json!([1, 2]));
    }

    #[test]
    fn escaped_quotes_and_comment_markers_inside_strings_survive() {
        let text = r#"{"a": "x\"/*y", "b": "*/,]"}"#;
        assert_eq!(strip(text), text);
    }

    #[test]
    fn non_ascii_comments_keep_utf8_valid() {
        let text = "{ /* é ü */ \"a\": 1 } // ✓";
        let stripped = strip(text);
        assert_eq!(stripped.len(), text.len());
        assert!(serde_json::from_str::<serde_json::Value>(&stripped).is_ok());
    }

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
