//! Bad input gets a clear error: cycles name their packages, config errors their file,
//! line and column; nothing runs.

use crate::support::{Repo, stderr};

fn npm_repo(turbo_json: &str) -> Repo {
    let repo = Repo::npm_workspace();
    repo.write("turbo.json", turbo_json).write(
        "pkgs/a/package.json",
        r#"{ "name": "a", "scripts": { "build": "echo a > ran-a" } }"#,
    );
    repo.commit("fixture");
    repo
}

#[test]
fn a_package_cycle_is_an_error_that_prints_the_cycle() {
    let repo = npm_repo(r#"{ "tasks": { "build": { "dependsOn": ["^build"] } } }"#);
    repo.write(
        "pkgs/a/package.json",
        r#"{ "name": "a", "scripts": { "build": "true" }, "dependencies": { "b": "*" } }"#,
    )
    .write(
        "pkgs/b/package.json",
        r#"{ "name": "b", "scripts": { "build": "true" }, "dependencies": { "c": "workspace:*" } }"#,
    )
    .write(
        "pkgs/c/package.json",
        r#"{ "name": "c", "scripts": { "build": "true" }, "devDependencies": { "a": "*" } }"#,
    );
    let out = repo.run(&["run", "build"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        ["a → b → c → a", "b → c → a → b", "c → a → b → c"]
            .iter()
            .any(|c| err.contains(c)),
        "the cycle is printed:\n{err}"
    );
}

#[test]
fn a_turbo_json_syntax_error_names_file_line_and_column() {
    let repo = npm_repo("{\n  \"tasks\": {\n    \"build\" { \"outputs\": [] }\n  }\n}\n");
    let out = repo.run(&["run", "build"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("turbo.json:3:"), "file and line named:\n{err}");
    assert!(!repo.path("pkgs/a/ran-a").exists(), "nothing ran");
}

#[test]
fn turbo_jsonc_comments_and_trailing_commas_are_accepted() {
    let repo = npm_repo("");
    std::fs::remove_file(repo.path("turbo.json")).unwrap();
    repo.write(
        "turbo.jsonc",
        "{\n  // the pipeline\n  \"tasks\": {\n    /* build it */ \"build\": { \"outputs\": [\"x//y\"], },\n  },\n}\n",
    );
    repo.commit("jsonc");
    repo.run_ok(&["run", "build"]);
    assert!(repo.path("pkgs/a/ran-a").exists());
}

#[test]
fn an_unknown_kiln_toml_key_names_file_and_line() {
    let repo = npm_repo(r#"{ "tasks": { "build": {} } }"#);
    repo.write(
        "kiln.toml",
        "[tasks.build]\noutputs = []\ndepends = [\"^build\"]\n",
    );
    let out = repo.run(&["run", "build"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("kiln.toml:3"), "file and line named:\n{err}");
    assert!(err.contains("depends"), "the key is named:\n{err}");
}

#[test]
fn an_undefined_task_is_an_error() {
    let repo = npm_repo(r#"{ "tasks": { "build": {} } }"#);
    let out = repo.run(&["run", "deploy"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("deploy"), "{}", stderr(&out));
}

#[test]
fn no_workspace_root_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = crate::support::kiln_command()
        .current_dir(dir.path())
        .args(["run", "build"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(!stderr(&out).is_empty());
}

#[test]
fn overlapping_outputs_of_two_tasks_are_one_warning_and_both_run() {
    // Turborepo runs such tasks; kiln does too, one after the other (see turbo_repos.rs).
    let repo = npm_repo(
        r#"{ "tasks": { "build": { "outputs": ["dist/**"] }, "types": { "outputs": ["dist/types/**"] } } }"#,
    );
    repo.write(
        "pkgs/a/package.json",
        r#"{ "name": "a", "scripts": { "build": "echo a > ran-a", "types": "echo t > ran-t" } }"#,
    );
    let out = repo.run_ok(&["run", "build", "types"]);
    let err = stderr(&out);
    assert_eq!(
        err.matches("declare overlapping outputs").count(),
        1,
        "{err}"
    );
    assert!(
        err.contains("`a#build` and `a#types` declare overlapping outputs (`dist/**` and `dist/"),
        "{err}"
    );
    assert!(repo.path("pkgs/a/ran-a").exists() && repo.path("pkgs/a/ran-t").exists());
}

#[test]
fn resource_fields_with_bad_values_are_errors_with_their_line() {
    let repo = Repo::npm_workspace();
    repo.write(
        "kiln.toml",
        "[tasks.build]\ncommand = \"true\"\nmemory = \"lots\"\n",
    )
    .write("pkgs/a/package.json", r#"{ "name": "a" }"#);
    let out = repo.run(&["run", "build"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("kiln.toml:3:10"), "{err}");
    assert!(err.contains("`lots` is not a size"), "{err}");
}

#[test]
fn an_absolute_output_glob_is_a_config_error_naming_its_line() {
    let repo =
        npm_repo("{\n  \"tasks\": {\n    \"build\": { \"outputs\": [\"/tmp/out/**\"] }\n  }\n}\n");
    let out = repo.run(&["run", "build"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("turbo.json:3:28")
            && stderr(&out).contains("outputs are relative to the package"),
        "{}",
        stderr(&out)
    );
    assert!(!repo.path("pkgs/a/ran-a").exists(), "nothing ran");
}

#[test]
fn workspace_globs_that_match_nothing_say_so_and_run_nothing() {
    let repo = Repo::empty();
    repo.write(
        "package.json",
        r#"{ "name": "root", "private": true, "workspaces": ["packages/*"] }"#,
    )
    .write("turbo.json", r#"{ "tasks": { "build": {} } }"#)
    .write(
        "pkgs/a/package.json",
        r#"{ "name": "a", "scripts": { "build": "true" } }"#,
    );
    repo.commit("fixture");
    let out = repo.run_ok(&["run", "build"]);
    assert!(
        stderr(&out)
            .contains("the workspace globs (`packages/*` in package.json) match no directory"),
        "{}",
        stderr(&out)
    );
    assert!(
        !stderr(&out).contains("could not find task"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_turbo_json_that_is_a_directory_is_named_as_such() {
    let repo = npm_repo("{}");
    std::fs::remove_file(repo.path("turbo.json")).unwrap();
    std::fs::create_dir(repo.path("turbo.json")).unwrap();
    let out = repo.run(&["run", "build"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("turbo.json is not a file"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_package_depending_on_itself_and_a_lockfile_directory_are_warned_about() {
    let repo = npm_repo(r#"{ "tasks": { "build": {} } }"#);
    repo.write(
        "pkgs/a/package.json",
        r#"{ "name": "a", "scripts": { "build": "echo a > ran-a" }, "devDependencies": { "a": "*" } }"#,
    );
    std::fs::create_dir(repo.path("package-lock.json")).unwrap();
    let out = repo.run_ok(&["run", "build"]);
    let err = stderr(&out);
    assert!(
        err.contains("package `a` depends on itself (`a` in pkgs/a/package.json); ignored"),
        "{err}"
    );
    assert!(err.contains("package-lock.json is not a file"), "{err}");
    assert!(repo.path("pkgs/a/ran-a").exists(), "runs as turbo runs it");
}
