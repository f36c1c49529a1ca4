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
    /// Explain whether a task would run and why: what changed since its last successful
    /// run, followed through its dependencies down to the root cause.
    Why {
        /// The task, as `package#task` (a bare task name inside a package's directory).
        #[arg(value_name = "PKG#TASK")]
        task: String,
        /// Print the explanation as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List what changed since a base revision affects: packages, or the given tasks.
    Affected {
        /// Tasks to list (`build`, `test`…); without any, affected packages are listed.
        #[arg(value_name = "TASK")]
        tasks: Vec<String>,
        #[command(flatten)]
        range: RangeArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Inspect, check or reset the build state (`.kiln/state/`).
    State {
        #[command(subcommand)]
        command: StateCommand,
    },
    /// Inspect, bound, check or empty the local cache (`.kiln/cache/`).
    Cache {
        #[command(subcommand)]
        command: CacheCommand,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum CacheCommand {
    /// Entries, size, ages and limits, and the hit rate of the last 20 runs.
    Stats {
        #[arg(long)]
        json: bool,
    },
    /// One line per entry: key, task, size, files, created, last used, original duration.
    Ls {
        #[arg(long)]
        json: bool,
        /// `used`: least recently used first (the next to be pruned); `size`: largest
        /// first; `age`: oldest first.
        #[arg(long, value_enum, default_value = "used")]
        sort: CacheSort,
    },
    /// Evict entries unused for longer than the age limit, then the least recently used
    /// until the cache fits its size limit. Without flags, the configured limits apply
    /// (kiln.toml `[cache]`, `KILN_CACHE_MAX_SIZE`/`KILN_CACHE_MAX_AGE`, default 10GiB).
    Prune {
        /// The most the cache may keep (`10GB`, `512MiB`); `0` empties it.
        #[arg(long, value_name = "SIZE")]
        max_size: Option<String>,
        /// Evict entries not used for this long (`14d`, `12h`).
        #[arg(long, value_name = "AGE")]
        max_age: Option<String>,
        /// Print what would be removed; remove nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Recompute every blob's digest and size against its metadata and evict the damaged
    /// entries (exit 1 if any); remove leftovers of killed processes.
    Verify {
        #[arg(long)]
        json: bool,
    },
    /// Remove every entry.
    Clear {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum CacheSort {
    Used,
    Size,
    Age,
}

#[derive(Debug, Subcommand)]
pub(crate) enum StateCommand {
    /// Every task's last successful run, or one task's runs and recorded inputs.
    Show {
        #[arg(value_name = "PKG#TASK")]
        task: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Read every state file in full and report the damaged ones (exit 1 if any).
    Verify {
        /// Remove damaged files (kiln ignores them anyway).
        #[arg(long)]
        repair: bool,
    },
    /// Delete the build state (all of it, or one task's).
    Clean {
        #[arg(value_name = "PKG#TASK")]
        task: Option<String>,
    },
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

    /// Read and write per cache tier: `local:rw,remote:r` reads the team's remote cache
    /// without writing to it (pull requests); `remote:none` turns the remote off. Without
    /// local reads nothing is looked up (as `--force`).
    #[arg(long = "cache", env = "KILN_CACHE", value_name = "MODES")]
    pub(crate) cache_modes: Option<String>,

    /// The remote cache: `redis://host:6379`, `rediss://…`, or a Turborepo remote cache API
    /// (`https://cache.example.com`; token from `KILN_REMOTE_CACHE_TOKEN` or `TURBO_TOKEN`).
    /// With a `turbo.json` and no URL, `TURBO_API`/`TURBO_TOKEN`/`TURBO_TEAM` are used.
    #[arg(long, env = "KILN_REMOTE_CACHE", value_name = "URL")]
    pub(crate) remote_cache: Option<String>,

    /// Do not replay the logs of cache hits.
    #[arg(long)]
    pub(crate) hide_cached_logs: bool,

    /// Run only the tasks affected by the changes since `--base` (and what depends on them),
    /// plus what they need.
    #[arg(long)]
    pub(crate) affected: bool,

    #[command(flatten)]
    pub(crate) range: RangeArgs,

    /// How task output is printed: `stream` (lines as they come, prefixed), `grouped` (each
    /// task's output as one block when it ends), `auto` (grouped on GitHub Actions, with
    /// collapsible groups; stream elsewhere).
    #[arg(long, value_enum, default_value = "auto", value_name = "ORDER")]
    pub(crate) log_order: LogOrder,

    /// Write a Chrome trace of the run (open it in Perfetto or chrome://tracing): a track
    /// per worker, a span per task and its phases, CPU/memory/budget counters.
    #[arg(long, value_name = "FILE")]
    pub(crate) profile: Option<PathBuf>,

    /// The most memory tasks may use together (`8GB`, `512MiB`); the budget never lets
    /// more start. Default: what the machine has available.
    #[arg(long, value_name = "SIZE")]
    pub(crate) memory_limit: Option<String>,

    /// Carry on after a failed or interrupted run: tasks that succeeded in it (with the
    /// same inputs) are not run again, even those with `cache: false`.
    #[arg(long)]
    pub(crate) resume: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogOrder {
    Auto,
    Stream,
    Grouped,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum DryRunFormat {
    Text,
    Json,
}

/// The revisions a change is measured between.
#[derive(Debug, Args, Clone, Default)]
pub(crate) struct RangeArgs {
    /// The base revision (default: the merge-base of HEAD with the default branch).
    #[arg(long, value_name = "REV", env = "KILN_SCM_BASE")]
    pub(crate) base: Option<String>,
    /// The head revision (default: the work tree, with uncommitted and untracked files).
    #[arg(long, value_name = "REV", env = "KILN_SCM_HEAD")]
    pub(crate) head: Option<String>,
}

impl From<RangeArgs> for crate::affected_cmd::Range {
    fn from(r: RangeArgs) -> Self {
        crate::affected_cmd::Range {
            base: r.base,
            head: r.head,
        }
    }
}
