//! Cargo workspaces, alone and mixed with npm workspaces.

use std::collections::BTreeMap;

use super::*;
use crate::{ConfigSource, PackageKind, PackageManager};

fn krate(name: &str, deps: &str) -> String {
    format!("[package]\nname = \"{name}\"\nversion = \"0.1.0\"\n\n[dependencies]\n{deps}\n")
}

fn external<'w>(ws: &'w Workspace, name: &str) -> BTreeMap<&'w str, &'w str> {
    let package = ws.package(&name.into()).unwrap();
    package
        .external_dependencies
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

const ROOT: &str = r#"
[workspace]
resolver = "3"
members = ["crates/*", "tools/gen", "empty/*"]
exclude = ["crates/old"]

[workspace.package]
version = "2.1.0"

[workspace.dependencies]
core = { path = "crates/core" }
serde = { version = "1.0.200", features = ["derive"] }
log = { package = "tracing", version = "0.1" }
"#;

#[test]
fn a_pure_cargo_workspace() {
    let dir = repo(&[
        ("Cargo.toml", ROOT),
        ("Cargo.lock", "version = 4\n"),
        (
            "crates/core/Cargo.toml",
            "[package]\nname = \"acme-core\"\nversion.workspace = true\n\
             [dependencies]\nserde.workspace = true\n",
        ),
        (
            "crates/app/Cargo.toml",
            r#"[package]
name = "acme-app"
version = "0.3.0"
edition = "2024"

[dependencies]
core = { workspace = true }
log.workspace = true
engine = { package = "acme-engine", path = "../engine" }
json = { package = "serde_json", version = "1" }
legacy = { path = "../old" }
tool = { git = "https://example.com/tool.git", rev = "abc123" }

[dev-dependencies]
testkit = { path = "../testkit" }

[build-dependencies]
gen = { path = "../../tools/gen" }

[target.'cfg(unix)'.dependencies]
sys = { path = "../sys" }
libc = "0.2"
"#,
        ),
        ("crates/engine/Cargo.toml", &krate("acme-engine", "")),
        ("crates/testkit/Cargo.toml", &krate("testkit", "")),
        ("crates/sys/Cargo.toml", &krate("sys", "")),
        ("crates/old/Cargo.toml", &krate("old", "")),
        // Not a member: `crates/*` skips hidden directories.
        ("crates/.cache/x.txt", ""),
        // Not listed, but a path dependency inside the root: a member, as in Cargo.
        (
            "tools/gen/Cargo.toml",
            &krate("gen", "vendored = { path = \"../../vendor/v\" }"),
        ),
        ("vendor/v/Cargo.toml", &krate("vendored", "")),
    ]);
    let ws = discover(dir.path());
    assert_eq!(ws.package_manager, PackageManager::None);
    assert_eq!(ws.lockfile, None);
    assert_eq!(ws.cargo_lockfile.as_deref(), Some(Path::new("Cargo.lock")));
    assert_eq!(
        names(&ws),
        [
            "//",
            "acme-app",
            "acme-core",
            "acme-engine",
            "gen",
            "sys",
            "testkit",
            "vendored"
        ]
    );
    let root = ws.package(&"//".into()).unwrap();
    assert_eq!(
        (root.manifest.as_str(), root.kind),
        ("Cargo.toml", PackageKind::Kiln)
    );

    let app = ws.package(&"acme-app".into()).unwrap();
    assert_eq!(app.dir, "crates/app");
    assert_eq!(app.manifest, "crates/app/Cargo.toml");
    assert_eq!(app.kind, PackageKind::Cargo);
    assert_eq!(app.version.as_deref(), Some("0.3.0"));
    assert!(app.scripts.is_empty());
    assert_eq!(
        deps(&ws, "acme-app"),
        ["acme-core", "acme-engine", "gen", "sys", "testkit"]
    );
    assert_eq!(
        external(&ws, "acme-app"),
        BTreeMap::from([
            ("tracing", "0.1"),
            ("serde_json", "1"),
            ("legacy", "path:crates/old"),
            ("tool", "git+https://example.com/tool.git#abc123"),
            ("libc", "0.2"),
        ])
    );
    let core = ws.package(&"acme-core".into()).unwrap();
    assert_eq!(core.version.as_deref(), Some("2.1.0"));
    assert_eq!(
        external(&ws, "acme-core"),
        BTreeMap::from([("serde", "1.0.200")])
    );
    assert_eq!(deps(&ws, "gen"), ["vendored"]);
}

#[test]
fn a_crate_s_own_kiln_toml_gives_its_tasks() {
    let dir = repo(&[
        ("Cargo.toml", "[workspace]\nmembers = [\"crates/*\"]\n"),
        (
            "kiln.toml",
            "[tasks.build]\ndepends_on = [\"^build\"]\ncommand = \"cargo build\"\n\
             [tasks.test]\ncommand = \"cargo test\"\n",
        ),
        (
            "crates/a/Cargo.toml",
            &krate("a", "b = { path = \"../b\" }"),
        ),
        (
            "crates/a/kiln.toml",
            "[package]\nname = \"a\"\n[tasks.test]\ncommand = \"cargo nextest run\"\n",
        ),
        ("crates/b/Cargo.toml", &krate("b", "")),
    ]);
    let ws = discover(dir.path());
    assert_eq!(
        ws.pipeline.source,
        Some(ConfigSource::Kiln("kiln.toml".into()))
    );
    assert_eq!(ws.package(&"//".into()).unwrap().manifest, "kiln.toml");
    assert_eq!(deps(&ws, "a"), ["b"]);
    let command = |package: &str, task: &str| {
        ws.resolve_task(&package.into(), task)
            .and_then(|t| t.command)
            .unwrap()
    };
    assert_eq!(command("a", "build"), "cargo build");
    assert_eq!(command("a", "test"), "cargo nextest run");
    assert_eq!(command("b", "test"), "cargo test");
}

#[test]
fn a_crate_s_kiln_toml_may_not_rename_it() {
    let dir = repo(&[
        ("Cargo.toml", "[workspace]\nmembers = [\"a\"]\n"),
        ("kiln.toml", ""),
        ("a/Cargo.toml", &krate("a", "")),
        ("a/kiln.toml", "[package]\nname = \"other\"\n"),
    ]);
    assert_eq!(
        error(dir.path()),
        "a/kiln.toml:1:1: [package] name `other` differs from `a` in a/Cargo.toml"
    );
}

#[test]
fn a_root_crate_is_a_package_of_its_own_name_beside_the_root() {
    let dir = repo(&[
        (
            "Cargo.toml",
            "[package]\nname = \"tool\"\nversion = \"1.0.0\"\n\
             [dependencies]\nmacros = { path = \"macros\" }\n\
             [workspace]\nmembers = [\".\", \"macros\"]\n",
        ),
        ("macros/Cargo.toml", &krate("tool-macros", "")),
        ("kiln.toml", "[tasks.build]\ncommand = \"cargo build\"\n"),
    ]);
    let ws = discover(&dir.path().join("macros"));
    assert_eq!(names(&ws), ["//", "tool", "tool-macros"]);
    let tool = ws.package(&"tool".into()).unwrap();
    assert_eq!(
        (tool.dir.as_str(), tool.manifest.as_str(), tool.kind),
        ("", "Cargo.toml", PackageKind::Cargo)
    );
    assert_eq!(deps(&ws, "tool"), ["tool-macros"]);
    // A generic task applies to it, unlike to `//`.
    assert!(ws.resolve_task(&"tool".into(), "build").is_some());
    assert!(ws.resolve_task(&"//".into(), "build").is_none());
}

#[test]
fn a_root_crate_under_a_root_package_json_is_the_root_package() {
    let dir = repo(&[
        (
            "package.json",
            r#"{"name": "native", "version": "3.0.0", "workspaces": ["packages/*"]}"#,
        ),
        (
            "Cargo.toml",
            "[package]\nname = \"native-rs\"\n[dependencies]\nlib = { path = \"crates/lib\" }\n\
             [workspace]\nmembers = [\"crates/*\"]\n",
        ),
        ("crates/lib/Cargo.toml", &krate("lib", "")),
        ("packages/a/package.json", &pkg("a")),
    ]);
    let ws = discover(dir.path());
    assert_eq!(names(&ws), ["//", "a", "lib"]);
    let root = ws.package(&"//".into()).unwrap();
    assert_eq!(
        (root.kind, root.version.as_deref()),
        (PackageKind::Node, Some("3.0.0"))
    );
    assert_eq!(deps(&ws, "//"), ["lib"]);
}

#[test]
fn a_mixed_npm_and_cargo_repository_is_one_workspace() {
    let dir = repo(&[
        (
            "package.json",
            r#"{"name": "mono", "workspaces": ["packages/*"], "packageManager": "pnpm@9.0.0"}"#,
        ),
        ("pnpm-workspace.yaml", "packages:\n  - 'packages/*'\n"),
        ("pnpm-lock.yaml", ""),
        (
            "Cargo.toml",
            "[workspace]\nmembers = [\"crates/*\", \"packages/native\"]\n",
        ),
        ("Cargo.lock", ""),
        ("crates/core/Cargo.toml", &krate("core-rs", "")),
        (
            "packages/web/package.json",
            r#"{"name": "web", "dependencies": {"@acme/native": "workspace:*", "react": "^18"}}"#,
        ),
        // A napi-rs package: a package.json and a crate in one directory.
        (
            "packages/native/package.json",
            r#"{"name": "@acme/native", "version": "0.2.0", "scripts": {"build": "napi build"},
                "devDependencies": {"@napi-rs/cli": "^2"}}"#,
        ),
        (
            "packages/native/Cargo.toml",
            &krate(
                "acme-native",
                "core-rs = { path = \"../../crates/core\" }\nnapi = \"2\"",
            ),
        ),
    ]);
    let ws = discover(dir.path());
    assert_eq!(ws.package_manager, PackageManager::Pnpm);
    assert_eq!(ws.lockfile.as_deref(), Some(Path::new("pnpm-lock.yaml")));
    assert_eq!(ws.cargo_lockfile.as_deref(), Some(Path::new("Cargo.lock")));
    assert_eq!(names(&ws), ["//", "@acme/native", "core-rs", "web"]);
    let native = ws.package(&"@acme/native".into()).unwrap();
    assert_eq!(
        (
            native.kind,
            native.manifest.as_str(),
            native.version.as_deref()
        ),
        (
            PackageKind::Node,
            "packages/native/package.json",
            Some("0.2.0")
        )
    );
    assert_eq!(native.scripts["build"], "napi build");
    // The crate's edge is kept; the third-party dependencies stay npm's.
    assert_eq!(deps(&ws, "@acme/native"), ["core-rs"]);
    assert_eq!(
        external(&ws, "@acme/native"),
        BTreeMap::from([("@napi-rs/cli", "^2")])
    );
    assert_eq!(deps(&ws, "web"), ["@acme/native"]);
    assert_eq!(
        ws.package(&"core-rs".into()).unwrap().kind,
        PackageKind::Cargo
    );
}

#[test]
fn a_name_used_by_a_node_package_and_a_crate_is_an_error_naming_both() {
    let dir = repo(&[
        ("package.json", r#"{"workspaces": ["packages/*"]}"#),
        ("Cargo.toml", "[workspace]\nmembers = [\"crates/*\"]\n"),
        ("packages/util/package.json", &pkg("util")),
        ("crates/util/Cargo.toml", &krate("util", "")),
    ]);
    assert_eq!(
        error(dir.path()),
        "two packages are named `util`: crates/util/Cargo.toml and packages/util/package.json"
    );
}

#[test]
fn a_malformed_cargo_toml_points_at_the_error() {
    let dir = repo(&[
        ("Cargo.toml", "[workspace]\nmembers = [\"crates/*\"]\n"),
        (
            "crates/a/Cargo.toml",
            "[package]\nname = \"a\"\n\n[dependencies]\nserde = { version = \"1\" \n",
        ),
    ]);
    let e = config_error(dir.path());
    assert_eq!(e.file(), Path::new("crates/a/Cargo.toml"));
    assert_eq!(e.line(), 5);
    assert!(e.to_string().starts_with("crates/a/Cargo.toml:5:"), "{e}");
}

#[test]
fn a_member_directory_without_cargo_toml_is_an_error_naming_the_glob() {
    let dir = repo(&[
        ("Cargo.toml", "[workspace]\nmembers = [\"crates/*\"]\n"),
        ("crates/a/Cargo.toml", &krate("a", "")),
        ("crates/docs/README.md", ""),
    ]);
    assert_eq!(
        error(dir.path()),
        "Cargo.toml: workspace member `crates/docs` (from `crates/*`) has no Cargo.toml"
    );
    let dir = repo(&[("Cargo.toml", "[workspace]\nmembers = [\"missing\"]\n")]);
    assert_eq!(
        error(dir.path()),
        "Cargo.toml: workspace member `missing` (from `missing`) has no Cargo.toml"
    );
}

#[test]
fn a_glob_matching_nothing_is_only_a_warning() {
    let dir = repo(&[
        (
            "Cargo.toml",
            "[workspace]\nmembers = [\"crates/*\", \"plugins/*\"]\n",
        ),
        ("crates/a/Cargo.toml", &krate("a", "")),
    ]);
    assert_eq!(names(&discover(dir.path())), ["//", "a"]);
}

#[test]
fn a_nested_workspace_is_an_error() {
    let dir = repo(&[
        ("Cargo.toml", "[workspace]\nmembers = [\"crates/*\"]\n"),
        (
            "crates/inner/Cargo.toml",
            "[workspace]\nmembers = [\"x\"]\n",
        ),
    ]);
    let e = error(dir.path());
    assert!(
        e.starts_with("crates/inner/Cargo.toml:1:1: a workspace member cannot declare [workspace]"),
        "{e}"
    );
}

#[test]
fn recursive_globs_keep_the_directories_holding_a_crate() {
    let dir = repo(&[
        ("Cargo.toml", "[workspace]\nmembers = [\"libs/**\"]\n"),
        ("libs/a/Cargo.toml", &krate("a", "")),
        ("libs/a/src/lib.rs", ""),
        ("libs/group/b/Cargo.toml", &krate("b", "")),
        ("libs/group/b/target/debug/Cargo.toml", &krate("junk", "")),
    ]);
    assert_eq!(names(&discover(dir.path())), ["//", "a", "b"]);
}

#[test]
fn kiln_toml_exclusions_remove_crates_too() {
    let dir = repo(&[
        ("Cargo.toml", "[workspace]\nmembers = [\"crates/*\"]\n"),
        ("kiln.toml", "[workspace]\nexclude = [\"crates/bench\"]\n"),
        ("crates/a/Cargo.toml", &krate("a", "")),
        ("crates/bench/Cargo.toml", &krate("bench", "")),
    ]);
    assert_eq!(names(&discover(dir.path())), ["//", "a"]);
}
