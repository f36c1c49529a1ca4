//! Two kiln processes on one repository, and inputs that change under a running task.

use std::process::Stdio;

use crate::support::{Repo, stderr};

#[test]
fn two_kiln_processes_at_once_build_every_package_once_and_both_succeed() {
    let repo = Repo::generated(20, &["--seed", "31"]);
    let spawn = || {
        repo.kiln()
            .args(["run", "build"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    for child in [a, b] {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut ran = repo.take_exec_log();
    let total = ran.len();
    ran.dedup();
    assert_eq!(ran.len(), 20, "every package built");
    assert_eq!(
        total, 20,
        "no package built twice: the second process waited and hit"
    );
    repo.run_ok(&["run", "build"]);
    assert_eq!(repo.take_exec_log(), Vec::<String>::new());
}

#[test]
fn a_task_that_changes_its_own_inputs_is_not_cached() {
    let repo = Repo::npm_workspace();
    repo.write("turbo.json", r#"{ "tasks": { "build": { "outputs": ["out/**"] } } }"#)
    .write(
        "pkgs/gen/package.json",
        r#"{ "name": "gen", "scripts": { "build": "mkdir -p out && echo 1 > src/stamp.txt && echo ran >> ../../ran.log" } }"#,
    )
    .write("pkgs/gen/src/stamp.txt", "0\n")
    .write(".gitignore", ".kiln/\nout/\nran.log\n");
    repo.commit("fixture");

    let out = repo.run_ok(&["run", "build"]);
    assert!(
        stderr(&out).contains("src/stamp.txt` changed while the task ran"),
        "{}",
        stderr(&out)
    );
    // Back to the content the first run's key was computed from: that key must not hit,
    // because what ran did not see that content.
    repo.write("pkgs/gen/src/stamp.txt", "0\n");
    repo.run_ok(&["run", "build"]);
    assert_eq!(
        std::fs::read_to_string(repo.path("ran.log")).unwrap(),
        "ran\nran\n",
        "nothing was stored under the stale key"
    );
}
