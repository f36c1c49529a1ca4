//! What to run, and whether it needs a shell.
//!
//! A task's command is a shell command line (`tsc -p .`, `rm -rf dist && tsc`). Running every
//! one through `/bin/sh -c` costs an extra process per task, so a command that is only plain
//! words is executed directly. The rule is deliberately an allow-list: when in doubt, use the
//! shell, which is always correct.
//!
//! A command is executed directly when **all** of these hold:
//! - it is words separated by spaces or tabs, and every byte of every word is an ASCII
//!   letter or digit or one of `- _ . / : , + @ % ^ =` (so no quotes, `\`, `$`, backquotes,
//!   globs `* ? [ ]`, braces, `~`, `#`, `!`, redirections or operators `; & | < > ( )`,
//!   newlines, and no non-ASCII bytes);
//! - the first word holds no `=` (that would be a variable assignment such as `FOO=1 node x`)
//!   and is not a shell keyword or a builtin that acts on the shell itself (`cd`, `export`,
//!   `exit`, `.`, `source`, …) — see [`SHELL_ONLY`];
//! - the program is found: a first word with a `/` is a path (relative to the task's `cwd`),
//!   otherwise it is looked up on the `PATH` of the task's environment (relative `PATH` entries,
//!   such as `node_modules/.bin`, are relative to `cwd`; an empty entry means `cwd`), and it is
//!   an executable file.
//!
//! Otherwise the command runs as `/bin/sh -c <command>`. In particular a program that is not
//! found goes to the shell too, so the user sees the shell's usual `not found` and exit 127.
//! A found file that the kernel cannot execute (a script without `#!`, `ENOEXEC`) is retried
//! through the shell, as a shell would.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// A task's command, ready to spawn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskCommand {
    /// A shell command line.
    pub command: String,
    /// The directory to run it in (the package directory).
    pub cwd: PathBuf,
    /// The complete environment: the child sees exactly these variables and nothing else.
    pub env: Vec<(OsString, OsString)>,
}

/// How a [`TaskCommand`] will be executed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invocation {
    /// `execve(program, [word0, args…])` without a shell.
    Direct {
        program: PathBuf,
        /// The first word as written, passed as `argv[0]` like a shell would.
        arg0: String,
        args: Vec<String>,
    },
    /// `/bin/sh -c <command>`.
    Shell,
}

/// The shell used for commands that need one.
pub const SHELL: &str = "/bin/sh";

/// First words that must go through the shell: keywords, and builtins that change the shell
/// itself or have no binary equivalent.
pub const SHELL_ONLY: &[&str] = &[
    // keywords
    "!", "{", "}", "case", "do", "done", "elif", "else", "esac", "fi", "for", "function", "if",
    "in", "select", "then", "time", "until", "while", // builtins acting on the shell
    ".", ":", "alias", "bg", "break", "cd", "command", "continue", "eval", "exec", "exit",
    "export", "fg", "getopts", "hash", "jobs", "local", "read", "readonly", "return", "set",
    "shift", "source", "times", "trap", "type", "ulimit", "umask", "unalias", "unset", "wait",
];

impl TaskCommand {
    /// Decides between direct execution and the shell (see the module doc for the rule).
    pub fn invocation(&self) -> Invocation {
        let Some(words) = plain_words(&self.command) else {
            return Invocation::Shell;
        };
        let (first, rest) = words
            .split_first()
            .expect("plain_words never returns no words");
        match self.resolve_program(first) {
            Some(program) => Invocation::Direct {
                program,
                arg0: first.to_string(),
                args: rest.iter().map(|w| w.to_string()).collect(),
            },
            None => Invocation::Shell,
        }
    }

    /// The value of `name` in the task's environment (the last one wins, as in `env`).
    pub fn env_var(&self, name: &str) -> Option<&OsStr> {
        self.env
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_os_str())
    }

    fn resolve_program(&self, word: &str) -> Option<PathBuf> {
        if word.contains('/') {
            // Absolute, because std leaves a relative program path with a `current_dir`
            // ambiguous.
            let path = std::path::absolute(self.cwd.join(word)).ok()?;
            return is_executable(&path).then_some(path);
        }
        let path_var = self.env_var("PATH")?;
        path_var.as_bytes().split(|&b| b == b':').find_map(|dir| {
            let dir = Path::new(OsStr::from_bytes(dir));
            let candidate = std::path::absolute(self.cwd.join(dir).join(word)).ok()?;
            is_executable(&candidate).then_some(candidate)
        })
    }
}

fn plain_words(command: &str) -> Option<Vec<&str>> {
    let words: Vec<&str> = command
        .split([' ', '\t'])
        .filter(|w| !w.is_empty())
        .collect();
    let first = words.first()?;
    if first.contains('=') || SHELL_ONLY.contains(first) {
        return None;
    }
    let plain = |b: u8| b.is_ascii_alphanumeric() || b"-_./:,+@%^=".contains(&b);
    words.iter().all(|w| w.bytes().all(plain)).then_some(words)
}

fn is_executable(path: &Path) -> bool {
    // Follows symlinks, like execve (node_modules/.bin entries are symlinks).
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(command: &str, cwd: &Path) -> TaskCommand {
        TaskCommand {
            command: command.to_string(),
            cwd: cwd.to_path_buf(),
            env: vec![("PATH".into(), "/usr/bin:/bin".into())],
        }
    }

    fn is_direct(command: &str) -> bool {
        matches!(
            cmd(command, Path::new("/")).invocation(),
            Invocation::Direct { .. }
        )
    }

    #[test]
    fn plain_words_run_without_a_shell() {
        for command in [
            "true",
            "env",
            "ls -la /tmp",
            "cat\t/etc/hostname",
            "echo a=b x,y user@host 50%",
        ] {
            assert!(is_direct(command), "{command}");
        }
    }

    #[test]
    fn shell_syntax_needs_the_shell() {
        for command in [
            "",
            "   ",
            "echo $HOME",
            "echo 'a b'",
            "echo \"a\"",
            "echo a\\ b",
            "ls *.ts",
            "ls a?",
            "ls [ab]",
            "echo {a,b}",
            "ls ~",
            "ls ~/x",
            "true; false",
            "true && false",
            "a || b",
            "true | cat",
            "echo x > out",
            "cat < in",
            "(true)",
            "echo `date`",
            "sleep 1 &",
            "echo a # comment",
            "echo !x",
            "echo a\nfalse",
            "echo ünïcode",
        ] {
            assert!(!is_direct(command), "{command:?} should use the shell");
        }
    }

    #[test]
    fn assignments_keywords_and_shell_builtins_need_the_shell() {
        for command in [
            "FOO=1 env",
            "cd dist",
            "export A",
            "exit 3",
            ". ./env.sh",
            "if",
            "exec env",
        ] {
            assert!(!is_direct(command), "{command:?} should use the shell");
        }
    }

    #[test]
    fn an_unknown_program_goes_to_the_shell_for_its_usual_error() {
        assert!(!is_direct("no-such-program-kiln --version"));
        let mut no_path = cmd("env", Path::new("/"));
        no_path.env.clear();
        assert_eq!(no_path.invocation(), Invocation::Shell);
    }

    #[test]
    fn programs_resolve_on_the_tasks_path_relative_to_cwd() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("node_modules/.bin");
        std::fs::create_dir_all(&bin).unwrap();
        let tool = bin.join("tool");
        std::fs::write(&tool, "#!/bin/sh\necho tool\n").unwrap();
        std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();

        let mut task = cmd("tool --flag", dir.path());
        task.env = vec![("PATH".into(), "node_modules/.bin:/usr/bin".into())];
        assert_eq!(
            task.invocation(),
            Invocation::Direct {
                program: tool.clone(),
                arg0: "tool".into(),
                args: vec!["--flag".into()]
            }
        );

        let by_path = cmd("./node_modules/.bin/tool", dir.path());
        assert!(
            matches!(by_path.invocation(), Invocation::Direct { program, .. } if program == dir.path().join("./node_modules/.bin/tool"))
        );
    }

    #[test]
    fn a_file_without_execute_permission_is_not_a_program() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("tool"), "echo hi\n").unwrap();
        let mut task = cmd("tool", dir.path());
        task.env = vec![("PATH".into(), dir.path().into())];
        assert_eq!(task.invocation(), Invocation::Shell);
    }
}
