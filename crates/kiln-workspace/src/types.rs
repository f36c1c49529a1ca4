use std::collections::BTreeMap;
use std::path::PathBuf;

use kiln_core::PackageName;

/// The package manager a workspace uses, from `packageManager`, lockfiles or config files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PackageManager {
    Npm,
    Yarn,
    Pnpm,
    Bun,
    /// No JavaScript package manager: members come from `kiln.toml` alone.
    None,
}

/// A discovered monorepo.
#[derive(Clone, Debug)]
pub struct Workspace {
    /// Absolute path of the workspace root.
    pub root: PathBuf,
    pub package_manager: PackageManager,
    /// Every package, sorted by name, the root package (`//`) included.
    pub packages: Vec<Package>,
    /// The JavaScript package manager's lockfile, relative to `root`, when there is one.
    pub lockfile: Option<PathBuf>,
    /// `Cargo.lock`, relative to `root`, when the workspace has Cargo packages and the file
    /// exists.
    pub cargo_lockfile: Option<PathBuf>,
    pub pipeline: Pipeline,
}

/// One workspace package.
#[derive(Clone, Debug)]
pub struct Package {
    pub name: PackageName,
    /// Directory relative to the workspace root, `/`-separated; empty for the root package.
    pub dir: String,
    pub version: Option<String>,
    /// `package.json` scripts (empty for a `kiln.toml`-only member).
    pub scripts: BTreeMap<String, String>,
    /// Workspace packages this one depends on (`dependencies`, `devDependencies`,
    /// `optionalDependencies`; not `peerDependencies`), sorted, no duplicates.
    pub dependencies: Vec<PackageName>,
    /// The file that declared this package (`packages/a/package.json`), relative to root.
    pub manifest: String,
    pub kind: PackageKind,
    /// Third-party dependencies as the manifest declares them: name → version spec (range,
    /// `npm:` alias, git URL…), those pointing at a workspace package left out. For a Node
    /// package: `dependencies`, `devDependencies`, `optionalDependencies`; for a Cargo
    /// package: every dependency table (the key is the crate name, renames resolved).
    /// The lockfile resolves them to exact versions.
    pub external_dependencies: BTreeMap<String, String>,
}

/// Which manifest a package comes from, so its external dependencies are resolved in the
/// right lockfile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PackageKind {
    /// A `package.json` package (npm, yarn, pnpm, bun).
    #[default]
    Node,
    /// A crate of a Cargo workspace (`Cargo.toml`).
    Cargo,
    /// A member with only a `kiln.toml`: no third-party dependencies kiln can see.
    Kiln,
}

/// Where the pipeline was read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigSource {
    Kiln(PathBuf),
    Turbo(PathBuf),
    /// Neither file exists: no tasks are defined.
    Default,
}

/// How package.json scripts are executed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ScriptRunner {
    /// kiln runs the script's command itself, as the package manager would (fast).
    #[default]
    Direct,
    /// kiln runs `<pm> run <script>` (one package-manager process per task).
    PackageManager,
}

/// Which environment variables a task sees (Turborepo 2's `envMode`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum EnvMode {
    /// Only the declared variables (`env`, `globalEnv`, the pass-through lists, the
    /// framework's) and a fixed list every program needs (`PATH`, `HOME`, …): a build that
    /// reads anything else does not see it, so it cannot be served a wrong cache hit.
    #[default]
    Strict,
    /// Every variable of kiln's environment; only the declared ones are hashed.
    Loose,
}

impl EnvMode {
    pub fn parse(text: &str) -> Option<EnvMode> {
        match text {
            "strict" => Some(EnvMode::Strict),
            "loose" => Some(EnvMode::Loose),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            EnvMode::Strict => "strict",
            EnvMode::Loose => "loose",
        }
    }
}

/// How much of a task's output is printed (Turborepo's `outputLogs` / `--output-logs`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum OutputLogs {
    /// Everything: the hash line and the output, live or replayed.
    #[default]
    Full,
    /// The output of tasks that run; cache hits print only their hash line.
    NewOnly,
    /// Only the output of tasks that fail.
    ErrorsOnly,
    /// Only the hash line of each task.
    HashOnly,
    /// Nothing.
    None,
}

impl OutputLogs {
    pub fn parse(text: &str) -> Option<OutputLogs> {
        Some(match text {
            "full" => OutputLogs::Full,
            "new-only" => OutputLogs::NewOnly,
            "errors-only" => OutputLogs::ErrorsOnly,
            "hash-only" => OutputLogs::HashOnly,
            "none" => OutputLogs::None,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            OutputLogs::Full => "full",
            OutputLogs::NewOnly => "new-only",
            OutputLogs::ErrorsOnly => "errors-only",
            OutputLogs::HashOnly => "hash-only",
            OutputLogs::None => "none",
        }
    }
}

/// A config key kiln reads but does not act on, reported once per run with where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IgnoredKey {
    /// The config file, relative to the root.
    pub file: PathBuf,
    pub line: usize,
    /// The key as written (`boundaries`, `tasks.build.interactive`).
    pub key: String,
    /// Why it changes nothing in kiln.
    pub why: &'static str,
}

/// The task pipeline: global inputs and every task definition, as written in the config.
#[derive(Clone, Debug, Default)]
pub struct Pipeline {
    pub source: Option<ConfigSource>,
    /// Globs relative to the root whose files go into every task's key.
    pub global_dependencies: Vec<String>,
    /// Env var names (or `PREFIX*` wildcards) whose values go into every task's key.
    pub global_env: Vec<String>,
    pub global_pass_through_env: Option<Vec<String>>,
    /// The env mode of tasks that set none (`None`: strict). The CLI's `--env-mode`
    /// replaces it; a task's own `envMode` wins over both.
    pub env_mode: Option<EnvMode>,
    /// Whether a package's framework (Next.js, Vite, …) adds its public variables to its
    /// tasks' env (`None`: yes). `--framework-inference=false` turns it off.
    pub framework_inference: Option<bool>,
    /// The default `--concurrency` (`"4"`, `"50%"`; turbo.json `concurrency`).
    pub concurrency: Option<String>,
    /// Where the local cache lives, relative to the root (turbo.json `cacheDir`; default
    /// `.kiln/cache`).
    pub cache_dir: Option<String>,
    /// `tui` or `stream` (turbo.json `ui`): whether a terminal gets the live view.
    pub ui: Option<String>,
    /// turbo.json `remoteCache.enabled`: `Some(false)` turns the remote cache off.
    pub remote_cache_enabled: Option<bool>,
    /// Keys read but not acted on, for one warning per run.
    pub ignored_keys: Vec<IgnoredKey>,
    /// Root-level task definitions keyed as written: `build`, `web#build`, `//#lint`.
    pub tasks: BTreeMap<String, TaskDefinition>,
    /// Package-level definitions (package `turbo.json` with `extends: ["//"]`, or a member's
    /// `kiln.toml`), keyed by package then task name. They override the root definition
    /// field by field.
    pub package_tasks: BTreeMap<PackageName, BTreeMap<String, TaskDefinition>>,
    pub runner: ScriptRunner,
}

/// A task definition as written. `None` means "not set here", so that a package-level
/// definition can override a root one field by field.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TaskDefinition {
    /// Raw dependency specs: `^build`, `build`, `pkg#build`.
    pub depends_on: Option<Vec<String>>,
    /// Input globs relative to the package; `$TURBO_DEFAULT$` and `!` negation allowed.
    pub inputs: Option<Vec<String>>,
    /// Output globs relative to the package; `!` exclusions allowed.
    pub outputs: Option<Vec<String>>,
    pub env: Option<Vec<String>>,
    pub pass_through_env: Option<Vec<String>>,
    pub cache: Option<bool>,
    pub persistent: Option<bool>,
    /// A command for packages without a matching `package.json` script (kiln.toml only).
    pub command: Option<String>,
    /// CPU slots the task counts for in the concurrency budget (kiln.toml only).
    pub cpus: Option<u32>,
    /// Memory the task is expected to use, in bytes (kiln.toml `memory = "2GB"`).
    pub memory: Option<u64>,
    /// The longest the task may run; it is then stopped and fails (kiln.toml
    /// `timeout = "10m"`).
    pub timeout: Option<std::time::Duration>,
    /// Added to the scheduling priority: higher starts earlier among ready tasks.
    pub priority: Option<i64>,
    /// Named locks: tasks holding one of the same locks never run at once, in one kiln
    /// process or several on the same repository.
    pub locks: Option<Vec<String>>,
    /// This task's env mode, over the pipeline's and the CLI's.
    pub env_mode: Option<EnvMode>,
    pub output_logs: Option<OutputLogs>,
    /// Tasks that run alongside this one (turbo's `with`: `web#watch` beside `web#dev`),
    /// `task` (same package) or `pkg#task`.
    pub with: Option<Vec<String>>,
}

/// A task definition with every default applied, for one (package, task).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedTask {
    pub depends_on: Vec<String>,
    /// Empty means the default inputs: the package's files not ignored by git.
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    pub env: Vec<String>,
    pub pass_through_env: Vec<String>,
    pub cache: bool,
    pub persistent: bool,
    /// The shell command to run, or `None` when the package has neither script nor command
    /// (the task is then a no-op node that only keeps the order).
    pub command: Option<String>,
    /// CPU slots it takes in the budget (default 1).
    pub cpus: u32,
    /// Expected memory in bytes (`None`: unknown, counts as nothing).
    pub memory: Option<u64>,
    pub timeout: Option<std::time::Duration>,
    /// Priority adjustment (default 0).
    pub priority: i64,
    pub locks: Vec<String>,
    pub env_mode: EnvMode,
    pub output_logs: OutputLogs,
    pub with: Vec<String>,
    /// The framework detected from the package's dependencies, when inference is on.
    pub framework: Option<&'static crate::Framework>,
}
