//! One task's process group, and how it ended.
//!
//! Every signal to a group goes through [`ProcessGroup`], which knows whether the group's
//! leader (the task's main process) has been reaped. A process-group id is the leader's pid;
//! once the leader is reaped and its group empties, the kernel may hand that number to an
//! unrelated process. So the waiter kills the leftovers and marks the group retired *before*
//! reaping the leader (it waits with `WNOWAIT`, leaving a zombie that pins the id), and
//! nobody signals a retired group. That makes every `kill(-pgid, …)` here hit only our tree.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// Why kiln itself stopped a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The task ran longer than its timeout; its group was killed (`SIGKILL`).
    TimedOut,
    /// [`crate::ProcessRegistry::terminate_all`] (or `kill_all`) signalled it.
    Terminated,
}

/// How a task's main process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitInfo {
    /// The exit code, when it exited normally.
    pub code: Option<i32>,
    /// The signal that killed it, when it was killed.
    pub signal: Option<i32>,
    /// Wall time from spawn to exit.
    pub duration: Duration,
    /// Set when kiln stopped it (timeout or shutdown), so callers can report why.
    pub stopped_by: Option<StopReason>,
    /// The main process's pid, which is also its process group's id (to match the
    /// resource monitor's samples of the group).
    pub pid: u32,
}

impl ExitInfo {
    /// The code a shell would report: the exit code, or 128 + the signal number.
    pub fn exit_code(&self) -> i32 {
        match (self.code, self.signal) {
            (Some(code), _) => code,
            (None, Some(signal)) => 128 + signal,
            (None, None) => 1,
        }
    }

    /// Exited with code 0 and was not stopped by kiln.
    pub fn success(&self) -> bool {
        self.code == Some(0) && self.stopped_by.is_none()
    }
}

#[derive(Debug)]
pub(crate) struct ProcessGroup {
    pgid: libc::pid_t,
    state: Mutex<GroupState>,
}

#[derive(Debug)]
struct GroupState {
    retired: bool,
    stopped_by: Option<StopReason>,
}

impl ProcessGroup {
    pub(crate) fn new(pgid: u32) -> Self {
        let pgid = libc::pid_t::try_from(pgid).expect("pids fit in pid_t");
        ProcessGroup {
            pgid,
            state: Mutex::new(GroupState {
                retired: false,
                stopped_by: None,
            }),
        }
    }

    pub(crate) fn pgid(&self) -> libc::pid_t {
        self.pgid
    }

    /// Sends `signal` to every process of the group, unless its leader is already gone.
    /// `reason` is remembered (first one wins) so the exit can say kiln stopped it.
    /// Returns whether the signal was sent.
    pub(crate) fn signal(&self, signal: libc::c_int, reason: StopReason) -> bool {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.retired {
            return false;
        }
        state.stopped_by.get_or_insert(reason);
        self.kill(signal);
        true
    }

    /// Kills whatever is left in the group and retires it. Called once the leader has
    /// exited but before it is reaped.
    pub(crate) fn retire(&self) -> Option<StopReason> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if !state.retired {
            self.kill(libc::SIGKILL);
            state.retired = true;
        }
        state.stopped_by
    }

    fn kill(&self, signal: libc::c_int) {
        // SAFETY: kill(2) has no memory-safety preconditions; a negative pid addresses the
        // group, which the retire protocol above guarantees is still ours.
        let rc = unsafe { libc::kill(-self.pgid, signal) };
        if rc != 0 {
            let err = std::io::Error::last_os_error();
            // ESRCH: every member already exited; that is the common, happy case.
            if err.raw_os_error() != Some(libc::ESRCH) {
                tracing::warn!(pgid = self.pgid, signal, %err, "failed to signal process group");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_code_is_the_code_or_128_plus_the_signal() {
        let exit = |code, signal| ExitInfo {
            code,
            signal,
            duration: Duration::ZERO,
            stopped_by: None,
            pid: 1,
        };
        assert_eq!(exit(Some(0), None).exit_code(), 0);
        assert_eq!(exit(Some(3), None).exit_code(), 3);
        assert_eq!(exit(None, Some(libc::SIGKILL)).exit_code(), 137);
        assert_eq!(exit(None, Some(libc::SIGINT)).exit_code(), 130);
        assert!(exit(Some(0), None).success());
        assert!(
            !ExitInfo {
                stopped_by: Some(StopReason::Terminated),
                ..exit(Some(0), None)
            }
            .success()
        );
    }
}
