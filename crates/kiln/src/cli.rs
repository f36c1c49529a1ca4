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
    Run(Box<RunArgs>),
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
    /// List the workspace's packages (or, named, each with its tasks and dependencies).
    Ls(LsArgs),
    /// Print a shell completion script: `kiln completion bash > /etc/bash_completion.d/kiln`.
    Completion {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Any other word is a task: `kiln build lint` is `kiln run build lint`, as in Turborepo.
    #[command(external_subcommand)]
    External(Vec<String>),
}

#[derive(Debug, Args)]
pub(crate) struct LsArgs {
    /// Packages to describe (their directory, dependencies and tasks).
    #[arg(value_name = "PACKAGE")]
    pub(crate) packages: Vec<String>,
    /// Select packages, as `kiln run --filter`. Repeatable.
    #[arg(long = "filter", short = 'F', value_name = "FILTER")]
    pub(crate) filters: Vec<String>,
    /// Only the packages a change affects (see `kiln run --affected`).
    #[arg(long)]
    pub(crate) affected: bool,
    #[command(flatten)]
    pub(crate) range: RangeArgs,
    /// Print JSON (`--output=json` too, as Turborepo spells it).
    #[arg(long)]
    pub(crate) json: bool,
    #[arg(long, value_name = "FORMAT", hide = true)]
    pub(crate) output: Option<LsOutput>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LsOutput {
    Pretty,
    Json,
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

#[derive(Debug, Args, Default)]
pub(crate) struct RunArgs {
    /// The tasks to run (`build`, `test`, `web#build`, …), by their pipeline names; without
    /// any, the tasks the pipeline defines are listed.
    #[arg(value_name = "TASK")]
    pub(crate) tasks: Vec<String>,

    /// Select packages (pnpm/Turborepo syntax: `name`, `@scope/*`, `./path`, `{dir}`,
    /// `pkg...`, `...pkg`, `^`, `!`, and git ranges: `[main]`, `...[HEAD^1]`,
    /// `[a...b]`). Repeatable.
    #[arg(long = "filter", short = 'F', value_name = "FILTER")]
    pub(crate) filters: Vec<String>,

    /// Show what would run, with keys and cache status; execute nothing (`--dry` too).
    #[arg(long = "dry-run", alias = "dry", value_name = "FORMAT", num_args = 0..=1,
          default_missing_value = "text", require_equals = true)]
    pub(crate) dry_run: Option<DryRunFormat>,

    /// Print the task graph as DOT, or write it to FILE (`.dot`, `.json`, `.mermaid`,
    /// `.html`, `.svg`; `.png` needs Graphviz's `dot`); run nothing.
    #[arg(long, value_name = "FILE", num_args = 0..=1, default_missing_value = "",
          require_equals = true)]
    pub(crate) graph: Option<String>,

    /// How many tasks run at once: a number, or a percentage of the CPUs (`50%`). Default:
    /// turbo.json `concurrency`, else one per CPU.
    #[arg(long, value_name = "N|N%", env = "TURBO_CONCURRENCY")]
    pub(crate) concurrency: Option<String>,

    /// After a failure: `never` stop starting tasks (the default), `dependencies-successful`
    /// run what does not depend on the failure, `always` run everything. Bare `--continue`
    /// is `always`, as in Turborepo.
    #[arg(long = "continue", value_name = "MODE", num_args = 0..=1,
          default_missing_value = "always", require_equals = true)]
    pub(crate) continue_mode: Option<ContinueMode>,

    /// Ignore cached results: run every task (results are still stored). `--cache=local:w`.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true",
          require_equals = true, env = "TURBO_FORCE")]
    pub(crate) force: Option<bool>,

    /// Do not write results to the cache (`--cache=local:r,remote:r`).
    #[arg(long)]
    pub(crate) no_cache: bool,

    /// Read and write per cache tier, Turborepo's syntax: `local:rw,remote:r` reads the
    /// team's remote cache without writing to it; a tier left out is off. Default
    /// `local:rw,remote:rw`.
    #[arg(long = "cache", env = "KILN_CACHE", value_name = "MODES",
          conflicts_with_all = ["force", "no_cache"])]
    pub(crate) cache_modes: Option<String>,

    /// Where the local cache lives (relative to the workspace root; default
    /// turbo.json `cacheDir`, else `.kiln/cache`).
    #[arg(long, value_name = "DIR", env = "TURBO_CACHE_DIR")]
    pub(crate) cache_dir: Option<String>,

    /// The remote cache: `redis://host:6379`, `rediss://…`, or a Turborepo remote cache API
    /// (`https://cache.example.com`; token from `KILN_REMOTE_CACHE_TOKEN` or `TURBO_TOKEN`).
    /// With a `turbo.json` and no URL, `TURBO_API`/`TURBO_TOKEN`/`TURBO_TEAM` are used.
    #[arg(long, env = "KILN_REMOTE_CACHE", value_name = "URL")]
    pub(crate) remote_cache: Option<String>,

    /// Only the remote cache: `--cache=remote:rw` (Turborepo's older flag).
    #[arg(long, hide = true)]
    pub(crate) remote_only: bool,

    /// Do not write to the remote cache: `--cache=local:rw,remote:r` (Turborepo's older flag).
    #[arg(long, hide = true)]
    pub(crate) remote_cache_read_only: bool,

    /// Do not replay the logs of cache hits (`--output-logs=new-only`).
    #[arg(long)]
    pub(crate) hide_cached_logs: bool,

    /// How much task output is printed: `full`, `new-only` (cache hits print only their
    /// hash line), `errors-only` (only failed tasks' output), `hash-only`, `none`. Default:
    /// each task's `outputLogs`, else `full`.
    #[arg(long, value_enum, value_name = "MODE")]
    pub(crate) output_logs: Option<OutputLogsArg>,

    /// `task` prefixes task output lines with `pkg:task:`; `none` prints them bare; `auto`
    /// is `task`, but `none` on GitHub Actions (whose groups name the task).
    #[arg(long, value_enum, default_value = "auto", value_name = "PREFIX")]
    pub(crate) log_prefix: LogPrefix,

    /// Run only the tasks affected by the changes since `--base` (and what depends on them),
    /// plus what they need.
    #[arg(long)]
    pub(crate) affected: bool,

    #[command(flatten)]
    pub(crate) range: RangeArgs,

    /// Run only the tasks named, not the tasks they depend on (edges between named tasks
    /// still order them).
    #[arg(long)]
    pub(crate) only: bool,

    /// Accepted for Turborepo's scripts; as in Turborepo 2.11 it changes nothing (tasks
    /// still wait for what they depend on), with a deprecation warning.
    #[arg(long)]
    pub(crate) parallel: bool,

    /// Which environment variables tasks see: `strict` (the default: only the declared
    /// ones and a fixed list every program needs) or `loose` (all). Bare `--env-mode` is
    /// `strict`. Default: turbo.json `envMode`.
    #[arg(long, value_enum, value_name = "MODE", num_args = 0..=1,
          default_missing_value = "strict", require_equals = true)]
    pub(crate) env_mode: Option<EnvModeArg>,

    /// Whether a package's framework (Next.js, Vite, …) adds its public variables
    /// (`NEXT_PUBLIC_*`, `VITE_*`) to its tasks' env (default true).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true",
          require_equals = true)]
    pub(crate) framework_inference: Option<bool>,

    /// More global inputs (globs from the root), added to turbo.json `globalDependencies`:
    /// in every task's key, and a change to one affects every package. Repeatable.
    #[arg(
        long,
        value_name = "GLOB",
        env = "TURBO_GLOBAL_DEPS",
        value_delimiter = ','
    )]
    pub(crate) global_deps: Vec<String>,

    /// Accepted for Turborepo's scripts; kiln has no daemon.
    #[arg(long, hide = true)]
    pub(crate) daemon: bool,

    /// Accepted for Turborepo's scripts; kiln has no daemon.
    #[arg(long, hide = true)]
    pub(crate) no_daemon: bool,

    /// `tui`: the live view of running tasks on a terminal (the default); `stream`: plain
    /// lines only. Default: turbo.json `ui`.
    #[arg(long, value_enum, value_name = "UI", env = "TURBO_UI")]
    pub(crate) ui: Option<UiArg>,

    /// Also write the run summary in Turborepo's shape to `.turbo/runs/<id>.json`.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true",
          require_equals = true, env = "TURBO_RUN_SUMMARY")]
    pub(crate) summarize: Option<bool>,

    /// How task output is printed: `stream` (lines as they come, prefixed), `grouped` (each
    /// task's output as one block when it ends), `auto` (grouped on GitHub Actions, with
    /// collapsible groups; stream elsewhere).
    #[arg(
        long,
        value_enum,
        default_value = "auto",
        value_name = "ORDER",
        env = "TURBO_LOG_ORDER"
    )]
    pub(crate) log_order: LogOrder,

    /// Write a Chrome trace of the run (open it in Perfetto or chrome://tracing): a track
    /// per worker, a span per task and its phases, CPU/memory/budget counters.
    #[arg(long, value_name = "FILE", alias = "anon-profile")]
    pub(crate) profile: Option<PathBuf>,

    /// The most memory tasks may use together (`8GB`, `512MiB`); the budget never lets
    /// more start. Default: what the machine has available.
    #[arg(long, value_name = "SIZE")]
    pub(crate) memory_limit: Option<String>,

    /// Carry on after a failed or interrupted run: tasks that succeeded in it (with the
    /// same inputs) are not run again, even those with `cache: false`.
    #[arg(long)]
    pub(crate) resume: bool,

    /// The remote cache's token (`TURBO_TOKEN`), team slug (`TURBO_TEAM`) and API URL
    /// (`TURBO_API`), as Turborepo's global flags set them.
    #[command(flatten)]
    pub(crate) remote_login: RemoteLoginArgs,

    /// Turborepo flags kiln accepts and does nothing about (no update notifier, no version
    /// inference, colours follow the terminal and `NO_COLOR`).
    #[command(flatten)]
    pub(crate) inert: InertArgs,

    /// Turborepo flags kiln cannot honour: refused with exit code 2, never ignored.
    #[command(flatten)]
    pub(crate) refused: RefusedArgs,

    /// Arguments after `--`, passed to the command of every task named on the command
    /// line (in every package), and part of those tasks' keys.
    #[arg(last = true, value_name = "ARGS")]
    pub(crate) args: Vec<String>,
}

/// `--token`, `--team`, `--api`: Turborepo's remote-cache settings as flags.
#[derive(Debug, Args, Default, Clone)]
pub(crate) struct RemoteLoginArgs {
    #[arg(long, hide = true, value_name = "TOKEN")]
    pub(crate) token: Option<String>,
    #[arg(long, hide = true, value_name = "TEAM")]
    pub(crate) team: Option<String>,
    #[arg(long, hide = true, value_name = "URL")]
    pub(crate) api: Option<String>,
}

/// Turborepo flags that change nothing kiln does.
#[derive(Debug, Args, Default)]
pub(crate) struct InertArgs {
    #[arg(long, hide = true)]
    no_update_notifier: bool,
    #[arg(long, hide = true)]
    skip_infer: bool,
    #[arg(long, hide = true)]
    color: bool,
    #[arg(long, hide = true)]
    no_color: bool,
    #[arg(long, hide = true)]
    dangerously_disable_package_manager_check: bool,
}

/// Turborepo flags kiln does not support; any of them set makes `kiln run` exit 2 saying so.
#[derive(Debug, Args, Default)]
pub(crate) struct RefusedArgs {
    #[arg(long, hide = true)]
    pub(crate) single_package: bool,
    #[arg(long, hide = true)]
    pub(crate) json: bool,
    #[arg(long, hide = true, num_args = 0..=1, default_missing_value = "", require_equals = true)]
    pub(crate) log_file: Option<String>,
    #[arg(long, hide = true)]
    pub(crate) cache_workers: Option<String>,
    #[arg(long, hide = true)]
    pub(crate) root_turbo_json: Option<String>,
    #[arg(long, hide = true)]
    pub(crate) heap: Option<String>,
    #[arg(long, hide = true)]
    pub(crate) trace: Option<String>,
    #[arg(long, hide = true)]
    pub(crate) preflight: bool,
    #[arg(long, hide = true)]
    pub(crate) login: Option<String>,
}

impl RefusedArgs {
    /// The first refused flag given, as written.
    pub(crate) fn first(&self) -> Option<&'static str> {
        [
            (self.single_package, "--single-package"),
            (self.json, "--json"),
            (self.log_file.is_some(), "--log-file"),
            (self.cache_workers.is_some(), "--cache-workers"),
            (self.root_turbo_json.is_some(), "--root-turbo-json"),
            (self.heap.is_some(), "--heap"),
            (self.trace.is_some(), "--trace"),
            (self.preflight, "--preflight"),
            (self.login.is_some(), "--login"),
        ]
        .into_iter()
        .find_map(|(given, flag)| given.then_some(flag))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ContinueMode {
    Never,
    DependenciesSuccessful,
    Always,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum OutputLogsArg {
    Full,
    NewOnly,
    ErrorsOnly,
    HashOnly,
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub(crate) enum LogPrefix {
    #[default]
    Auto,
    None,
    Task,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum EnvModeArg {
    Strict,
    Loose,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum UiArg {
    Tui,
    Stream,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub(crate) enum LogOrder {
    #[default]
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
