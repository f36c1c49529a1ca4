//! Running one task's command to completion: spawn, stream output, reap, clean up.
//!
//! ```text
//!   caller thread                          waiter thread
//!   ─────────────                          ─────────────
//!   spawn (own group, stdin=/dev/null,
//!          stdout+stderr ─▶ one pipe)
//!   register group ──────────────────────▶ waitid(WEXITED|WNOWAIT)   (leader exits)
//!   poll(output, leader-exited):           SIGKILL the group's leftovers, retire it
//!     lines ─▶ on_line                     deregister, reap the leader
//!     deadline ─▶ SIGKILL group            close leader-exited pipe
//!   EOF (or drain limit) ─▶ join waiter ◀─ ExitStatus
//! ```
//!
//! The caller's thread reads so the line callback needs no `Send` bound and runs where the
//! caller expects. Killing the group as soon as the leader exits is what keeps a stray
//! background job from hanging the reader (it holds the pipe) or outliving the task.

use std::io::{self, PipeWriter};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::command::{Invocation, SHELL, TaskCommand};
use crate::error::ProcessError;
use crate::group::{ExitInfo, ProcessGroup, StopReason};
use crate::output::capture;
use crate::registry::ProcessRegistry;

/// Per-run settings.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Kill the task's whole group (`SIGKILL`) if it runs longer than this; the exit then
    /// reports [`StopReason::TimedOut`].
    pub timeout: Option<Duration>,
}

/// A finished task: how it exited, and everything it wrote (stdout and stderr interleaved
/// in the order written, raw bytes) for the cache log.
#[derive(Debug, Clone)]
pub struct TaskOutput {
    pub exit: ExitInfo,
    pub output: Vec<u8>,
}

/// Runs `task` to completion in its own process group, calling `on_line` with each output
/// line (without its newline; raw bytes, use `String::from_utf8_lossy` to display) as it
/// arrives. Returns once the main process has exited and the rest of its group is killed.
///
/// Fails with [`ProcessError::ShuttingDown`] when `registry` is terminating (map it to a
/// cancelled task). A non-zero exit is not an error: see [`TaskOutput::exit`].
#[tracing::instrument(name = "exec", skip_all, fields(command = %task.command, cwd = %task.cwd.display()))]
pub fn run(
    task: &TaskCommand,
    opts: &RunOptions,
    registry: &ProcessRegistry,
    mut on_line: impl FnMut(&[u8]),
) -> Result<TaskOutput, ProcessError> {
    let shutting_down = || ProcessError::ShuttingDown {
        command: task.command.clone(),
    };
    if registry.is_terminating() {
        return Err(shutting_down());
    }
    if !task.cwd.is_dir() {
        return Err(ProcessError::MissingCwd {
            command: task.command.clone(),
            cwd: task.cwd.clone(),
        });
    }
    let pipe_err = |source| ProcessError::Pipe {
        command: task.command.clone(),
        source,
    };
    let (output, output_w) = io::pipe().map_err(pipe_err)?;
    let (leader_exited, leader_exited_w) = io::pipe().map_err(pipe_err)?;

    let started = Instant::now();
    let child = spawn(task, &output_w).map_err(|source| ProcessError::Spawn {
        command: task.command.clone(),
        cwd: task.cwd.clone(),
        source,
    })?;
    // Only the child may hold the write end, or we would never see end-of-file.
    drop(output_w);
    let pid = child.id();
    let group = Arc::new(ProcessGroup::new(pid));
    let refused = registry.register(&group).is_err();

    let waiter = {
        let (group, registry) = (Arc::clone(&group), registry.clone());
        thread::Builder::new()
            .name(format!("kiln-wait-{pid}"))
            .spawn(move || wait_leader(child, &group, &registry, leader_exited_w))
    };
    let waiter = match waiter {
        Ok(waiter) => waiter,
        Err(source) => {
            // Without a waiter nobody would reap it: stop the task rather than leak it.
            group.signal(libc::SIGKILL, StopReason::Terminated);
            return Err(ProcessError::Wait {
                command: task.command.clone(),
                pid,
                source,
            });
        }
    };

    let deadline = opts.timeout.map(|t| started + t);
    let on_deadline = || {
        tracing::warn!(pid, command = %task.command, timeout = ?opts.timeout, "task timed out; killing it");
        group.signal(libc::SIGKILL, StopReason::TimedOut);
    };
    let captured = capture(output, leader_exited, deadline, on_deadline, &mut on_line);
    if captured.is_err() {
        // We can no longer follow its output; do not leave it running unobserved.
        group.signal(libc::SIGKILL, StopReason::Terminated);
    }
    let waited = waiter
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
    let output = captured.map_err(|source| ProcessError::Read {
        command: task.command.clone(),
        source,
    })?;
    let (status, exited_at, stopped_by) = waited.map_err(|source| ProcessError::Wait {
        command: task.command.clone(),
        pid,
        source,
    })?;
    if refused {
        return Err(shutting_down());
    }
    let exit = ExitInfo {
        code: status.code(),
        signal: status.signal(),
        duration: exited_at - started,
        stopped_by,
        pid,
    };
    tracing::debug!(pid, command = %task.command, code = exit.exit_code(), duration = ?exit.duration, "task process exited");
    Ok(TaskOutput { exit, output })
}

fn spawn(task: &TaskCommand, output: &PipeWriter) -> io::Result<Child> {
    let invocation = task.invocation();
    let direct = matches!(invocation, Invocation::Direct { .. });
    tracing::debug!(command = %task.command, cwd = %task.cwd.display(), direct, "spawning");
    match build(task, &invocation, output)?.spawn() {
        // A found file the kernel cannot run (a script without `#!`): the shell knows how.
        Err(err) if direct && err.raw_os_error() == Some(libc::ENOEXEC) => {
            build(task, &Invocation::Shell, output)?.spawn()
        }
        other => other,
    }
}

fn build(task: &TaskCommand, invocation: &Invocation, output: &PipeWriter) -> io::Result<Command> {
    let mut command = match invocation {
        Invocation::Direct {
            program,
            arg0,
            args,
        } => {
            let mut command = Command::new(program);
            command.arg0(arg0).args(args);
            command
        }
        Invocation::Shell => {
            let mut command = Command::new(SHELL);
            command.arg("-c").arg(&task.command);
            command
        }
    };
    command
        .env_clear()
        .envs(task.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&task.cwd)
        .stdin(Stdio::null())
        .stdout(output.try_clone()?)
        .stderr(output.try_clone()?)
        .process_group(0);
    Ok(command)
}

/// The waiter thread: see the module diagram. Returns the status and when the leader exited.
fn wait_leader(
    mut child: Child,
    group: &ProcessGroup,
    registry: &ProcessRegistry,
    leader_exited: PipeWriter,
) -> io::Result<(ExitStatus, Instant, Option<StopReason>)> {
    if let Err(err) = wait_without_reaping(child.id()) {
        // Cannot happen for our own child; fall back to reaping (losing only the pid-reuse
        // guarantee for the group kill below).
        tracing::warn!(pid = child.id(), %err, "waitid failed");
    }
    let exited_at = Instant::now();
    let stopped_by = group.retire();
    registry.deregister(group);
    let status = child.wait();
    drop(leader_exited);
    Ok((status?, exited_at, stopped_by))
}

fn wait_without_reaping(pid: u32) -> io::Result<()> {
    loop {
        // SAFETY: siginfo_t is plain data; an all-zero value is valid for waitid to fill.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: `info` is a valid, exclusively borrowed siginfo_t for the call.
        let rc = unsafe {
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOWAIT,
            )
        };
        if rc == 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}
