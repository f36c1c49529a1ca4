//! `kiln cache …` on a real repository: stats and the hit rate, listing, pruning the least
//! recently used, verify evicting a damaged entry, clear, and the automatic pruning after
//! runs.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::support::{Repo, artifact_blobs, stderr, stdout};

/// Four independent packages (`@bench/pkg-0000` … `@bench/pkg-0003`), each with a cached `build`.
fn four_packages() -> Repo {
    Repo::generated(4, &["--seed", "2", "--layers", "1"])
}

fn json(repo: &Repo, args: &[&str]) -> Value {
    serde_json::from_str(&stdout(&repo.run_ok(args))).unwrap()
}

/// Every metadata sidecar of the repo's local cache.
fn sidecars(repo: &Repo) -> Vec<PathBuf> {
    artifact_blobs(repo)
        .iter()
        .map(|blob| PathBuf::from(blob.to_string_lossy().replace(".tar.zst", ".json")))
        .collect()
}

/// The `kiln cache ls --json` row of `task`.
fn entry_of(repo: &Repo, task: &str) -> Value {
    let rows = json(repo, &["cache", "ls", "--json"]);
    rows.as_array()
        .unwrap()
        .iter()
        .find(|row| row["task"] == task)
        .unwrap_or_else(|| panic!("no entry for {task} in {rows:#}"))
        .clone()
}

#[test]
fn stats_count_the_entries_and_the_hit_rate_of_recent_runs() {
    let repo = four_packages();
    repo.run_ok(&["run", "build"]);
    repo.run_ok(&["run", "build"]);

    let stats = json(&repo, &["cache", "stats", "--json"]);
    assert_eq!(stats["entries"], 4, "{stats:#}");
    let on_disk: u64 = artifact_blobs(&repo)
        .iter()
        .chain(&sidecars(&repo))
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum();
    assert_eq!(stats["entry_bytes"], on_disk);
    let runs = &stats["recent_runs"];
    assert_eq!(runs["runs"], 2);
    assert_eq!(
        (runs["local_hits"].as_u64(), runs["misses"].as_u64()),
        (Some(4), Some(4))
    );
    assert_eq!(runs["hit_rate"], 0.5);
    assert_eq!(stats["limits"]["max_size"], 10u64 << 30);
    assert_eq!(stats["limits"]["max_size_from"], "default");

    let text = stdout(&repo.run_ok(&["cache", "stats"]));
    assert!(text.contains("hit rate     50.0%"), "{text}");
    assert!(text.contains("entries      4"), "{text}");

    let rows = json(&repo, &["cache", "ls", "--json"]);
    let mut tasks: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["task"].as_str().unwrap())
        .collect();
    tasks.sort();
    assert_eq!(
        tasks,
        [
            "@bench/pkg-0000#build",
            "@bench/pkg-0001#build",
            "@bench/pkg-0002#build",
            "@bench/pkg-0003#build"
        ]
    );
    assert!(rows[0]["files"].as_u64().unwrap() > 0 && rows[0]["bytes"].as_u64().unwrap() > 0);
    let text = stdout(&repo.run_ok(&["cache", "ls", "--sort", "size"]));
    assert_eq!(
        text.lines().count(),
        5,
        "a header and a line per entry:\n{text}"
    );
    assert!(text.contains("@bench/pkg-0002#build"), "{text}");
}

#[test]
fn prune_to_a_size_keeps_the_most_recently_used_entry() {
    let repo = four_packages();
    repo.run_ok(&["run", "build"]);
    repo.take_exec_log();
    // Everything was last used two hours ago; then a run hits pkg-0002 alone.
    let earlier = SystemTime::now() - Duration::from_secs(2 * 3600);
    for sidecar in sidecars(&repo) {
        let file = std::fs::File::options().write(true).open(&sidecar).unwrap();
        file.set_modified(earlier).unwrap();
    }
    repo.run_ok(&["run", "build", "--filter", "@bench/pkg-0002"]);
    assert_eq!(repo.take_exec_log(), Vec::<String>::new(), "a hit");

    let keep = entry_of(&repo, "@bench/pkg-0002#build")["bytes"]
        .as_u64()
        .unwrap();
    let dry = repo.run_ok(&[
        "cache",
        "prune",
        "--max-size",
        &keep.to_string(),
        "--dry-run",
    ]);
    assert!(
        stdout(&dry).contains("would remove 3 entries"),
        "{}",
        stdout(&dry)
    );
    assert_eq!(json(&repo, &["cache", "stats", "--json"])["entries"], 4);

    let out = repo.run_ok(&["cache", "prune", "--max-size", &keep.to_string()]);
    assert!(
        stdout(&out).contains("removed 3 entries"),
        "{}",
        stdout(&out)
    );
    assert!(stdout(&out).contains("1 entries"), "{}", stdout(&out));

    repo.run_ok(&["run", "build"]);
    assert_eq!(
        repo.take_exec_log(),
        ["@bench/pkg-0000", "@bench/pkg-0001", "@bench/pkg-0003"]
    );
}

/// [`four_packages`] built, with the key of `@bench/pkg-0001#build` and the cache shard
/// its entry is in.
fn built_with_shard_of_pkg_1() -> (Repo, String, PathBuf) {
    let repo = four_packages();
    repo.run_ok(&["run", "build"]);
    repo.take_exec_log();
    let key = entry_of(&repo, "@bench/pkg-0001#build")["key"]
        .as_str()
        .unwrap()
        .to_string();
    let shard = repo.path(&format!(".kiln/cache/artifacts-v1/{}", &key[..2]));
    (repo, key, shard)
}

#[test]
fn verify_evicts_a_damaged_blob_and_the_next_run_rebuilds_that_task_only() {
    let (repo, key, shard) = built_with_shard_of_pkg_1();
    let blob = shard.join(format!("{key}.tar.zst"));
    let mut bytes = std::fs::read(&blob).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&blob, bytes).unwrap();

    let out = repo.run(&["cache", "verify"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(text.contains(&format!("damaged: {key}")), "{text}");
    assert!(
        text.contains("4 entries") && text.contains("3 ok, 1 damaged"),
        "{text}"
    );
    let again = json(&repo, &["cache", "verify", "--json"]);
    assert_eq!(
        (again["checked"].as_u64(), again["ok"].as_u64()),
        (Some(3), Some(3))
    );

    repo.run_ok(&["run", "build"]);
    assert_eq!(repo.take_exec_log(), ["@bench/pkg-0001"]);
}

#[test]
fn a_directory_where_a_blob_goes_is_reported_repaired_and_the_task_cached_again() {
    let (repo, key, shard) = built_with_shard_of_pkg_1();
    std::fs::remove_file(shard.join(format!("{key}.tar.zst"))).unwrap();
    std::fs::remove_file(shard.join(format!("{key}.json"))).unwrap();
    std::fs::create_dir_all(shard.join(format!("{key}.tar.zst/in-the-way"))).unwrap();

    let out = repo.run(&["cache", "verify"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains(&format!("damaged: {key}")),
        "{}",
        stdout(&out)
    );
    assert!(!shard.join(format!("{key}.tar.zst")).exists(), "removed");

    // And a run stores through one as well: the task is cacheable again at once.
    std::fs::create_dir_all(shard.join(format!("{key}.json/in-the-way"))).unwrap();
    repo.run_ok(&["run", "build", "--force", "--filter", "@bench/pkg-0001"]);
    repo.take_exec_log();
    repo.run_ok(&["run", "build", "--filter", "@bench/pkg-0001"]);
    assert_eq!(repo.take_exec_log(), Vec::<String>::new(), "a hit");
}

#[test]
fn clear_empties_the_cache_and_everything_rebuilds() {
    let repo = four_packages();
    repo.run_ok(&["run", "build"]);
    repo.take_exec_log();
    let out = repo.run_ok(&["cache", "clear"]);
    assert!(
        stdout(&out).starts_with("removed 4 entries, freed "),
        "{}",
        stdout(&out)
    );
    assert_eq!(json(&repo, &["cache", "stats", "--json"])["entries"], 0);
    assert!(stdout(&repo.run_ok(&["cache", "ls"])).contains("empty"));
    repo.run_ok(&["run", "build"]);
    assert_eq!(repo.take_exec_log().len(), 4);
}

#[test]
fn runs_prune_the_cache_back_under_a_small_limit() {
    let repo = four_packages();
    let out = repo
        .kiln()
        .args(["run", "build"])
        .env("KILN_CACHE_MAX_SIZE", "off")
        .output()
        .unwrap();
    assert!(out.status.success());
    let full = json(&repo, &["cache", "stats", "--json"])["entry_bytes"]
        .as_u64()
        .unwrap();
    repo.run_ok(&["cache", "clear"]);

    let limit = full / 2;
    let out = repo
        .kiln()
        .args(["run", "build"])
        .env("KILN_CACHE_MAX_SIZE", limit.to_string())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("pruned the local cache"),
        "{}",
        stderr(&out)
    );
    let stats = json(&repo, &["cache", "stats", "--json"]);
    let left = stats["entry_bytes"].as_u64().unwrap();
    assert!(
        left <= limit && left > 0,
        "{left} of {limit} (full: {full})"
    );
    let entries = stats["entries"].as_u64().unwrap();
    assert!((1..4).contains(&entries), "{stats:#}");

    // A bad limit is a warning, never a failed run.
    repo.run_ok(&["cache", "clear"]);
    let out = repo
        .kiln()
        .args(["run", "build"])
        .env("KILN_CACHE_MAX_SIZE", "lots")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(
        stderr(&out).contains("KILN_CACHE_MAX_SIZE"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn cache_limits_come_from_kiln_toml_and_bad_ones_name_their_line() {
    let repo = Repo::empty();
    repo.write(
        "kiln.toml",
        "[workspace]\nmembers = []\n\n[cache]\nmax_size = \"1MB\"\nmax_age = \"14d\"\n",
    );
    let stats = json(&repo, &["cache", "stats", "--json"]);
    assert_eq!(stats["limits"]["max_size"], 1_000_000);
    assert_eq!(stats["limits"]["max_size_from"], "kiln.toml");
    assert_eq!(stats["limits"]["max_age_secs"], 14 * 86400);
    let env = repo
        .kiln()
        .args(["cache", "stats", "--json"])
        .env("KILN_CACHE_MAX_AGE", "0")
        .output()
        .unwrap();
    let stats: Value = serde_json::from_slice(&env.stdout).unwrap();
    assert_eq!(stats["limits"]["max_age_secs"], Value::Null);

    repo.write(
        "kiln.toml",
        "[workspace]\nmembers = []\n\n[cache]\nmax_age = \"a month\"\n",
    );
    let out = repo.run(&["cache", "stats"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("kiln.toml:5:11"), "{}", stderr(&out));
}
