use std::io;
use std::path::PathBuf;

/// Why a task's command could not be run to completion. A command that runs and exits
/// non-zero is not an error: that is an [`crate::ExitInfo`].
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// The working directory is missing (checked up front: `spawn` would report the same
    /// `ENOENT` as a missing program, which misleads).
    #[error("cannot run `{command}`: working directory {} does not exist or is not a directory", cwd.display())]
    MissingCwd { command: String, cwd: PathBuf },
    /// The operating system refused to start the process.
    #[error("failed to start `{command}` in {}", cwd.display())]
    Spawn {
        command: String,
        cwd: PathBuf,
        #[source]
        source: io::Error,
    },
    /// Creating the output pipe failed (usually out of file descriptors).
    #[error("failed to create the output pipe for `{command}`")]
    Pipe {
        command: String,
        #[source]
        source: io::Error,
    },
    /// Reading the process's output failed.
    #[error("failed to read the output of `{command}`")]
    Read {
        command: String,
        #[source]
        source: io::Error,
    },
    /// Waiting for the process failed.
    #[error("failed to wait for `{command}` (pid {pid})")]
    Wait {
        command: String,
        pid: u32,
        #[source]
        source: io::Error,
    },
    /// [`crate::ProcessRegistry::terminate_all`] has started: nothing new may start. Callers
    /// report the task as cancelled, not failed.
    #[error("not starting `{command}`: kiln is shutting down")]
    ShuttingDown { command: String },
}
