//! turbo 2's `run` flags and `turbo.json` keys that scripts and CI files depend on, each
//! checked against what the real turbo does where turbo is the reference.

use std::collections::BTreeSet;

use crate::support::{Repo, stderr, stdout};
use crate::turbo_graph::{assert_same_graph, graph_of, kiln_dry, turbo, turbo_dry};
use crate::turbo_repos::{package, workspace};

/// `web` → `ui` → `utils`; `docs` → `ui`; `config` has no scripts. Each script records its
/// name and arguments under `ran/`.
fn repo() -> Repo {
    let repo = workspace(
        &["packages/*"],
        r#"{
  "tasks": {
    "build": { "dependsOn": ["^build", "lint"], "outputs": ["dist/**"] },
    "lint": { "outputLogs": "hash-only" },
    "dev": { "persistent": true, "cache": false, "with": ["watch"] },
    "watch": { "persistent": true, "cache": false }
  }
}"#,
    );
    repo.write(
        "record.js",
        "const fs = require('fs'); const [task, ...args] = process.argv.slice(2);\n\
         fs.mkdirSync(__dirname + '/ran', { recursive: true });\n\
         fs.writeFileSync(`${__dirname}/ran/${process.env.npm_package_name}-${task}`, JSON.stringify(args));\n\
         console.log(`${task} of ${process.env.npm_package_name}`);\n",
    );
    let record = |task: &str| format!("node ../../record.js {task}");
    let scripts = |tasks: &[&str]| -> Vec<(String, String)> {
        tasks.iter().map(|t| (t.to_string(), record(t))).collect()
    };
    for (dir, name, deps, tasks) in [
        ("packages/utils", "utils", vec![], vec!["build", "lint"]),
        ("packages/ui", "ui", vec!["utils"], vec!["build", "lint"]),
        (
            "packages/web",
            "web",
            vec!["ui"],
            vec!["build", "lint", "dev", "watch"],
        ),
        ("packages/docs", "docs", vec!["ui"], vec!["lint"]),
        ("packages/config", "config", vec![], vec![]),
    ] {
        let owned = scripts(&tasks);
        let pairs: Vec<(&str, &str)> = owned
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        package(&repo, dir, name, &deps, &pairs);
    }
    repo.commit("fixture");
    repo
}

fn ran(repo: &Repo) -> BTreeSet<String> {
    let names = std::fs::read_dir(repo.path("ran"))
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    let _ = std::fs::remove_dir_all(repo.path("ran"));
    names
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn only_and_with_build_turbos_graphs() {
    let repo = repo();
    for args in [
        vec!["build", "--only"],
        vec!["build", "--only", "--filter=web"],
        vec!["build", "lint", "--only", "--filter=web"],
        vec!["dev"],
        vec!["dev", "--filter=web"],
    ] {
        assert_same_graph(&repo, &args);
    }
    repo.run_ok(&["run", "build", "--only", "--filter=web"]);
    assert_eq!(ran(&repo), set(&["web-build"]));
}

#[test]
fn the_task_shorthand_is_kiln_run() {
    let repo = repo();
    let shorthand = repo.run_ok(&["build", "--filter=web", "--dry-run=json"]);
    let json: serde_json::Value = serde_json::from_slice(&shorthand.stdout).unwrap();
    assert_eq!(
        graph_of(&json),
        graph_of(&kiln_dry(&repo, &["build", "--filter=web"]))
    );
    repo.run_ok(&["lint", "--filter=utils"]);
    assert_eq!(ran(&repo), set(&["utils-lint"]));
}

#[test]
fn arguments_after_the_double_dash_reach_the_named_tasks_as_in_turbo() {
    let repo = repo();
    let out = turbo(&repo)
        .args(["run", "build", "--filter=ui", "--", "--prod", "a b"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let read = |repo: &Repo| -> Vec<(String, String)> {
        let mut got: Vec<(String, String)> = std::fs::read_dir(repo.path("ran"))
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let argv = std::fs::read_to_string(e.path()).unwrap();
                (e.file_name().to_string_lossy().into_owned(), argv)
            })
            .collect();
        got.sort();
        let _ = std::fs::remove_dir_all(repo.path("ran"));
        got
    };
    let by_turbo = read(&repo);
    repo.run_ok(&["run", "build", "--filter=ui", "--", "--prod", "a b"]);
    let by_kiln = read(&repo);
    assert_eq!(by_kiln, by_turbo);
    assert!(
        by_kiln.contains(&("ui-build".into(), r#"["--prod","a b"]"#.into())),
        "{by_kiln:?}"
    );
    assert!(
        by_kiln.contains(&("ui-lint".into(), "[]".into())),
        "{by_kiln:?}"
    );
    // The arguments are in the keys of the tasks that get them.
    let again = repo.run_ok(&["run", "build", "--filter=ui", "--", "--prod", "a b"]);
    assert!(ran(&repo).is_empty(), "{}", stdout(&again));
    repo.run_ok(&["run", "build", "--filter=ui", "--", "--dev"]);
    assert_eq!(ran(&repo), set(&["ui-build", "utils-build"]));
}

#[test]
fn output_logs_and_log_prefix_print_what_turbo_prints() {
    let repo = repo();
    // `lint` is `hash-only` in turbo.json: its hash line and nothing of its output.
    let out = repo.run_ok(&["run", "lint", "--filter=utils"]);
    let text = stdout(&out);
    assert!(text.contains("utils:lint: cache miss, executing"), "{text}");
    assert!(!text.contains("lint of utils"), "{text}");
    // `--output-logs` is over every task's own; a hit prints only its hash line in new-only.
    let out = repo.run_ok(&["run", "lint", "--filter=utils", "--output-logs=full"]);
    assert!(
        stdout(&out).contains("utils:lint: cache hit, replaying logs"),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out).contains("utils:lint: lint of utils"),
        "{}",
        stdout(&out)
    );
    let out = repo.run_ok(&["run", "lint", "--filter=utils", "--output-logs=new-only"]);
    assert!(
        stdout(&out).contains("cache hit, suppressing logs"),
        "{}",
        stdout(&out)
    );
    let out = repo.run_ok(&[
        "run",
        "lint",
        "--filter=utils",
        "--output-logs=errors-only",
        "--force",
    ]);
    assert!(!stdout(&out).contains("utils:lint"), "{}", stdout(&out));
    // `--force` and `cache: false` are turbo's "cache bypass"; `--log-prefix=none` is bare.
    let out = repo.run_ok(&[
        "run",
        "lint",
        "--filter=utils",
        "--force",
        "--output-logs=full",
        "--log-prefix=none",
    ]);
    let text = stdout(&out);
    assert!(
        text.lines()
            .any(|l| l.starts_with("cache bypass, force executing ")),
        "{text}"
    );
    assert!(text.lines().any(|l| l == "lint of utils"), "{text}");
}

#[test]
fn the_summary_counts_tasks_as_turbo_does() {
    let repo = repo();
    // config and docs have no build script: no-op nodes, not tasks.
    let out = repo.run_ok(&["run", "build"]);
    let text = stdout(&out);
    assert!(text.contains("Tasks:  7 successful, 7 total"), "{text}");
    let out = repo.run_ok(&["run", "build", "--summarize"]);
    let text = stdout(&out);
    assert!(
        text.contains("7 successful, 7 total (0 ran, 7 cached"),
        "{text}"
    );
    let path = text
        .lines()
        .find_map(|l| l.strip_prefix("Summary:  "))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(path.contains(".turbo/runs/"), "{path}");
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    assert_eq!(summary["execution"]["cached"], 7);
    assert_eq!(summary["execution"]["attempted"], 7);
    assert_eq!(summary["execution"]["exitCode"], 0);
    let tasks = summary["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 7, "no <NONEXISTENT> tasks in a summary");
    assert!(
        tasks
            .iter()
            .all(|t| t["execution"]["exitCode"] == 0 && t["cache"]["status"] == "HIT")
    );
}

#[test]
fn dry_json_has_every_field_turbo_writes() {
    let repo = repo();
    let kiln = kiln_dry(&repo, &["build", "dev"]);
    let turbo = turbo_dry(&repo, &["build", "dev"]);
    let keys = |v: &serde_json::Value| -> BTreeSet<String> {
        v.as_object().unwrap().keys().cloned().collect()
    };
    let missing: Vec<String> = keys(&turbo)
        .difference(&keys(&kiln))
        .filter(|k| *k != "turboVersion")
        .cloned()
        .collect();
    assert!(missing.is_empty(), "top level lacks {missing:?}");
    let by_id = |doc: &serde_json::Value| -> std::collections::BTreeMap<String, serde_json::Value> {
        doc["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| (t["taskId"].as_str().unwrap().to_string(), t.clone()))
            .collect()
    };
    let (kiln_tasks, turbo_tasks) = (by_id(&kiln), by_id(&turbo));
    assert_eq!(
        kiln_tasks.keys().collect::<Vec<_>>(),
        turbo_tasks.keys().collect::<Vec<_>>()
    );
    for (id, t) in &turbo_tasks {
        let k = &kiln_tasks[id];
        assert!(
            keys(k).is_superset(&keys(t)),
            "{id}: {:?} vs {:?}",
            keys(k),
            keys(t)
        );
        assert_eq!(
            k["logFile"].is_null(),
            t["logFile"].is_null(),
            "{id}: logFile"
        );
        for field in [
            "outputs",
            "excludedOutputs",
            "command",
            "with",
            "framework",
            "envMode",
            "directory",
        ] {
            assert_eq!(k[field], t[field], "{id}: {field}");
        }
        for field in [
            "outputs",
            "cache",
            "dependsOn",
            "outputLogs",
            "persistent",
            "env",
            "passThroughEnv",
        ] {
            assert_eq!(
                k["resolvedTaskDefinition"][field], t["resolvedTaskDefinition"][field],
                "{id}: resolvedTaskDefinition.{field}"
            );
        }
    }
    assert_eq!(kiln["envMode"], turbo["envMode"]);
    assert_eq!(kiln["frameworkInference"], turbo["frameworkInference"]);
    assert_eq!(kiln["scm"]["sha"], turbo["scm"]["sha"]);
    assert_eq!(kiln["scm"]["branch"], turbo["scm"]["branch"]);
}

#[test]
fn git_range_filters_select_what_turbo_selects() {
    let repo = repo();
    repo.write("packages/utils/src.txt", "v2");
    repo.commit("change utils");
    repo.write("packages/docs/notes.txt", "v2");
    repo.commit("change docs");
    let packages = |doc: &serde_json::Value| doc["packages"].clone();
    for filter in [
        "[HEAD^1]",
        "[HEAD~2]",
        "...[HEAD^1]",
        "...[HEAD~2]",
        "...^[HEAD~2]",
        "[HEAD~2]...",
        "[HEAD~2...HEAD^1]",
        "[main...HEAD]",
        "web...[HEAD~2]",
        "docs[HEAD~2]",
        "{./packages/*}[HEAD^1]",
    ] {
        let arg = format!("--filter={filter}");
        let (kiln, turbo) = (
            kiln_dry(&repo, &["build", &arg]),
            turbo_dry(&repo, &["build", &arg]),
        );
        assert_eq!(packages(&kiln), packages(&turbo), "packages of {filter}");
        assert_eq!(graph_of(&kiln), graph_of(&turbo), "graph of {filter}");
    }
    // `[ref]` counts the work tree, uncommitted and untracked files.
    repo.write("packages/ui/new.txt", "untracked");
    let kiln = kiln_dry(&repo, &["build", "--filter=[HEAD]"]);
    assert_eq!(kiln["packages"], serde_json::json!(["ui"]));
    assert_eq!(
        kiln["packages"],
        turbo_dry(&repo, &["build", "--filter=[HEAD]"])["packages"]
    );
}

#[test]
fn init_cwd_is_the_package_directory_as_under_turbo() {
    let repo = workspace(
        &["packages/*"],
        r#"{ "tasks": { "where": { "cache": false } } }"#,
    );
    package(
        &repo,
        "packages/p",
        "p",
        &[],
        &[("where", "echo \"$INIT_CWD\" > where.txt")],
    );
    repo.commit("fixture");
    let out = turbo(&repo).args(["run", "where"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let by_turbo = repo.read("packages/p/where.txt");
    repo.run_ok(&["run", "where"]);
    assert_eq!(repo.read("packages/p/where.txt"), by_turbo);
    assert_eq!(
        String::from_utf8_lossy(&by_turbo).trim(),
        repo.path("packages/p")
            .canonicalize()
            .unwrap()
            .display()
            .to_string()
    );
}

#[test]
fn turbo_json_settings_are_honoured_or_named_once() {
    let repo = workspace(
        &["packages/*"],
        r#"{
  "cacheDir": ".cache/build",
  "concurrency": "1",
  "boundaries": {},
  "tasks": { "build": { "outputs": ["out.txt"] } }
}"#,
    );
    // With one task at a time, neither finds the other's marker.
    let script = "test ! -e ../../busy && touch ../../busy && sleep 0.3 && echo ok > out.txt && rm ../../busy";
    package(&repo, "packages/a", "a", &[], &[("build", script)]);
    package(&repo, "packages/b", "b", &[], &[("build", script)]);
    repo.write(".gitignore", ".kiln/\n.turbo/\n.cache/\nbusy\nout.txt\n");
    repo.commit("fixture");
    let out = repo.run_ok(&["run", "build"]);
    let err = stderr(&out);
    assert_eq!(
        err.matches("`boundaries` is read but ignored").count(),
        1,
        "{err}"
    );
    assert!(err.contains("turbo.json:4:"), "{err}");
    assert!(
        repo.path(".cache/build").is_dir(),
        "the cache is in cacheDir"
    );
    assert!(!repo.path(".kiln/cache").exists());
}

#[test]
fn turbo_flags_kiln_cannot_honour_exit_2_and_typos_get_suggestions() {
    let repo = repo();
    let out = repo.run(&["run", "build", "--json"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("`--json`"), "{}", stderr(&out));
    // Accepted, and changing nothing.
    repo.run_ok(&["run", "build", "--no-daemon", "--parallel", "--dry-run"]);
    let out = repo.run(&["run", "biuld"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("did you mean `build`?"),
        "{}",
        stderr(&out)
    );
    let out = repo.run(&["run", "build", "--filter=wbe"]);
    // miette wraps long messages at the terminal width: compare the words.
    let words: Vec<String> = stderr(&out)
        .split_whitespace()
        .filter(|w| *w != "│")
        .map(str::to_string)
        .collect();
    assert!(
        words.join(" ").contains("did you mean `web`?"),
        "{}",
        stderr(&out)
    );
    // Without a task, the tasks there are.
    let out = repo.run(&["run"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("  build\n    ui, utils, web"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn ls_lists_the_packages_as_turbo_ls_does() {
    let repo = repo();
    let out = turbo(&repo).args(["ls", "--output=json"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let by_turbo: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let out = repo.run_ok(&["ls", "--output=json"]);
    let by_kiln: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(by_kiln["packages"], by_turbo["packages"]);
    let text = stdout(&repo.run_ok(&["ls", "--filter=...ui"]));
    assert_eq!(
        text,
        "3 packages (npm)\n\n  docs packages/docs\n  ui packages/ui\n  web packages/web\n"
    );
    let text = stdout(&repo.run_ok(&["ls", "web"]));
    assert!(
        text.starts_with("packages/web\nweb depends on: ui\n"),
        "{text}"
    );
    let completion = stdout(&repo.run_ok(&["completion", "bash"]));
    assert!(completion.contains("kiln"), "{completion}");
}

#[test]
fn graph_is_written_in_every_format_turbo_writes() {
    let repo = repo();
    let dot = stdout(&repo.run_ok(&["run", "build", "--graph"]));
    assert!(dot.contains("\"web#build\" -> \"ui#build\""), "{dot}");
    for file in ["g.dot", "g.json", "g.mermaid", "g.svg", "g.html", "g.png"] {
        let arg = format!("--graph={file}");
        repo.run_ok(&["run", "build", &arg]);
        let bytes = repo.read(file);
        assert!(!bytes.is_empty(), "{file}");
        match file {
            "g.json" => {
                let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
                assert_eq!(graph_of(&json), graph_of(&kiln_dry(&repo, &["build"])));
            }
            "g.svg" | "g.html" => {
                let text = String::from_utf8(bytes).unwrap();
                assert_eq!(text.matches("class=\"task\"").count(), 10, "{file}");
            }
            "g.png" => assert_eq!(&bytes[..4], b"\x89PNG"),
            _ => {}
        }
    }
    assert!(ran(&repo).is_empty(), "--graph runs nothing");
    let out = repo.run(&["run", "build", "--graph=g.bmp"]);
    assert_eq!(out.status.code(), Some(2));
}
