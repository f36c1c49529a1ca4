use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::{RunReason, TaskId, TaskKey, Warning};

/// Where a cache hit came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CacheSource {
    Local,
    Remote,
}

/// Whether a task's result came from the cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "status", content = "source")]
pub enum CacheStatus {
    Hit(CacheSource),
    Miss,
    /// The task is not cacheable (`cache: false`, persistent, or it has no command).
    Disabled,
    /// Not run: it succeeded with the same key in the run being resumed (`--resume`).
    Resumed,
    /// The package has no script (or command) for the task: a node that only keeps the
    /// order, and no task in the run's counts (Turborepo's `<NONEXISTENT>`).
    #[serde(rename = "nothing")]
    NothingToRun,
}

/// How a task ended. A failed task is data, not an error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum TaskOutcome {
    /// The command exited 0, or its result was restored from the cache.
    Succeeded,
    /// The command exited non-zero (or was killed by a signal: `code` is then 128 + signal).
    Failed { code: i32 },
    /// Not started because a task it depends on failed.
    Skipped { because: TaskId },
    /// Not started, or stopped, because the run was interrupted or stopped after a failure.
    Cancelled,
}

/// The record of one task at the end of a run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TaskReport {
    pub id: TaskId,
    pub key: TaskKey,
    pub outcome: TaskOutcome,
    pub cache: CacheStatus,
    /// Wall time of this run of the task (restore time on a hit).
    pub duration: Duration,
    /// On a hit: how long the original execution took, i.e. the time the cache saved.
    pub saved: Duration,
    /// Why the task's command was to run instead of its result coming from the cache;
    /// `None` on a hit (and for tasks that never got that far).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<RunReason>,
    /// Whether its command was started (a task cancelled while it waited for a lock has a
    /// reason but never executed).
    #[serde(default)]
    pub executed: bool,
    /// What its processes used, when it ran long enough to be sampled (every 200 ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<TaskResources>,
    /// When it started (Unix time, ms); `None` for a task that never started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_unix_ms: Option<u64>,
}

/// The resources a task's processes used, from the monitor's samples of its process group.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskResources {
    /// The largest resident memory seen at once, in bytes.
    pub peak_rss: u64,
    /// CPU time, in seconds.
    pub cpu_seconds: f64,
    pub read_bytes: u64,
    pub write_bytes: u64,
}

/// The phases of one task's life, as the trace profile shows them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Waiting for the task's lock or its named locks (another kiln process holds them).
    Lock,
    /// Looking the key up in the cache.
    CacheLookup,
    /// Restoring outputs and replaying the log.
    Restore,
    /// Running the command.
    Execute,
    /// Packing outputs and storing the artifact.
    Store,
    /// Sending the artifact to the remote cache (in the background, after the task ended).
    Upload,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Lock => "lock",
            Phase::CacheLookup => "cache lookup",
            Phase::Restore => "restore",
            Phase::Execute => "execute",
            Phase::Store => "store",
            Phase::Upload => "upload",
        }
    }
}

/// One sample of the machine and of the run's budget.
#[derive(Clone, Debug, PartialEq)]
pub struct ResourceSample {
    pub at: Instant,
    /// 0..=1 over the interval since the previous sample.
    pub cpu_busy: f64,
    pub memory_total: u64,
    pub memory_available: u64,
    /// Resident memory of every running task's processes.
    pub tasks_rss: u64,
    /// Tasks running now (persistent ones included).
    pub running: usize,
    /// How many CPU slots the budget allows now.
    pub budget_slots: usize,
}

/// What the engine tells its subscribers. Subscribers only read events; none reaches back.
#[derive(Clone, Debug)]
pub enum Event {
    /// A task is about to be looked up in the cache or executed, on worker `worker` (a small
    /// stable number per scheduler thread: the trace profile's track).
    TaskStarted {
        id: TaskId,
        key: TaskKey,
        worker: usize,
        at: Instant,
    },
    /// One phase of a task's life, once it ended.
    Phase {
        id: TaskId,
        phase: Phase,
        started: Instant,
        ended: Instant,
    },
    /// A run-wide stage (discover, plan, hash) ended.
    Stage {
        name: &'static str,
        started: Instant,
        ended: Instant,
    },
    /// The run is hashed and about to execute: how many tasks it has, and how long those
    /// likely to execute took last time (for an ETA; only when the caller asked for them).
    Planned {
        tasks: usize,
        estimates: HashMap<TaskId, Duration>,
    },
    /// What the resource monitor saw, about every 200 ms while tasks run.
    Resources(ResourceSample),
    /// The task's key was found in the cache; its outputs are being restored and its log
    /// replayed.
    CacheHit {
        id: TaskId,
        key: TaskKey,
        source: CacheSource,
        /// The remote it came from (its name), for a remote hit.
        remote: Option<String>,
        /// Fetched by the prefetch before the task started, rather than when it looked.
        prefetched: bool,
    },
    /// The task's key was not in the cache (or the cache was bypassed): its command runs.
    /// `reason` says why.
    Executing {
        id: TaskId,
        key: TaskKey,
        reason: RunReason,
        /// The cache was not read for it (`--force`, `cache: false`, a write-only cache):
        /// Turborepo's "cache bypass".
        bypassed: bool,
        /// The variables of kiln's environment the task does not see (strict env mode), by
        /// name; values are never in an event.
        hidden_env: Vec<String>,
    },
    /// One line of a task's output, live (on a miss) or replayed (on a hit).
    TaskOutput {
        id: TaskId,
        line: String,
        replayed: bool,
    },
    /// A warning about one task that does not fail it (a corrupt cache entry, say).
    TaskWarning { id: TaskId, warning: Warning },
    /// A task ended, one way or another.
    TaskFinished(TaskReport),
}
