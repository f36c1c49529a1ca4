//! One git invocation, run so that nothing about the user's setup changes what it prints.
//!
//! Every command gets the same guard rails: `LC_ALL=C` (messages we match on stay English),
//! `GIT_OPTIONAL_LOCKS=0` (reading never takes `index.lock`, so kiln never races an editor or
//! a concurrent `git commit`), `GIT_TERMINAL_PROMPT=0` and a null stdin (never hang on a
//! credential prompt), `core.quotepath=off` and `color.ui=never`, `diff.relative=false` (paths
//! and output as bytes, top-level-relative, whatever the user's config says). Commands that print paths are also given `-z` by their
//! callers, so spaces, quotes and newlines in names need no unquoting.

use std::ffi::{OsStr, OsString};
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};

use crate::ScmError;

/// Config overrides passed as `-c` before every subcommand.
const CONFIG: &[&str] = &[
    "core.quotepath=off",
    "color.ui=never",
    "diff.relative=false",
];

/// A git command line, built up and then run in a directory.
#[derive(Debug, Clone)]
pub(crate) struct GitCommand {
    args: Vec<OsString>,
}

/// What a finished git command left: its status, its raw stdout, its stderr trimmed.
#[derive(Debug)]
pub(crate) struct GitOutput {
    pub(crate) status: ExitStatus,
    pub(crate) stdout: Vec<u8>,
    pub(crate) stderr: String,
}

impl GitCommand {
    pub(crate) fn new(subcommand: &str) -> GitCommand {
        GitCommand {
            args: vec![subcommand.into()],
        }
    }

    pub(crate) fn arg(mut self, arg: impl AsRef<OsStr>) -> GitCommand {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    pub(crate) fn args<I, S>(mut self, args: I) -> GitCommand
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// The command line as a user would type it, for error messages.
    pub(crate) fn display(&self) -> String {
        let mut line = String::from("git");
        for arg in &self.args {
            line.push(' ');
            line.push_str(&arg.to_string_lossy());
        }
        line
    }

    /// Runs the command in `cwd` and returns whatever it left, successful or not.
    pub(crate) fn output(&self, cwd: &Path) -> Result<GitOutput, ScmError> {
        let mut command = Command::new("git");
        for config in CONFIG {
            command.arg("-c").arg(config);
        }
        command
            .args(&self.args)
            .current_dir(cwd)
            .env("GIT_OPTIONAL_LOCKS", "0")
            .env("LC_ALL", "C")
            .env("GIT_TERMINAL_PROMPT", "0")
            .stdin(Stdio::null());
        tracing::trace!(command = %self.display(), cwd = %cwd.display(), "running git");
        let output = command.output().map_err(|source| ScmError::GitMissing {
            command: self.display(),
            source,
        })?;
        Ok(GitOutput {
            status: output.status,
            stdout: output.stdout,
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        })
    }

    /// Runs the command in `cwd` and returns its stdout; any failure is an error naming it.
    pub(crate) fn run(&self, cwd: &Path) -> Result<Vec<u8>, ScmError> {
        let output = self.output(cwd)?;
        if output.status.success() {
            Ok(output.stdout)
        } else {
            Err(self.failed(output))
        }
    }

    /// The error for an unexpected failure of this command.
    pub(crate) fn failed(&self, output: GitOutput) -> ScmError {
        ScmError::Command {
            command: self.display(),
            status: output.status.to_string(),
            stderr: output.stderr,
        }
    }
}

/// The single value a command like `rev-parse` prints: its stdout without the one trailing
/// newline (only one, so a value that itself ends in a newline survives).
pub(crate) fn single_value(stdout: &[u8]) -> &[u8] {
    stdout.strip_suffix(b"\n").unwrap_or(stdout)
}

/// Splits `-z` output into its NUL-terminated records.
pub(crate) fn nul_records(stdout: &[u8]) -> impl Iterator<Item = &[u8]> {
    stdout
        .split(|&b| b == 0)
        .filter(|record| !record.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_shows_the_command_as_typed() {
        let command = GitCommand::new("diff")
            .arg("--name-only")
            .args(["-z", "a b"]);
        assert_eq!(command.display(), "git diff --name-only -z a b");
    }

    #[test]
    fn single_value_strips_only_one_newline() {
        assert_eq!(single_value(b"abc\n"), b"abc");
        assert_eq!(single_value(b"dir\n\n"), b"dir\n");
        assert_eq!(single_value(b"abc"), b"abc");
    }

    #[test]
    fn nul_records_keep_newlines_and_spaces_inside_names() {
        let records: Vec<&[u8]> = nul_records(b"a b\0line\nbreak\0").collect();
        assert_eq!(records, vec![&b"a b"[..], &b"line\nbreak"[..]]);
        assert_eq!(nul_records(b"").count(), 0);
    }

    #[test]
    fn a_failing_command_is_reported_with_its_stderr() {
        let dir = tempfile::tempdir().unwrap();
        let command = GitCommand::new("rev-parse").arg("--show-toplevel");
        let error = command.run(dir.path()).unwrap_err();
        match error {
            ScmError::Command {
                command, stderr, ..
            } => {
                assert_eq!(command, "git rev-parse --show-toplevel");
                assert!(stderr.contains("not a git repository"), "{stderr}");
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
