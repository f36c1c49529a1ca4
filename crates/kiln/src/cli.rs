//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "kiln",
    version,
    about = "Run any task across a monorepo: in dependency order, in parallel, cached by content.",
    propagate_version = true
)]
pub(crate) struct Cli {
    /// Run as if kiln was started in this directory.
    #[arg(long, global = true, value_name = "DIR")]
    pub(crate) cwd: Option<PathBuf>,

    /// Diagnostics for kiln itself (-v: decisions per task, -vv: debug, -vvv: trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,

    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run tasks across the workspace's packages.
    Run(RunArgs),
}

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The tasks to run (`build`, `test`, …), by their pipeline names.
    #[arg(required = true, value_name = "TASK")]
    pub(crate) tasks: Vec<String>,

    /// Select packages (pnpm/Turborepo syntax: `name`, `@scope/*`, `./path`, `pkg...`,
    /// `...pkg`, `^`, `!`). Repeatable.
    #[arg(long = "filter", short = 'F', value_name = "FILTER")]
    pub(crate) filters: Vec<String>,

    /// Show what would run, with keys and cache status; execute nothing.
    #[arg(long = "dry-run", alias = "dry", value_name = "FORMAT", num_args = 0..=1,
          default_missing_value = "text", require_equals = true)]
    pub(crate) dry_run: Option<DryRunFormat>,

    /// How many tasks run at once: a number, or a percentage of the CPUs (`50%`).
    #[arg(long, value_name = "N|N%")]
    pub(crate) concurrency: Option<String>,

    /// Keep running tasks that do not depend on a failed one.
    #[arg(long = "continue")]
    pub(crate) continue_on_failure: bool,

    /// Ignore cached results: run every task (results are still stored).
    #[arg(long)]
    pub(crate) force: bool,

    /// Do not write results to the cache.
    #[arg(long)]
    pub(crate) no_cache: bool,

    /// Do not replay the logs of cache hits.
    #[arg(long)]
    pub(crate) hide_cached_logs: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum DryRunFormat {
    Text,
    Json,
}
