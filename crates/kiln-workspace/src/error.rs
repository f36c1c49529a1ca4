//! Errors of discovery. Config errors ([`ConfigError`]) carry the file's text and the span of
//! the offending token, so the CLI can draw a caret under it with `miette`; their `Display`
//! alone still reads `path:line:column: message`, which is what logs and tests see.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use miette::{Diagnostic, LabeledSpan, NamedSource, SourceCode};

/// Everything that can go wrong while discovering a workspace.
#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum WorkspaceError {
    #[error(
        "no workspace found at or above {}: no kiln.toml with [workspace], pnpm-workspace.yaml, \
         package.json with \"workspaces\", Cargo.toml with [workspace], or turbo.json",
        start.display()
    )]
    NoRoot { start: PathBuf },

    /// A config or manifest file is malformed or has an invalid value.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Config(#[from] ConfigError),

    /// Two packages share a name; `first` and `second` are their manifests
    /// (`packages/a/package.json`, `crates/a/Cargo.toml`).
    #[error("two packages are named `{name}`: {first} and {second}")]
    DuplicateName {
        name: String,
        first: String,
        second: String,
    },

    /// A directory matched by `[workspace] members` of the root `Cargo.toml` has no
    /// `Cargo.toml` (Cargo refuses such a workspace too).
    #[error(
        "{}: workspace member `{dir}` (from `{pattern}`) has no Cargo.toml",
        file.display()
    )]
    CargoMemberWithoutManifest {
        file: PathBuf,
        pattern: String,
        dir: String,
    },

    #[error("{}: invalid package glob `{pattern}`: {reason}", file.display())]
    InvalidGlob {
        file: PathBuf,
        pattern: String,
        reason: String,
    },

    /// An I/O error; `fs-err` puts the path in the message.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// A config or manifest error at a position in a file.
///
/// Boxed inside so that `Result<_, WorkspaceError>` stays small.
pub struct ConfigError(Box<Inner>);

struct Inner {
    file: PathBuf,
    line: usize,
    column: usize,
    message: String,
    label: String,
    span: Range<usize>,
    source: NamedSource<String>,
}

impl ConfigError {
    /// An error about the bytes `span` of `text` (the whole file), shown as `file` (relative
    /// to the workspace root, or as given). `label` is the short text under the caret.
    pub(crate) fn new(
        file: &Path,
        text: &str,
        span: Range<usize>,
        message: impl Into<String>,
        label: impl Into<String>,
    ) -> Self {
        let start = floor_char_boundary(text, span.start.min(text.len()));
        let end = floor_char_boundary(text, span.end.clamp(start, text.len()));
        let (line, column) = line_column(text, start);
        let name = file.display().to_string();
        ConfigError(Box::new(Inner {
            file: file.to_path_buf(),
            line,
            column,
            message: message.into(),
            label: label.into(),
            span: start..end,
            source: NamedSource::new(name, text.to_string()),
        }))
    }

    /// The file, as shown in the message.
    pub fn file(&self) -> &Path {
        &self.0.file
    }

    /// 1-based line of the offending token.
    pub fn line(&self) -> usize {
        self.0.line
    }

    /// 1-based column (in characters) of the offending token.
    pub fn column(&self) -> usize {
        self.0.column
    }

    /// The message without the location.
    pub fn message(&self) -> &str {
        &self.0.message
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = &self.0;
        write!(
            f,
            "{}:{}:{}: {}",
            e.file.display(),
            e.line,
            e.column,
            e.message
        )
    }
}

impl fmt::Debug for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for ConfigError {}

impl Diagnostic for ConfigError {
    fn source_code(&self) -> Option<&dyn SourceCode> {
        Some(&self.0.source)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let e = &self.0;
        let label = LabeledSpan::new_primary_with_span(
            Some(e.label.clone()),
            (e.span.start, e.span.end - e.span.start),
        );
        Some(Box::new(std::iter::once(label)))
    }
}

/// 1-based (line, column) of a byte offset, the column counted in characters.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..floor_char_boundary(text, offset.min(text.len()))];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// The byte offset of a 1-based (line, column) as reported by `serde_json`, whose columns
/// count bytes and are 0 right after a newline.
pub(crate) fn offset_of(text: &str, line: usize, column: usize) -> usize {
    let line_start = if line <= 1 {
        0
    } else {
        text.match_indices('\n')
            .nth(line - 2)
            .map_or(text.len(), |(i, _)| i + 1)
    };
    (line_start + column.saturating_sub(1)).min(text.len())
}

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_reads_file_line_column_message() {
        let text = "{\n  \"a\": 1,\n  \"bad\": 2\n}";
        let at = text.find("\"bad\"").unwrap();
        let e = ConfigError::new(
            Path::new("turbo.json"),
            text,
            at..at + 5,
            "unknown key",
            "here",
        );
        assert_eq!(e.to_string(), "turbo.json:3:3: unknown key");
        let labels: Vec<_> = e.labels().unwrap().collect();
        assert_eq!(labels[0].offset(), at);
        assert_eq!(labels[0].len(), 5);
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        let text = "{\"é\": x}";
        let at = text.find('x').unwrap();
        assert_eq!(line_column(text, at), (1, 7));
    }

    #[test]
    fn serde_json_positions_map_to_offsets() {
        let text = "ab\ncd\nef";
        assert_eq!(offset_of(text, 2, 2), 4);
        assert_eq!(offset_of(text, 3, 0), 6);
        assert_eq!(offset_of(text, 9, 1), text.len());
    }
}
