//! Integration tests: the real `kiln` binary on monorepos built in temp dirs.

mod affected;
mod cache;
mod cache_cmd;
mod concurrency;
mod config_errors;
mod dry_run;
mod failures;
mod filters;
mod golden_keys;
mod inputs;
mod interrupt;
mod output_modes;
mod outputs;
mod profile;
mod randomized;
mod remote;
mod remote_security;
mod remotes;
mod resources;
mod resume;
mod scripts;
mod support;
mod turbo_graph;
mod why;
