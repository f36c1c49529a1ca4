//! Opening the local store of a workspace, with the limits it is configured with: the one
//! way every command (`run`, `why`, `cache`, dry runs) opens it.

use std::path::PathBuf;

use kiln_cache::{LocalStore, LocalStoreOptions};
use kiln_core::Layout;
use kiln_workspace::Workspace;

use crate::RunError;

/// The largest artifact stored or restored: `KILN_CACHE_MAX_ARTIFACT_SIZE` over kiln.toml
/// `[cache] max_artifact_size` over the default (4 GiB).
pub const ARTIFACT_SIZE_ENV: &str = "KILN_CACHE_MAX_ARTIFACT_SIZE";

/// Where the local cache lives: `flag` (`--cache-dir`), else turbo.json `cacheDir`, else
/// `.kiln/cache`; a relative one from the workspace root, as Turborepo resolves it.
pub fn cache_dir(ws: &Workspace, flag: Option<&str>) -> PathBuf {
    match flag.or(ws.pipeline.cache_dir.as_deref()) {
        Some(dir) => ws.root.join(dir),
        None => Layout::of(&ws.root).cache(),
    }
}

/// The store options of `ws`: the largest artifact it stores or restores.
pub fn store_options(ws: &Workspace) -> Result<LocalStoreOptions, RunError> {
    let config = ws.cache_config()?;
    let max_unpacked_bytes = match std::env::var(ARTIFACT_SIZE_ENV)
        .ok()
        .filter(|v| !v.trim().is_empty())
    {
        Some(text) => kiln_workspace::units::parse_size(&text)
            .map_err(|e| RunError::Config(format!("{ARTIFACT_SIZE_ENV}: {e}")))?,
        None => config
            .max_artifact_size
            .unwrap_or(kiln_cache::DEFAULT_MAX_UNPACKED_BYTES),
    };
    Ok(LocalStoreOptions { max_unpacked_bytes })
}

/// The local store of `ws` (at [`cache_dir`]), with its configured limits.
pub fn open_local_store(ws: &Workspace, flag: Option<&str>) -> Result<LocalStore, RunError> {
    let options = store_options(ws)?;
    Ok(LocalStore::open_with(&cache_dir(ws, flag), options)?)
}
