//! Outputs round-trip through the cache exactly: bytes, modes, symlinks, exclusions;
//! kiln.toml members without a package.json run their `command`.

use std::os::unix::fs::PermissionsExt;

use crate::support::{Repo, stdout};

fn kiln_toml_repo() -> Repo {
    let repo = Repo::empty();
    repo.write(
        "kiln.toml",
        r#"
[workspace]
members = ["tools/*"]

[tasks.build]
depends_on = ["^build"]
outputs = ["out/**", "!out/tmp/**"]
"#,
    )
    .write(
        "tools/gen/kiln.toml",
        r#"
[package]
name = "gen"

[tasks.build]
command = "sh build.sh"
"#,
    )
    .write(
        "tools/gen/build.sh",
        r#"set -e
echo "gen ran" >> ../../exec.log
rm -rf out
mkdir -p out/bin out/tmp out/empty
printf 'hello\n' > out/data.txt
printf '#!/bin/sh\necho hi\n' > out/bin/tool
chmod 755 out/bin/tool
ln -s data.txt out/link
echo scratch > out/tmp/scratch
echo "built gen"
"#,
    )
    .write(
        "tools/use/kiln.toml",
        r#"
[package]
name = "use"
dependencies = ["gen"]

[tasks.build]
command = "sh -c 'test -x ../gen/out/bin/tool && echo use ran >> ../../exec.log && mkdir -p out && cp ../gen/out/data.txt out/copy.txt'"
"#,
    )
    .write(".gitignore", "out/\n.kiln/\nexec.log\n");
    repo.commit("fixture");
    repo
}

fn exec_log(repo: &Repo) -> String {
    let path = repo.path("exec.log");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let _ = std::fs::remove_file(path);
    text
}

#[test]
fn kiln_toml_members_run_their_commands_in_dependency_order() {
    let repo = kiln_toml_repo();
    repo.run_ok(&["run", "build"]);
    assert_eq!(exec_log(&repo), "gen ran\nuse ran\n");
    assert_eq!(repo.read("tools/use/out/copy.txt"), b"hello\n");
}

#[test]
fn restored_outputs_keep_modes_symlinks_and_exclusions() {
    let repo = kiln_toml_repo();
    repo.run_ok(&["run", "build"]);
    exec_log(&repo);
    std::fs::remove_dir_all(repo.path("tools/gen/out")).unwrap();
    std::fs::remove_dir_all(repo.path("tools/use/out")).unwrap();

    let out = repo.run_ok(&["run", "build"]);
    assert_eq!(exec_log(&repo), "", "both were cache hits");
    assert!(stdout(&out).contains("built gen"), "log replayed");

    let tool = repo.path("tools/gen/out/bin/tool");
    assert_eq!(std::fs::read(&tool).unwrap(), b"#!/bin/sh\necho hi\n");
    assert_eq!(
        std::fs::metadata(&tool).unwrap().permissions().mode() & 0o777,
        0o755
    );
    let link = repo.path("tools/gen/out/link");
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(
        std::fs::read_link(&link).unwrap().to_str(),
        Some("data.txt")
    );
    assert!(
        repo.path("tools/gen/out/empty").is_dir(),
        "empty dirs are kept"
    );
    assert!(
        !repo.path("tools/gen/out/tmp/scratch").exists(),
        "`!out/tmp/**` is not cached"
    );
    assert_eq!(repo.read("tools/use/out/copy.txt"), b"hello\n");
}

#[test]
fn outputs_kiln_did_not_write_are_never_restored_over_the_task_runs_instead() {
    let repo = kiln_toml_repo();
    repo.run_ok(&["run", "build"]);
    exec_log(&repo);
    // Untouched outputs of another key are kiln's own: a restore replaces them freely.
    repo.write("tools/gen/extra.txt", "a new input\n");
    repo.run_ok(&["run", "build"]);
    assert_eq!(exec_log(&repo), "gen ran\nuse ran\n");
    std::fs::remove_file(repo.path("tools/gen/extra.txt")).unwrap();
    repo.run_ok(&["run", "build"]);
    assert_eq!(exec_log(&repo), "", "restored over what kiln wrote");

    repo.write("tools/gen/out/data.txt", "tampered");
    let out = repo.run_ok(&["run", "build"]);
    assert!(
        stdout(&out).contains("kept `out/data.txt`: it changed since kiln last wrote it")
            || crate::support::stderr(&out)
                .contains("kept `out/data.txt`: it changed since kiln last wrote it"),
        "{}{}",
        stdout(&out),
        crate::support::stderr(&out)
    );
    assert_eq!(exec_log(&repo), "gen ran\n", "the task ran instead");
    assert_eq!(repo.read("tools/gen/out/data.txt"), b"hello\n");

    repo.write("tools/gen/out/stale.txt", "left over");
    repo.run_ok(&["run", "build"]);
    assert_eq!(exec_log(&repo), "gen ran\n", "not deleted by a restore");
    assert!(
        !repo.path("tools/gen/out/stale.txt").exists(),
        "the build's own `rm -rf out`"
    );
}

/// A package whose build writes `dist/out.js` from `src/index.js`, logging each execution
/// to the root's `ran.log`, with the given `outputs`.
fn overlapping_outputs(outputs: &str, gitignore: &str) -> Repo {
    let repo = Repo::npm_workspace();
    repo.write(
        "turbo.json",
        &format!(r#"{{ "tasks": {{ "build": {{ "outputs": {outputs} }} }} }}"#),
    )
    .write(
        "pkgs/web/package.json",
        r#"{ "name": "web", "scripts": { "build": "mkdir -p dist && cat src/index.js > dist/out.js && echo ran >> ../../ran.log" } }"#,
    )
    .write("pkgs/web/src/index.js", "one\n")
    .write("pkgs/web/types.d.ts", "export type A = 1;\n")
    .write(".gitignore", gitignore);
    repo.commit("fixture");
    repo
}

fn runs(repo: &Repo) -> usize {
    let text = std::fs::read_to_string(repo.path("ran.log")).unwrap_or_default();
    text.lines().count()
}

#[test]
fn an_edit_of_a_committed_file_the_outputs_match_is_never_undone() {
    let repo = overlapping_outputs(r#"["dist/**", "*.d.ts"]"#, ".kiln/\ndist/\nran.log\n");
    repo.run_ok(&["run", "build"]);
    repo.write("pkgs/web/types.d.ts", "export type A = 2;\n");
    repo.run_ok(&["run", "build"]);
    assert_eq!(
        runs(&repo),
        2,
        "a tracked output is an input: the edit is a miss"
    );
    assert_eq!(repo.read("pkgs/web/types.d.ts"), b"export type A = 2;\n");
    // Back to the first content: a hit, whose restore writes back exactly that.
    repo.write("pkgs/web/types.d.ts", "export type A = 1;\n");
    repo.run_ok(&["run", "build"]);
    assert_eq!(runs(&repo), 2);
    assert_eq!(repo.read("pkgs/web/types.d.ts"), b"export type A = 1;\n");
}

#[test]
fn an_edit_of_an_ignored_hand_written_file_the_outputs_match_is_never_undone() {
    let repo = overlapping_outputs(
        r#"["dist/**", "*.d.ts"]"#,
        ".kiln/\ndist/\nran.log\ntypes.d.ts\n",
    );
    repo.run_ok(&["run", "build"]);
    assert_eq!(runs(&repo), 1);
    // Not an input (git ignores it), so the key is the same: only the restore could lose it.
    repo.write("pkgs/web/types.d.ts", "export type A = 2;\n");
    let out = repo.run_ok(&["run", "build"]);
    assert_eq!(repo.read("pkgs/web/types.d.ts"), b"export type A = 2;\n");
    assert_eq!(runs(&repo), 2, "ran instead of restoring");
    assert!(
        crate::support::stderr(&out).contains("kept `types.d.ts`"),
        "{}",
        crate::support::stderr(&out)
    );
    // The run's result is kiln's own now: the next run is a hit in place.
    repo.run_ok(&["run", "build"]);
    assert_eq!(runs(&repo), 2);
    assert_eq!(repo.read("pkgs/web/types.d.ts"), b"export type A = 2;\n");
}

#[test]
fn outputs_that_take_in_the_whole_package_never_undo_an_edit_or_delete_a_file() {
    let repo = overlapping_outputs(r#"["**"]"#, ".kiln/\nran.log\n.env.local\n");
    repo.run_ok(&["run", "build"]);
    repo.write("pkgs/web/src/index.js", "two\n");
    repo.run_ok(&["run", "build"]);
    assert_eq!(repo.read("pkgs/web/src/index.js"), b"two\n", "edit kept");
    assert_eq!(repo.read("pkgs/web/dist/out.js"), b"two\n");
    assert_eq!(runs(&repo), 2);

    // An ignored file and a new, untracked source appear: neither is an input, and a
    // restore would delete both.
    repo.write("pkgs/web/.env.local", "SECRET=1\n");
    repo.write("pkgs/web/src/new.js", "new\n");
    repo.write("pkgs/web/src/index.js", "one\n");
    repo.run_ok(&["run", "build"]);
    assert_eq!(repo.read("pkgs/web/.env.local"), b"SECRET=1\n");
    assert_eq!(repo.read("pkgs/web/src/new.js"), b"new\n");
    assert_eq!(repo.read("pkgs/web/src/index.js"), b"one\n");
    assert_eq!(repo.read("pkgs/web/dist/out.js"), b"one\n");
}
