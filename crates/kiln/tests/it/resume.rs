//! Recovery: a run killed with `kill -9` leaves no artifact and no state claiming success
//! for the task it interrupted, and `kiln run --resume` re-runs only what did not succeed.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use crate::support::{Repo, artifact_blobs, stdout};

/// `c` → `b` → `a`. `a` is not cacheable. `b` writes a partial output, then hangs until the
/// file `finish` exists at the root. Every build appends its name to `exec.log`.
fn chain() -> Repo {
    let repo = Repo::npm_workspace();
    repo.write(
        "turbo.json",
        r#"{ "tasks": { "build": { "dependsOn": ["^build"], "outputs": ["dist/**"] } } }"#,
    )
    .write(
        "pkgs/a/package.json",
        r#"{ "name": "a", "scripts": { "build": "mkdir -p dist && echo a > dist/out && echo a >> ../../exec.log" } }"#,
    )
    .write(
        "pkgs/a/turbo.json",
        r#"{ "extends": ["//"], "tasks": { "build": { "cache": false } } }"#,
    )
    .write(
        "pkgs/b/package.json",
        r#"{ "name": "b", "dependencies": { "a": "*" }, "scripts": { "build": "sh ./build.sh" } }"#,
    )
    .write(
        "pkgs/b/build.sh",
        "echo b >> ../../exec.log\nmkdir -p dist\necho partial > dist/out\n\
         if [ ! -f ../../finish ]; then echo $$ > ../../b.pid; echo started; exec sleep 1000; fi\n\
         echo done > dist/out\n",
    )
    .write(
        "pkgs/c/package.json",
        r#"{ "name": "c", "dependencies": { "b": "*" }, "scripts": { "build": "mkdir -p dist && cat ../b/dist/out > dist/out && echo c >> ../../exec.log" } }"#,
    )
    .write(".gitignore", ".kiln/\ndist/\nexec.log\nb.pid\nfinish\n");
    repo.commit("fixture");
    repo
}

fn take_log(repo: &Repo) -> String {
    let path = repo.path("exec.log");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let _ = std::fs::remove_file(path);
    text
}

#[test]
fn kill_9_then_resume_reruns_only_what_did_not_succeed() {
    let repo = chain();
    let mut kiln = repo
        .kiln()
        .args(["run", "build", "--concurrency", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = BufReader::new(kiln.stdout.take().unwrap()).lines();
    for line in lines {
        if line.unwrap().ends_with("b:build: started") {
            break;
        }
    }
    kiln.kill().unwrap(); // SIGKILL: no cleanup of any kind runs
    kiln.wait().unwrap();
    // The hung build outlives kiln (it has its own process group): stop it.
    let pid: i32 = std::fs::read_to_string(repo.path("b.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    unsafe_kill_group(pid);
    assert_eq!(take_log(&repo), "a\nb\n");

    // Nothing claims b succeeded: no artifact, no state.
    assert!(
        artifact_blobs(&repo).is_empty(),
        "{:?}",
        artifact_blobs(&repo)
    );
    assert_eq!(
        repo.run(&["state", "show", "b#build"]).status.code(),
        Some(1)
    );
    assert_eq!(repo.read("pkgs/b/dist/out"), b"partial\n");

    repo.write("finish", "");
    let out = repo.run_ok(&["run", "build", "--resume"]);
    assert_eq!(
        take_log(&repo),
        "b\nc\n",
        "a succeeded before the kill: not again"
    );
    assert!(
        stdout(&out).contains("1 done before --resume"),
        "{}",
        stdout(&out)
    );
    assert_eq!(repo.read("pkgs/b/dist/out"), b"done\n");
    assert_eq!(repo.read("pkgs/c/dist/out"), b"done\n");

    // Resuming a run that succeeded runs nothing, not even the uncacheable task.
    repo.run_ok(&["run", "build", "--resume"]);
    assert_eq!(take_log(&repo), "");
    // A plain run: a is never cached, b and c are.
    let out = repo.run_ok(&["run", "build"]);
    assert_eq!(take_log(&repo), "a\n");
    assert!(stdout(&out).contains("2 cached"), "{}", stdout(&out));
}

#[test]
fn resume_after_a_failure_skips_the_successes_and_reruns_the_rest() {
    let repo = chain();
    repo.write("finish", "");
    repo.write(
        "pkgs/c/package.json",
        r#"{ "name": "c", "dependencies": { "b": "*" }, "scripts": { "build": "echo c >> ../../exec.log && exit 3" } }"#,
    );
    let out = repo.run(&["run", "build"]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(take_log(&repo), "a\nb\nc\n");
    repo.write(
        "pkgs/c/package.json",
        r#"{ "name": "c", "dependencies": { "b": "*" }, "scripts": { "build": "echo c >> ../../exec.log" } }"#,
    );
    repo.run_ok(&["run", "build", "--resume"]);
    assert_eq!(take_log(&repo), "c\n");
    // An edit since the failed run is not skipped by --resume: b's inputs changed.
    repo.write("pkgs/b/extra.txt", "x");
    repo.run_ok(&["run", "build", "--resume"]);
    assert_eq!(take_log(&repo), "b\nc\n");
}

#[test]
fn resume_without_an_earlier_run_runs_everything() {
    let repo = chain();
    repo.write("finish", "");
    let out = repo.run_ok(&["run", "build", "--resume"]);
    assert_eq!(take_log(&repo), "a\nb\nc\n");
    assert!(
        crate::support::stderr(&out).contains("no earlier run is recorded"),
        "{}",
        crate::support::stderr(&out)
    );
}

fn unsafe_kill_group(pid: i32) {
    let status = std::process::Command::new("kill")
        .args(["-9", "--", &format!("-{pid}")])
        .status()
        .unwrap();
    assert!(status.success());
}
