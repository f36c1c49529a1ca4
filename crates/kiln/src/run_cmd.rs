//! `kiln run`: discover → plan → (dry run | [`kiln_run::run`]) → summary and exit code. The
//! run itself (lock, hash, execute, record, prune) is the library's; this file turns
//! arguments into a [`RunRequest`], picks the subscribers and renders the outcome.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use kiln_core::{PackageName, TaskName, TaskOutcome};
use kiln_graph::{PackageGraph, TaskGraph};
use kiln_hash::process_env;
use kiln_run::{CacheMode, RunRequest, StopHandle};
use kiln_workspace::{OutputLogs, Workspace};

use crate::affected_cmd::Change;
use crate::cli::{RunArgs, UiArg};
use crate::console::LogPolicy;
use crate::dry_run::RunView;
use crate::exit::Exit;
use crate::{dry_run, run_flags};

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
    let overlaps = kiln_run::output_overlaps(&ws, &graph)?;
    for overlap in &overlaps {
        tracing::warn!("{overlap}");
    }
    if let Some(target) = &args.graph {
        crate::graph_out::write(&graph, target, cwd)?;
        return Ok(0);
    }
    let planned = Instant::now();
    tracing::debug!(elapsed = ?started.elapsed(), tasks = graph.len(), "planned");
    if let Some(format) = args.dry_run {
        let env = process_env();
        let (plan, _) = kiln_run::hash_plan(&ws, &graph, &env)?;
        let store = kiln_run::open_local_store(&ws, args.cache_dir.as_deref())?;
        let view = RunView {
            ws: &ws,
            graph: &graph,
            hashed: &plan.tasks,
            global: &plan.global,
            env: &env,
            scope: &scope,
            filtered: !args.filters.is_empty(),
        };
        dry_run::print(format, &view, &store);
        return Ok(0);
    }

    let modes = run_flags::cache_modes(args)?;
    let concurrency = concurrency(
        args.concurrency
            .as_deref()
            .or(ws.pipeline.concurrency.as_deref()),
    )?;
    let memory_limit = args
        .memory_limit
        .as_deref()
        .map(|text| {
            kiln_workspace::units::parse_size(text)
                .map_err(|e| Exit::user(format!("--memory-limit: {e}")))
        })
        .transpose()?;
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
    let logs = log_policy(&graph, run_flags::output_logs(args));
    let replay_logs =
        logs.default == OutputLogs::Full || logs.tasks.values().any(|m| *m == OutputLogs::Full);
    let stream_ui = match args.ui {
        Some(UiArg::Stream) => true,
        Some(UiArg::Tui) => false,
        None => ws.pipeline.ui.as_deref() == Some("stream"),
    };
    let live = !stream_ui && crate::subscribers::live_view_wanted();
    let prune = match crate::cache_cmd::Limits::of(&ws) {
        Ok(limits) => Some(limits.policy),
        Err(e) => {
            tracing::warn!("the local cache is not pruned: {e}");
            None
        }
    };
    let request = RunRequest {
        workspace: &ws,
        graph: &graph,
        tasks: args.tasks.clone(),
        command_line: command_line(args),
        started,
        cache: CacheMode {
            read: modes.local.0,
            write: modes.local.1,
            forced: args.force == Some(true),
        },
        cache_dir: args.cache_dir.clone(),
        remote,
        concurrency,
        memory_limit,
        on_failure: run_flags::on_failure(args),
        resume: args.resume,
        replay_logs,
        turbo_logs: dry_run::writes_turbo_logs(&ws),
        overlaps,
        estimates: live,
        prune,
        record: true,
    };

    let stop = StopHandle::new();
    {
        let stop = stop.clone();
        kiln_process::stop_on_signals(stop.registry().clone(), STOP_GRACE, move |_| {
            stop.interrupt()
        })
        .map_err(|e| Exit::Internal(format!("cannot watch for Ctrl-C: {e}")))?;
    }
    let (tx, subscribers) = crate::subscribers::start(crate::subscribers::SubscriberOptions {
        verbose,
        logs,
        log_order: args.log_order,
        log_prefix: args.log_prefix,
        stream_ui,
        profile: args.profile.clone(),
        total_tasks: graph.len(),
        estimates: Default::default(),
        concurrency,
    });
    for (name, started, ended) in [
        ("discover", started, discovered),
        ("plan", discovered, planned),
    ] {
        let _ = tx.send(kiln_core::Event::Stage {
            name,
            started,
            ended,
        });
    }
    let outcome = kiln_run::run(request, &stop, tx);
    if let Err(e) = subscribers.finish() {
        tracing::warn!("{e}");
    }
    let outcome = outcome?;
    let reports = &outcome.reports;
    let code = exit_code(reports, outcome.interrupted);

    crate::console::print_summary(reports, outcome.wall, outcome.interrupted);
    if args.summarize == Some(true) {
        let repo_path = cwd_in_workspace(cwd, &ws.root).unwrap_or_default();
        let facts = crate::run_summary::RunFacts {
            command: command_line(args),
            repo_path: &repo_path,
            wall: outcome.wall,
            exit_code: code,
        };
        let view = RunView {
            ws: &ws,
            graph: &graph,
            hashed: &outcome.plan.tasks,
            global: &outcome.plan.global,
            env: &outcome.env,
            scope: &scope,
            filtered: !args.filters.is_empty(),
        };
        match crate::run_summary::write(&view, reports, &facts) {
            Ok(path) => {
                let _ = writeln!(std::io::stdout().lock(), "Summary:  {}", path.display());
            }
            Err(e) => tracing::warn!("could not write the run summary: {e}"),
        }
    }
    if let Some(pruned) = &outcome.pruned {
        crate::cache_cmd::report_pruned(&ws, pruned);
    }
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
