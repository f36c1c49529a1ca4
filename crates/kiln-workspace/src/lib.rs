//! Discovery: from a directory inside a monorepo to a [`Workspace`]: its root, package
//! manager, packages (npm/yarn/pnpm/bun workspaces, Cargo workspaces, `kiln.toml` members)
//! with their internal dependencies, lockfiles, and the task [`Pipeline`]
//! (from `kiln.toml`, or from `turbo.json`/`turbo.jsonc` when there is no `kiln.toml`).
//!
//! This is the first stage of the flow (`discover ─▶ plan ─▶ hash ─▶ …`). It reads files and
//! nothing after it: the task graph is built by `kiln-graph` from what this crate returns.
//!
//! Entry point: [`Workspace::discover`]. Errors are [`WorkspaceError`]; malformed or invalid
//! config files give a [`ConfigError`], a `miette` diagnostic pointing at the offending token.
//! The `kiln.toml` schema is documented in the `kiln_toml` module.

mod cache_config;
mod cargo_members;
mod cargo_toml;
mod discover;
mod error;
mod frameworks;
mod jsonc;
mod kiln_toml;
mod linking;
mod manifest;
mod members;
mod package_manager;
mod resolve;
mod root;
mod turbo_json;
mod types;
pub mod units;

#[cfg(test)]
mod tests;

pub use cache_config::{CacheConfig, parse_cache_limit_age, parse_cache_limit_size};
pub use error::{ConfigError, WorkspaceError};
pub use frameworks::{FRAMEWORKS, Framework};
pub use types::*;
