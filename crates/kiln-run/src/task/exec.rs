//! Phase two of a task, on a miss: run its planned script steps in order, each in its own
//! process group with its output streamed as events, and say how it ended. The steps are
//! the ones its key was made from ([`PlannedTask::steps`]).

use std::ffi::OsString;
use std::sync::Mutex;

use kiln_core::{Event, TaskOutcome, TaskResources, Warning, error_chain};
use kiln_process::{ProcessError, ProcessRegistry, RunOptions, TaskCommand, TreeTracker};
use kiln_workspace::Workspace;

use crate::PlannedTask;
use crate::events::Emitter;
use crate::script_env::script_env;

/// What running a command needs.
pub(crate) struct Exec<'a> {
    pub(crate) workspace: &'a Workspace,
    pub(crate) registry: &'a ProcessRegistry,
    /// kiln's environment, which each task sees through its env mode (see
    /// [`crate::task_env`]) before the script variables are added.
    pub(crate) env: &'a [(OsString, OsString)],
    /// What the resource monitor saw of each process group, to report what a task used.
    pub(crate) trees: Option<&'a Mutex<TreeTracker>>,
}

/// How the command ended, what it wrote, what it used.
pub(crate) struct ExecOutcome {
    pub(crate) outcome: TaskOutcome,
    pub(crate) log: Vec<u8>,
    /// Summed over the steps, when the monitor sampled them.
    pub(crate) resources: Option<TaskResources>,
}

/// Runs the steps in order; stops at the first that fails.
pub(crate) fn execute(
    exec: &Exec<'_>,
    events: &Emitter,
    task: &PlannedTask<'_>,
    env: &[(OsString, OsString)],
) -> ExecOutcome {
    let id = task.id();
    let mut done = ExecOutcome {
        outcome: TaskOutcome::Succeeded,
        log: Vec::new(),
        resources: None,
    };
    let ws = exec.workspace;
    let (Some(package), Some(steps)) = (ws.package(&id.package), task.steps.as_deref()) else {
        events.warn(id, Warning::PackageMissing);
        done.outcome = TaskOutcome::Failed { code: 1 };
        return done;
    };
    for step in steps {
        let cmd = TaskCommand {
            command: step.command.clone(),
            cwd: task.package_dir.clone(),
            env: script_env(env, &ws.root, package, step),
        };
        let on_line = |line: &[u8]| {
            events.emit(Event::TaskOutput {
                id: id.clone(),
                line: String::from_utf8_lossy(line).into_owned(),
                replayed: false,
            });
        };
        let opts = RunOptions {
            timeout: task.node.task.timeout,
        };
        match kiln_process::run(&cmd, &opts, exec.registry, on_line) {
            Ok(out) => {
                done.log.extend_from_slice(&out.output);
                add_usage(exec, out.exit.pid, &mut done.resources);
                if exec.registry.is_terminating() {
                    done.outcome = TaskOutcome::Cancelled;
                    return done;
                }
                if out.exit.stopped_by == Some(kiln_process::StopReason::TimedOut) {
                    events.warn(
                        id,
                        Warning::TimedOut {
                            after: task.node.task.timeout.unwrap_or_default(),
                        },
                    );
                }
                if !out.exit.success() {
                    done.outcome = TaskOutcome::Failed {
                        code: out.exit.exit_code(),
                    };
                    return done;
                }
            }
            Err(ProcessError::ShuttingDown { .. }) => {
                done.outcome = TaskOutcome::Cancelled;
                return done;
            }
            Err(e) => {
                events.warn(
                    id,
                    Warning::CouldNotStart {
                        command: step.command.clone(),
                        error: error_chain(&e),
                    },
                );
                done.outcome = TaskOutcome::Failed { code: 127 };
                return done;
            }
        }
    }
    done
}

/// Adds what the monitor saw of process group `pid` (one step of the task) to `used`.
fn add_usage(exec: &Exec<'_>, pid: u32, used: &mut Option<TaskResources>) {
    let Some(trees) = exec.trees else { return };
    let totals = trees
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .finish(pid as i32);
    if let Some(t) = totals {
        let sum = used.get_or_insert_with(TaskResources::default);
        sum.peak_rss = sum.peak_rss.max(t.peak_rss);
        sum.cpu_seconds += t.cpu_seconds;
        sum.read_bytes += t.read_bytes;
        sum.write_bytes += t.write_bytes;
    }
}
