//! Fail-fast by default, `--continue[=MODE]` on request (Turborepo 2.11's modes: a bare
//! `--continue` is `always`); the highest exit code of the failed tasks is kiln's.

use crate::support::{Repo, stderr, stdout};

/// a fails (exit 3); c and e depend on it; b and d are independent of it.
fn failing_repo() -> Repo {
    let repo = Repo::npm_workspace();
    repo.write(
        "turbo.json",
        r#"{ "tasks": { "build": { "dependsOn": ["^build"], "outputs": [] } } }"#,
    )
    .write(".gitignore", "ran/\n.kiln/\n");
    let pkg = |name: &str, deps: &[&str], script: &str| {
        let deps: Vec<String> = deps.iter().map(|d| format!("\"{d}\": \"*\"")).collect();
        repo.write(
            &format!("pkgs/{name}/package.json"),
            &format!(
                r#"{{ "name": "{name}", "scripts": {{ "build": "{script}" }}, "dependencies": {{ {} }} }}"#,
                deps.join(", ")
            ),
        );
    };
    let mark = |n: &str| format!("mkdir -p ../../ran && touch ../../ran/{n}");
    pkg(
        "a",
        &[],
        &format!("{} && echo a is failing && exit 3", mark("a")),
    );
    pkg("c", &["a"], &mark("c"));
    pkg("e", &["c"], &mark("e"));
    pkg("b", &[], &mark("b"));
    pkg("d", &["b"], &mark("d"));
    repo.commit("fixture");
    repo
}

fn ran(repo: &Repo) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(repo.path("ran"))
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn fail_fast_starts_nothing_after_the_failure_and_exits_with_its_code() {
    let repo = failing_repo();
    // One worker: `a` is on the longest path, so it starts first and fails first.
    let out = repo.run(&["run", "build", "--concurrency", "1"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(ran(&repo), ["a"]);
    assert!(stdout(&out).contains("a:build: a is failing"));
    assert!(
        stderr(&out).contains("a#build"),
        "the failure is named:\n{}",
        stderr(&out)
    );
}

#[test]
fn continue_runs_everything_that_does_not_depend_on_the_failure() {
    let repo = failing_repo();
    let out = repo.run(&[
        "run",
        "build",
        "--continue=dependencies-successful",
        "--concurrency",
        "2",
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(ran(&repo), ["a", "b", "d"]);
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        all.contains("c#build") && all.contains("skipped"),
        "skips are reported:\n{all}"
    );
}

#[test]
fn a_bare_continue_runs_even_the_dependents_of_the_failure_as_turbo_does() {
    let repo = failing_repo();
    let out = repo.run(&["run", "build", "--continue", "--concurrency", "2"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(ran(&repo), ["a", "b", "c", "d", "e"]);
    std::fs::remove_dir_all(repo.path("ran")).unwrap();
    let out = repo.run(&["run", "build", "--continue=never", "--concurrency", "1"]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(ran(&repo), ["a"]);
}

#[test]
fn with_several_failures_the_exit_code_is_the_highest() {
    let repo = failing_repo();
    repo.write(
        "pkgs/b/package.json",
        r#"{ "name": "b", "scripts": { "build": "exit 5" } }"#,
    );
    repo.commit("b fails too");
    let out = repo.run(&["run", "build", "--continue"]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
}

#[test]
fn failed_tasks_are_not_cached() {
    let repo = failing_repo();
    repo.run(&["run", "build", "--continue"]);
    std::fs::remove_dir_all(repo.path("ran")).unwrap();
    let out = repo.run(&["run", "build", "--continue"]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(ran(&repo), ["a"], "b and d were cached, a ran again");
}
