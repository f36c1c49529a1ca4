//! Two kiln processes on one repository, and inputs that change under a running task.

use std::process::{Command, Stdio};

use crate::support::{Repo, Running, stderr, stdout};

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

/// `l` ← `m` ← `n`: each build copies its dependency's `dist/out.txt` and appends its own
/// `src/value.txt`, failing when the dependency is not built. A build prints
/// `<name>-started`, then waits while a fifo `gate-<name>` exists at the root (until the test
/// writes to it), so a test can hold a run in the middle of one task.
fn chain() -> Repo {
    let repo = Repo::npm_workspace();
    repo.write(
        "turbo.json",
        r#"{ "tasks": { "build": { "dependsOn": ["^build"], "outputs": ["dist/**"] } } }"#,
    )
    .write(
        "build.sh",
        r#"#!/bin/sh
set -eu
name=$(basename "$PWD")
echo "$name-started"
if [ -p ../../gate-$name ]; then cat ../../gate-$name > /dev/null; fi
rm -rf dist
mkdir dist
if [ -n "${1-}" ]; then
  [ -f "../$1/dist/out.txt" ] || { echo "dependency $1 is not built" >&2; exit 3; }
  cat "../$1/dist/out.txt" > dist/out.txt
fi
cat src/value.txt >> dist/out.txt
echo "$name-built"
"#,
    )
    .write(".gitignore", ".kiln/\ndist/\ngate-*\n");
    for (name, dep) in [("l", ""), ("m", "l"), ("n", "m")] {
        let deps = if dep.is_empty() {
            String::new()
        } else {
            format!(r#", "dependencies": {{ "{dep}": "*" }}"#)
        };
        repo.write(
            &format!("pkgs/{name}/package.json"),
            &format!(
                r#"{{ "name": "{name}", "scripts": {{ "build": "sh ../../build.sh {dep}" }}{deps} }}"#
            ),
        )
        .write(&format!("pkgs/{name}/src/value.txt"), &format!("{name}\n"));
    }
    repo.commit("fixture");
    repo
}

/// Every output of [`chain`] equals what a clean build of `l`'s current `value` gives.
fn assert_clean_outputs(repo: &Repo, value: &str, when: &str) {
    let l = value.to_string();
    let m = format!("{l}m\n");
    let n = format!("{m}n\n");
    for (name, want) in [("l", l), ("m", m), ("n", n)] {
        let got = String::from_utf8(repo.read(&format!("pkgs/{name}/dist/out.txt"))).unwrap();
        assert_eq!(got, want, "{name}/dist/out.txt {when}");
    }
}

/// Opens the fifo `gate-<name>` for writing (blocking until the build waiting on it reads),
/// removes it so later builds do not wait, and closes it: the waiting build goes on.
fn open_gate(repo: &Repo, name: &str) {
    let path = repo.path(&format!("gate-{name}"));
    let writer = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    drop(writer);
}

#[test]
fn a_run_started_after_an_edit_never_stores_what_an_earlier_run_left() {
    use std::io::BufRead;
    let repo = chain();
    let value = |round: usize| format!("v{round}\n");
    for round in 0..2 {
        repo.write("pkgs/l/src/value.txt", &value(round));
        repo.run_ok(&["run", "build"]);
    }
    for round in 2..22 {
        // What A starts from: an old value whose outputs the cache holds (A restores them) or
        // a new one (A builds); where A is held while B starts: in `l`'s build, in `m`'s, or
        // nowhere (B races A's restore, or its start).
        let (before, gate) = match round % 4 {
            0 => (value(round - 2), None),
            1 => (format!("x{round}\n"), Some("l")),
            2 => (format!("x{round}\n"), Some("m")),
            _ => (value(round - 2), None),
        };
        repo.write("pkgs/l/src/value.txt", &before);
        if let Some(name) = gate {
            let fifo = repo.path(&format!("gate-{name}"));
            assert!(
                Command::new("mkfifo")
                    .arg(&fifo)
                    .status()
                    .unwrap()
                    .success()
            );
        }
        let mut a = Running::start(repo.kiln().args(["run", "build"]));
        match gate {
            Some(name) => a.wait_for(1, &format!("{name}-started")),
            None if round % 4 == 3 => a.wait_for(1, "l-built"),
            None => {}
        }
        let after = value(round);
        repo.write("pkgs/l/src/value.txt", &after);
        let mut b = repo
            .kiln()
            .args(["run", "build"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut b_err = std::io::BufReader::new(b.stderr.take().unwrap()).lines();
        let mut b_said = Vec::new();
        if let Some(name) = gate {
            // A is held in a task: B must be waiting for it, not building beside it.
            for line in b_err.by_ref() {
                let line = line.unwrap();
                let waiting = line.contains("waiting for another kiln run on this repository");
                b_said.push(line);
                if waiting {
                    break;
                }
            }
            assert!(
                b_said.last().is_some_and(|l| l.contains("waiting")),
                "round {round}: B did not wait for A:\n{}",
                b_said.join("\n")
            );
            open_gate(&repo, name);
        }
        b_said.extend(b_err.map(Result::unwrap));
        assert!(a.wait().success(), "round {round}: A failed");
        assert!(
            b.wait().unwrap().success(),
            "round {round}: B failed:\n{}",
            b_said.join("\n")
        );
        assert_clean_outputs(&repo, &after, &format!("after round {round}"));
        // What B stored under the new keys is what a clean build gives: restore it all.
        for name in ["l", "m", "n"] {
            std::fs::remove_dir_all(repo.path(&format!("pkgs/{name}/dist"))).unwrap();
        }
        let out = repo.run_ok(&["run", "build"]);
        assert!(
            stdout(&out).contains("(0 ran, 3 cached"),
            "round {round}: everything is a hit\n{}",
            stdout(&out)
        );
        assert_clean_outputs(&repo, &after, &format!("restored, round {round}"));
    }
}

#[test]
fn concurrent_forced_runs_all_succeed() {
    let repo = chain();
    for round in 0..10 {
        let runs: Vec<_> = (0..4)
            .map(|_| {
                repo.kiln()
                    .args(["run", "build", "--force"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for run in runs {
            let out = run.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "round {round}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert_clean_outputs(&repo, "l\n", &format!("round {round}"));
    }
}
