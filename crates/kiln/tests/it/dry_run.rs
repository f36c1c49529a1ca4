//! `--dry-run` shows what would run, with keys and cache status, and executes nothing.

use crate::support::{Repo, stdout};

#[test]
fn dry_run_json_has_turbo_fields_and_cache_status_and_runs_nothing() {
    let repo = Repo::generated(12, &["--seed", "21"]);
    let out = repo.run_ok(&["run", "build", "--dry-run=json"]);
    assert_eq!(
        repo.take_exec_log(),
        Vec::<String>::new(),
        "a dry run executes nothing"
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    let tasks = json["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 12);
    for t in tasks {
        for field in [
            "taskId",
            "task",
            "package",
            "hash",
            "command",
            "directory",
            "outputs",
            "dependencies",
            "dependents",
        ] {
            assert!(!t[field].is_null(), "field {field} in {t}");
        }
        assert_eq!(t["cache"]["status"], "MISS");
        assert_eq!(t["hash"].as_str().unwrap().len(), 64);
        assert_eq!(t["command"], "node build.js");
    }

    repo.run_ok(&["run", "build"]);
    repo.take_exec_log();
    let out = repo.run_ok(&["run", "build", "--dry-run=json"]);
    let again: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for (a, b) in tasks.iter().zip(again["tasks"].as_array().unwrap()) {
        assert_eq!(a["taskId"], b["taskId"]);
        assert_eq!(a["hash"], b["hash"], "keys are stable across runs");
        assert_eq!(b["cache"]["status"], "HIT");
    }
}

#[test]
fn dry_run_text_lists_tasks_with_keys() {
    let repo = Repo::generated(4, &["--seed", "22", "--layers", "2"]);
    let out = repo.run_ok(&["run", "build", "--dry-run"]);
    let text = stdout(&out);
    assert_eq!(repo.take_exec_log(), Vec::<String>::new());
    for line in ["@bench/pkg-0000#build", "@bench/pkg-0003#build"] {
        assert!(text.contains(line), "{line} listed:\n{text}");
    }
    assert!(text.contains("MISS"), "{text}");
}
