//! Finding the workspace root: walking up from where kiln starts to the nearest directory
//! that declares a workspace.

use std::io;
use std::path::{Path, PathBuf};

use crate::WorkspaceError;
use crate::error::ConfigError;
use crate::manifest;

/// The pipeline files Turborepo reads, preferred first.
pub(crate) const TURBO_FILES: [&str; 2] = ["turbo.json", "turbo.jsonc"];

/// The nearest ancestor that declares a workspace, else the nearest with a `turbo.json`.
pub(crate) fn find_root(start: &Path) -> Result<Option<PathBuf>, WorkspaceError> {
    let mut turbo_dir = None;
    for dir in start.ancestors() {
        // A `Cargo.toml` without `[workspace]` is a crate (maybe a member): keep going up.
        for name in ["kiln.toml", "Cargo.toml"] {
            if has_workspace_table(&dir.join(name))? {
                return Ok(Some(dir.to_path_buf()));
            }
        }
        if dir.join("pnpm-workspace.yaml").is_file() {
            return Ok(Some(dir.to_path_buf()));
        }
        let file = dir.join("package.json");
        if let Some(text) = read_optional(&file)?
            && manifest::parse(&file, &text)?.workspaces.is_some()
        {
            return Ok(Some(dir.to_path_buf()));
        }
        if turbo_dir.is_none() && TURBO_FILES.iter().any(|f| dir.join(f).is_file()) {
            turbo_dir = Some(dir.to_path_buf());
        }
    }
    Ok(turbo_dir)
}

/// Whether the TOML file exists and has a `[workspace]` table.
fn has_workspace_table(file: &Path) -> Result<bool, WorkspaceError> {
    let Some(text) = read_optional(file)? else {
        return Ok(false);
    };
    let table: toml::Table = toml::from_str(&text).map_err(|e| {
        let span = e.span().unwrap_or(0..1);
        ConfigError::new(file, &text, span, e.message().trim_end(), "here")
    })?;
    Ok(table.contains_key("workspace"))
}

/// The file's text, `None` when it does not exist.
pub(crate) fn read_optional(path: &Path) -> io::Result<Option<String>> {
    match fs_err::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        // A start path that is a file makes `file/package.json` "not a directory".
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}
