//! A cold run builds everything in order; a rerun is all hits; deleted outputs come back
//! byte-identical; one edit re-runs exactly the affected set; a corrupt entry is re-run.

use std::collections::BTreeSet;

use crate::support::{Repo, artifact_blobs, dist_trees, stderr, stdout};

/// The package and everything that depends on it, transitively (from the generator's DAG).
fn with_dependents(repo: &Repo, name: &str) -> Vec<String> {
    let meta = repo.meta();
    let packages = meta["packages"].as_array().unwrap();
    let mut set = BTreeSet::from([name.to_string()]);
    loop {
        let before = set.len();
        for p in packages {
            let deps = p["deps"].as_array().unwrap();
            if deps.iter().any(|d| set.contains(d.as_str().unwrap())) {
                set.insert(p["name"].as_str().unwrap().to_string());
            }
        }
        if set.len() == before {
            return set.into_iter().collect();
        }
    }
}

fn all_packages(repo: &Repo) -> Vec<String> {
    let meta = repo.meta();
    let mut names: Vec<String> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

fn leaf(repo: &Repo) -> String {
    let meta = repo.meta();
    meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["layer"] == 0)
        .max_by_key(|p| {
            (
                p["transitiveDependents"].as_u64(),
                p["name"].as_str().map(str::to_string),
            )
        })
        .unwrap()["name"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn cold_run_builds_every_package_once_then_rerun_is_all_cache_hits() {
    let repo = Repo::generated(40, &["--seed", "7"]);
    repo.run_ok(&["run", "build"]);
    assert_eq!(repo.take_exec_log(), all_packages(&repo));

    let out = repo.run_ok(&["run", "build"]);
    assert_eq!(
        repo.take_exec_log(),
        Vec::<String>::new(),
        "a rerun executes nothing"
    );
    let text = stdout(&out);
    assert!(
        text.contains("40 cached"),
        "summary counts the hits:\n{text}"
    );
}

#[test]
fn deleted_outputs_are_restored_byte_identical_with_the_log_replayed() {
    let repo = Repo::generated(20, &["--seed", "3"]);
    let first = repo.run_ok(&["run", "build"]);
    repo.take_exec_log();
    let built = dist_trees(&repo);
    assert_eq!(built.len(), 40, "two dist files per package");

    for entry in std::fs::read_dir(repo.path("packages")).unwrap() {
        let _ = std::fs::remove_dir_all(entry.unwrap().path().join("dist"));
    }
    let second = repo.run_ok(&["run", "build"]);
    assert_eq!(repo.take_exec_log(), Vec::<String>::new());
    assert_eq!(
        dist_trees(&repo),
        built,
        "restored outputs equal the built ones"
    );

    // The build prints "<name>: built N files ... -> dist <hash>": replayed on a hit.
    let line = stdout(&first)
        .lines()
        .find(|l| l.contains("built") && l.contains("-> dist"))
        .unwrap()
        .to_string();
    assert!(stdout(&second).contains(&line), "log replayed: {line}");
}

#[test]
fn one_edit_reruns_exactly_the_package_and_its_dependents() {
    let repo = Repo::generated(40, &["--seed", "11"]);
    repo.run_ok(&["run", "build"]);
    repo.take_exec_log();
    let leaf = leaf(&repo);
    repo.touch(&leaf);
    repo.run_ok(&["run", "build"]);
    let expected = with_dependents(&repo, &leaf);
    assert!(expected.len() > 1);
    assert_eq!(repo.take_exec_log(), expected);

    // The same edit again is now cached; an app edit re-runs only the app.
    repo.run_ok(&["run", "build"]);
    assert_eq!(repo.take_exec_log(), Vec::<String>::new());
    repo.touch("app");
    repo.run_ok(&["run", "build"]);
    assert_eq!(repo.take_exec_log().len(), 1);
}

#[test]
fn incremental_outputs_equal_a_clean_build() {
    let repo = Repo::generated(25, &["--seed", "5"]);
    repo.run_ok(&["run", "build"]);
    repo.touch("mid");
    repo.run_ok(&["run", "build"]);
    let incremental = dist_trees(&repo);

    let _ = std::fs::remove_dir_all(repo.path(".kiln"));
    for entry in std::fs::read_dir(repo.path("packages")).unwrap() {
        let _ = std::fs::remove_dir_all(entry.unwrap().path().join("dist"));
    }
    repo.run_ok(&["run", "build"]);
    assert_eq!(dist_trees(&repo), incremental);
}

#[test]
fn corrupt_cache_entry_is_discarded_with_a_warning_and_the_task_rerun() {
    let repo = Repo::generated(5, &["--seed", "2", "--layers", "1"]);
    repo.run_ok(&["run", "build"]);
    repo.take_exec_log();
    let before = dist_trees(&repo);

    // Flip one byte in the middle of every artifact blob.
    let blobs = artifact_blobs(&repo);
    assert_eq!(blobs.len(), 5);
    for blob in &blobs {
        let mut bytes = std::fs::read(blob).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0xff;
        std::fs::write(blob, bytes).unwrap();
    }
    for entry in std::fs::read_dir(repo.path("packages")).unwrap() {
        let _ = std::fs::remove_dir_all(entry.unwrap().path().join("dist"));
    }
    let out = repo.run_ok(&["run", "build"]);
    assert_eq!(
        repo.take_exec_log().len(),
        5,
        "every corrupt entry was re-run"
    );
    assert!(
        stderr(&out).to_lowercase().contains("corrupt"),
        "a warning names the corruption:\n{}",
        stderr(&out)
    );
    assert_eq!(dist_trees(&repo), before);

    // The re-run stored fresh entries: the next run is all hits.
    repo.run_ok(&["run", "build"]);
    assert_eq!(repo.take_exec_log(), Vec::<String>::new());
}

#[test]
fn force_reruns_everything_and_no_cache_stores_nothing() {
    let repo = Repo::generated(6, &["--seed", "4"]);
    repo.run_ok(&["run", "build", "--no-cache"]);
    assert_eq!(repo.take_exec_log().len(), 6);
    repo.run_ok(&["run", "build"]);
    assert_eq!(repo.take_exec_log().len(), 6, "--no-cache stored nothing");
    repo.run_ok(&["run", "build", "--force"]);
    assert_eq!(repo.take_exec_log().len(), 6);
}

#[test]
fn env_var_declared_in_the_pipeline_is_part_of_the_key() {
    let repo = Repo::generated(3, &["--seed", "9", "--layers", "1"]);
    repo.write(
        "turbo.json",
        r#"{ "tasks": { "build": { "dependsOn": ["^build"], "outputs": ["dist/**"], "env": ["API_URL"] } } }"#,
    );
    repo.commit("env");
    repo.kiln()
        .args(["run", "build"])
        .env("API_URL", "a")
        .output()
        .unwrap();
    assert_eq!(repo.take_exec_log().len(), 3);
    repo.kiln()
        .args(["run", "build"])
        .env("API_URL", "a")
        .output()
        .unwrap();
    assert_eq!(repo.take_exec_log().len(), 0);
    repo.kiln()
        .args(["run", "build"])
        .env("API_URL", "b")
        .output()
        .unwrap();
    assert_eq!(repo.take_exec_log().len(), 3);
    // An undeclared variable does not change the key.
    repo.kiln()
        .args(["run", "build"])
        .env("API_URL", "b")
        .env("UNRELATED", "x")
        .output()
        .unwrap();
    assert_eq!(repo.take_exec_log().len(), 0);
}

#[test]
fn a_result_larger_than_the_artifact_limit_is_not_cached_and_says_why() {
    let repo = Repo::generated(3, &[]);
    let out = repo
        .kiln()
        .args(["run", "build"])
        .env("KILN_CACHE_MAX_ARTIFACT_SIZE", "100")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("max_artifact_size"),
        "{}",
        stderr(&out)
    );
    assert!(artifact_blobs(&repo).is_empty());
    repo.take_exec_log();

    // Under the default limit the same results are cached.
    let out = repo.run_ok(&["run", "build", "--force"]);
    assert!(
        !stderr(&out).contains("max_artifact_size"),
        "{}",
        stderr(&out)
    );
    assert_eq!(artifact_blobs(&repo).len(), 3);

    let bad = repo
        .kiln()
        .args(["run", "build"])
        .env("KILN_CACHE_MAX_ARTIFACT_SIZE", "lots")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1), "{}", stderr(&bad));
    assert!(
        stderr(&bad).contains("KILN_CACHE_MAX_ARTIFACT_SIZE"),
        "{}",
        stderr(&bad)
    );
}
