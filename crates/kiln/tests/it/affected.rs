//! `--affected` and `kiln affected`: changed files, from git, select exactly the tasks whose
//! inputs they touch, and everything that depends on those.

use std::collections::BTreeSet;

use crate::support::{Repo, stderr, stdout};

/// `web` → `ui` → `core`; `docs` alone. `build` takes every file, `lint` only `src/**`.
/// `tsconfig.base.json` is a global input. Committed on `main`, then a `feature` branch.
fn repo() -> Repo {
    let repo = Repo::npm_workspace();
    repo.write(
        "turbo.json",
        r#"{ "globalDependencies": ["tsconfig.base.json"],
             "tasks": { "build": { "dependsOn": ["^build"], "outputs": ["dist/**"] },
                        "lint": { "inputs": ["src/**"] } } }"#,
    )
    .write("tsconfig.base.json", "{}")
    .write("README.md", "# repo\n")
    .write(".gitignore", ".kiln/\ndist/\nexec.log\n");
    for (name, dep) in [
        ("core", None),
        ("ui", Some("core")),
        ("web", Some("ui")),
        ("docs", None),
    ] {
        let deps = dep.map_or(String::new(), |d| {
            format!(r#""dependencies": {{ "{d}": "*" }},"#)
        });
        repo.write(
            &format!("pkgs/{name}/package.json"),
            &format!(
                r#"{{ "name": "{name}", {deps} "scripts": {{ "build": "mkdir -p dist && cat src/* > dist/out && echo {name} >> ../../exec.log", "lint": "true" }} }}"#
            ),
        )
        .write(&format!("pkgs/{name}/src/index.txt"), name)
        .write(&format!("pkgs/{name}/notes.md"), "notes");
    }
    repo.commit("fixture");
    repo.git(&["checkout", "-q", "-b", "feature"]);
    repo
}

fn affected(repo: &Repo, args: &[&str]) -> BTreeSet<String> {
    let out = repo.run_ok(&[&["affected", "build", "lint", "--json"], args].concat());
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    value["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["task"].as_str().unwrap().to_string())
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn a_source_change_affects_its_tasks_and_their_dependents_only() {
    let repo = repo();
    assert!(affected(&repo, &[]).is_empty(), "nothing changed yet");
    repo.write("pkgs/ui/src/index.txt", "ui v2");
    assert_eq!(
        affected(&repo, &[]),
        set(&["ui#build", "ui#lint", "web#build"])
    );
    // A file outside `src/` is an input of build, not of lint.
    repo.git(&["checkout", "-q", "--", "."]);
    repo.write("pkgs/core/notes.md", "more notes");
    assert_eq!(
        affected(&repo, &[]),
        set(&["core#build", "ui#build", "web#build"])
    );
}

#[test]
fn untracked_deleted_and_renamed_files_count() {
    let repo = repo();
    repo.write("pkgs/docs/src/new/deep.txt", "untracked");
    assert_eq!(affected(&repo, &[]), set(&["docs#build", "docs#lint"]));
    std::fs::remove_dir_all(repo.path("pkgs/docs/src/new")).unwrap();

    std::fs::remove_file(repo.path("pkgs/core/src/index.txt")).unwrap();
    repo.write("pkgs/core/src/other.txt", "core");
    assert_eq!(
        affected(&repo, &[]),
        set(&["core#build", "core#lint", "ui#build", "web#build"])
    );
    repo.git(&["checkout", "-q", "--", "."]);
    std::fs::remove_file(repo.path("pkgs/core/src/other.txt")).unwrap();

    // A rename from docs into web touches both.
    repo.git(&["mv", "pkgs/docs/notes.md", "pkgs/web/notes-from-docs.md"]);
    repo.commit("move");
    assert_eq!(
        affected(&repo, &["--base", "main", "--head", "HEAD"]),
        set(&["docs#build", "web#build"])
    );
}

#[test]
fn head_compares_commits_and_leaves_the_work_tree_out() {
    let repo = repo();
    repo.write("pkgs/core/src/index.txt", "committed");
    repo.commit("core");
    repo.write("pkgs/docs/src/index.txt", "uncommitted");
    let committed = affected(&repo, &["--base", "main", "--head", "HEAD"]);
    assert_eq!(
        committed,
        set(&["core#build", "core#lint", "ui#build", "web#build"])
    );
    let work_tree = affected(&repo, &["--base", "main"]);
    assert!(work_tree.contains("docs#build") && work_tree.contains("core#build"));
    // The default base is the merge-base with the default branch.
    assert_eq!(affected(&repo, &[]), work_tree);
}

#[test]
fn global_inputs_affect_everything_and_unowned_files_nothing() {
    let repo = repo();
    repo.write("README.md", "# changed, but nobody's input\n");
    assert!(affected(&repo, &[]).is_empty());
    repo.write("tsconfig.base.json", r#"{"strict": true}"#);
    assert_eq!(affected(&repo, &[]).len(), 8);
    let text = stdout(&repo.run_ok(&["affected"]));
    assert!(
        text.contains("global input `tsconfig.base.json` changed"),
        "{text}"
    );
}

#[test]
fn run_affected_runs_the_affected_tasks_and_what_they_need() {
    let repo = repo();
    repo.run_ok(&["run", "build"]);
    let _ = std::fs::remove_file(repo.path("exec.log"));
    repo.write("pkgs/ui/src/index.txt", "ui v2");
    let out = repo.run_ok(&["run", "build", "--affected"]);
    assert!(
        stderr(&out).contains("2 of 4 tasks affected"),
        "{}",
        stderr(&out)
    );
    let log = std::fs::read_to_string(repo.path("exec.log")).unwrap();
    assert_eq!(log, "ui\nweb\n");
    // core (a dependency) is in the run as a cache hit; docs is not in it at all.
    assert!(stdout(&out).contains("3 total"), "{}", stdout(&out));
    assert_eq!(repo.read("pkgs/web/dist/out"), b"web");
}

#[test]
fn shallow_clones_work_when_the_base_is_present_and_say_so_when_not() {
    let origin = repo();
    origin.write("pkgs/web/src/index.txt", "web v2");
    origin.commit("web");
    // The clone's origin/HEAD follows the origin's checked-out branch.
    origin.git(&["checkout", "-q", "main"]);
    let clone_dir = tempfile::tempdir().unwrap();
    let clone = clone_dir.path().join("clone");
    let url = format!("file://{}", origin.root.display());
    let git = |args: &[&str], dir: &std::path::Path| {
        let out = std::process::Command::new("git")
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    git(
        &[
            "clone",
            "-q",
            "--depth",
            "1",
            "--no-single-branch",
            &url,
            clone.to_str().unwrap(),
        ],
        clone_dir.path(),
    );
    git(&["checkout", "-q", "feature"], &clone);
    let run = |args: &[&str]| {
        crate::support::kiln_command()
            .current_dir(&clone)
            .args(args)
            .output()
            .unwrap()
    };
    // origin/main is present (depth 1 of each branch): compared with it directly.
    let out = run(&["affected", "build", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("\"base\": \"origin/main\""), "{text}");
    assert!(text.contains("web#build"), "{text}");
    assert!(!text.contains("ui#build"), "{text}");

    let missing = run(&[
        "affected",
        "--base",
        "0123456789abcdef0123456789abcdef01234567",
    ]);
    assert_eq!(missing.status.code(), Some(1));
    let err = stderr(&missing);
    assert!(err.contains("shallow") && err.contains("fetch"), "{err}");
}

#[test]
fn outside_a_git_repository_affected_says_why_it_cannot_work() {
    let repo = Repo::npm_workspace();
    repo.write("turbo.json", r#"{ "tasks": { "build": {} } }"#)
        .write(
            "pkgs/a/package.json",
            r#"{ "name": "a", "scripts": { "build": "true" } }"#,
        );
    let out = repo.run(&["run", "build", "--affected"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("--affected needs a git repository"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_lockfile_change_affects_only_the_packages_whose_versions_changed() {
    let repo = repo();
    let lock = |version: &str| {
        format!(
            r#"{{ "name": "root", "lockfileVersion": 3, "packages": {{
  "": {{ "name": "root", "workspaces": ["pkgs/*"] }},
  "node_modules/left-pad": {{ "version": "{version}" }},
  "node_modules/right-pad": {{ "version": "1.0.0" }},
  "pkgs/core": {{ "name": "core", "dependencies": {{ "left-pad": "^1.0.0" }} }},
  "pkgs/docs": {{ "name": "docs", "dependencies": {{ "right-pad": "^1.0.0" }} }}
}} }}"#
        )
    };
    repo.write("package-lock.json", &lock("1.0.0"));
    repo.write(
        "pkgs/core/package.json",
        r#"{ "name": "core", "dependencies": { "left-pad": "^1.0.0" }, "scripts": { "build": "true", "lint": "true" } }"#,
    )
    .write(
        "pkgs/docs/package.json",
        r#"{ "name": "docs", "dependencies": { "right-pad": "^1.0.0" }, "scripts": { "build": "true", "lint": "true" } }"#,
    );
    repo.commit("lockfile");
    repo.write("package-lock.json", &lock("1.3.0"));
    assert_eq!(
        affected(&repo, &["--base", "HEAD"]),
        set(&["core#build", "core#lint", "ui#build", "web#build"])
    );
    let text = stdout(&repo.run_ok(&["affected", "--base", "HEAD"]));
    assert!(
        text.contains("core  (external dependency `left-pad` 1.0.0 → 1.3.0)"),
        "{text}"
    );
}
