//! A run as a library call: from a [`RunRequest`] (a planned task graph and how to run it)
//! to a [`RunOutcome`] (one report per task, wall time, interrupted or not). The run opens
//! what it needs (the repository's run lock, the local store, the build state, the journal,
//! the resource monitor), hashes, executes, records (`.kiln/runs/`) and prunes; it tells
//! everything on the caller's event channel. The CLI is one caller; a test or the dashboard
//! starts a run the same way.
//!
//! ```text
//! run ─▶ RunLock ─▶ hash_plan (Plan: one PlannedTask per node) ─▶ open store, state, journal
//!     ─▶ monitor + prefetch ─▶ engine::execute ─▶ task::run_task (lookup → exec → store)
//!     ─▶ durations, outputs state ─▶ run record ─▶ prune
//! ```

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kiln_cache::{LocalStore, PrunePolicy, PruneReport};
use kiln_core::{CacheStatus, Event, Layout, TaskId, TaskOutcome, TaskReport};
use kiln_graph::TaskGraph;
use kiln_hash::{StatCache, process_env};
use kiln_process::{ProcessRegistry, TreeTracker};
use kiln_scheduler::{Budget, CancelToken, OnFailure};
use kiln_state::{BuildState, Durations, Journal};
use kiln_workspace::Workspace;

use crate::events::Emitter;
use crate::run_record::{RecordBuilder, RunFacts};
use crate::task::{Cache, CacheMode, Exec, InputCheck, Records, TaskRun};
use crate::{
    ExecuteOptions, HashContext, OutputState, OutputsOverlap, Plan, RemoteTier, RunError, RunLock,
    hash_tasks, open_local_store,
};

/// How often, at most, a run checks the local cache's size.
const AUTO_PRUNE_EVERY: Duration = Duration::from_secs(10 * 60);

/// What to run and how. [`RunRequest::new`] gives the defaults of a plain `kiln run`.
pub struct RunRequest<'a> {
    pub workspace: &'a Workspace,
    /// The planned task graph (tasks, `--filter`, `--affected`, `--only` applied).
    pub graph: &'a TaskGraph,
    /// The tasks as asked for (`build`, `test`), for the record and `--resume`.
    pub tasks: Vec<String>,
    /// The command line, for the record and the run lock's holder.
    pub command_line: String,
    /// When the run began from the user's point of view (the wall time counts from here).
    pub started: Instant,
    pub cache: CacheMode,
    /// `--cache-dir`: the local cache elsewhere than `.kiln/cache` (relative to the root).
    pub cache_dir: Option<String>,
    /// The remote cache behind the local one.
    pub remote: Option<RemoteTier>,
    /// How many CPU slots tasks may take at once.
    pub concurrency: usize,
    /// The memory tasks may take at once (`--memory-limit`); else the machine's.
    pub memory_limit: Option<u64>,
    pub on_failure: OnFailure,
    /// `--resume`: skip tasks that succeeded with the same key in the last run.
    pub resume: bool,
    /// Replay the logs of hits (else they are checked, not sent).
    pub replay_logs: bool,
    /// Write `<package>/.turbo/turbo-<task>.log` as Turborepo does.
    pub turbo_logs: bool,
    /// Tasks whose outputs overlap: ordered one after the other.
    pub overlaps: Vec<OutputsOverlap>,
    /// Send [`Event::Planned`] with the expected durations of the tasks likely to execute
    /// (a cache lookup per task: only for a live view).
    pub estimates: bool,
    /// Prune the local cache back under these limits after a run that stored something.
    pub prune: Option<PrunePolicy>,
    /// Write the run record under `.kiln/runs/`.
    pub record: bool,
}

impl<'a> RunRequest<'a> {
    pub fn new(workspace: &'a Workspace, graph: &'a TaskGraph) -> Self {
        let tasks: Vec<String> = {
            let mut names: Vec<String> = graph
                .nodes()
                .iter()
                .map(|n| n.id.task.to_string())
                .collect();
            names.sort();
            names.dedup();
            names
        };
        RunRequest {
            workspace,
            graph,
            command_line: format!("kiln run {}", tasks.join(" ")),
            tasks,
            started: Instant::now(),
            cache: CacheMode {
                read: true,
                write: true,
                forced: false,
            },
            cache_dir: None,
            remote: None,
            concurrency: std::thread::available_parallelism().map_or(1, |n| n.get()),
            memory_limit: None,
            on_failure: OnFailure::Stop,
            resume: false,
            replay_logs: true,
            turbo_logs: false,
            overlaps: Vec::new(),
            estimates: false,
            prune: None,
            record: true,
        }
    }
}

/// How a caller stops a run (Ctrl-C in the CLI, a button in the dashboard): nothing new
/// starts, running tasks are signalled through the registry, the outcome says
/// `interrupted`.
#[derive(Clone, Default)]
pub struct StopHandle {
    registry: ProcessRegistry,
    cancel: CancelToken,
    interrupted: Arc<AtomicBool>,
}

impl StopHandle {
    pub fn new() -> Self {
        Self::default()
    }

    /// The processes of the run (to stop them with a grace period, as Ctrl-C does).
    pub fn registry(&self) -> &ProcessRegistry {
        &self.registry
    }

    /// Marks the run interrupted and schedules nothing more; running tasks are stopped
    /// through [`Self::registry`].
    pub fn interrupt(&self) {
        self.interrupted.store(true, Ordering::SeqCst);
        self.cancel.cancel();
    }

    pub fn is_interrupted(&self) -> bool {
        self.interrupted.load(Ordering::SeqCst)
    }
}

/// What a run did.
pub struct RunOutcome<'g> {
    /// One per task, in graph order.
    pub reports: Vec<TaskReport>,
    /// From [`RunRequest::started`] until the run was over.
    pub wall: Duration,
    pub interrupted: bool,
    /// The plan the run executed (keys, manifests, steps).
    pub plan: Plan<'g>,
    /// The environment the plan was hashed with.
    pub env: BTreeMap<String, String>,
    /// Where the run record went.
    pub record: Option<PathBuf>,
    /// What pruning the local cache removed.
    pub pruned: Option<PruneReport>,
}

/// Runs `request` to the end, sending every event on `events`.
pub fn run<'g>(
    request: RunRequest<'g>,
    stop: &StopHandle,
    events: SyncSender<Event>,
) -> Result<RunOutcome<'g>, RunError> {
    let ws = request.workspace;
    let graph = request.graph;
    let layout = Layout::of(&ws.root);
    let events = Emitter::new(
        events,
        request.record.then(|| RecordBuilder::new(request.started)),
    );
    // Before hashing, so this run sees what the one it waited for left behind.
    let waiting = Instant::now();
    let run_lock = RunLock::acquire(&ws.root, &request.command_line, |holder| {
        tracing::warn!("waiting for another kiln run on this repository to finish ({holder})")
    })
    .map_err(|source| RunError::RunLock {
        dir: layout.locks(),
        source,
    })?;
    let run_lock = Arc::new(run_lock);
    let locked = Instant::now();
    if locked - waiting > Duration::from_millis(50) {
        events.emit(Event::Stage {
            name: "wait for the run lock",
            started: waiting,
            ended: locked,
        });
    }
    let env = process_env();
    let (plan, stat_cache) = hash_plan(ws, graph, &env)?;
    events.emit(Event::Stage {
        name: "hash",
        started: locked,
        ended: Instant::now(),
    });

    let store = open_local_store(ws, request.cache_dir.as_deref())?;
    let state_dir = layout.state();
    let state = BuildState::new(&state_dir);
    // Read before this run's journal replaces it.
    let resumed = if request.resume {
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
    let journal = Journal::start(&state_dir, &request.tasks)
        .map_err(|e| tracing::warn!("cannot record this run for --resume: {e}"))
        .ok();
    if let Err(e) = state.record_global(&plan.global) {
        tracing::warn!("could not update the build state: {e}");
    }
    let durations = Durations::load(&state_dir);
    let output_state = OutputState::load(&layout.outputs_state());
    let remote = request.remote.as_ref();
    let cache = Cache {
        store: &store,
        outputs: &output_state,
        remote,
        mode: request.cache,
        replay_logs: request.replay_logs,
        turbo_logs: request.turbo_logs,
    };
    events.emit(Event::Planned {
        tasks: graph.len(),
        estimates: if request.estimates {
            estimates(&plan, &store, &durations, !request.cache.read)
        } else {
            HashMap::new()
        },
    });

    let task_env: Vec<_> = std::env::vars_os().collect();
    let trees = Arc::new(Mutex::new(TreeTracker::new()));
    let budget = Budget::with_memory(request.concurrency, request.memory_limit);
    let monitor = crate::resources::start(
        &budget,
        request.memory_limit,
        stop.registry(),
        &events,
        &trees,
    );
    let task_run = TaskRun {
        cache,
        exec: Exec {
            workspace: ws,
            registry: stop.registry(),
            env: &task_env,
            trees: Some(&trees),
        },
        check: InputCheck {
            workspace: ws,
            stat_cache: &stat_cache,
            git: &plan.git,
        },
        records: Records {
            state: &state,
            global: &plan.global,
            journal: journal.as_ref(),
            resumed: resumed.as_ref(),
        },
        events: &events,
    };
    let opts = ExecuteOptions {
        budget,
        on_failure: request.on_failure,
        durations: durations.all().clone(),
        overlaps: request.overlaps.clone(),
        run_lock: Some(run_lock.clone()),
    };
    let reports = std::thread::scope(|scope| {
        if let Some(remote) = remote
            && remote.can_read()
        {
            remote.prefetch(scope, &store, prefetch_keys(&plan, &output_state));
        }
        let reports = crate::engine::execute(&task_run, graph, &plan, &opts, &stop.cancel);
        if let Some(remote) = remote {
            remote.stop_prefetch();
        }
        reports
    });
    if let Some(monitor) = monitor {
        monitor.stop();
    }
    if let Some(remote) = remote {
        let uploaded = remote.finish();
        tracing::debug!(uploaded, remote = remote.name(), "uploads finished");
    }
    if let Ok(reports) = &reports {
        let executed: Vec<_> = reports
            .iter()
            .filter(|r| {
                r.outcome == TaskOutcome::Succeeded
                    && matches!(r.cache, CacheStatus::Miss | CacheStatus::Disabled)
                    && r.executed
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
    let reports = reports?;
    let wall = request.started.elapsed();
    let interrupted = stop.is_interrupted();
    let record = match events.take_record().filter(|_| request.record) {
        Some(record) => {
            let facts = RunFacts {
                command: &request.command_line,
                requested: &request.tasks,
                concurrency: request.concurrency,
                wall,
                interrupted,
            };
            crate::run_record::write(&layout, &record, &facts, &reports)
                .map_err(|e| tracing::warn!("could not write the run record: {e}"))
                .ok()
        }
        None => None,
    };
    let pruned = match &request.prune {
        Some(policy) if stored_something(&reports) => {
            match store.auto_prune(policy, AUTO_PRUNE_EVERY) {
                Ok(report) => report,
                Err(e) => {
                    tracing::warn!(
                        "could not prune the local cache: {}",
                        kiln_core::error_chain(&e)
                    );
                    None
                }
            }
        }
        _ => None,
    };
    Ok(RunOutcome {
        reports,
        wall,
        interrupted,
        plan,
        env,
        record,
        pruned,
    })
}

/// The hash stage through the stat cache, which is saved afterwards (and returned, to
/// re-check inputs before storing results).
pub fn hash_plan<'g>(
    ws: &Workspace,
    graph: &'g TaskGraph,
    env: &BTreeMap<String, String>,
) -> Result<(Plan<'g>, StatCache), RunError> {
    let layout = Layout::of(&ws.root);
    let stat_cache_path = layout.stat_cache();
    let stat_cache = StatCache::load(&stat_cache_path);
    let plan = hash_tasks(&HashContext {
        workspace: ws,
        graph,
        stat_cache: &stat_cache,
        env,
    })?;
    if let Err(e) = stat_cache.save(&stat_cache_path) {
        tracing::warn!(
            "could not save the stat cache: {}",
            kiln_core::error_chain(&e)
        );
    }
    keep_out_of_git(layout.dir());
    tracing::debug!(
        hits = stat_cache.hits(),
        misses = stat_cache.misses(),
        "stat cache saved"
    );
    Ok((plan, stat_cache))
}

/// `.kiln/` is a cache: a `.gitignore` inside it keeps it out of `git status` in repositories
/// that do not ignore it (as Turborepo's users ignore `.turbo/`).
fn keep_out_of_git(dir: &std::path::Path) {
    let file = dir.join(".gitignore");
    if dir.is_dir()
        && !file.exists()
        && let Err(e) = fs_err::write(&file, "# kiln's cache: never committed\n*\n")
    {
        tracing::debug!("could not write {}: {e}", file.display());
    }
}

/// Whether the run put anything into the local store (only then can it have grown).
fn stored_something(reports: &[TaskReport]) -> bool {
    reports.iter().any(|r| match r.cache {
        CacheStatus::Hit(kiln_core::CacheSource::Remote) => true,
        CacheStatus::Miss => r.outcome == TaskOutcome::Succeeded,
        _ => false,
    })
}

/// The expected execution time of the tasks that will probably execute (their key is not
/// in the local cache, or `--force`): their recorded durations, for the live view's ETA.
fn estimates(
    plan: &Plan<'_>,
    store: &LocalStore,
    durations: &Durations,
    force: bool,
) -> HashMap<TaskId, Duration> {
    plan.tasks
        .iter()
        .filter(|t| force || !matches!(store.peek(&t.key.to_hex()), Ok(Some(_))))
        .filter_map(|t| Some((t.id().clone(), durations.get(t.id())?)))
        .collect()
}

/// The keys a run will look up in the remote cache, in plan order: cacheable tasks whose
/// outputs were not last restored or built under the same key (those are likely in place,
/// and need no artifact).
fn prefetch_keys(plan: &Plan<'_>, outputs: &OutputState) -> Vec<String> {
    plan.tasks
        .iter()
        .filter(|t| t.node.is_cacheable())
        .map(|t| (t, t.key.to_hex()))
        .filter(|(t, key)| outputs.get(t.id()).is_none_or(|r| r.key != *key))
        .map(|(_, key)| key)
        .collect()
}
