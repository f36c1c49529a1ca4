use std::path::Path;
use std::process::Command;

use super::*;
use crate::{InputOptions, collect_inputs};

fn write(root: &Path, rel: &str, content: &str) {
    let path = root.join(rel);
    fs_err::create_dir_all(path.parent().unwrap()).unwrap();
    fs_err::write(path, content).unwrap();
}

#[cfg(unix)]
fn symlink(root: &Path, rel: &str, target: &str) {
    let path = root.join(rel);
    fs_err::create_dir_all(path.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(target, path).unwrap();
}

fn git_init(dir: &Path) {
    let status = Command::new("git")
        .args(["init", "-q"])
        .current_dir(dir)
        .status()
        .expect("git is installed");
    assert!(status.success());
}

/// The package dirs of [`fixture`]'s workspace, nested ones included.
const PACKAGES: [&str; 7] = [
    "",
    "packages/a",
    "packages/a/inner",
    "packages/b",
    "legacy/old",
    "node_modules/vendored",
    "packages/linked",
];

/// A git repository whose workspace root is `ws/`, one level down, so that a `.gitignore`
/// and `.git/info/exclude` above the workspace apply to it.
fn fixture() -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path();
    git_init(repo);
    write(repo, ".gitignore", "*.secret\nws/packages/a/generated/\n");
    write(repo, ".git/info/exclude", "excluded-by-info.txt\n");
    let ws = repo.join("ws");
    write(&ws, ".gitignore", "*.log\n/coverage\nlegacy/\n");
    write(&ws, "package.json", "{}");
    write(&ws, "README.md", "# ws");
    write(&ws, ".env", "hidden file");
    write(&ws, ".config/tool.json", "{}");
    write(&ws, "coverage/lcov.info", "ignored at the root only");
    write(&ws, "excluded-by-info.txt", "ignored by .git/info/exclude");
    write(&ws, "node_modules/dep/index.js", "never entered");

    write(&ws, "packages/a/package.json", "{\"name\":\"a\"}");
    write(&ws, "packages/a/.gitignore", "tmp/\n!keep.log\n");
    write(&ws, "packages/a/.eslintrc", "{}");
    write(&ws, "packages/a/src/index.ts", "export {}");
    write(
        &ws,
        "packages/a/coverage/lcov.info",
        "not the root's /coverage",
    );
    write(&ws, "packages/a/debug.log", "ignored");
    write(&ws, "packages/a/keep.log", "kept by a nested negation");
    write(&ws, "packages/a/key.secret", "ignored above the workspace");
    write(
        &ws,
        "packages/a/generated/g.ts",
        "ignored above the workspace",
    );
    write(
        &ws,
        "packages/a/tmp/scratch.txt",
        "ignored by the nested .gitignore",
    );
    write(&ws, "packages/a/node_modules/dep/index.js", "never entered");

    write(&ws, "packages/a/inner/package.json", "{\"name\":\"inner\"}");
    write(&ws, "packages/a/inner/.gitignore", "*.txt\n");
    write(&ws, "packages/a/inner/notes.txt", "ignored");
    write(&ws, "packages/a/inner/src/i.ts", "i");

    write(&ws, "packages/b/package.json", "{\"name\":\"b\"}");
    write(&ws, "packages/b/.turbo/turbo-build.log", "never entered");
    #[cfg(unix)]
    symlink(&ws, "packages/b/link.ts", "../a/src/index.ts");

    // A package whose directory git ignores: its own walk still lists it.
    write(&ws, "legacy/old/package.json", "{\"name\":\"old\"}");
    write(&ws, "legacy/old/index.js", "old");
    // A package inside node_modules, which the single walk never enters.
    write(&ws, "node_modules/vendored/package.json", "{}");
    write(&ws, "node_modules/vendored/lib.js", "v");
    // A package whose directory is a symlink.
    write(&ws, "shared-src/package.json", "{\"name\":\"linked\"}");
    write(&ws, "shared-src/lib.ts", "l");
    #[cfg(unix)]
    symlink(&ws, "packages/linked", "../shared-src");
    (tmp, ws)
}

/// The per-package walk: every file under the package, those of nested packages included.
fn walked(root: &Path, dir: &str) -> Vec<String> {
    walk(root, dir).unwrap()
}

#[test]
fn the_listing_is_the_universe_of_every_per_package_walk() {
    let (_tmp, ws) = fixture();
    let listing = RepoListing::walk(&ws, &PACKAGES).unwrap();
    for dir in PACKAGES {
        assert_eq!(
            listing.files(dir).unwrap().to_vec(),
            walked(&ws, dir),
            "package `{dir}`"
        );
    }
}

#[test]
fn a_package_lists_its_nested_packages_files_under_the_ignore_rules_of_every_level() {
    let (_tmp, ws) = fixture();
    let listing = RepoListing::walk(&ws, &PACKAGES).unwrap();
    assert_eq!(
        *listing.files("packages/a").unwrap(),
        [
            ".eslintrc",
            ".gitignore",
            "coverage/lcov.info",
            "inner/.gitignore",
            "inner/package.json",
            "inner/src/i.ts",
            "keep.log",
            "package.json",
            "src/index.ts",
        ]
    );
    assert_eq!(
        *listing.files("packages/a/inner").unwrap(),
        [".gitignore", "package.json", "src/i.ts"]
    );
    #[cfg(unix)]
    assert_eq!(
        *listing.files("packages/b").unwrap(),
        ["link.ts", "package.json"]
    );
    let root_files = listing.files("").unwrap();
    let root: Vec<&str> = root_files.iter().map(|s| s.as_str()).collect();
    // Every file of the workspace but those git ignores (`legacy/`) or no walk enters
    // (`node_modules/`); a symlinked package is a symlink to the root.
    assert_eq!(
        root,
        [
            ".config/tool.json",
            ".env",
            ".gitignore",
            "README.md",
            "package.json",
            "packages/a/.eslintrc",
            "packages/a/.gitignore",
            "packages/a/coverage/lcov.info",
            "packages/a/inner/.gitignore",
            "packages/a/inner/package.json",
            "packages/a/inner/src/i.ts",
            "packages/a/keep.log",
            "packages/a/package.json",
            "packages/a/src/index.ts",
            #[cfg(unix)]
            "packages/b/link.ts",
            "packages/b/package.json",
            #[cfg(unix)]
            "packages/linked",
            "shared-src/lib.ts",
            "shared-src/package.json",
        ]
    );
}

#[test]
fn packages_the_walk_cannot_enter_are_walked_alone() {
    let (_tmp, ws) = fixture();
    let listing = RepoListing::walk(&ws, &PACKAGES).unwrap();
    assert_eq!(
        *listing.files("legacy/old").unwrap(),
        ["index.js", "package.json"]
    );
    assert_eq!(
        *listing.files("node_modules/vendored").unwrap(),
        ["lib.js", "package.json"]
    );
    #[cfg(unix)]
    assert_eq!(
        *listing.files("packages/linked").unwrap(),
        ["lib.ts", "package.json"]
    );
}

#[test]
fn directories_are_named_loosely_but_never_outside_the_root() {
    let (_tmp, ws) = fixture();
    let listing = RepoListing::walk(&ws, &["./packages/a/", "packages/a", "packages/b"]).unwrap();
    assert_eq!(listing.files("packages/a/"), listing.files("./packages/a"));
    // Not asked for: nested `inner` belongs to `a`, and `legacy/` is ignored at the root.
    assert!(
        listing
            .files("packages/a")
            .unwrap()
            .contains(&"inner/src/i.ts".to_string())
    );
    assert!(listing.files("packages/a/inner").is_none());
    assert!(listing.files(".").is_some());
    assert!(matches!(
        RepoListing::walk(&ws, &["../elsewhere"]),
        Err(HashError::InvalidPackageDir { .. })
    ));
}

#[test]
fn a_missing_package_dir_is_left_for_collect_inputs_to_report() {
    let (_tmp, ws) = fixture();
    let listing = RepoListing::walk(&ws, &["packages/gone"]).unwrap();
    assert!(listing.files("packages/gone").is_none());
    assert!(matches!(
        RepoListing::walk(&ws.join("nowhere"), &[]),
        Err(HashError::PackageDirMissing { .. })
    ));
}

#[test]
fn collect_inputs_selects_the_same_files_from_a_listing() {
    let (_tmp, ws) = fixture();
    let listing = RepoListing::walk(&ws, &PACKAGES).unwrap();
    let globs = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let tasks = [
        (globs(&[]), globs(&["coverage/**"])),
        (
            globs(&["src/**", "!src/i.ts", "keep.log", ".env"]),
            globs(&[]),
        ),
        (
            globs(&["$TURBO_DEFAULT$", "debug.log"]),
            globs(&["dist/**"]),
        ),
    ];
    for dir in PACKAGES {
        let listed = listing.files(dir);
        for (inputs, outputs) in &tasks {
            let opts = InputOptions {
                root: &ws,
                package_dir: dir,
                inputs,
                outputs,
                listing: None,
                tracked_ignored: &[],
                is_tracked: None,
            };
            let from_listing = InputOptions {
                listing: listed.as_deref(),
                ..opts
            };
            assert_eq!(
                collect_inputs(&from_listing).unwrap(),
                collect_inputs(&opts).unwrap(),
                "package `{dir}`, inputs {inputs:?}"
            );
        }
    }
}
