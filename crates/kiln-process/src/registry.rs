//! The live process groups of a kiln run, so a shutdown can stop them all.
//!
//! **Which signal.** [`ProcessRegistry::terminate_all`] sends `SIGINT` first, then `SIGKILL`
//! after the grace period. Each task runs in its own process group, so when the user presses
//! Ctrl-C the terminal's `SIGINT` reaches only kiln, not the tasks; forwarding `SIGINT` gives
//! each task exactly what it would have received had it run in the foreground. Dev servers,
//! test runners, `npm`/`yarn` and shells all treat it as "the user asked to stop" and clean
//! up (Turborepo does the same). Anything that ignores it is killed when the grace period
//! ends. Background jobs of a non-interactive shell ignore `SIGINT` by POSIX rule, but they
//! do not delay shutdown: as soon as a task's main process exits, the rest of its group is
//! killed (see `run`).
//!
//! **No new starts.** Once `terminate_all` (or `kill_all`) has begun, [`crate::run`] refuses
//! to start anything and returns [`crate::ProcessError::ShuttingDown`]. A spawn racing with
//! the shutdown is caught at registration: a group registered after the flag was raised is
//! killed at once and reported the same way.
//!
//! The Ctrl-C handler therefore only has to call `terminate_all`: see [`crate::stop_on_signals`].

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::group::{ProcessGroup, StopReason};

/// How long `terminate_all` waits for groups to disappear after `SIGKILL`. `SIGKILL` cannot be
/// ignored, but a process stuck in the kernel (a dead NFS mount) can outlive it; we would
/// rather return than hang the shutdown.
const AFTER_KILL: Duration = Duration::from_secs(5);

/// Cloneable, thread-safe set of the process groups currently running.
#[derive(Clone, Default, Debug)]
pub struct ProcessRegistry(Arc<Inner>);

#[derive(Default, Debug)]
struct Inner {
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Default, Debug)]
struct State {
    groups: HashMap<libc::pid_t, Arc<ProcessGroup>>,
    terminating: bool,
}

/// What [`ProcessRegistry::terminate_all`] had to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TerminateSummary {
    /// Groups sent `SIGINT`.
    pub interrupted: usize,
    /// Groups still running when the grace period ended, sent `SIGKILL`.
    pub killed: usize,
    /// Groups still present after `SIGKILL` (stuck in the kernel); normally 0.
    pub stuck: usize,
}

impl ProcessRegistry {
    /// An empty registry that accepts new processes.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether a shutdown has begun (new spawns are refused).
    pub fn is_terminating(&self) -> bool {
        self.lock().terminating
    }

    /// How many process groups are running.
    pub fn len(&self) -> usize {
        self.lock().groups.len()
    }

    /// The process group ids running now (for the resource monitor).
    pub fn pgids(&self) -> Vec<i32> {
        self.lock().groups.keys().copied().collect()
    }

    /// True when no process group is running.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Stops everything: refuses new spawns, sends `SIGINT` to every group, waits up to
    /// `grace` for them to exit, then `SIGKILL`s the rest and waits (briefly) for those too.
    /// Blocks; call it from a normal thread, never from inside a signal handler.
    pub fn terminate_all(&self, grace: Duration) -> TerminateSummary {
        let mut state = self.lock();
        state.terminating = true;
        let interrupted = signal_all(&state, libc::SIGINT);
        tracing::info!(groups = interrupted, ?grace, "stopping running tasks");
        state = self.wait_until_empty(state, grace);
        let killed = signal_all(&state, libc::SIGKILL);
        if killed > 0 {
            tracing::warn!(
                groups = killed,
                "tasks did not stop within the grace period; killed"
            );
        }
        state = self.wait_until_empty(state, AFTER_KILL);
        let stuck = state.groups.len();
        if stuck > 0 {
            tracing::error!(
                groups = stuck,
                "processes survived SIGKILL; giving up waiting"
            );
        }
        TerminateSummary {
            interrupted,
            killed,
            stuck,
        }
    }

    /// Refuses new spawns and sends `SIGKILL` to every group now, without waiting (a second
    /// Ctrl-C). Returns the number of groups signalled.
    pub fn kill_all(&self) -> usize {
        let mut state = self.lock();
        state.terminating = true;
        signal_all(&state, libc::SIGKILL)
    }

    /// Adds a freshly spawned group; refused (and the group killed) during a shutdown.
    pub(crate) fn register(&self, group: &Arc<ProcessGroup>) -> Result<(), ()> {
        let mut state = self.lock();
        if state.terminating {
            group.signal(libc::SIGKILL, StopReason::Terminated);
            return Err(());
        }
        state.groups.insert(group.pgid(), Arc::clone(group));
        Ok(())
    }

    /// Removes a group whose leader has exited and whose leftovers were killed.
    pub(crate) fn deregister(&self, group: &ProcessGroup) {
        let mut state = self.lock();
        state.groups.remove(&group.pgid());
        if state.groups.is_empty() {
            self.0.changed.notify_all();
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.0.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wait_until_empty<'a>(
        &'a self,
        mut state: MutexGuard<'a, State>,
        limit: Duration,
    ) -> MutexGuard<'a, State> {
        let deadline = Instant::now() + limit;
        while !state.groups.is_empty() {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                break;
            };
            state = self
                .0
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        state
    }
}

fn signal_all(state: &State, signal: libc::c_int) -> usize {
    state
        .groups
        .values()
        .filter(|group| group.signal(signal, StopReason::Terminated))
        .count()
}
