//! Discovery tests on real files in temp dirs.

mod cargo;
mod discover;
mod turbo;

use std::path::Path;

use tempfile::TempDir;

use crate::{Workspace, WorkspaceError};

/// A temp dir holding `files` (path, content); parent directories are created.
fn repo(files: &[(&str, &str)]) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let path = dir.path().join(path);
        fs_err::create_dir_all(path.parent().unwrap()).unwrap();
        fs_err::write(path, text).unwrap();
    }
    dir
}

fn discover(dir: &Path) -> Workspace {
    match Workspace::discover(dir) {
        Ok(ws) => ws,
        Err(e) => panic!("discovery failed: {e}"),
    }
}

fn error(dir: &Path) -> String {
    match Workspace::discover(dir) {
        Ok(_) => panic!("discovery succeeded"),
        Err(e) => e.to_string(),
    }
}

fn config_error(dir: &Path) -> crate::ConfigError {
    match Workspace::discover(dir) {
        Err(WorkspaceError::Config(e)) => e,
        Err(e) => panic!("not a config error: {e}"),
        Ok(_) => panic!("discovery succeeded"),
    }
}

fn names(ws: &Workspace) -> Vec<&str> {
    ws.packages.iter().map(|p| p.name.as_str()).collect()
}

fn deps<'w>(ws: &'w Workspace, name: &str) -> Vec<&'w str> {
    let package = ws
        .package(&name.into())
        .unwrap_or_else(|| panic!("no package {name}"));
    package.dependencies.iter().map(|d| d.as_str()).collect()
}

fn pkg(name: &str) -> String {
    format!(r#"{{"name": "{name}", "version": "1.0.0", "scripts": {{"build": "echo {name}"}}}}"#)
}
