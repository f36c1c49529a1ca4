//! `--profile FILE`: a Chrome trace of the run, written when the run ends however it ends.

use serde_json::Value;

use crate::support::{Repo, Running, stderr, stdout};

/// `app` depends on `lib`; both print a line.
fn two_packages(app_script: &str) -> Repo {
    let repo = Repo::npm_workspace();
    repo.write(
        "turbo.json",
        r#"{ "tasks": { "build": { "dependsOn": ["^build"], "outputs": [] } } }"#,
    )
    .write(
        "pkgs/lib/package.json",
        r#"{ "name": "lib", "scripts": { "build": "echo lib built" } }"#,
    )
    .write(
        "pkgs/app/package.json",
        &format!(
            r#"{{ "name": "app", "scripts": {{ "build": "{app_script}" }}, "dependencies": {{ "lib": "*" }} }}"#
        ),
    )
    .write(".gitignore", ".kiln/\n*.json.tmp*\ntrace.json\n");
    repo.commit("fixture");
    repo
}

fn read_trace(repo: &Repo) -> Value {
    serde_json::from_slice(&repo.read("trace.json")).expect("the profile is valid JSON")
}

fn events<'a>(trace: &'a Value, ph: &str, cat: &str) -> Vec<&'a Value> {
    trace["traceEvents"]
        .as_array()
        .expect("a traceEvents array")
        .iter()
        .filter(|e| e["ph"] == ph && (cat.is_empty() || e["cat"] == cat))
        .collect()
}

fn end(e: &Value) -> u64 {
    e["ts"].as_u64().unwrap() + e["dur"].as_u64().unwrap()
}

/// Every phase lies inside its task's span, on the same track.
fn assert_phases_nested(trace: &Value) {
    let tasks = events(trace, "X", "task");
    for phase in events(trace, "X", "phase") {
        let task = tasks
            .iter()
            .find(|t| t["name"] == phase["args"]["task"])
            .unwrap_or_else(|| panic!("{phase} belongs to no task span"));
        assert_eq!(phase["tid"], task["tid"], "{phase} is on its task's track");
        assert!(
            phase["ts"].as_u64() >= task["ts"].as_u64(),
            "{phase} starts in {task}"
        );
        assert!(end(phase) <= end(task), "{phase} ends in {task}");
    }
}

#[test]
fn the_profile_has_a_span_per_task_with_its_phases_inside() {
    let repo = two_packages("echo app built");
    let out = repo.run_ok(&["run", "build", "--profile", "trace.json"]);
    assert!(stdout(&out).contains("2 successful"), "{}", stdout(&out));
    let trace = read_trace(&repo);
    assert_eq!(trace["displayTimeUnit"], "ms");

    let mut tasks: Vec<&str> = events(&trace, "X", "task")
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    tasks.sort();
    assert_eq!(tasks, ["app#build", "lib#build"]);
    for task in events(&trace, "X", "task") {
        assert_eq!(task["args"]["cache"], "miss", "{task}");
        assert_eq!(task["args"]["outcome"], "succeeded", "{task}");
        assert!(
            task["args"]["key"].as_str().is_some_and(|k| k.len() >= 16),
            "{task}"
        );
        assert!(task["args"]["reason"].is_string(), "{task}");
        assert!(
            task["tid"].as_u64().unwrap() >= 1,
            "tasks are on worker tracks"
        );
        let name = &task["name"];
        let executed = events(&trace, "X", "phase")
            .iter()
            .any(|p| p["args"]["task"] == *name && p["name"] == "execute");
        assert!(executed, "{name} has an execute phase");
    }
    assert_phases_nested(&trace);
    // lib ends before app starts: the dependency order shows.
    let span = |n: &str| {
        *events(&trace, "X", "task")
            .iter()
            .find(|t| t["name"] == n)
            .unwrap()
    };
    assert!(end(span("lib#build")) <= span("app#build")["ts"].as_u64().unwrap());

    let stages: Vec<&str> = events(&trace, "X", "stage")
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(stages, ["discover", "plan", "hash"]);
    let names: Vec<&str> = events(&trace, "M", "")
        .iter()
        .map(|m| m["args"]["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"kiln") && names.contains(&"stages"),
        "{names:?}"
    );
    assert!(names.iter().any(|n| n.starts_with("worker ")), "{names:?}");

    // Cache hits are spans too, restoring instead of executing.
    repo.run_ok(&["run", "build", "--profile", "trace.json"]);
    let trace = read_trace(&repo);
    let hits = events(&trace, "X", "task");
    assert_eq!(hits.len(), 2);
    assert!(
        hits.iter().all(|t| t["args"]["cache"] == "hit (local)"),
        "{hits:?}"
    );
    assert_phases_nested(&trace);
}

#[test]
fn a_failed_run_still_writes_its_profile() {
    let repo = two_packages("echo app breaks && exit 5");
    let out = repo.run(&["run", "build", "--profile", "trace.json"]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    let trace = read_trace(&repo);
    let app = events(&trace, "X", "task")
        .into_iter()
        .find(|t| t["name"] == "app#build")
        .expect("a span for the failed task");
    assert_eq!(app["args"]["outcome"], "failed (exit code 5)");
    assert_phases_nested(&trace);
}

#[test]
fn an_interrupted_run_still_writes_its_profile() {
    let repo = two_packages("echo ready && sleep 1000");
    let mut kiln = Running::start(
        repo.kiln()
            .args([
                "run",
                "build",
                "--profile",
                "trace.json",
                "--log-order",
                "stream",
            ])
            .env_remove("GITHUB_ACTIONS"),
    );
    kiln.wait_for(1, "app:build: ready");
    assert_eq!(kiln.interrupt().code(), Some(130));
    let trace = read_trace(&repo);
    let tasks = events(&trace, "X", "task");
    assert_eq!(tasks.len(), 2, "{tasks:?}");
    let app = tasks.iter().find(|t| t["name"] == "app#build").unwrap();
    assert_ne!(app["args"]["outcome"], "succeeded", "{app}");
    assert_phases_nested(&trace);
}

#[test]
fn a_profile_that_cannot_be_written_is_a_warning_not_a_failure() {
    let repo = two_packages("echo app built");
    repo.write("blocked", "a file, not a directory");
    let out = repo.run(&["run", "build", "--profile", "blocked/trace.json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("could not write the profile") && err.contains("blocked"),
        "{err}"
    );
}

#[test]
fn tasks_running_at_once_are_on_different_tracks() {
    let repo = Repo::npm_workspace();
    repo.write(
        "turbo.json",
        r#"{ "tasks": { "build": { "outputs": [] } } }"#,
    )
    .write(".gitignore", ".kiln/\ntrace.json\n");
    for name in ["x", "y", "z"] {
        repo.write(
            &format!("pkgs/{name}/package.json"),
            &format!(r#"{{ "name": "{name}", "scripts": {{ "build": "sleep 0.2" }} }}"#),
        );
    }
    repo.commit("fixture");
    repo.run_ok(&[
        "run",
        "build",
        "--concurrency",
        "2",
        "--profile",
        "trace.json",
    ]);
    let trace = read_trace(&repo);
    let tasks = events(&trace, "X", "task");
    assert_eq!(tasks.len(), 3);
    // A track is one worker, which runs one task at a time: its spans never overlap.
    for a in &tasks {
        for b in &tasks {
            if a["name"] != b["name"] && a["tid"] == b["tid"] {
                let disjoint =
                    end(a) <= b["ts"].as_u64().unwrap() || end(b) <= a["ts"].as_u64().unwrap();
                assert!(disjoint, "{a} and {b} overlap on one track");
            }
        }
    }
}
