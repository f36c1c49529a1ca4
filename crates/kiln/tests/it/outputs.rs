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
fn stale_files_in_outputs_are_replaced_by_exactly_the_cached_set() {
    let repo = kiln_toml_repo();
    repo.run_ok(&["run", "build"]);
    exec_log(&repo);
    repo.write("tools/gen/out/stale.txt", "left over");
    repo.write("tools/gen/out/data.txt", "tampered");
    repo.run_ok(&["run", "build"]);
    assert_eq!(exec_log(&repo), "");
    assert_eq!(repo.read("tools/gen/out/data.txt"), b"hello\n");
    assert!(!repo.path("tools/gen/out/stale.txt").exists());
}
