//! JSON with comments and trailing commas, turned into plain JSON for `serde_json`: bun's
//! `bun.lock` (trailing commas) here, and `turbo.json` / `turbo.jsonc` in `kiln-workspace`,
//! which reads them with this same [`strip`] (it lives in this leaf crate so that both can).
//!
//! Removed characters become spaces, byte for byte (newlines are kept), so every offset, line
//! and column `serde_json` reports, and so every error naming a file and line, is one of the
//! original text.

/// `text` with `//` and `/* */` comments and trailing commas replaced by spaces (newlines
/// are kept), and a leading byte-order mark blanked. Strings are left intact.
pub fn strip(text: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::strip;

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
    fn trailing_commas_and_comments_go_but_strings_stay_intact() {
        let text = "{\n  // a comment\n  \"a,\": [1, 2,],\n  \"b\": \"//x,}\", /* c */\n}";
        let value: serde_json::Value = serde_json::from_str(&strip(text)).unwrap();
        assert_eq!(value, serde_json::json!({ "a,": [1, 2], "b": "//x,}" }));
        assert_eq!(strip(text).lines().count(), text.lines().count());
    }

    #[test]
    fn escaped_quotes_do_not_end_a_string() {
        let text = r#"{ "a": "say \"hi\",}", }"#;
        let value: serde_json::Value = serde_json::from_str(&strip(text)).unwrap();
        assert_eq!(value["a"], "say \"hi\",}");
    }
}
