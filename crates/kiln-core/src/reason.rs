//! Why things happen to a task, as data: why its key changed ([`ChangeReason`]), why its
//! command ran instead of coming from the cache ([`RunReason`]), and what went wrong on the
//! way without failing it ([`Warning`]). The engine decides; the CLI words them
//! (`crates/kiln/src/words.rs`), the run record keeps them as they are.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::TaskId;

/// Where a task runs, as far as its result can tell.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    pub os: String,
    pub arch: String,
}

impl Platform {
    /// The platform this kiln was built for (`linux`/`x86_64`, …).
    pub fn current() -> Self {
        Self {
            os: std::env::consts::OS.to_string(),
            arch: std::env::consts::ARCH.to_string(),
        }
    }
}

/// Why a task's key is not what it was.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum ChangeReason {
    /// kiln itself changed what goes into keys.
    KeyFormatChanged {
        from: u32,
        to: u32,
    },
    PlatformChanged {
        from: Platform,
        to: Platform,
    },
    /// The command, globs, env list or flags of the task changed.
    DefinitionChanged,
    /// A global file or global env var changed (which one is told by
    /// [`crate::GlobalInputs::diff`], when the earlier global inputs are known).
    GlobalChanged,
    GlobalFileAdded {
        path: String,
    },
    GlobalFileRemoved {
        path: String,
    },
    GlobalFileModified {
        path: String,
    },
    GlobalEnvChanged {
        name: String,
    },
    /// A third-party package joined the package's dependency closure.
    ExternalAdded {
        name: String,
        version: String,
    },
    /// A third-party package left the package's dependency closure.
    ExternalRemoved {
        name: String,
        version: String,
    },
    /// A third-party package of the closure resolves to another version.
    ExternalChanged {
        name: String,
        from: String,
        to: String,
    },
    DependencyAdded {
        task: TaskId,
    },
    DependencyRemoved {
        task: TaskId,
    },
    /// A task this one depends on has a new key (its own inputs changed).
    DependencyChanged {
        task: TaskId,
    },
    EnvAdded {
        name: String,
    },
    EnvRemoved {
        name: String,
    },
    EnvChanged {
        name: String,
    },
    FileAdded {
        path: String,
    },
    FileRemoved {
        path: String,
    },
    FileModified {
        path: String,
    },
}

impl fmt::Display for ChangeReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::KeyFormatChanged { from, to } => {
                write!(f, "kiln's key format changed (v{from} → v{to})")
            }
            Self::PlatformChanged { from, to } => write!(
                f,
                "platform changed ({}/{} → {}/{})",
                from.os, from.arch, to.os, to.arch
            ),
            Self::DefinitionChanged => f.write_str("the task definition changed"),
            Self::GlobalChanged => f.write_str("a global input changed"),
            Self::GlobalFileAdded { path } => write!(f, "global input `{path}` added"),
            Self::GlobalFileRemoved { path } => write!(f, "global input `{path}` removed"),
            Self::GlobalFileModified { path } => write!(f, "global input `{path}` changed"),
            Self::GlobalEnvChanged { name } => write!(f, "global env var `{name}` changed"),
            Self::ExternalAdded { name, version } => {
                write!(f, "new external dependency `{name}` {version}")
            }
            Self::ExternalRemoved { name, version } => {
                write!(f, "external dependency `{name}` {version} removed")
            }
            Self::ExternalChanged { name, from, to } => {
                write!(f, "external dependency `{name}` {from} → {to}")
            }
            Self::DependencyAdded { task } => write!(f, "new dependency `{task}`"),
            Self::DependencyRemoved { task } => write!(f, "dependency `{task}` removed"),
            Self::DependencyChanged { task } => write!(f, "dependency `{task}` changed"),
            Self::EnvAdded { name } => write!(f, "env var `{name}` is now an input"),
            Self::EnvRemoved { name } => write!(f, "env var `{name}` is no longer an input"),
            Self::EnvChanged { name } => write!(f, "env var `{name}` changed"),
            Self::FileAdded { path } => write!(f, "`{path}` added"),
            Self::FileRemoved { path } => write!(f, "`{path}` removed"),
            Self::FileModified { path } => write!(f, "`{path}` changed"),
        }
    }
}

/// Why a task's command runs instead of its result coming from the cache.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum RunReason {
    /// A long-running task (a dev server): never cached.
    Persistent,
    /// `cache: false` in its definition.
    CacheOff,
    /// `--force`: the cache is not read this run.
    Forced,
    /// No cache that may be read (`--cache=local:w`, `--remote-only` without remote reads…).
    CacheNotRead,
    /// No successful run of the task is recorded.
    NeverRun,
    /// Its key is the one of its last successful run, but no cache holds the result
    /// (evicted, pruned, or never stored).
    NotInCache,
    /// Its inputs differ from those of its last successful run, as listed (the task's own
    /// changes, then its dependencies').
    InputsChanged { changes: Vec<ChangeReason> },
    /// Its key changed, but the inputs of the earlier key are no longer recorded.
    InputsUnrecorded,
}

impl RunReason {
    /// Every variant once, with sample data: for tests that must cover them all.
    pub fn examples() -> Vec<RunReason> {
        vec![
            RunReason::Persistent,
            RunReason::CacheOff,
            RunReason::Forced,
            RunReason::CacheNotRead,
            RunReason::NeverRun,
            RunReason::NotInCache,
            RunReason::InputsChanged {
                changes: vec![ChangeReason::FileModified {
                    path: "src/index.ts".into(),
                }],
            },
            RunReason::InputsUnrecorded,
        ]
    }
}

/// Something that went wrong for one task without failing it (the task runs, or its result
/// is just not cached), or that the user should know while it waits. Error texts are kept
/// as text: they come from the OS or a server and are shown as they are.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "warning", rename_all = "snake_case")]
pub enum Warning {
    /// Another kiln process holds a named lock of the task.
    WaitingForLock { name: String },
    /// The task's named locks could not be taken at all; it runs without them.
    LocksUnavailable { error: String },
    /// A restore would have replaced an output the user changed: the task runs instead.
    KeptChangedOutput { path: String },
    /// The cache entry was unusable (corrupt, unsafe, too large): evicted, the task runs.
    EntryDiscarded { error: String },
    /// The cache could not be read: the task runs.
    CacheUnreadable { error: String },
    /// The cached log could not be replayed (the outputs were restored).
    LogNotReplayed { error: String },
    /// An input changed while the task ran: its result is not cached.
    InputChangedWhileRunning { path: String },
    /// Packing or storing the result failed: it is not cached.
    NotCached { error: String },
    /// The task ran past its `timeout` and was stopped.
    TimedOut { after: Duration },
    /// A step's command could not be started.
    CouldNotStart { command: String, error: String },
    /// The graph names a package the workspace does not have.
    PackageMissing,
    /// The build state (keys and inputs for `kiln why`) could not be updated.
    StateNotUpdated { error: String },
    /// The run journal (`--resume`) could not be updated.
    JournalNotUpdated { error: String },
}

impl Warning {
    /// Every variant once, with sample data: for tests that must cover them all.
    pub fn examples() -> Vec<Warning> {
        let error = || "disk full".to_string();
        vec![
            Warning::WaitingForLock { name: "db".into() },
            Warning::LocksUnavailable { error: error() },
            Warning::KeptChangedOutput {
                path: "dist/a.js".into(),
            },
            Warning::EntryDiscarded { error: error() },
            Warning::CacheUnreadable { error: error() },
            Warning::LogNotReplayed { error: error() },
            Warning::InputChangedWhileRunning {
                path: "src/a.ts".into(),
            },
            Warning::NotCached { error: error() },
            Warning::TimedOut {
                after: Duration::from_secs(5),
            },
            Warning::CouldNotStart {
                command: "tsc".into(),
                error: error(),
            },
            Warning::PackageMissing,
            Warning::StateNotUpdated { error: error() },
            Warning::JournalNotUpdated { error: error() },
        ]
    }
}
