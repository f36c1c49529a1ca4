//! How a run's output is laid out: `--log-order grouped` blocks, GitHub Actions groups, and
//! the live view (only on a terminal, or when `KILN_LIVE=1` forces it).

use std::process::Output;

use crate::support::{Repo, stderr, stdout};

/// `a` and `b` build at once and print in turns: each prints two lines, then waits until the
/// other has printed its first two before printing two more, so their output must interleave
/// in time. (A task gives up after 20s, so a run that cannot overlap them fails instead of
/// hanging.)
fn overlapping_repo() -> Repo {
    let repo = Repo::npm_workspace();
    repo.write(
        "turbo.json",
        r#"{ "tasks": { "build": { "outputs": [] } } }"#,
    )
    .write(".gitignore", ".kiln/\nmarkers/\n");
    for (me, peer) in [("a", "b"), ("b", "a")] {
        repo.write(
            &format!("pkgs/{me}/package.json"),
            &format!(r#"{{ "name": "{me}", "scripts": {{ "build": "sh ./build.sh" }} }}"#),
        )
        .write(
            &format!("pkgs/{me}/build.sh"),
            &format!(
                "echo {me}-1\necho {me}-2\nmkdir -p ../../markers && touch ../../markers/{me}\n\
                 i=0\nwhile [ ! -e ../../markers/{peer} ]; do\n  i=$((i+1))\n  \
                 if [ $i -gt 2000 ]; then echo '{peer} never started' >&2; exit 9; fi\n  \
                 sleep 0.01\ndone\necho {me}-3\necho {me}-4\n"
            ),
        );
    }
    repo.commit("fixture");
    repo
}

fn run(repo: &Repo, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = repo.kiln();
    cmd.args(args)
        .env_remove("GITHUB_ACTIONS")
        .env_remove("KILN_LIVE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "kiln {args:?} failed\n--- stdout\n{}\n--- stderr\n{}",
        stdout(&out),
        stderr(&out)
    );
    out
}

/// The indices of the stdout lines of task `pkg`.
fn lines_of(text: &str, pkg: &str) -> Vec<usize> {
    let prefix = format!("{pkg}:build: ");
    text.lines()
        .enumerate()
        .filter(|(_, l)| l.starts_with(&prefix))
        .map(|(i, _)| i)
        .collect()
}

fn assert_contiguous(text: &str, pkg: &str) {
    let at = lines_of(text, pkg);
    assert_eq!(at.len(), 5, "a header and 4 lines of {pkg}:\n{text}");
    assert_eq!(
        at[4] - at[0],
        4,
        "the lines of {pkg} are one block:\n{text}"
    );
    let own: Vec<&str> = text.lines().skip(at[0]).take(5).collect();
    assert!(own[0].contains("cache miss, executing"), "{text}");
    for (n, line) in own.iter().enumerate().skip(1) {
        assert_eq!(*line, format!("{pkg}:build: {pkg}-{n}"), "{text}");
    }
}

#[test]
fn grouped_order_prints_each_task_as_one_block_even_when_they_overlap() {
    let repo = overlapping_repo();
    let out = run(
        &repo,
        &[
            "run",
            "build",
            "--log-order",
            "grouped",
            "--concurrency",
            "2",
        ],
        &[],
    );
    let text = stdout(&out);
    assert_contiguous(&text, "a");
    assert_contiguous(&text, "b");
    assert!(
        !text.contains("::group::"),
        "no GitHub groups off GitHub:\n{text}"
    );
    assert!(text.contains("2 successful"), "{text}");
}

#[test]
fn on_github_actions_each_task_is_a_collapsible_group() {
    let repo = overlapping_repo();
    let github = [("GITHUB_ACTIONS", "true")];
    // `auto`, the default, groups on GitHub Actions; the groups name the task, so `auto`
    // prefixes go, as in Turborepo (`task` keeps them).
    let bare = run(
        &repo,
        &["run", "build", "--concurrency", "2", "--force"],
        &github,
    );
    assert!(stdout(&bare).contains("\na-1\n"), "{}", stdout(&bare));
    let _ = std::fs::remove_dir_all(repo.path(".kiln"));
    let out = run(
        &repo,
        &["run", "build", "--concurrency", "2", "--log-prefix=task"],
        &github,
    );
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    for pkg in ["a", "b"] {
        assert_contiguous(&text, pkg);
        let first = lines_of(&text, pkg)[0];
        assert!(
            lines[first - 1].starts_with(&format!("::group::{pkg}:build (ran in ")),
            "{text}"
        );
        assert_eq!(lines[first + 5], "::endgroup::", "{text}");
    }
    assert_eq!(text.matches("::group::").count(), 2, "{text}");
    assert_eq!(text.matches("::endgroup::").count(), 2, "{text}");

    // Replayed from the cache: still one group each, titled so.
    let out = run(&repo, &["run", "build", "--log-prefix=task"], &github);
    let text = stdout(&out);
    for pkg in ["a", "b"] {
        assert!(
            text.contains(&format!(
                "::group::{pkg}:build (cache hit)\n{pkg}:build: cache hit"
            )),
            "{text}"
        );
    }
    assert_eq!(text.matches("::endgroup::").count(), 2, "{text}");

    // `--log-order stream` is plain prefixed lines, on GitHub Actions too.
    let out = run(&repo, &["run", "build", "--log-order", "stream"], &github);
    assert!(!stdout(&out).contains("::group::"), "{}", stdout(&out));
}

#[test]
fn a_failed_task_is_left_unfolded_on_github_actions_with_its_error_after_it() {
    let repo = Repo::npm_workspace();
    repo.write(
        "turbo.json",
        r#"{ "tasks": { "build": { "outputs": [] } } }"#,
    )
    .write(
        "pkgs/bad/package.json",
        r#"{ "name": "bad", "scripts": { "build": "echo broken && exit 4" } }"#,
    )
    .write(".gitignore", ".kiln/\n");
    repo.commit("fixture");
    let out = repo
        .kiln()
        .args(["run", "build", "--log-prefix=task"])
        .env("GITHUB_ACTIONS", "true")
        .env_remove("KILN_LIVE")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    let text = stdout(&out);
    assert!(text.contains("bad:build: broken"), "{text}");
    assert!(!text.contains("::group::"), "{text}");
    assert!(
        stderr(&out).contains("error: bad#build failed with exit code 4"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn the_live_view_is_off_when_stdout_is_not_a_terminal_or_kiln_live_is_0() {
    let repo = overlapping_repo();
    for env in [&[][..], &[("KILN_LIVE", "0")][..]] {
        let out = run(
            &repo,
            &["run", "build", "--force", "--concurrency", "2"],
            env,
        );
        let text = stdout(&out);
        assert!(
            !text.contains('\x1b'),
            "no escape codes with {env:?}:\n{text:?}"
        );
        assert!(!text.contains("ETA"), "{text}");
    }
}

#[test]
fn the_live_view_is_erased_before_the_summary() {
    let repo = overlapping_repo();
    let out = run(
        &repo,
        &["run", "build", "--concurrency", "2"],
        &[("KILN_LIVE", "1")],
    );
    let text = stdout(&out);
    // Each frame goes back over the last one: up, to the line's start, clear below.
    let erase = after_last_erase(&text).expect("the live view was drawn and erased");
    let after = &text[erase..];
    assert!(
        !after.contains('\x1b'),
        "nothing drawn after the last erase:\n{after:?}"
    );
    assert!(!after.contains("ETA"), "{after:?}");
    assert!(after.contains("Tasks:  2 successful"), "{after:?}");
    // No line of a task is lost: every one is somewhere in the output, whole.
    for pkg in ["a", "b"] {
        for n in 1..=4 {
            assert!(
                text.contains(&format!("\n{pkg}:build: {pkg}-{n}\n"))
                    || text.contains(&format!("\x1b[J{pkg}:build: {pkg}-{n}\n")),
                "{text:?}"
            );
        }
    }
}

/// Where the text after the last "erase the live view" sequence (`ESC[nA`, `\r`, `ESC[J`)
/// starts.
fn after_last_erase(text: &str) -> Option<usize> {
    let end = text.rfind("\r\x1b[J")?;
    let start = text[..end].rfind("\x1b[")?;
    let n = &text[start + 2..end];
    (n.strip_suffix('A')?.parse::<usize>().ok()? > 0).then_some(end + "\r\x1b[J".len())
}

#[test]
fn on_a_terminal_the_live_view_is_drawn_and_erased_before_the_summary() {
    let repo = overlapping_repo();
    // `script` runs kiln on a pseudo-terminal, as a person at a terminal would.
    let kiln = env!("CARGO_BIN_EXE_kiln");
    let out = std::process::Command::new("script")
        .args(["-q", "-e", "-c"])
        .arg(format!("'{kiln}' run build --concurrency 2"))
        .arg("/dev/null")
        .current_dir(&repo.root)
        .env("TERM", "xterm")
        .env("NO_COLOR", "1")
        .env_remove("CI")
        .env_remove("KILN_LIVE")
        .env_remove("GITHUB_ACTIONS")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("`script` (util-linux) runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out).replace("\r\n", "\n");
    assert!(text.contains("ETA"), "the live view was drawn:\n{text:?}");
    let erase = after_last_erase(&text).expect("the live view was erased");
    let after = &text[erase..];
    assert!(!after.contains("ETA"), "{after:?}");
    assert!(after.contains("Tasks:  2 successful"), "{after:?}");
}

/// The peak resident memory of `kiln args…` run in `repo`, in bytes, and how many bytes it
/// printed. Measured by a small Python parent: a child's peak counts the memory of the
/// process it was forked from, and this test process may be large.
fn peak_memory(repo: &Repo, args: &[&str]) -> (u64, u64) {
    const MEASURE: &str = r#"
import resource, subprocess, sys
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
n = 0
while True:
    chunk = p.stdout.read(65536)
    if not chunk:
        break
    n += len(chunk)
assert p.wait() == 0, "kiln failed"
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024, n)
"#;
    let kiln = crate::support::kiln_command();
    let out = std::process::Command::new("python3")
        .args(["-c", MEASURE])
        .arg(kiln.get_program())
        .args(args)
        .envs(kiln.get_envs().filter_map(|(k, v)| v.map(|v| (k, v))))
        .env_remove("KILN_CACHE")
        .current_dir(&repo.root)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let mut numbers = text.split_whitespace().map(|n| n.parse::<u64>().unwrap());
    (numbers.next().unwrap(), numbers.next().unwrap())
}

#[test]
fn replaying_a_large_log_streams_it_instead_of_holding_it_in_memory() {
    const LOG: u64 = 48 << 20;
    let repo = Repo::npm_workspace();
    repo.write(
        "turbo.json",
        r#"{ "tasks": { "build": { "outputs": ["dist/**"] } } }"#,
    )
    .write(
        "pkgs/noisy/package.json",
        &format!(
            r#"{{ "name": "noisy", "scripts": {{ "build": "mkdir -p dist && echo 1 > dist/x && yes 0123456789abcdef0123456789abcdef0123456789abcdef | head -c {LOG}" }} }}"#
        ),
    )
    .write(".gitignore", ".kiln/\ndist/\n");
    repo.commit("fixture");
    let built = repo
        .kiln()
        .args(["run", "build"])
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(built.success());
    std::fs::remove_dir_all(repo.path("pkgs/noisy/dist")).unwrap();
    for (what, args) in [
        ("restored", &["run", "build", "--log-order", "stream"][..]),
        ("in place", &["run", "build", "--log-order", "stream"][..]),
    ] {
        let (peak, printed) = peak_memory(&repo, args);
        assert!(
            printed > LOG,
            "{what}: the whole log is replayed ({printed} bytes)"
        );
        assert!(
            peak < LOG * 4 / 5,
            "{what}: replaying {LOG} bytes of log took {peak} bytes of memory"
        );
    }
}

/// `kiln run build | head -n 3`: once `head` has its lines and closes the pipe, kiln's
/// writes fail with EPIPE. That is no error: the build goes on, kiln exits 0 and says
/// nothing (no panic, no "broken pipe").
#[test]
fn a_closed_stdout_is_not_an_error() {
    let repo = Repo::npm_workspace();
    repo.write(
        "turbo.json",
        r#"{ "tasks": { "build": { "outputs": ["dist/**"] } } }"#,
    )
    .write(
        "pkgs/loud/package.json",
        r#"{ "name": "loud", "scripts": { "build": "mkdir -p dist && seq 1 20000 && echo done > dist/x" } }"#,
    );
    repo.commit("fixture");
    for _ in 0..2 {
        // The second time is a cache hit, whose replayed log hits the closed pipe.
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(r#"set -o pipefail; "$KILN" run build | head -n 3 > /dev/null"#)
            .env("KILN", env!("CARGO_BIN_EXE_kiln"))
            .env("NO_COLOR", "1")
            .env_remove("KILN_LIVE")
            .env_remove("CI")
            .env_remove("GITHUB_ACTIONS")
            .current_dir(repo.path(""))
            .output()
            .unwrap();
        let err = stderr(&out);
        assert!(out.status.success(), "{:?}\n{err}", out.status);
        assert!(
            !err.contains("panicked") && !err.to_lowercase().contains("broken pipe"),
            "{err}"
        );
        assert_eq!(
            std::fs::read(repo.path("pkgs/loud/dist/x")).unwrap(),
            b"done\n"
        );
    }
}
