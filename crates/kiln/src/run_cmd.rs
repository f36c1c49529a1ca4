//! `kiln run`: discover → plan → hash → (dry run | schedule → execute-or-restore) → record.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use kiln_cache::LocalStore;
use kiln_core::{CacheStatus, PackageName, TaskName, TaskOutcome};
use kiln_graph::{PackageGraph, TaskGraph};
use kiln_hash::{StatCache, process_env};
use kiln_process::ProcessRegistry;
use kiln_run::{
    CacheMode, ExecuteOptions, HashContext, HashedPlan, OutputState, TaskContext, execute,
    hash_tasks,
};
use kiln_scheduler::Budget;
use kiln_scheduler::CancelToken;
use kiln_state::{BuildState, Durations, Journal};
use kiln_workspace::{OutputLogs, Workspace};

use std::io::Write;

use crate::affected_cmd::Change;
use crate::cli::{RunArgs, UiArg};
use crate::console::LogPolicy;
use crate::dry_run::RunView;
use crate::exit::Exit;
use crate::{dry_run, record, run_flags};

/// How long tasks get to stop after Ctrl-C before they are killed.
const STOP_GRACE: Duration = Duration::from_secs(3);

pub(crate) fn run(cwd: &Path, args: &RunArgs, verbose: u8) -> Result<i32, Exit> {
    let started = Instant::now();
    run_flags::check(args)?;
    let mut ws = Workspace::discover(cwd).map_err(Exit::diagnostic)?;
    if args.tasks.is_empty() {
        return list_tasks(&ws);
    }
    run_flags::apply_to_pipeline(&mut ws, args);
    run_flags::warn_ignored_keys(&ws);
    let ws = ws;
    let discovered = Instant::now();
    tracing::debug!(elapsed = ?started.elapsed(), packages = ws.packages.len(), "discovered");
    let (graph, scope) = plan(&ws, cwd, args)?;
    let overlaps =
        kiln_run::output_overlaps(&ws, &graph).map_err(|e| Exit::user(error_chain(&e)))?;
    for overlap in &overlaps {
        tracing::warn!("{overlap}");
    }
    if let Some(target) = &args.graph {
        crate::graph_out::write(&graph, target, cwd)?;
        return Ok(0);
    }
    let planned = Instant::now();
    tracing::debug!(elapsed = ?started.elapsed(), tasks = graph.len(), "planned");

    let state_dir = ws.root.join(".kiln").join("state");
    let env = process_env();
    // Before hashing, so this run sees what the one it waited for left behind.
    let run_lock = if args.dry_run.is_none() {
        let lock = kiln_run::RunLock::acquire(&ws.root, &command_line(args), |holder| {
            tracing::warn!("waiting for another kiln run on this repository to finish ({holder})")
        })
        .map_err(|e| {
            Exit::user(format!(
                "cannot take the repository's run lock in {}: {e}",
                ws.root.join(".kiln/locks").display()
            ))
        })?;
        Some(Arc::new(lock))
    } else {
        None
    };
    let (plan, stat_cache) = hash_plan(&ws, &graph, &env)?;
    let hashed = &plan.tasks;
    let hashed_at = Instant::now();
    tracing::debug!(elapsed = ?started.elapsed(), "hashed");
    let stages = [
        ("discover", started, discovered),
        ("plan", discovered, planned),
        ("hash", planned, hashed_at),
    ];

    let options = crate::cache_cmd::store_options(&ws).map_err(Exit::user)?;
    let cache_dir = crate::cache_cmd::cache_dir(&ws, args.cache_dir.as_deref());
    let store =
        LocalStore::open_with(&cache_dir, options).map_err(|e| Exit::user(error_chain(&e)))?;
    let view = RunView {
        ws: &ws,
        graph: &graph,
        hashed,
        global: &plan.global,
        env: &env,
        scope: &scope,
        filtered: !args.filters.is_empty(),
    };
    if let Some(format) = args.dry_run {
        dry_run::print(format, &view, &store);
        return Ok(0);
    }
    let modes = run_flags::cache_modes(args)?;

    let state = BuildState::new(&state_dir);
    // Read before this run's journal replaces it.
    let resumed = if args.resume {
        match kiln_state::last_run(&state_dir) {
            Some(last) => Some(last.succeeded),
            None => {
                tracing::warn!("--resume: no earlier run is recorded; running every task");
                None
            }
        }
    } else {
        None
    };
    let journal = Journal::start(&state_dir, &args.tasks)
        .map_err(|e| tracing::warn!("cannot record this run for --resume: {e}"))
        .ok();
    if let Err(e) = state.record_global(&plan.global) {
        tracing::warn!("could not update the build state: {e}");
    }

    let registry = ProcessRegistry::new();
    let cancel = CancelToken::new();
    let interrupted = Arc::new(AtomicBool::new(false));
    {
        let cancel = cancel.clone();
        let interrupted = interrupted.clone();
        kiln_process::stop_on_signals(registry.clone(), STOP_GRACE, move |_| {
            interrupted.store(true, Ordering::SeqCst);
            cancel.cancel();
        })
        .map_err(|e| Exit::Internal(format!("cannot watch for Ctrl-C: {e}")))?;
    }

    let concurrency = concurrency(
        args.concurrency
            .as_deref()
            .or(ws.pipeline.concurrency.as_deref()),
    )?;
    let durations = Durations::load(&state_dir);
    let logs = log_policy(&graph, run_flags::output_logs(args));
    let replay_logs =
        logs.default == OutputLogs::Full || logs.tasks.values().any(|m| *m == OutputLogs::Full);
    let stream_ui = match args.ui {
        Some(UiArg::Stream) => true,
        Some(UiArg::Tui) => false,
        None => ws.pipeline.ui.as_deref() == Some("stream"),
    };
    let (tx, subscribers) = crate::subscribers::start(crate::subscribers::SubscriberOptions {
        verbose,
        logs,
        log_order: args.log_order,
        log_prefix: args.log_prefix,
        stream_ui,
        profile: args.profile.clone(),
        total_tasks: graph.len(),
        estimates: if !stream_ui && crate::subscribers::live_view_wanted() {
            estimates(&graph, hashed, &store, &durations, !modes.local.0)
        } else {
            Default::default()
        },
        concurrency,
    });
    for (name, started, ended) in stages {
        let _ = tx.send(kiln_core::Event::Stage {
            name,
            started,
            ended,
        });
    }
    let task_env: Vec<_> = std::env::vars_os().collect();
    let output_state = OutputState::load(&state_dir.join("outputs-v1.json"));
    let trees = std::sync::Arc::new(std::sync::Mutex::new(kiln_process::TreeTracker::new()));
    let remote = match modes.remote {
        (false, false) => None,
        _ if ws.pipeline.remote_cache_enabled == Some(false) && args.remote_cache.is_none() => None,
        (read, write) => {
            crate::remote_cache::open(&ws, args.remote_cache.as_deref(), &args.remote_login)?.map(
                |store| {
                    kiln_run::RemoteTier::new(store, read, write)
                        .with_signer(crate::remote_cache::signer())
                },
            )
        }
    };
    let ctx = TaskContext {
        workspace: &ws,
        store: &store,
        outputs: &output_state,
        replay_logs,
        stat_cache: &stat_cache,
        registry: &registry,
        events: &tx,
        cache: CacheMode {
            read: modes.local.0,
            write: modes.local.1,
        },
        env: &task_env,
        state: &state,
        global: &plan.global,
        git: &plan.git,
        journal: journal.as_ref(),
        resumed: resumed.as_ref(),
        trees: Some(&trees),
        remote: remote.as_ref(),
        turbo_logs: dry_run::writes_turbo_logs(&ws),
    };
    let memory_limit = args
        .memory_limit
        .as_deref()
        .map(|text| {
            kiln_workspace::units::parse_size(text)
                .map_err(|e| Exit::user(format!("--memory-limit: {e}")))
        })
        .transpose()?;
    let budget = Budget::with_memory(concurrency, memory_limit);
    let monitor = crate::resources::start(&budget, memory_limit, &registry, &tx, &trees);
    let opts = ExecuteOptions {
        budget,
        on_failure: run_flags::on_failure(args),
        durations: durations.all().clone(),
        overlaps,
        run_lock: run_lock.clone(),
    };
    let reports = std::thread::scope(|scope| {
        if let Some(remote) = &remote
            && remote.can_read()
        {
            remote.prefetch(scope, &store, prefetch_keys(&graph, hashed, &output_state));
        }
        let reports = execute(&ctx, &graph, hashed, &opts, &cancel);
        if let Some(remote) = &remote {
            remote.stop_prefetch();
        }
        reports
    });
    if let Some(monitor) = monitor {
        monitor.stop();
    }
    if let Some(remote) = &remote {
        let uploaded = remote.finish();
        tracing::debug!(uploaded, remote = remote.name(), "uploads finished");
    }
    drop(tx);
    if let Err(e) = subscribers.finish() {
        tracing::warn!("{e}");
    }
    if let Ok(reports) = &reports {
        let executed: Vec<_> = reports
            .iter()
            .filter(|r| {
                r.outcome == TaskOutcome::Succeeded
                    && matches!(r.cache, CacheStatus::Miss | CacheStatus::Disabled)
                    && r.reason.is_some()
            })
            .map(|r| (r.id.clone(), r.duration))
            .collect();
        if let Err(e) = durations.record(&executed) {
            tracing::warn!("could not record task durations: {e}");
        }
    }
    if let Err(e) = output_state.save() {
        tracing::warn!("could not save the output state: {e}");
    }
    let reports = reports.map_err(|e| Exit::Internal(error_chain(&e)))?;
    let wall = started.elapsed();
    let was_interrupted = interrupted.load(Ordering::SeqCst);
    let code = exit_code(&reports, was_interrupted);

    crate::console::print_summary(&reports, wall, was_interrupted);
    if args.summarize == Some(true) {
        let repo_path = cwd_in_workspace(cwd, &ws.root).unwrap_or_default();
        let facts = crate::run_summary::RunFacts {
            command: command_line(args),
            repo_path: &repo_path,
            wall,
            exit_code: code,
        };
        match crate::run_summary::write(&view, &reports, &facts) {
            Ok(path) => {
                let _ = writeln!(std::io::stdout().lock(), "Summary:  {}", path.display());
            }
            Err(e) => tracing::warn!("could not write the run summary: {e}"),
        }
    }
    if let Err(e) = record::write(&ws.root, &args.tasks, &reports, wall) {
        tracing::warn!("could not write the run record: {e}");
    }
    crate::cache_cmd::prune_after_run(&ws, &store, &reports);
    Ok(code)
}

/// 130 when interrupted; else the highest exit code of the tasks that failed (as
/// Turborepo), 1 for a failure without one; else 0.
fn exit_code(reports: &[kiln_core::TaskReport], interrupted: bool) -> i32 {
    if interrupted {
        return 130;
    }
    reports
        .iter()
        .filter_map(|r| match r.outcome {
            TaskOutcome::Failed { code } => Some(if code == 0 { 1 } else { code }),
            _ => None,
        })
        .max()
        .unwrap_or(0)
}

/// How much of each task's output is printed: `--output-logs` for every task, else each
/// task's own `outputLogs`.
fn log_policy(graph: &TaskGraph, cli: Option<OutputLogs>) -> LogPolicy {
    match cli {
        Some(mode) => LogPolicy::all(mode),
        None => LogPolicy {
            default: OutputLogs::Full,
            tasks: graph
                .nodes()
                .iter()
                .filter(|n| n.task.output_logs != OutputLogs::Full)
                .map(|n| (n.id.clone(), n.task.output_logs))
                .collect(),
        },
    }
}

/// The run as Turborepo's summary writes it: `kiln run <tasks> [--filter=…] [-- args]`.
fn command_line(args: &RunArgs) -> String {
    let mut line = format!("kiln run {}", args.tasks.join(" "));
    for filter in &args.filters {
        line.push_str(&format!(" --filter={filter}"));
    }
    if args.affected {
        line.push_str(" --affected");
    }
    if args.only {
        line.push_str(" --only");
    }
    if let Some(mode) = args.continue_mode {
        let value = clap::ValueEnum::to_possible_value(&mode)
            .map(|v| v.get_name().to_string())
            .unwrap_or_default();
        line.push_str(&format!(" --continue={value}"));
    }
    if !args.args.is_empty() {
        line.push_str(" -- ");
        line.push_str(&args.args.join(" "));
    }
    line
}

/// `kiln run` without a task: what the pipeline defines, with the packages that have it,
/// as `turbo run` lists them; exit 1 (nothing ran).
fn list_tasks(ws: &Workspace) -> Result<i32, Exit> {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "No tasks provided, here are some potential ones\n");
    for task in crate::suggest::task_names(ws) {
        let packages: Vec<&str> = ws
            .packages
            .iter()
            .filter(|p| {
                ws.resolve_task(&p.name, &task)
                    .is_some_and(|r| r.command.is_some())
            })
            .map(|p| p.name.as_str())
            .collect();
        let _ = writeln!(out, "  {task}\n    {}", packages.join(", "));
    }
    Ok(1)
}

/// The expected execution time of the tasks that will probably execute (their key is not
/// in the local cache, or `--force`): their recorded durations, for the live view's ETA.
/// Without a live view nobody reads them, and looking every key up costs a file read each.
fn estimates(
    graph: &TaskGraph,
    hashed: &[kiln_run::HashedTask],
    store: &LocalStore,
    durations: &Durations,
    force: bool,
) -> std::collections::HashMap<kiln_core::TaskId, Duration> {
    graph
        .nodes()
        .iter()
        .zip(hashed)
        .filter(|(_, h)| force || !matches!(store.peek(&h.key.to_hex()), Ok(Some(_))))
        .filter_map(|(node, _)| Some((node.id.clone(), durations.get(&node.id)?)))
        .collect()
}

/// The keys a run will look up in the remote cache, in plan order: cacheable tasks whose
/// outputs were not last restored or built under the same key (those are likely in place,
/// and need no artifact).
fn prefetch_keys(
    graph: &TaskGraph,
    hashed: &[kiln_run::HashedTask],
    outputs: &OutputState,
) -> Vec<String> {
    graph
        .nodes()
        .iter()
        .zip(hashed)
        .filter(|(node, _)| node.is_cacheable())
        .map(|(node, h)| (node, h.key.to_hex()))
        .filter(|(node, key)| outputs.get(&node.id).is_none_or(|r| r.key != *key))
        .map(|(_, key)| key)
        .collect()
}

/// The hash stage through the stat cache, which is saved afterwards (and returned, to
/// re-check inputs before storing results).
pub(crate) fn hash_plan(
    ws: &Workspace,
    graph: &TaskGraph,
    env: &std::collections::BTreeMap<String, String>,
) -> Result<(HashedPlan, StatCache), Exit> {
    let stat_cache_path = ws.root.join(".kiln/state/stat-cache-v1.bin");
    let stat_cache = StatCache::load(&stat_cache_path);
    let plan = hash_tasks(&HashContext {
        workspace: ws,
        graph,
        stat_cache: &stat_cache,
        env,
    })
    .map_err(|e| Exit::user(error_chain(&e)))?;
    if let Err(e) = stat_cache.save(&stat_cache_path) {
        tracing::warn!("could not save the stat cache: {}", error_chain(&e));
    }
    keep_out_of_git(&ws.root.join(".kiln"));
    tracing::debug!(
        hits = stat_cache.hits(),
        misses = stat_cache.misses(),
        "stat cache saved"
    );
    Ok((plan, stat_cache))
}

/// `.kiln/` is a cache: a `.gitignore` inside it keeps it out of `git status` in repositories
/// that do not ignore it (as Turborepo's users ignore `.turbo/`).
fn keep_out_of_git(dir: &Path) {
    let file = dir.join(".gitignore");
    if dir.is_dir()
        && !file.exists()
        && let Err(e) = fs_err::write(&file, "# kiln's cache: never committed\n*\n")
    {
        tracing::debug!("could not write {}: {e}", file.display());
    }
}

/// Filters → package scope → task graph (`--only` and `--` arguments applied), with every
/// plan error shown to the user; `--affected` keeps what a change affects.
///
/// Started below the workspace root, the selection is inferred from `cwd` as Turborepo does
/// (only the package kiln runs in, or every package under the directory; directory filters
/// relative to it): see `kiln_graph::Inference`.
fn plan(
    ws: &Workspace,
    cwd: &Path,
    args: &RunArgs,
) -> Result<(TaskGraph, BTreeSet<PackageName>), Exit> {
    let packages = PackageGraph::new(&ws.packages);
    packages
        .check_acyclic()
        .map_err(|e| Exit::user(e.to_string()))?;
    let scope: BTreeSet<PackageName> =
        crate::selection::packages(ws, &packages, cwd, &args.filters)?;
    let tasks: Vec<TaskName> = args
        .tasks
        .iter()
        .map(|t| TaskName::new(t.as_str()))
        .collect();
    let mut graph = TaskGraph::build(ws, &tasks, &scope)
        .map_err(|e| Exit::user(crate::suggest::explain(ws, &e)))?;
    if args.only {
        graph = graph.only(&tasks, &scope);
    }
    graph.pass_args(&tasks, &args.args);
    if !args.affected {
        return Ok((graph, scope));
    }
    let change = Change::detect(ws, &args.range.clone().into())?;
    let affected = change.tasks(ws, &graph)?;
    let _ = writeln!(
        std::io::stderr().lock(),
        "kiln: {} files changed since {} ({}); {} of {} tasks affected",
        change.files.files.len(),
        change.base.spec,
        &change.base.commit[..change.base.commit.len().min(12)],
        affected.all.len(),
        graph.len()
    );
    Ok((graph.with_dependencies(affected.all), scope))
}

/// Where kiln runs, relative to the workspace root (`/`-separated, empty at the root), which
/// directory filters and package inference are relative to; `None` when it cannot be told.
pub(crate) fn cwd_in_workspace(cwd: &Path, root: &Path) -> Option<String> {
    let base = cwd.canonicalize().ok()?;
    let root = root.canonicalize().ok()?;
    let rel = base.strip_prefix(&root).ok()?;
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    Some(parts.join("/"))
}

/// `--concurrency N` or `N%` of the CPUs; the default is every CPU.
fn concurrency(arg: Option<&str>) -> Result<usize, Exit> {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let Some(arg) = arg else { return Ok(cpus) };
    let bad = || {
        Exit::user(format!(
            "--concurrency `{arg}`: expected a number ≥ 1 or a percentage like `50%`"
        ))
    };
    if let Some(pct) = arg.strip_suffix('%') {
        let pct: f64 = pct.trim().parse().map_err(|_| bad())?;
        if pct.is_nan() || pct <= 0.0 {
            return Err(bad());
        }
        return Ok(((cpus as f64 * pct / 100.0).floor() as usize).max(1));
    }
    match arg.trim().parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(bad()),
    }
}

pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrency_accepts_numbers_and_percentages() {
        assert_eq!(concurrency(Some("3")).ok(), Some(3));
        assert!(concurrency(Some("0")).is_err());
        assert!(concurrency(Some("x")).is_err());
        assert!(concurrency(Some("50%")).ok().unwrap() >= 1);
        assert!(concurrency(Some("-5%")).is_err());
    }

    /// A workspace with `apps/web` → `packages/ui`, each with a `build` script.
    fn web_and_ui() -> (tempfile::TempDir, Workspace) {
        let dir = tempfile::tempdir().unwrap();
        let files = [
            (
                "package.json",
                r#"{"workspaces": ["apps/*", "packages/*"]}"#,
            ),
            (
                "turbo.json",
                r#"{"tasks": {"build": {"dependsOn": ["^build"]}}}"#,
            ),
            (
                "apps/web/package.json",
                r#"{"name": "web", "scripts": {"build": "x"}, "dependencies": {"ui": "*"}}"#,
            ),
            ("apps/web/src/index.ts", ""),
            (
                "packages/ui/package.json",
                r#"{"name": "ui", "scripts": {"build": "x"}}"#,
            ),
        ];
        for (path, text) in files {
            let path = dir.path().join(path);
            fs_err::create_dir_all(path.parent().unwrap()).unwrap();
            fs_err::write(path, text).unwrap();
        }
        let ws = Workspace::discover(dir.path()).unwrap();
        (dir, ws)
    }

    fn build_args(filters: &[&str]) -> RunArgs {
        RunArgs {
            tasks: vec!["build".into()],
            filters: filters.iter().map(|f| f.to_string()).collect(),
            ..RunArgs::default()
        }
    }

    fn planned(ws: &Workspace, cwd: &Path, filters: &[&str]) -> Vec<String> {
        match plan(ws, cwd, &build_args(filters)) {
            Ok((graph, _)) => graph.nodes().iter().map(|n| n.id.to_string()).collect(),
            Err(Exit::User(e)) => panic!("{e}"),
            Err(Exit::Internal(e) | Exit::Usage(e)) => panic!("{e}"),
        }
    }

    #[test]
    fn running_inside_a_package_builds_only_that_package() {
        let (dir, ws) = web_and_ui();
        let web = dir.path().join("apps/web/src");
        assert_eq!(planned(&ws, &web, &[]), ["ui#build", "web#build"]);
        let ui = dir.path().join("packages/ui");
        assert_eq!(planned(&ws, &ui, &[]), ["ui#build"]);
        let apps = dir.path().join("apps");
        assert_eq!(planned(&ws, &apps, &["../packages/*"]), ["ui#build"]);
        assert_eq!(planned(&ws, dir.path(), &[]).len(), 2);
    }

    #[test]
    fn a_directory_filter_naming_no_directory_is_an_error() {
        let (dir, ws) = web_and_ui();
        for (cwd, filter) in [("", "./apps/nope"), ("apps", "{./nope/*}")] {
            let Err(Exit::User(e)) = plan(&ws, &dir.path().join(cwd), &build_args(&[filter]))
            else {
                panic!("`{filter}` in `{cwd}` planned");
            };
            let missing = ws.root.join("apps/nope");
            assert_eq!(
                e.to_string(),
                format!(
                    "directory {} in filter `{filter}` does not exist",
                    missing.display()
                )
            );
        }
        // An existing directory holding no package is no error: it selects nothing.
        assert!(planned(&ws, dir.path(), &["./apps/web/src"]).is_empty());
    }
}
