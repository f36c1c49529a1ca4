//! The shapes of real repositories that turbo runs and kiln once refused or planned
//! differently: nested workspace packages, `inputs` that reach into another package, two
//! tasks of a package with overlapping outputs. Each is compared with the real `turbo
//! --dry=json` (graph and input files), then run for real.

use std::collections::BTreeSet;

use crate::support::{Repo, snapshot_tree, stderr, stdout};
use crate::turbo_graph::{assert_same_graph, kiln_dry, turbo_dry};

/// A package's `package.json` with scripts and workspace dependencies.
pub(crate) fn package(repo: &Repo, dir: &str, name: &str, deps: &[&str], scripts: &[(&str, &str)]) {
    let deps: Vec<String> = deps.iter().map(|d| format!("\"{d}\": \"*\"")).collect();
    let scripts: Vec<String> = scripts
        .iter()
        .map(|(k, v)| format!("\"{k}\": {}", serde_json::to_string(v).unwrap()))
        .collect();
    repo.write(
        &format!("{dir}/package.json"),
        &format!(
            r#"{{ "name": "{name}", "version": "1.0.0", "scripts": {{ {} }}, "dependencies": {{ {} }} }}"#,
            scripts.join(", "),
            deps.join(", ")
        ),
    );
}

/// An npm workspace over `globs`, with `turbo.json`.
pub(crate) fn workspace(globs: &[&str], turbo_json: &str) -> Repo {
    let repo = Repo::empty();
    let globs: Vec<String> = globs.iter().map(|g| format!("\"{g}\"")).collect();
    repo.write(
        "package.json",
        &format!(
            r#"{{ "name": "root", "private": true, "packageManager": "npm@11.19.1", "workspaces": [{}] }}"#,
            globs.join(", ")
        ),
    )
    .write("turbo.json", turbo_json)
    .write(".gitignore", ".kiln/\n.turbo/\ndist/\nnode_modules/\nran/\n");
    repo
}

/// The input file names of `task` in a dry-run document (kiln's or turbo's), without the
/// package's `turbo.json`, which turbo always adds and kiln keys through the definition.
fn inputs_of(dry: &serde_json::Value, task: &str) -> BTreeSet<String> {
    let task = dry["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["taskId"] == task)
        .unwrap_or_else(|| panic!("{task} in {dry}"));
    task["inputs"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| *k != "turbo.json")
        .cloned()
        .collect()
}

fn ran(repo: &Repo) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(repo.path("ran"))
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let _ = std::fs::remove_dir_all(repo.path("ran"));
    names
}

/// `outer` in `packages/*`, `inner` inside it listed on its own, `a` depending on `outer`.
fn nested() -> Repo {
    let repo = workspace(
        &["packages/*", "packages/outer/inner"],
        r#"{ "tasks": { "build": { "dependsOn": ["^build"], "outputs": ["dist/**"] } } }"#,
    );
    let mark = |n: &str| format!("mkdir -p ../../ran dist && touch ../../ran/{n} dist/{n}");
    let mark_inner = "mkdir -p ../../../ran dist && touch ../../../ran/inner dist/inner";
    package(
        &repo,
        "packages/outer",
        "outer",
        &[],
        &[("build", &mark("outer"))],
    );
    package(
        &repo,
        "packages/outer/inner",
        "inner",
        &[],
        &[("build", mark_inner)],
    );
    package(
        &repo,
        "packages/a",
        "a",
        &["outer"],
        &[("build", &mark("a"))],
    );
    repo.write("packages/outer/src.txt", "outer")
        .write("packages/outer/inner/isrc.txt", "inner");
    repo.commit("fixture");
    repo
}

#[test]
fn nested_workspace_packages_are_packages_as_in_turbo() {
    let repo = nested();
    assert_same_graph(&repo, &["build"]);
    assert_same_graph(&repo, &["build", "--filter=inner"]);
    // turbo hashes the nested package's files into the outer package's default inputs.
    let kiln = kiln_dry(&repo, &["build"]);
    let turbo = turbo_dry(&repo, &["build"]);
    assert_eq!(
        inputs_of(&kiln, "outer#build"),
        inputs_of(&turbo, "outer#build")
    );
    assert!(inputs_of(&kiln, "outer#build").contains("inner/isrc.txt"));
    assert_eq!(
        inputs_of(&kiln, "inner#build"),
        inputs_of(&turbo, "inner#build")
    );

    repo.run_ok(&["run", "build"]);
    assert_eq!(ran(&repo), ["a", "inner", "outer"]);
    // An edit inside the nested package re-runs it and the package around it.
    repo.write("packages/outer/inner/isrc.txt", "inner v2");
    repo.run_ok(&["run", "build"]);
    assert_eq!(ran(&repo), ["a", "inner", "outer"]);
    repo.write("packages/a/x.txt", "a only");
    repo.run_ok(&["run", "build"]);
    assert_eq!(ran(&repo), ["a"]);
    // The outer package's outputs never take the nested package's files.
    assert!(!repo.path("packages/outer/dist/inner").exists());
}

/// `app`'s build reads `other`'s spec through `../other/src/spec.json`.
fn reaching_inputs(extra_input: &str) -> Repo {
    let repo = workspace(
        &["packages/*"],
        r#"{ "tasks": { "build": { "dependsOn": ["^build"], "outputs": ["dist/**"] } } }"#,
    );
    package(
        &repo,
        "packages/app",
        "app",
        &[],
        &[("build", "mkdir -p ../../ran && touch ../../ran/app")],
    );
    package(&repo, "packages/other", "other", &[], &[]);
    repo.write("packages/app/index.js", "app")
        .write("packages/other/src/spec.json", "{}")
        .write("packages/other/src/unrelated.txt", "x")
        .write(
            "packages/app/turbo.json",
            &format!(
                r#"{{ "extends": ["//"], "tasks": {{ "build": {{ "inputs": ["$TURBO_DEFAULT$", "{extra_input}"] }} }} }}"#
            ),
        );
    repo.commit("fixture");
    repo
}

#[test]
fn inputs_may_name_files_of_other_packages_with_dot_dot() {
    let repo = reaching_inputs("../other/src/spec.json");
    assert_same_graph(&repo, &["build"]);
    let kiln = kiln_dry(&repo, &["build"]);
    let turbo = turbo_dry(&repo, &["build"]);
    assert_eq!(
        inputs_of(&kiln, "app#build"),
        inputs_of(&turbo, "app#build")
    );
    assert!(inputs_of(&kiln, "app#build").contains("../other/src/spec.json"));

    repo.run_ok(&["run", "build"]);
    assert_eq!(ran(&repo), ["app"]);
    repo.write("packages/other/src/unrelated.txt", "y");
    repo.run_ok(&["run", "build"]);
    assert!(ran(&repo).is_empty(), "not an input of app");
    repo.write("packages/other/src/spec.json", r#"{"v": 2}"#);
    let out = repo.run_ok(&["run", "build", "-v"]);
    assert_eq!(ran(&repo), ["app"], "{}", stderr(&out));
    // `--affected` follows the same inputs.
    repo.commit("spec v2");
    let affected = repo.run_ok(&["affected", "build", "--base", "HEAD^", "--json"]);
    assert!(
        stdout(&affected).contains("app#build"),
        "{}",
        stdout(&affected)
    );
}

#[test]
fn an_input_outside_the_repository_is_an_error_that_names_it() {
    let repo = reaching_inputs("../../../outside.txt");
    let out = repo.run(&["run", "build"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("`../../../outside.txt`"), "{err}");
    assert!(err.contains("outside the workspace root"), "{err}");
}

#[test]
fn outputs_outside_the_package_are_refused_with_the_reason() {
    let repo = workspace(
        &["packages/*"],
        r#"{ "tasks": { "build": { "outputs": ["../shared/**"] } } }"#,
    );
    package(&repo, "packages/app", "app", &[], &[("build", "true")]);
    repo.commit("fixture");
    let out = repo.run(&["run", "build"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("../shared/**"), "{err}");
    assert!(err.contains("restores"), "{err}");
}

/// `build` and `typecheck` both write `.cache/tsbuildinfo.json`; each refuses to run while
/// the other is running (a `busy` marker), so a run that overlapped them fails.
fn overlapping() -> Repo {
    let repo = workspace(
        &["packages/*"],
        r#"{ "tasks": {
            "build": { "outputs": [".cache/tsbuildinfo.json", "dist/**"] },
            "typecheck": { "outputs": [".cache/tsbuildinfo.json"] } } }"#,
    );
    let task = |name: &str, extra: &str| {
        format!(
            "test ! -e busy && touch busy && mkdir -p .cache dist ../../ran && sleep 0.3 && \
             echo {name} > .cache/tsbuildinfo.json {extra}&& touch ../../ran/{name} && rm busy"
        )
    };
    package(
        &repo,
        "packages/p",
        "p",
        &[],
        &[
            ("build", &task("build", "&& echo js > dist/a.js ")),
            ("typecheck", &task("typecheck", "")),
        ],
    );
    repo.write(
        ".gitignore",
        ".kiln/\n.turbo/\ndist/\n.cache/\nran/\npackages/p/busy\n",
    );
    repo.commit("fixture");
    repo
}

#[test]
fn overlapping_outputs_run_one_after_the_other_and_restore_as_they_ran() {
    let repo = overlapping();
    assert_same_graph(&repo, &["build", "typecheck"]);
    let out = repo.run_ok(&["run", "build", "typecheck", "--concurrency", "2"]);
    assert_eq!(ran(&repo), ["build", "typecheck"], "{}", stderr(&out));
    assert_eq!(
        stderr(&out).matches("declare overlapping outputs").count(),
        1,
        "{}",
        stderr(&out)
    );
    let built = snapshot_tree(&repo.path("packages/p/.cache"));

    // Nothing in place: both are restored, in the order they ran, to what the runs left.
    std::fs::remove_dir_all(repo.path("packages/p/.cache")).unwrap();
    std::fs::remove_dir_all(repo.path("packages/p/dist")).unwrap();
    let out = repo.run_ok(&["run", "build", "typecheck"]);
    assert!(ran(&repo).is_empty(), "{}", stdout(&out));
    assert_eq!(snapshot_tree(&repo.path("packages/p/.cache")), built);
    assert_eq!(repo.read("packages/p/dist/a.js"), b"js\n");
    // Again with everything in place: still nothing runs, and the files stay the runs'.
    repo.run_ok(&["run", "build", "typecheck"]);
    assert!(ran(&repo).is_empty());
    assert_eq!(snapshot_tree(&repo.path("packages/p/.cache")), built);
}

/// A pnpm workspace whose `a` takes `ms` and `debug` from the catalog, with `ms` overridden,
/// as pnpm 9.15 writes the lockfile for it; `stale` declares a range the lockfile lacks.
fn pnpm_catalog(ms_version: &str) -> Repo {
    let repo = Repo::empty();
    repo.write(
        "package.json",
        r#"{ "name": "root", "private": true, "packageManager": "pnpm@9.15.9", "pnpm": { "overrides": { "ms": "2.1.2" } } }"#,
    )
    .write(
        "pnpm-workspace.yaml",
        "packages:\n  - packages/*\ncatalog:\n  ms: ^2.1.1\n  debug: ^4.3.0\n",
    )
    .write(
        "turbo.json",
        r#"{ "tasks": { "build": { "outputs": [] } } }"#,
    )
    .write(".gitignore", ".kiln/\n.turbo/\nran/\n")
    .write(
        "packages/a/package.json",
        r#"{ "name": "a", "scripts": { "build": "mkdir -p ../../ran && touch ../../ran/a" }, "dependencies": { "ms": "catalog:", "debug": "catalog:" } }"#,
    )
    .write(
        "packages/stale/package.json",
        r#"{ "name": "stale", "scripts": { "build": "true" }, "dependencies": { "left-pad": "^1.3.0" } }"#,
    )
    .write(
        "pnpm-lock.yaml",
        &format!(
            "lockfileVersion: '9.0'\n\ncatalogs:\n  default:\n    debug:\n      specifier: ^4.3.0\n      version: 4.4.3\n\n\
             overrides:\n  ms: 2.1.2\n\nimporters:\n\n  .: {{}}\n\n  packages/a:\n    dependencies:\n      debug:\n        \
             specifier: 'catalog:'\n        version: 4.4.3\n      ms:\n        specifier: 2.1.2\n        version: {ms_version}\n\n  \
             packages/stale: {{}}\n\npackages:\n\n  debug@4.4.3:\n    resolution: {{integrity: sha512-x}}\n\n  \
             ms@{ms_version}:\n    resolution: {{integrity: sha512-y}}\n\nsnapshots:\n\n  debug@4.4.3:\n    dependencies:\n      \
             ms: {ms_version}\n\n  ms@{ms_version}: {{}}\n"
        ),
    );
    repo.commit("fixture");
    repo
}

#[test]
fn pnpm_catalogs_and_overrides_resolve_and_only_the_runs_packages_are_warned_about() {
    let repo = pnpm_catalog("2.1.2");
    let out = repo.run_ok(&["run", "build", "--filter=a"]);
    let err = stderr(&out);
    assert!(!err.contains("does not resolve"), "{err}");
    let dry = kiln_dry(&repo, &["build", "--filter=a"]);
    assert_eq!(dry["tasks"][0]["kiln"]["cacheable"], true);
    // A package outside the run is none of its concern; inside, it is named once.
    let out = repo.run_ok(&["run", "build"]);
    let err = stderr(&out);
    assert_eq!(
        err.matches("stale: the lockfile does not resolve left-pad")
            .count(),
        1,
        "{err}"
    );
    // The key holds the resolved version: a lockfile bump of it re-runs `a`.
    let _ = ran(&repo);
    repo.run_ok(&["run", "build", "--filter=a"]);
    assert!(ran(&repo).is_empty());
    let bumped = pnpm_catalog("2.1.3");
    std::fs::copy(bumped.path("pnpm-lock.yaml"), repo.path("pnpm-lock.yaml")).unwrap();
    repo.run_ok(&["run", "build", "--filter=a"]);
    assert_eq!(ran(&repo), ["a"]);
}

/// A dependency on a workspace package's name links it only as the package manager would:
/// npm takes a range its version satisfies; pnpm 9 only `workspace:` specs.
#[test]
fn workspace_dependencies_link_as_the_package_manager_links_them() {
    let npm = workspace(
        &["packages/*"],
        r#"{ "tasks": { "build": { "dependsOn": ["^build"] } } }"#,
    );
    let dep = |repo: &Repo, name: &str, spec: &str| {
        repo.write(
            &format!("packages/{name}/package.json"),
            &format!(
                r#"{{ "name": "{name}", "version": "1.0.0", "scripts": {{ "build": "true" }}, "dependencies": {{ "b": "{spec}" }} }}"#
            ),
        );
    };
    package(&npm, "packages/b", "b", &[], &[("build", "true")]);
    for (name, spec) in [
        ("in-range", "^1.0.0"),
        ("tag", "latest"),
        ("unsatisfied", "^2.0.0"),
        ("alias", "npm:b@^1"),
        ("protocol", "workspace:*"),
    ] {
        dep(&npm, name, spec);
    }
    npm.commit("fixture");
    assert_same_graph(&npm, &["build"]);
    let graph = crate::turbo_graph::graph_of(&kiln_dry(&npm, &["build"]));
    assert!(graph["unsatisfied#build"].is_empty() && graph["alias#build"].is_empty());
    assert_eq!(graph["in-range#build"], ["b#build"]);

    // pnpm 9: only the `workspace:` protocol links.
    let pnpm = Repo::empty();
    pnpm.write(
        "package.json",
        r#"{ "name": "root", "private": true, "packageManager": "pnpm@9.15.0" }"#,
    )
    .write("pnpm-workspace.yaml", "packages:\n  - packages/*\n")
    .write(
        "turbo.json",
        r#"{ "tasks": { "build": { "dependsOn": ["^build"] } } }"#,
    );
    package(&pnpm, "packages/b", "b", &[], &[("build", "true")]);
    dep(&pnpm, "in-range", "^1.0.0");
    dep(&pnpm, "protocol", "workspace:*");
    pnpm.commit("fixture");
    assert_same_graph(&pnpm, &["build"]);
    let graph = crate::turbo_graph::graph_of(&kiln_dry(&pnpm, &["build"]));
    assert!(graph["in-range#build"].is_empty());
    assert_eq!(graph["protocol#build"], ["b#build"]);
}

#[test]
fn a_root_glob_that_leaves_the_repository_from_one_package_names_nothing_there() {
    // A root `inputs` written for packages two levels down, in a package one level down.
    let repo = workspace(
        &["packages/*", "demo"],
        r#"{ "tasks": { "build": { "inputs": ["src/**", "../../tsup.config.ts"] } } }"#,
    );
    package(&repo, "packages/x", "x", &[], &[("build", "true")]);
    package(&repo, "demo", "demo", &[], &[("build", "true")]);
    repo.write("tsup.config.ts", "export {}");
    repo.commit("fixture");
    assert_same_graph(&repo, &["build"]);
    let out = repo.run_ok(&["run", "build"]);
    let err = stderr(&out);
    assert_eq!(
        err.matches("leads outside the workspace root from `demo`")
            .count(),
        1,
        "{err}"
    );
    let dry = kiln_dry(&repo, &["build"]);
    assert!(inputs_of(&dry, "x#build").contains("../../tsup.config.ts"));
}

#[test]
fn tracked_files_an_ignore_rule_matches_are_inputs_as_in_turbo() {
    let repo = workspace(&["packages/*"], r#"{ "tasks": { "build": {} } }"#);
    package(
        &repo,
        "packages/a",
        "a",
        &[],
        &[("build", "mkdir -p ../../ran && touch ../../ran/a")],
    );
    repo.write("packages/a/.gitignore", ".env*\n")
        .write("packages/a/.env.example", "A=1")
        .write("packages/a/i.ts", "x")
        .write(".gitattributes", "* text=auto\n");
    repo.git(&["init", "-q", "-b", "main"]);
    repo.git(&["add", "-f", "packages/a/.env.example"]);
    repo.commit("fixture");
    let kiln = kiln_dry(&repo, &["build"]);
    let turbo = turbo_dry(&repo, &["build"]);
    assert_eq!(inputs_of(&kiln, "a#build"), inputs_of(&turbo, "a#build"));
    assert!(inputs_of(&kiln, "a#build").contains(".env.example"));
    // The root `.gitattributes` is a global input, as in turbo.
    let files = |doc: &serde_json::Value| -> Vec<String> {
        doc["globalCacheInputs"]["files"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    };
    assert_eq!(files(&kiln), files(&turbo));
    repo.run_ok(&["run", "build"]);
    assert_eq!(ran(&repo), ["a"]);
    repo.write("packages/a/.env.example", "A=2");
    repo.run_ok(&["run", "build"]);
    assert_eq!(
        ran(&repo),
        ["a"],
        "an edit of the tracked file re-runs the task"
    );
    repo.run_ok(&["run", "build"]);
    assert!(ran(&repo).is_empty(), "and its result was stored");
}

#[test]
fn overlapping_outputs_of_tasks_the_graph_orders_need_no_warning() {
    let repo = workspace(
        &["packages/*"],
        r#"{ "tasks": {
            "type:gen": { "outputs": ["lib/**/*.d.ts"] },
            "build": { "dependsOn": ["type:gen"], "outputs": ["lib/**"] } } }"#,
    );
    package(
        &repo,
        "packages/a",
        "a",
        &[],
        &[
            ("build", "mkdir -p lib && echo js > lib/a.js"),
            ("type:gen", "mkdir -p lib && echo d > lib/a.d.ts"),
        ],
    );
    repo.commit("fixture");
    let out = repo.run_ok(&["run", "build"]);
    assert!(!stderr(&out).contains("overlapping"), "{}", stderr(&out));
    // Logs go where turbo writes them, `:` spelt as turbo spells it.
    let kiln = kiln_dry(&repo, &["build"]);
    let turbo = turbo_dry(&repo, &["build"]);
    let log = |doc: &serde_json::Value| {
        doc["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["taskId"] == "a#type:gen")
            .unwrap()["logFile"]
            .clone()
    };
    assert_eq!(log(&kiln), log(&turbo));
    assert!(
        repo.path("packages/a/.turbo/turbo-type$colon$gen.log")
            .exists()
    );
}

/// A package whose outputs glob takes in tracked sources (`*/**`), and whose `dist/` is not
/// ignored: its tracked files stay inputs, so an edit of one is a miss and never overwritten
/// by a restore; the untracked outputs stay out, so a build does not change its own key.
#[test]
fn outputs_git_tracks_stay_inputs_and_an_edit_of_one_is_never_restored_over() {
    let repo = workspace(
        &["packages/*"],
        r#"{ "tasks": { "build": { "outputs": ["*/**", "!src/**"] } } }"#,
    );
    repo.write(".gitignore", ".kiln/\n.turbo/\nran/\n");
    package(
        &repo,
        "packages/p",
        "p",
        &[],
        &[(
            "build",
            "mkdir -p dist ../../ran && cat tests/a.spec.ts > dist/out.js && touch ../../ran/p",
        )],
    );
    repo.write("packages/p/src/index.ts", "src")
        .write("packages/p/tests/a.spec.ts", "v1");
    repo.commit("fixture");
    repo.run_ok(&["run", "build"]);
    assert_eq!(ran(&repo), ["p"]);
    // The untracked dist/ is no input: a second run is a hit.
    repo.run_ok(&["run", "build"]);
    assert!(ran(&repo).is_empty());
    repo.write("packages/p/tests/a.spec.ts", "v2 (an edit)");
    repo.run_ok(&["run", "build"]);
    assert_eq!(ran(&repo), ["p"], "the edit of a tracked file is a miss");
    assert_eq!(repo.read("packages/p/tests/a.spec.ts"), b"v2 (an edit)");
    assert_eq!(repo.read("packages/p/dist/out.js"), b"v2 (an edit)");
}
