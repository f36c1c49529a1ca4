//! package.json scripts run as the package manager would run them: pre/post scripts,
//! `node_modules/.bin` on PATH, the `npm_*` variables; or through the package manager itself.

use crate::support::{Repo, stdout};

fn repo_with(kiln_toml: Option<&str>) -> Repo {
    let repo = Repo::npm_workspace();
    repo.write(
        "turbo.json",
        r#"{ "tasks": { "build": { "outputs": ["out.txt"] } } }"#,
    )
    .write(
        "pkgs/app/package.json",
        r#"{
  "name": "app", "version": "2.3.4",
  "scripts": {
    "prebuild": "echo pre > out.txt",
    "build": "greet >> out.txt && echo \"$npm_lifecycle_event $npm_package_name $npm_package_version\" >> out.txt",
    "postbuild": "echo post >> out.txt"
  }
}"#,
    )
    // A tool installed in the root's node_modules/.bin, as a package manager would link it.
    .write("node_modules/.bin/greet", "#!/bin/sh\necho hello from greet\n")
    .write(".gitignore", "out.txt\n.kiln/\n");
    std::fs::set_permissions(
        repo.path("node_modules/.bin/greet"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    if let Some(toml) = kiln_toml {
        repo.write("kiln.toml", toml);
    }
    repo.commit("fixture");
    repo
}

#[test]
fn scripts_run_with_pre_and_post_scripts_bin_path_and_npm_variables() {
    let repo = repo_with(None);
    repo.run_ok(&["run", "build"]);
    assert_eq!(
        String::from_utf8(repo.read("pkgs/app/out.txt")).unwrap(),
        "pre\nhello from greet\nbuild app 2.3.4\npost\n"
    );
}

#[test]
fn the_package_manager_runner_runs_the_script_through_npm() {
    let repo = repo_with(Some(
        "[workspace]\nrunner = \"package-manager\"\n\n[tasks.build]\noutputs = [\"out.txt\"]\n",
    ));
    let out = repo.run_ok(&["run", "build"]);
    assert_eq!(
        String::from_utf8(repo.read("pkgs/app/out.txt")).unwrap(),
        "pre\nhello from greet\nbuild app 2.3.4\npost\n"
    );
    // npm announces the script it runs: `> app@2.3.4 build`.
    assert!(stdout(&out).contains("app@2.3.4 build"), "{}", stdout(&out));
}
