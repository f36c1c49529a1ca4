use std::path::Path;

use super::*;

fn write(root: &Path, rel: &str, content: &str) {
    let path = root.join(rel);
    fs_err::create_dir_all(path.parent().unwrap()).unwrap();
    fs_err::write(path, content).unwrap();
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn rels(files: &[InputFile]) -> Vec<&str> {
    files.iter().map(|f| f.rel.as_str()).collect()
}

struct Task<'a> {
    dir: &'a str,
    inputs: &'a [&'a str],
    outputs: &'a [&'a str],
}

fn collect(root: &Path, task: Task<'_>) -> Vec<InputFile> {
    let (inputs, outputs) = (strings(task.inputs), strings(task.outputs));
    collect_inputs(&InputOptions {
        root,
        package_dir: task.dir,
        inputs: &inputs,
        outputs: &outputs,
        listing: None,
        tracked_ignored: &[],
        is_tracked: None,
    })
    .unwrap()
}

fn default_task(dir: &str) -> Task<'_> {
    Task {
        dir,
        inputs: &[],
        outputs: &[],
    }
}

/// A package under `packages/a` with sources, build output, logs and the usual noise.
fn fixture() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write(root, ".gitignore", "*.log\n/coverage\n");
    write(root, "package.json", "{}");
    write(root, "packages/a/package.json", "{\"name\":\"a\"}");
    write(root, "packages/a/.gitignore", "tmp/\n!keep.log\n");
    write(root, "packages/a/src/index.ts", "export {}");
    write(root, "packages/a/src/util/x.ts", "x");
    write(root, "packages/a/README.md", "# a");
    write(root, "packages/a/.eslintrc", "{}");
    write(root, "packages/a/debug.log", "noise");
    write(root, "packages/a/keep.log", "kept by a nested negation");
    write(
        root,
        "packages/a/tmp/scratch.txt",
        "ignored by the nested .gitignore",
    );
    write(root, "packages/a/dist/index.js", "built");
    write(root, "packages/a/node_modules/dep/index.js", "dep");
    write(root, "packages/a/.turbo/turbo-build.log", "log");
    write(root, "packages/a/.kiln/state/x", "state");
    tmp
}

#[test]
fn default_inputs_respect_gitignore_at_every_level_without_a_git_dir() {
    let tmp = fixture();
    let files = collect(tmp.path(), default_task("packages/a"));
    assert_eq!(
        rels(&files),
        [
            ".eslintrc",
            ".gitignore",
            "README.md",
            "dist/index.js",
            "keep.log",
            "package.json",
            "src/index.ts",
            "src/util/x.ts",
        ]
    );
    assert_eq!(files[6].abs, tmp.path().join("packages/a/src/index.ts"));
}

#[test]
fn a_real_git_repository_agrees_and_its_info_exclude_is_respected() {
    let tmp = fixture();
    let status = std::process::Command::new("git")
        .args(["init", "-q"])
        .current_dir(tmp.path())
        .status()
        .expect("git is installed");
    assert!(status.success());
    write(tmp.path(), ".git/info/exclude", "README.md\n");
    let files = collect(tmp.path(), default_task("packages/a"));
    assert!(!rels(&files).contains(&"README.md"));
    assert!(!rels(&files).iter().any(|r| r.starts_with(".git/")));

    // What git itself would add, minus the outputs we leave out on purpose.
    let listed = std::process::Command::new("git")
        .args([
            "ls-files",
            "--others",
            "--cached",
            "--exclude-standard",
            "packages/a",
        ])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    let git_files: Vec<String> = String::from_utf8(listed.stdout)
        .unwrap()
        .lines()
        .map(|l| l.trim_start_matches("packages/a/").to_string())
        .filter(|l| {
            !l.starts_with("node_modules/") && !l.starts_with(".turbo/") && !l.starts_with(".kiln/")
        })
        .collect();
    assert_eq!(rels(&files), git_files);
}

#[test]
fn outputs_are_taken_out_of_the_default_inputs() {
    let tmp = fixture();
    let files = collect(
        tmp.path(),
        Task {
            outputs: &["dist/**"],
            ..default_task("packages/a")
        },
    );
    assert!(!rels(&files).contains(&"dist/index.js"));
    assert!(rels(&files).contains(&"src/index.ts"));
}

#[test]
fn turbo_default_adds_the_default_set_and_negation_removes_from_it() {
    let tmp = fixture();
    let files = collect(
        tmp.path(),
        Task {
            inputs: &["$TURBO_DEFAULT$", "!**/*.md", "!src/util/**"],
            outputs: &["dist/**"],
            ..default_task("packages/a")
        },
    );
    assert_eq!(
        rels(&files),
        [
            ".eslintrc",
            ".gitignore",
            "keep.log",
            "package.json",
            "src/index.ts"
        ]
    );
}

#[test]
fn explicit_globs_select_unignored_matches_and_always_the_package_json() {
    let tmp = fixture();
    let files = collect(
        tmp.path(),
        Task {
            inputs: &["src/*.ts", "*.log", "tmp/**"],
            ..default_task("packages/a")
        },
    );
    // `src/*.ts` does not reach into `src/util`, `debug.log` and `tmp/` stay ignored.
    assert_eq!(rels(&files), ["keep.log", "package.json", "src/index.ts"]);
}

#[test]
fn negation_only_removes_what_came_before_it() {
    let tmp = fixture();
    let files = collect(
        tmp.path(),
        Task {
            inputs: &["!src/index.ts", "src/**"],
            ..default_task("packages/a")
        },
    );
    assert_eq!(
        rels(&files),
        ["package.json", "src/index.ts", "src/util/x.ts"]
    );
}

#[test]
fn a_literal_input_names_its_file_even_when_git_ignores_it() {
    let tmp = fixture();
    write(tmp.path(), ".gitignore", "*.log\n.env\n");
    write(tmp.path(), "packages/a/.env", "SECRET=1");
    let files = collect(
        tmp.path(),
        Task {
            inputs: &["src/**", ".env", "missing.txt"],
            ..default_task("packages/a")
        },
    );
    assert_eq!(
        rels(&files),
        [".env", "package.json", "src/index.ts", "src/util/x.ts"]
    );
}

#[test]
fn files_git_tracks_although_ignored_are_default_inputs() {
    let tmp = fixture();
    let outputs = strings(&[]);
    let tracked = strings(&["debug.log"]);
    let files = collect_inputs(&InputOptions {
        root: tmp.path(),
        package_dir: "packages/a",
        inputs: &[],
        outputs: &outputs,
        listing: None,
        tracked_ignored: &tracked,
        is_tracked: None,
    })
    .unwrap();
    assert!(rels(&files).contains(&"debug.log"), "{:?}", rels(&files));
}

#[test]
fn the_root_package_takes_the_files_of_every_package_as_turbo_does() {
    let tmp = fixture();
    let files = collect(tmp.path(), default_task(""));
    assert!(rels(&files).contains(&"packages/a/src/index.ts"));
    assert!(!rels(&files).contains(&"packages/a/debug.log"));
}

#[cfg(unix)]
#[test]
fn symlinks_are_listed_and_never_followed() {
    let tmp = fixture();
    let outside = tempfile::tempdir().unwrap();
    write(outside.path(), "secret/file.txt", "outside");
    std::os::unix::fs::symlink(
        outside.path().join("secret"),
        tmp.path().join("packages/a/out"),
    )
    .unwrap();
    let files = collect(tmp.path(), default_task("packages/a"));
    assert!(rels(&files).contains(&"out"));
    assert!(!rels(&files).iter().any(|r| r.starts_with("out/")));
}

#[test]
fn a_missing_package_dir_is_an_error_naming_it() {
    let tmp = fixture();
    let err = collect_inputs(&InputOptions {
        root: tmp.path(),
        package_dir: "packages/nope",
        inputs: &[],
        outputs: &[],
        listing: None,
        tracked_ignored: &[],
        is_tracked: None,
    })
    .unwrap_err();
    assert!(err.to_string().contains("packages/nope"), "{err}");
}

#[test]
fn a_package_dir_that_climbs_out_of_the_root_is_rejected() {
    let tmp = fixture();
    let err = collect_inputs(&InputOptions {
        root: tmp.path(),
        package_dir: "../elsewhere",
        inputs: &[],
        outputs: &[],
        listing: None,
        tracked_ignored: &[],
        is_tracked: None,
    })
    .unwrap_err();
    assert!(matches!(err, HashError::InvalidPackageDir { .. }));
}

#[test]
fn global_inputs_walk_only_where_globs_reach_and_keep_ignore_rules() {
    let tmp = fixture();
    write(tmp.path(), "tsconfig.base.json", "{}");
    write(tmp.path(), "config/a.json", "{}");
    write(tmp.path(), "config/nested/b.json", "{}");
    write(tmp.path(), "config/c.log", "ignored");
    write(tmp.path(), ".gitignore", "*.log\n.env\n");
    write(tmp.path(), ".env", "API=1");
    let globs = strings(&[
        "tsconfig.base.json",
        ".env",
        "config/**",
        "!config/nested/**",
        "nope/*.x",
    ]);
    let files = collect_global_inputs(tmp.path(), &globs).unwrap();
    assert_eq!(
        rels(&files),
        [".env", "config/a.json", "tsconfig.base.json"]
    );
    assert_eq!(files[0].abs, tmp.path().join(".env"));
}
