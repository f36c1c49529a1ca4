//! A remote cache behind the local one, for every remote store against its real server: a
//! build on one clone is restored on a clean second clone; a remote that is down or hangs
//! costs one warning and bounded time; a damaged artifact is a miss, rebuilt and repaired; a
//! read-only remote receives nothing; with a signing key, only artifacts signed with it are
//! used; symlinks (relative, to directories, dangling, pointing out of the package) and file
//! modes round-trip.

use std::collections::BTreeMap;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use kiln_testkit::{Silent, free_port};

use crate::remotes::{Kind, Remote, S3_ACCESS_KEY, S3_SECRET_KEY, TOKEN};
use crate::support::{Repo, dist_trees, stderr, stdout};

/// One test per remote store.
macro_rules! for_each_remote {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use super::*;
            #[test]
            fn redis() {
                super::$name(Kind::Redis);
            }
            #[test]
            fn turborepo_http() {
                super::$name(Kind::Http);
            }
            #[test]
            fn reapi_buildgrid() {
                super::$name(Kind::Reapi);
            }
            #[test]
            fn s3() {
                super::$name(Kind::S3);
            }
        }
    )*};
}

for_each_remote!(
    a_clean_clone_restores_everything,
    a_damaged_artifact_is_rebuilt_and_repaired,
    a_remote_that_hangs_costs_one_warning_and_bounded_time,
    a_remote_that_is_down_costs_one_warning,
    a_read_only_remote_receives_nothing,
    only_artifacts_signed_with_the_key_are_used,
    symlinks_and_modes_round_trip,
);

/// A clean second clone of `repo`: same files, no `.kiln/`, no outputs.
pub(crate) fn second_clone(repo: &Repo) -> Repo {
    let clone = Repo::empty();
    let status = Command::new("git")
        .args(["clone", "-q"])
        .arg(&repo.root)
        .arg(&clone.root)
        .status()
        .unwrap();
    assert!(status.success());
    clone
}

pub(crate) fn build(repo: &Repo, url: &str, extra: &[&str]) -> Output {
    build_env(repo, url, extra, &[])
}

fn build_env(repo: &Repo, url: &str, extra: &[&str], env: &[(&str, &str)]) -> Output {
    repo.kiln()
        .args(["run", "build", "--remote-cache", url])
        .args(extra)
        .env("KILN_REMOTE_CACHE_TOKEN", TOKEN)
        .env("AWS_ACCESS_KEY_ID", S3_ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", S3_SECRET_KEY)
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

/// `package name → key` of every `build` task, from the dry run.
pub(crate) fn build_keys(repo: &Repo) -> BTreeMap<String, String> {
    let out = repo.run_ok(&["run", "build", "--dry-run=json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    json["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["package"].as_str().unwrap().to_string(),
                t["hash"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Lines of kiln's stderr that are warnings.
fn warnings(out: &Output) -> Vec<String> {
    stderr(out)
        .lines()
        .filter(|l| l.to_lowercase().contains("warn"))
        .map(str::to_string)
        .collect()
}

fn a_clean_clone_restores_everything(kind: Kind) {
    let remote = Remote::start(kind);
    let first = Repo::generated(6, &[]);
    let out = build(&first, &remote.url(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(first.take_exec_log().len(), 6);

    let second = second_clone(&first);
    let out = build(&second, &remote.url(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(second.take_exec_log().is_empty(), "all from the remote");
    assert!(
        stdout(&out).contains("cache hit (remote)"),
        "{}",
        stdout(&out)
    );
    assert!(stdout(&out).contains("6 cached"), "{}", stdout(&out));
    assert_eq!(dist_trees(&first), dist_trees(&second), "byte-identical");
    assert!(warnings(&out).is_empty(), "{}", stderr(&out));
}

fn a_damaged_artifact_is_rebuilt_and_repaired(kind: Kind) {
    let remote = Remote::start(kind);
    let first = Repo::generated(6, &[]);
    assert!(build(&first, &remote.url(), &[]).status.success());
    first.take_exec_log();
    let keys = build_keys(&first);
    let (victim, key) = keys.iter().nth(2).unwrap();
    remote.damage(key);

    let second = second_clone(&first);
    let out = build(&second, &remote.url(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(second.take_exec_log().len(), 1, "only {victim} is rebuilt");
    assert!(stderr(&out).contains(key.as_str()), "{}", stderr(&out));
    assert_eq!(dist_trees(&first), dist_trees(&second));

    // The rebuilt result replaced the damaged one: a third clone restores everything.
    let third = second_clone(&first);
    let out = build(&third, &remote.url(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(third.take_exec_log().is_empty(), "{}", stderr(&out));
    assert_eq!(dist_trees(&first), dist_trees(&third));
}

fn a_remote_that_hangs_costs_one_warning_and_bounded_time(kind: Kind) {
    let silent = Silent::start();
    let url = kind.url(silent.port());
    let repo = Repo::generated(8, &[]);
    let started = Instant::now();
    let out = build_env(&repo, &url, &[], &[("KILN_REMOTE_CACHE_TIMEOUT", "300ms")]);
    let took = started.elapsed();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(repo.take_exec_log().len(), 8);
    assert_eq!(warnings(&out).len(), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("is not answering"),
        "{}",
        stderr(&out)
    );
    // Bounded, not fast: a handful of timed-out calls, then the breaker stops calling.
    assert!(took < Duration::from_secs(60), "{took:?}");
    assert!(
        silent.connections() < 40,
        "{} connections",
        silent.connections()
    );
}

fn a_remote_that_is_down_costs_one_warning(kind: Kind) {
    let url = kind.url(free_port());
    let repo = Repo::generated(6, &[]);
    let out = build(&repo, &url, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(repo.take_exec_log().len(), 6);
    assert_eq!(warnings(&out).len(), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("is not answering"),
        "{}",
        stderr(&out)
    );
    // The local cache works as ever.
    let again = build(&repo, &url, &[]);
    assert!(stdout(&again).contains("6 cached"), "{}", stdout(&again));
}

fn a_read_only_remote_receives_nothing(kind: Kind) {
    let remote = Remote::start(kind);
    let first = Repo::generated(4, &[]);
    let out = build(&first, &remote.url(), &["--cache", "local:rw,remote:r"]);
    assert!(out.status.success(), "{}", stderr(&out));
    for key in build_keys(&first).values() {
        assert!(remote.client().contains(key).unwrap().is_none());
    }
    let second = second_clone(&first);
    let out = build(&second, &remote.url(), &[]);
    assert!(out.status.success());
    assert_eq!(second.take_exec_log().len(), 4, "nothing was uploaded");
    let bad = build(&second, &remote.url(), &["--cache", "remote:sometimes"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("--cache"), "{}", stderr(&bad));
}

fn only_artifacts_signed_with_the_key_are_used(kind: Kind) {
    let remote = Remote::start(kind);
    let key_a = [("KILN_REMOTE_CACHE_SIGNATURE_KEY", "team secret")];
    let key_b = [("KILN_REMOTE_CACHE_SIGNATURE_KEY", "someone else")];

    // Unsigned uploads are not used by a reader that requires signatures.
    let unsigned = Repo::generated(3, &[]);
    assert!(build(&unsigned, &remote.url(), &[]).status.success());
    let reader = second_clone(&unsigned);
    let out = build_env(
        &reader,
        &remote.url(),
        &["--cache", "local:rw,remote:r"],
        &key_a,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(reader.take_exec_log().len(), 3, "unsigned: all rebuilt");
    assert_eq!(warnings(&out).len(), 1, "{}", stderr(&out));

    // Signed uploads are used with the same key only.
    let signed = Repo::generated(4, &["--seed", "7"]);
    assert!(
        build_env(&signed, &remote.url(), &[], &key_a)
            .status
            .success()
    );
    let other = second_clone(&signed);
    let out = build_env(
        &other,
        &remote.url(),
        &["--cache", "local:rw,remote:r"],
        &key_b,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(other.take_exec_log().len(), 4, "wrong key: all rebuilt");
    let same = second_clone(&signed);
    let out = build_env(&same, &remote.url(), &[], &key_a);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(same.take_exec_log().is_empty(), "{}", stderr(&out));
    assert_eq!(dist_trees(&signed), dist_trees(&same));
}

/// A one-package repository whose build writes symlinks of every kind and an executable.
fn symlink_repo() -> Repo {
    let repo = Repo::empty();
    repo.write(
        "kiln.toml",
        "[workspace]\nmembers = [\"tools/*\"]\n\n[tasks.build]\noutputs = [\"out/**\"]\n",
    )
    .write(
        "tools/gen/kiln.toml",
        "[package]\nname = \"gen\"\n\n[tasks.build]\ncommand = \"sh build.sh\"\n",
    )
    .write(
        "tools/gen/build.sh",
        r#"set -e
rm -rf out
mkdir -p out/bin
printf 'data\n' > out/data.txt
printf '#!/bin/sh\necho hi\n' > out/bin/tool
chmod 755 out/bin/tool
ln -s data.txt out/link
ln -s bin out/bin-link
ln -s missing.txt out/dangling
ln -s ../../../outside.txt out/outside-link
"#,
    )
    .write(".gitignore", "out/\n.kiln/\n");
    repo.commit("fixture");
    repo
}

fn symlinks_and_modes_round_trip(kind: Kind) {
    use std::os::unix::fs::PermissionsExt;

    let remote = Remote::start(kind);
    let first = symlink_repo();
    let out = build(&first, &remote.url(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let second = second_clone(&first);
    let out = build(&second, &remote.url(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("cache hit (remote)"),
        "{}",
        stdout(&out)
    );

    let out_dir = second.path("tools/gen/out");
    for (link, target) in [
        ("link", "data.txt"),
        ("bin-link", "bin"),
        ("dangling", "missing.txt"),
        ("outside-link", "../../../outside.txt"),
    ] {
        let path = out_dir.join(link);
        assert!(path.symlink_metadata().unwrap().is_symlink(), "{link}");
        assert_eq!(std::fs::read_link(&path).unwrap().to_str(), Some(target));
    }
    assert_eq!(std::fs::read(out_dir.join("link")).unwrap(), b"data\n");
    let tool = out_dir.join("bin/tool");
    assert_eq!(
        std::fs::metadata(&tool).unwrap().permissions().mode() & 0o777,
        0o755
    );
    assert!(
        !second.path("outside.txt").exists(),
        "targets are never followed"
    );
}

/// Turborepo's `--cache=remote:r`: the local cache is off, the remote is read only. Hits
/// come from the remote (nothing the local cache held is used), nothing is stored anywhere.
#[test]
fn a_remote_only_read_cache_uses_the_remote_alone() {
    let remote = Remote::start(Kind::Redis);
    let first = Repo::generated(3, &[]);
    assert!(build(&first, &remote.url(), &[]).status.success());
    let second = second_clone(&first);
    let out = build(&second, &remote.url(), &["--cache=remote:r"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(second.take_exec_log().is_empty(), "{}", stdout(&out));
    assert!(stdout(&out).contains("3 cached"), "{}", stdout(&out));
    assert_eq!(dist_trees(&first), dist_trees(&second));
    // A local-only run of the same clone finds nothing: the remote run stored nothing.
    let out = build(&second, &remote.url(), &["--cache=local:rw"]);
    assert!(stdout(&out).contains("3 ran"), "{}", stdout(&out));
    // And with the remote unreadable, the local cache alone is not consulted.
    let out = build(&second, &remote.url(), &["--cache=local:w,remote:w"]);
    assert!(stdout(&out).contains("3 ran"), "{}", stdout(&out));
}

/// The newest run record of `repo` (`.kiln/runs/`, format 2).
fn last_record(repo: &Repo) -> serde_json::Value {
    let mut runs: Vec<_> = std::fs::read_dir(repo.path(".kiln/runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    runs.sort();
    serde_json::from_slice(&std::fs::read(runs.last().unwrap()).unwrap()).unwrap()
}

fn phase_names(task: &serde_json::Value) -> Vec<String> {
    task["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect()
}

/// The run record has every phase of every task, the uploads included (they end after the
/// task, on the uploader), and names the remote a hit came from.
#[test]
fn the_run_record_tells_uploads_and_remote_hits() {
    let remote = Remote::start(Kind::Http);
    let first = Repo::generated(4, &[]);
    let out = build(&first, &remote.url(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let record = last_record(&first);
    assert_eq!(record["format"], 2);
    let tasks = record["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 4);
    for task in tasks {
        assert_eq!(
            phase_names(task),
            ["cache_lookup", "execute", "store", "upload"],
            "{task}"
        );
        assert_eq!(task["executed"], true);
        assert_eq!(task["reason"]["reason"], "never_run");
        assert!(task["worker"].is_u64(), "{task}");
    }

    let second = second_clone(&first);
    let out = build(&second, &remote.url(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    for task in last_record(&second)["tasks"].as_array().unwrap() {
        assert_eq!(task["cache"]["source"], "remote", "{task}");
        assert!(
            task["remote"].as_str().is_some_and(|r| !r.is_empty()),
            "{task}"
        );
        assert_eq!(task["executed"], false);
        assert!(task.get("reason").is_none(), "{task}");
        assert!(phase_names(task).contains(&"restore".to_string()), "{task}");
    }
}
