//! Real processes, real signals. A watchdog (`within`) only turns a hang into a failure;
//! interleavings are driven by the processes' own output, never by sleeping.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use super::*;

const PATH: &str = "/usr/local/bin:/usr/bin:/bin";

fn task(command: &str, cwd: &Path) -> TaskCommand {
    TaskCommand {
        command: command.into(),
        cwd: cwd.to_path_buf(),
        env: vec![("PATH".into(), PATH.into())],
    }
}

fn lines_of(task: &TaskCommand, opts: &RunOptions) -> (TaskOutput, Vec<String>) {
    let mut lines = Vec::new();
    let out = run(task, opts, &ProcessRegistry::new(), |line| {
        lines.push(String::from_utf8_lossy(line).into_owned())
    })
    .unwrap();
    (out, lines)
}

/// Runs `f` on a thread and fails the test if it does not finish in 20 s.
fn within<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || tx.send(f()).unwrap());
    rx.recv_timeout(Duration::from_secs(20)).expect("hung")
}

/// Whether `pid` has exited (gone, or a zombie) — waiting for it on a pidfd, because a
/// `SIGKILL` is delivered asynchronously: the target may need a moment to be scheduled and die.
fn is_dead(pid: u32) -> bool {
    // SAFETY: pidfd_open takes plain integers and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        return std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
    }
    let fd = fd as libc::c_int;
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: `pfd` is a valid pollfd; `fd` is ours to close.
    let exited = unsafe { libc::poll(&mut pfd, 1, 10_000) } == 1;
    // SAFETY: closing the pidfd opened above.
    unsafe { libc::close(fd) };
    exited
}

#[test]
fn stdout_and_stderr_lines_keep_the_order_they_were_written() {
    let dir = tempfile::tempdir().unwrap();
    let t = task(
        "echo out1; echo err1 >&2; echo out2; echo err2 >&2; printf tail",
        dir.path(),
    );
    let (out, lines) = lines_of(&t, &RunOptions::default());
    assert_eq!(lines, ["out1", "err1", "out2", "err2", "tail"]);
    assert_eq!(out.output, b"out1\nerr1\nout2\nerr2\ntail");
    assert!(out.exit.success());
}

#[test]
fn exit_codes_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let (out, _) = lines_of(&task("exit 3", dir.path()), &RunOptions::default());
    assert_eq!(
        (out.exit.code, out.exit.signal, out.exit.exit_code()),
        (Some(3), None, 3)
    );
    assert!(!out.exit.success());
}

#[test]
fn a_process_killed_by_a_signal_reports_128_plus_the_signal() {
    let dir = tempfile::tempdir().unwrap();
    let (out, _) = lines_of(&task("kill -9 $$", dir.path()), &RunOptions::default());
    assert_eq!(out.exit.signal, Some(libc::SIGKILL));
    assert_eq!(out.exit.code, None);
    assert_eq!(out.exit.exit_code(), 137);
    assert_eq!(out.exit.stopped_by, None);
}

#[test]
fn a_background_grandchild_is_killed_when_the_task_exits_and_does_not_hang_it() {
    let dir = tempfile::tempdir().unwrap();
    // The sleep inherits the output pipe: without the group kill the reader would wait for it.
    let t = task("sleep 1000 & echo $!", dir.path());
    let (out, lines) = within(move || lines_of(&t, &RunOptions::default()));
    assert!(out.exit.success());
    let grandchild: u32 = lines[0].parse().unwrap();
    assert!(
        is_dead(grandchild),
        "grandchild {grandchild} survived its task"
    );
}

#[test]
fn terminate_all_stops_a_running_tree_and_its_waits_return() {
    let dir = tempfile::tempdir().unwrap();
    let registry = ProcessRegistry::new();
    let t = task(
        "sleep 1000 & echo $!; sleep 1000 & echo $!; echo ready; wait",
        dir.path(),
    );
    let (line_tx, lines) = mpsc::channel();
    let running = {
        let registry = registry.clone();
        thread::spawn(move || {
            run(&t, &RunOptions::default(), &registry, |line| {
                line_tx
                    .send(String::from_utf8_lossy(line).into_owned())
                    .unwrap();
            })
        })
    };
    let mut pids = Vec::new();
    loop {
        let line = lines.recv_timeout(Duration::from_secs(20)).unwrap();
        if line == "ready" {
            break;
        }
        pids.push(line.parse::<u32>().unwrap());
    }
    assert_eq!(registry.len(), 1);

    let summary = within(move || {
        let summary = registry.terminate_all(Duration::from_secs(10));
        assert!(registry.is_empty());
        summary
    });
    assert_eq!(
        summary,
        TerminateSummary {
            interrupted: 1,
            killed: 0,
            stuck: 0
        }
    );
    let out = within(move || running.join().unwrap()).unwrap();
    assert_eq!(out.exit.signal, Some(libc::SIGINT));
    assert_eq!(out.exit.stopped_by, Some(StopReason::Terminated));
    for pid in pids {
        assert!(is_dead(pid), "grandchild {pid} survived terminate_all");
    }
}

#[test]
fn terminate_all_kills_what_ignores_sigint_after_the_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    let registry = ProcessRegistry::new();
    // The ignored SIGINT is inherited by the exec'd sleep.
    let t = task("trap '' INT; echo ready; exec sleep 1000", dir.path());
    let (ready_tx, ready) = mpsc::channel();
    let running = {
        let registry = registry.clone();
        thread::spawn(move || {
            run(&t, &RunOptions::default(), &registry, |_| {
                ready_tx.send(()).unwrap()
            })
        })
    };
    ready.recv_timeout(Duration::from_secs(20)).unwrap();
    let summary = within(move || registry.terminate_all(Duration::from_millis(100)));
    assert_eq!(
        summary,
        TerminateSummary {
            interrupted: 1,
            killed: 1,
            stuck: 0
        }
    );
    let out = within(move || running.join().unwrap()).unwrap();
    assert_eq!(out.exit.signal, Some(libc::SIGKILL));
    assert_eq!(out.exit.stopped_by, Some(StopReason::Terminated));
}

#[test]
fn nothing_new_starts_once_terminate_all_has_begun() {
    let dir = tempfile::tempdir().unwrap();
    let registry = ProcessRegistry::new();
    registry.terminate_all(Duration::ZERO);
    let err = run(
        &task("true", dir.path()),
        &RunOptions::default(),
        &registry,
        |_| {},
    )
    .unwrap_err();
    assert!(
        matches!(err, ProcessError::ShuttingDown { ref command } if command == "true"),
        "{err}"
    );
}

#[test]
fn the_environment_is_exactly_what_was_passed() {
    let dir = tempfile::tempdir().unwrap();
    let mut direct = task("env", dir.path());
    direct.env.push(("KILN_TEST".into(), "1".into()));
    assert!(matches!(direct.invocation(), Invocation::Direct { .. }));
    let (_, mut lines) = lines_of(&direct, &RunOptions::default());
    lines.sort();
    assert_eq!(lines, ["KILN_TEST=1".to_string(), format!("PATH={PATH}")]);

    // Through the shell too (sh adds only its own PWD): nothing leaks from kiln's environment.
    let mut shell = task(
        "echo \"$KILN_TEST ${HOME-no-home} ${CARGO-no-cargo}\"",
        dir.path(),
    );
    shell.env.push(("KILN_TEST".into(), "1".into()));
    let (_, lines) = lines_of(&shell, &RunOptions::default());
    assert_eq!(lines, ["1 no-home no-cargo"]);
}

#[test]
fn the_working_directory_is_honoured_on_both_paths() {
    let dir = tempfile::tempdir().unwrap();
    let expected = dir.path().canonicalize().unwrap().display().to_string();
    let (_, direct) = lines_of(&task("pwd -P", dir.path()), &RunOptions::default());
    let (_, shell) = lines_of(&task("cd . && pwd -P", dir.path()), &RunOptions::default());
    assert_eq!(direct, std::slice::from_ref(&expected));
    assert_eq!(shell, [expected]);
}

#[test]
fn direct_execution_passes_words_as_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let t = task("printf %s-%s: a b", dir.path());
    assert!(
        matches!(t.invocation(), Invocation::Direct { ref args, .. } if args == &["%s-%s:", "a", "b"])
    );
    let (_, lines) = lines_of(&t, &RunOptions::default());
    assert_eq!(lines, ["a-b:"]);
}

#[test]
fn an_executable_script_without_shebang_falls_back_to_the_shell() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("build-it");
    std::fs::write(&script, "echo via shell\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let t = task("./build-it", dir.path());
    assert!(matches!(t.invocation(), Invocation::Direct { .. }));
    let (out, lines) = lines_of(&t, &RunOptions::default());
    assert_eq!(lines, ["via shell"]);
    assert!(out.exit.success());
}

#[test]
fn an_unknown_program_fails_like_in_a_shell() {
    let dir = tempfile::tempdir().unwrap();
    let (out, lines) = lines_of(
        &task("no-such-program-kiln --version", dir.path()),
        &RunOptions::default(),
    );
    assert_eq!(out.exit.exit_code(), 127);
    assert!(lines.concat().contains("not found"), "{lines:?}");
}

#[test]
fn long_lines_non_utf8_and_a_missing_final_newline_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let t = task(
        "printf '\\377\\376\\n'; head -c 300000 /dev/zero | tr '\\0' x",
        dir.path(),
    );
    let mut lines: Vec<Vec<u8>> = Vec::new();
    let out = run(&t, &RunOptions::default(), &ProcessRegistry::new(), |l| {
        lines.push(l.to_vec())
    })
    .unwrap();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0], b"\xff\xfe");
    assert_eq!(lines[1], vec![b'x'; 300_000]);
    assert_eq!(out.output.len(), 3 + 300_000);
}

#[test]
fn stdin_is_empty() {
    let dir = tempfile::tempdir().unwrap();
    let (out, lines) = within({
        let t = task("cat", dir.path());
        move || lines_of(&t, &RunOptions::default())
    });
    assert!(out.exit.success());
    assert!(lines.is_empty());
}

#[test]
fn a_timeout_kills_the_group_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let t = task("echo started; sleep 1000 & echo $!; wait", dir.path());
    let opts = RunOptions {
        timeout: Some(Duration::from_millis(200)),
    };
    let (out, lines) = within(move || lines_of(&t, &opts));
    assert_eq!(out.exit.stopped_by, Some(StopReason::TimedOut));
    assert_eq!(out.exit.signal, Some(libc::SIGKILL));
    assert!(out.exit.duration >= Duration::from_millis(200));
    assert_eq!(lines[0], "started");
    assert!(is_dead(lines[1].parse().unwrap()));
}

#[test]
fn a_missing_working_directory_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("packages/gone");
    let err = run(
        &task("true", &missing),
        &RunOptions::default(),
        &ProcessRegistry::new(),
        |_| {},
    )
    .unwrap_err();
    assert!(matches!(err, ProcessError::MissingCwd { ref cwd, .. } if cwd == &missing));
    assert!(err.to_string().contains("packages/gone"), "{err}");
}
