//! The budget follows the machine and the tasks' declarations: memory weights and
//! `--memory-limit` keep heavy tasks apart, named locks hold across kiln processes,
//! persistent tasks never block the run, timeouts stop a task, and a machine with one CPU
//! still builds everything.

use std::process::Stdio;

use crate::support::{Repo, Running, stderr, stdout};

/// A script that notes `overlap` in `../../overlaps` if another task of the same group is
/// running when it starts, holds its marker for up to a second (so the other task's start
/// has a chance to overlap), then leaves. With `alloc` as its second argument it also holds
/// 300 MB of touched memory meanwhile.
const GUARDED: &str = r#"group=$1
mkdir -p ../../running
for f in ../../running/$group.*; do [ -e "$f" ] && echo "$(basename $PWD) with $f" >> ../../overlaps; done
touch ../../running/$group.$(basename $PWD)
echo "$(basename $PWD)" >> ../../order
if [ "$2" = alloc ]; then
  python3 -c 'import time; b = bytearray(300_000_000); b[::4096] = b"x" * len(b[::4096]); time.sleep(0.6)' &
fi
i=0; while [ $i -lt 20 ] && [ ! -e ../../release ]; do i=$((i+1)); sleep 0.05; done
wait
rm ../../running/$group.$(basename $PWD)
"#;

fn guarded_repo(kiln_toml: &str, packages: &[&str]) -> Repo {
    guarded_repo_with(kiln_toml, packages, "")
}

fn guarded_repo_with(kiln_toml: &str, packages: &[&str], extra: &str) -> Repo {
    let repo = Repo::npm_workspace();
    repo.write("kiln.toml", kiln_toml)
        .write("guarded.sh", GUARDED)
        .write(".gitignore", ".kiln/\nrunning/\noverlaps\norder\nrelease\n");
    for name in packages {
        repo.write(
            &format!("pkgs/{name}/package.json"),
            &format!(
                r#"{{ "name": "{name}", "scripts": {{ "build": "sh ../../guarded.sh g {extra}" }} }}"#
            ),
        );
    }
    repo.commit("fixture");
    repo
}

fn overlaps(repo: &Repo) -> String {
    std::fs::read_to_string(repo.path("overlaps")).unwrap_or_default()
}

/// Three tasks that each hold 300 MB, declared, under a 500 MB limit (60 % of it each):
/// never two at once, though three CPU slots would allow it.
#[test]
fn memory_weights_under_a_memory_limit_keep_heavy_tasks_apart() {
    let repo = guarded_repo_with(
        "[tasks.build]\nmemory = \"300MB\"\ncache = false\n",
        &["a", "b", "c"],
        "alloc",
    );
    let out = repo.run_ok(&[
        "run",
        "build",
        "--concurrency",
        "3",
        "--memory-limit",
        "500MB",
    ]);
    assert_eq!(overlaps(&repo), "", "{}", stdout(&out));
    let order = std::fs::read_to_string(repo.path("order")).unwrap();
    assert_eq!(order.lines().count(), 3, "every task ran once");

    // Without the limit (and with plenty of memory), they may run together.
    let light = guarded_repo("[tasks.build]\ncache = false\n", &["a", "b"]);
    light.run_ok(&["run", "build", "--concurrency", "2"]);
    assert_eq!(
        std::fs::read_to_string(light.path("order"))
            .unwrap()
            .lines()
            .count(),
        2
    );
}

#[test]
fn a_bad_memory_limit_is_a_usage_error() {
    let repo = guarded_repo("[tasks.build]\n", &["a"]);
    let out = repo.run(&["run", "build", "--memory-limit", "plenty"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--memory-limit"), "{}", stderr(&out));
}

#[test]
fn named_locks_hold_within_a_run_and_across_kiln_processes() {
    let repo = guarded_repo(
        "[tasks.build]\nlocks = [\"db\"]\ncache = false\n",
        &["a", "b", "c"],
    );
    repo.run_ok(&["run", "build", "--concurrency", "3"]);
    assert_eq!(overlaps(&repo), "");

    // Two kiln processes, each running one package's build, both holding `db`.
    let first = repo
        .kiln()
        .args(["run", "build", "--filter", "a"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let second = repo
        .kiln()
        .args(["run", "build", "--filter", "b"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (first, second) = (
        first.wait_with_output().unwrap(),
        second.wait_with_output().unwrap(),
    );
    assert!(first.status.success() && second.status.success());
    assert_eq!(
        overlaps(&repo),
        "",
        "the file lock kept the processes apart"
    );
}

#[test]
fn a_persistent_task_takes_no_slot_and_never_blocks_the_run() {
    let repo = Repo::npm_workspace();
    repo.write(
        "kiln.toml",
        "[tasks.dev]\npersistent = true\n\n[tasks.build]\noutputs = [\"out\"]\n",
    )
    // The dev server runs until the build it serves exists; with one slot, a persistent
    // task that took it would wait forever.
    .write(
        "pkgs/web/package.json",
        r#"{ "name": "web", "scripts": { "dev": "echo serving; while [ ! -e out ]; do sleep 0.05; done; echo done", "build": "echo built > out" } }"#,
    )
    .write(".gitignore", ".kiln/\nout\n");
    repo.commit("fixture");
    let out = repo.run_ok(&["run", "dev", "build", "--concurrency", "1"]);
    let text = stdout(&out);
    assert!(text.contains("web:dev: done"), "{text}");
    assert_eq!(repo.read("pkgs/web/out"), b"built\n");
}

#[test]
fn a_task_past_its_timeout_is_stopped_and_fails() {
    let repo = Repo::npm_workspace();
    repo.write("kiln.toml", "[tasks.build]\ntimeout = \"300ms\"\n")
        .write(
            "pkgs/slow/package.json",
            r#"{ "name": "slow", "scripts": { "build": "echo start; sleep 30" } }"#,
        );
    repo.commit("fixture");
    let started = std::time::Instant::now();
    let out = repo.run(&["run", "build"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    assert!(stderr(&out).contains("timed out after"), "{}", stderr(&out));
}

#[test]
fn one_cpu_still_builds_everything_in_order() {
    // taskset comes with util-linux, which every Linux this runs on has.
    let repo = Repo::generated(8, &[]);
    let out = std::process::Command::new("taskset")
        .args(["-c", "0"])
        .arg(env!("CARGO_BIN_EXE_kiln"))
        .args(["run", "build"])
        .current_dir(&repo.root)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(repo.take_exec_log().len(), 8);
}

#[test]
fn ctrl_c_stops_persistent_and_locked_tasks_and_frees_the_locks() {
    let repo = Repo::npm_workspace();
    repo.write(
        "kiln.toml",
        "[tasks.dev]\npersistent = true\n\n[tasks.migrate]\nlocks = [\"db\"]\ncache = false\n",
    )
    .write(
        "pkgs/api/package.json",
        r#"{ "name": "api", "scripts": { "dev": "echo $$ > dev.pid; echo ready; sleep 1000", "migrate": "echo $$ > migrate.pid; echo ready; sleep 1000" } }"#,
    )
    .write(".gitignore", ".kiln/\n*.pid\n");
    repo.commit("fixture");
    let mut kiln =
        Running::start(
            repo.kiln()
                .args(["run", "dev", "migrate", "--concurrency", "2"]),
        );
    kiln.wait_for(2, "ready");
    let started = std::time::Instant::now();
    assert_eq!(kiln.interrupt().code(), Some(130));
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    for file in ["dev.pid", "migrate.pid"] {
        let pid = std::fs::read_to_string(repo.path(&format!("pkgs/api/{file}"))).unwrap();
        assert!(
            !std::path::Path::new(&format!("/proc/{}", pid.trim())).exists()
                || std::fs::read_to_string(format!("/proc/{}/stat", pid.trim())).is_ok_and(|s| s
                    .rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z')),
            "{file}: process outlived kiln"
        );
    }
    // The lock went with the process: another run takes it at once.
    repo.write(
        "pkgs/api/package.json",
        r#"{ "name": "api", "scripts": { "migrate": "echo migrated" } }"#,
    );
    let again = repo.run_ok(&["run", "migrate"]);
    assert!(stdout(&again).contains("migrated"));
    assert!(
        !stderr(&again).contains("waiting for lock"),
        "{}",
        stderr(&again)
    );
}

#[test]
fn the_run_record_has_what_each_task_used() {
    let repo = Repo::npm_workspace();
    repo.write("kiln.toml", "[tasks.build]\ncache = false\n").write(
        "pkgs/big/package.json",
        r#"{ "name": "big", "scripts": { "build": "python3 -c 'import time; b = bytearray(200_000_000); b[::4096] = b\"x\" * len(b[::4096]); time.sleep(1)'" } }"#,
    );
    repo.commit("fixture");
    repo.run_ok(&["run", "build"]);
    let runs: Vec<_> = std::fs::read_dir(repo.path(".kiln/runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&runs[0]).unwrap()).unwrap();
    let used = &record["tasks"][0]["resources"];
    let peak = used["peak_rss"].as_u64().expect("sampled for a 1 s task");
    assert!(peak >= 150_000_000, "{used}");
    assert!(used["cpu_seconds"].as_f64().unwrap() >= 0.0);
}
