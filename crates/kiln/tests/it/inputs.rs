//! What a task's key covers: `$TURBO_ROOT$` inputs, explicit inputs, and the steps it runs.

use crate::support::Repo;

fn fixture(inputs: &str) -> Repo {
    let repo = Repo::npm_workspace();
    repo.write(
        "turbo.json",
        &format!(r#"{{ "tasks": {{ "build": {{ "inputs": {inputs}, "outputs": [] }} }} }}"#),
    )
    .write(
        "pkgs/app/package.json",
        r#"{ "name": "app", "scripts": { "build": "echo ran >> ../../ran.log" } }"#,
    )
    .write("pkgs/app/src/main.js", "1\n")
    .write("pkgs/app/README.md", "docs\n")
    .write("shared/config.json", "{}\n")
    .write("unrelated.txt", "x\n")
    .write(".gitignore", ".kiln/\nran.log\n");
    repo.commit("fixture");
    repo
}

fn runs(repo: &Repo) -> usize {
    repo.run_ok(&["run", "build"]);
    let n = std::fs::read_to_string(repo.path("ran.log"))
        .unwrap_or_default()
        .lines()
        .count();
    std::fs::remove_file(repo.path("ran.log")).ok();
    n
}

#[test]
fn turbo_root_inputs_name_files_relative_to_the_workspace_root() {
    let repo = fixture(r#"["$TURBO_DEFAULT$", "$TURBO_ROOT$/shared/*.json"]"#);
    assert_eq!(runs(&repo), 1);
    assert_eq!(runs(&repo), 0);
    repo.write("shared/config.json", "{ \"changed\": true }\n");
    assert_eq!(runs(&repo), 1, "a root input changed");
    repo.write("unrelated.txt", "y\n");
    assert_eq!(runs(&repo), 0, "a root file that is no input changed");
    repo.write("pkgs/app/src/main.js", "2\n");
    assert_eq!(runs(&repo), 1, "$TURBO_DEFAULT$ still covers the package");
}

#[test]
fn explicit_inputs_leave_other_files_out_of_the_key() {
    let repo = fixture(r#"["src/**"]"#);
    assert_eq!(runs(&repo), 1);
    repo.write("pkgs/app/README.md", "more docs\n");
    assert_eq!(runs(&repo), 0, "README.md is not an input");
    repo.write("pkgs/app/src/main.js", "2\n");
    assert_eq!(runs(&repo), 1);
    repo.write(
        "pkgs/app/package.json",
        r#"{ "name": "app", "scripts": { "build": "echo ran >> ../../ran.log", "postbuild": "true" } }"#,
    );
    assert_eq!(runs(&repo), 1, "package.json is always an input");
}

#[test]
fn the_steps_a_task_runs_are_in_its_key() {
    let repo = fixture(r#"["src/**"]"#);
    assert_eq!(runs(&repo), 1);
    // Same script, but now run through the package manager: pre/post scripts and the
    // runner change what runs, so the key changes.
    repo.write(
        "kiln.toml",
        "[workspace]\nrunner = \"package-manager\"\n\n[tasks.build]\ninputs = [\"src/**\"]\n",
    );
    let keys = |repo: &Repo| -> String {
        let out = repo.run_ok(&["run", "build", "--dry-run=json"]);
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        json["tasks"][0]["hash"].as_str().unwrap().to_string()
    };
    let through_npm = keys(&repo);
    repo.write(
        "kiln.toml",
        "[workspace]\nrunner = \"direct\"\n\n[tasks.build]\ninputs = [\"src/**\"]\n",
    );
    assert_ne!(keys(&repo), through_npm);
}

#[test]
fn a_symlink_input_is_hashed_as_its_target_text_and_its_target_can_be_declared() {
    let repo = fixture(r#"["$TURBO_DEFAULT$"]"#);
    std::os::unix::fs::symlink(
        "../../shared/config.json",
        repo.path("pkgs/app/config.json"),
    )
    .unwrap();
    repo.commit("link");
    assert_eq!(runs(&repo), 1);
    // The link is what is hashed, as git records it: its target's content is not.
    repo.write("shared/config.json", "{ \"edited\": 1 }\n");
    assert_eq!(runs(&repo), 0, "documented: the link text is the input");
    std::fs::remove_file(repo.path("pkgs/app/config.json")).unwrap();
    std::os::unix::fs::symlink("../../unrelated.txt", repo.path("pkgs/app/config.json")).unwrap();
    assert_eq!(runs(&repo), 1, "retargeted");

    // Declared as an input, the target's edits re-run the task.
    let repo = fixture(r#"["$TURBO_DEFAULT$", "../../shared/config.json"]"#);
    std::os::unix::fs::symlink(
        "../../shared/config.json",
        repo.path("pkgs/app/config.json"),
    )
    .unwrap();
    assert_eq!(runs(&repo), 1);
    repo.write("shared/config.json", "{ \"edited\": 2 }\n");
    assert_eq!(runs(&repo), 1);
}
