//! The task graph kiln builds from a `turbo.json` is the one Turborepo builds: same nodes,
//! same edges. Compared against the real `turbo --dry=json` (from npm) on generated and
//! hand-written monorepos covering every `dependsOn` form.

use std::collections::BTreeMap;

use crate::support::{Repo, turbo_bin};

type Graph = BTreeMap<String, Vec<String>>;

pub(crate) fn graph_of(json: &serde_json::Value) -> Graph {
    json["tasks"]
        .as_array()
        .expect("tasks array")
        .iter()
        .map(|t| {
            let mut deps: Vec<String> = t["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d.as_str().unwrap().to_string())
                .collect();
            // Turborepo lists an edge twice when two `dependsOn` entries reach the same
            // task (`build` and `pkg#build` in pkg): the graph has one edge.
            deps.sort();
            deps.dedup();
            (t["taskId"].as_str().unwrap().to_string(), deps)
        })
        .collect()
}

/// The real `turbo` in `repo`, with telemetry and update checks off.
pub(crate) fn turbo(repo: &Repo) -> std::process::Command {
    let mut cmd = std::process::Command::new(turbo_bin());
    cmd.current_dir(&repo.root)
        .env("TURBO_TELEMETRY_DISABLED", "1")
        .env("TURBO_NO_UPDATE_NOTIFIER", "1")
        .env("DO_NOT_TRACK", "1")
        .env_remove("CI");
    cmd
}

/// `turbo run <args> --dry=json`, parsed.
pub(crate) fn turbo_dry(repo: &Repo, args: &[&str]) -> serde_json::Value {
    let out = turbo(repo)
        .args(["run"])
        .args(args)
        .arg("--dry=json")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "turbo {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("turbo prints JSON")
}

/// `kiln run <args> --dry-run=json`, parsed.
pub(crate) fn kiln_dry(repo: &Repo, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["run"];
    all.extend_from_slice(args);
    all.push("--dry-run=json");
    let out = repo.run_ok(&all);
    serde_json::from_slice(&out.stdout).expect("kiln prints JSON")
}

fn turbo_graph(repo: &Repo, args: &[&str]) -> Graph {
    graph_of(&turbo_dry(repo, args))
}

fn kiln_graph(repo: &Repo, args: &[&str]) -> Graph {
    graph_of(&kiln_dry(repo, args))
}

pub(crate) fn assert_same_graph(repo: &Repo, args: &[&str]) {
    let turbo = turbo_graph(repo, args);
    let kiln = kiln_graph(repo, args);
    assert!(!turbo.is_empty());
    assert_eq!(kiln, turbo, "task graph of `run {}`", args.join(" "));
}

#[test]
fn generated_monorepo_graphs_match_turbo() {
    let repo = Repo::generated(60, &["--seed", "13"]);
    assert_same_graph(&repo, &["build"]);
    assert_same_graph(&repo, &["build", "test"]);
    assert_same_graph(&repo, &["test", "--filter=@bench/pkg-0059..."]);
    assert_same_graph(&repo, &["build", "--filter=...@bench/pkg-0003"]);
    assert_same_graph(&repo, &["build", "--filter=...^@bench/pkg-0003"]);
    assert_same_graph(&repo, &["build", "--filter=./packages/pkg-001*"]);
    assert_same_graph(
        &repo,
        &[
            "build",
            "--filter=@bench/pkg-005*",
            "--filter=!@bench/pkg-0055",
        ],
    );
}

/// Every `dependsOn` form: `^task`, `task`, `pkg#task`, `//#task`; a package without the
/// script; a task defined only for one package; a package-level turbo.json with `extends`.
fn hand_written() -> Repo {
    let repo = Repo::empty();
    repo.write(
        "package.json",
        r#"{ "name": "root", "private": true, "packageManager": "npm@11.19.1",
             "workspaces": ["apps/*", "packages/*"],
             "scripts": { "check-format": "true", "build": "true" } }"#,
    )
    .write(
        "turbo.json",
        r#"{
  "$schema": "https://turborepo.com/schema.json",
  "globalDependencies": ["tsconfig.json"],
  "tasks": {
    "build": { "dependsOn": ["^build", "codegen"], "outputs": ["dist/**"] },
    "codegen": { "outputs": ["gen/**"] },
    "test": { "dependsOn": ["build"] },
    "lint": { "dependsOn": ["//#check-format"] },
    "//#check-format": {},
    "deploy": { "dependsOn": ["build", "test", "@acme/docs#build"], "cache": false },
    "@acme/web#e2e": { "dependsOn": ["^build", "@acme/api#build"] },
    "typecheck": { "dependsOn": ["^typecheck"] }
  }
}"#,
    )
    .write("tsconfig.json", "{}");
    let pkg = |dir: &str, name: &str, scripts: &[&str], deps: &[&str]| {
        let scripts: Vec<String> = scripts
            .iter()
            .map(|s| format!("\"{s}\": \"echo {s}\""))
            .collect();
        let deps: Vec<String> = deps
            .iter()
            .map(|d| format!("\"{d}\": \"workspace:*\""))
            .collect();
        repo.write(
            &format!("{dir}/package.json"),
            &format!(
                r#"{{ "name": "{name}", "version": "1.0.0", "scripts": {{ {} }}, "dependencies": {{ {} }} }}"#,
                scripts.join(", "),
                deps.join(", ")
            ),
        );
    };
    pkg(
        "apps/web",
        "@acme/web",
        &["build", "test", "lint", "deploy", "e2e", "typecheck"],
        &["@acme/ui", "@acme/types"],
    );
    pkg("apps/docs", "@acme/docs", &["build", "lint"], &["@acme/ui"]);
    pkg(
        "apps/api",
        "@acme/api",
        &["build", "test", "codegen", "typecheck"],
        &["@acme/types"],
    );
    pkg(
        "packages/ui",
        "@acme/ui",
        &["build", "test", "lint", "typecheck"],
        &["@acme/types", "@acme/config"],
    );
    // types has no build script: still a node, so ordering through it holds.
    pkg(
        "packages/types",
        "@acme/types",
        &["codegen", "typecheck"],
        &["@acme/config"],
    );
    pkg("packages/config", "@acme/config", &["build"], &[]);
    // A package-level turbo.json overriding one task's dependsOn.
    repo.write(
        "apps/docs/turbo.json",
        r#"{ "extends": ["//"], "tasks": { "build": { "dependsOn": ["^build", "lint"] } } }"#,
    );
    repo.commit("fixture");
    repo
}

#[test]
fn hand_written_graphs_match_turbo_for_every_depends_on_form() {
    let repo = hand_written();
    for args in [
        vec!["build"],
        vec!["test"],
        vec!["lint"],
        vec!["deploy"],
        vec!["e2e"],
        vec!["typecheck"],
        vec!["build", "test", "lint"],
        vec!["deploy", "--filter=@acme/web"],
        vec!["build", "--filter=@acme/docs"],
        vec!["build", "--filter=...@acme/types"],
        vec!["lint", "--filter=./apps/*"],
    ] {
        assert_same_graph(&repo, &args);
    }
}
