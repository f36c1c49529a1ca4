//! JSON with comments and trailing commas (bun writes trailing commas in `bun.lock`), turned
//! into plain JSON for `serde_json`. Removed characters become spaces, so byte offsets and
//! line numbers in parse errors still point into the original text.

/// `text` with `//` and `/* */` comments and trailing commas blanked out.
pub(crate) fn to_json(text: &str) -> String {
    let mut out = without_comments(text).into_bytes();
    let mut in_string = false;
    let mut escaped = false;
    for i in 0..out.len() {
        let byte = out[i];
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b',' => {
                let next = out[i + 1..].iter().find(|b| !b.is_ascii_whitespace());
                if matches!(next, Some(b'}' | b']')) {
                    out[i] = b' ';
                }
            }
            _ => {}
        }
    }
    // Only ASCII bytes outside strings were replaced by ASCII spaces.
    String::from_utf8(out).expect("still UTF-8")
}

fn without_comments(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    let mut in_string = false;
    let mut escaped = false;
    while i < bytes.len() {
        let byte = bytes[i];
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            out.push(byte);
            i += 1;
            continue;
        }
        match (byte, bytes.get(i + 1)) {
            (b'"', _) => {
                in_string = true;
                out.push(byte);
                i += 1;
            }
            (b'/', Some(b'/')) => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    out.push(b' ');
                    i += 1;
                }
            }
            (b'/', Some(b'*')) => {
                let end = text[i + 2..]
                    .find("*/")
                    .map_or(bytes.len(), |e| i + 2 + e + 2);
                out.extend(
                    bytes[i..end]
                        .iter()
                        .map(|&b| if b == b'\n' { b'\n' } else { b' ' }),
                );
                i = end;
            }
            _ => {
                out.push(byte);
                i += 1;
            }
        }
    }
    // Comment bytes (possibly multi-byte UTF-8) were replaced whole by spaces.
    String::from_utf8(out).expect("still UTF-8")
}

#[cfg(test)]
mod tests {
    use super::to_json;

    #[test]
    fn trailing_commas_and_comments_go_but_strings_stay_intact() {
        let text = "{\n  // a comment\n  \"a,\": [1, 2,],\n  \"b\": \"//x,}\", /* c */\n}";
        let value: serde_json::Value = serde_json::from_str(&to_json(text)).unwrap();
        assert_eq!(value, serde_json::json!({ "a,": [1, 2], "b": "//x,}" }));
        assert_eq!(to_json(text).lines().count(), text.lines().count());
    }

    #[test]
    fn escaped_quotes_do_not_end_a_string() {
        let text = r#"{ "a": "say \"hi\",}", }"#;
        let value: serde_json::Value = serde_json::from_str(&to_json(text)).unwrap();
        assert_eq!(value["a"], "say \"hi\",}");
    }
}
