//! Errors of lockfile parsing. Every variant names the file; a parse error also carries the
//! 1-based line when the underlying parser reports one, so the CLI can print `file:line`.

use std::path::PathBuf;

/// Everything that can go wrong while reading a lockfile.
///
/// The caller's fallback for any of these is to hash the whole lockfile text into every key:
/// slower to invalidate precisely, never wrong.
#[derive(Debug, thiserror::Error)]
pub enum LockfileError {
    /// The text is not valid for its format.
    #[error("{}{}: {message}", file.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    Parse {
        file: PathBuf,
        line: Option<usize>,
        message: String,
    },

    /// The format is known but this revision of it is not (npm lockfileVersion 1, a future pnpm).
    #[error("{}: unsupported lockfile version {version}", file.display())]
    UnsupportedVersion { file: PathBuf, version: String },

    /// The file name is not one of the lockfiles kiln reads.
    #[error("{}: not a lockfile kiln can read (expected package-lock.json, npm-shrinkwrap.json, pnpm-lock.yaml, yarn.lock, bun.lock or Cargo.lock)", file.display())]
    UnknownFormat { file: PathBuf },
}

impl LockfileError {
    pub(crate) fn parse(
        file: &std::path::Path,
        line: Option<usize>,
        message: impl Into<String>,
    ) -> Self {
        LockfileError::Parse {
            file: file.to_path_buf(),
            line,
            message: message.into(),
        }
    }

    pub(crate) fn unsupported(file: &std::path::Path, version: impl Into<String>) -> Self {
        LockfileError::UnsupportedVersion {
            file: file.to_path_buf(),
            version: version.into(),
        }
    }

    /// Maps a serde_json error, which knows its line.
    pub(crate) fn json(file: &std::path::Path, err: &serde_json::Error) -> Self {
        let line = (err.line() > 0).then_some(err.line());
        Self::parse(file, line, err.to_string())
    }

    /// Maps a serde_yaml error, which knows its line when the syntax (not the shape) is wrong.
    pub(crate) fn yaml(file: &std::path::Path, err: &serde_yaml::Error) -> Self {
        let line = err.location().map(|l| l.line());
        Self::parse(file, line, err.to_string())
    }
}

/// 1-based line of a byte offset in `text`.
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}
