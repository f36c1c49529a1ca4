use super::*;
use crate::{ConfigSource, PackageManager, ScriptRunner};

#[test]
fn npm_array_workspaces_with_the_root_package() {
    let dir = repo(&[
        (
            "package.json",
            r#"{"name": "monorepo", "workspaces": ["packages/*"], "scripts": {"lint": "eslint ."},
                "devDependencies": {"a": "*", "left-pad": "^1"}}"#,
        ),
        ("package-lock.json", "{}"),
        ("packages/a/package.json", &pkg("a")),
        ("packages/b/package.json", &pkg("b")),
        ("packages/not-a-package/README.md", "no manifest"),
    ]);
    let ws = discover(dir.path());
    assert_eq!(ws.root, fs_err::canonicalize(dir.path()).unwrap());
    assert_eq!(ws.package_manager, PackageManager::Npm);
    assert_eq!(ws.lockfile.as_deref(), Some(Path::new("package-lock.json")));
    assert_eq!(names(&ws), ["//", "a", "b"]);
    let root = ws.package(&"//".into()).unwrap();
    assert_eq!(
        (root.dir.as_str(), root.manifest.as_str()),
        ("", "package.json")
    );
    assert_eq!(root.scripts["lint"], "eslint .");
    assert_eq!(deps(&ws, "//"), ["a"]);
    let a = ws.package(&"a".into()).unwrap();
    assert_eq!(a.dir, "packages/a");
    assert_eq!(a.manifest, "packages/a/package.json");
    assert_eq!(a.version.as_deref(), Some("1.0.0"));
    assert_eq!(a.scripts["build"], "echo a");
    assert_eq!(ws.pipeline.source, Some(ConfigSource::Default));
    assert!(ws.pipeline.tasks.is_empty());
}

#[test]
fn yarn_object_workspaces_and_leading_dot_slash() {
    let dir = repo(&[
        (
            "package.json",
            r#"{"private": true, "workspaces": {"packages": ["./apps/*", "libs/core/"], "nohoist": []}}"#,
        ),
        ("yarn.lock", ""),
        ("apps/web/package.json", &pkg("web")),
        ("libs/core/package.json", &pkg("core")),
        ("libs/other/package.json", &pkg("other")),
    ]);
    let ws = discover(dir.path());
    assert_eq!(ws.package_manager, PackageManager::Yarn);
    assert_eq!(names(&ws), ["//", "core", "web"]);
}

#[test]
fn pnpm_workspace_yaml_with_exclusions() {
    let dir = repo(&[
        (
            "package.json",
            r#"{"name": "root", "packageManager": "pnpm@9.1.0"}"#,
        ),
        ("pnpm-lock.yaml", "lockfileVersion: '9.0'\n"),
        (
            "pnpm-workspace.yaml",
            "packages:\n  - 'packages/*'\n  - '!packages/legacy'\n  - '!**/fixtures/**'\n",
        ),
        ("packages/a/package.json", &pkg("a")),
        ("packages/legacy/package.json", &pkg("legacy")),
        ("packages/a/fixtures/x/package.json", &pkg("fixture")),
    ]);
    let ws = discover(dir.path());
    assert_eq!(ws.package_manager, PackageManager::Pnpm);
    assert_eq!(ws.lockfile.as_deref(), Some(Path::new("pnpm-lock.yaml")));
    assert_eq!(names(&ws), ["//", "a"]);
}

#[test]
fn bun_is_recognised_by_its_binary_lockfile() {
    let dir = repo(&[
        ("package.json", r#"{"workspaces": ["packages/*"]}"#),
        ("bun.lockb", ""),
        ("packages/a/package.json", &pkg("a")),
    ]);
    let ws = discover(dir.path());
    assert_eq!(ws.package_manager, PackageManager::Bun);
    assert_eq!(ws.lockfile.as_deref(), Some(Path::new("bun.lockb")));
}

#[test]
fn kiln_toml_members_without_package_json() {
    let dir = repo(&[
        (
            "kiln.toml",
            "[workspace]\nmembers = [\"tools/*\", \"libs/core\"]\nexclude = [\"tools/old\"]\n\
             global_inputs = [\"tsconfig.base.json\"]\nglobal_env = [\"CI\"]\nrunner = \"package-manager\"\n\
             [tasks.build]\ndepends_on = [\"^build\"]\n",
        ),
        (
            "tools/gen/kiln.toml",
            "[package]\ndependencies = [\"core\"]\n[tasks.build]\ncommand = \"cargo build\"\noutputs = [\"target/**\"]\n",
        ),
        ("tools/old/kiln.toml", "[package]\n"),
        (
            "tools/only-tasks/kiln.toml",
            "[tasks.build]\ncommand = \"make\"\n",
        ),
        ("libs/core/kiln.toml", "[package]\nname = \"core\"\n"),
    ]);
    let ws = discover(dir.path());
    assert_eq!(ws.package_manager, PackageManager::None);
    assert_eq!(names(&ws), ["//", "core", "gen"]);
    assert_eq!(ws.package(&"//".into()).unwrap().manifest, "kiln.toml");
    let generator = ws.package(&"gen".into()).unwrap();
    assert_eq!(generator.manifest, "tools/gen/kiln.toml");
    assert!(generator.scripts.is_empty());
    assert_eq!(deps(&ws, "gen"), ["core"]);
    let p = &ws.pipeline;
    assert_eq!(p.source, Some(ConfigSource::Kiln("kiln.toml".into())));
    assert_eq!(p.global_dependencies, ["tsconfig.base.json"]);
    assert_eq!(p.global_env, ["CI"]);
    assert_eq!(p.runner, ScriptRunner::PackageManager);
    let gen_build = &p.package_tasks[&"gen".into()]["build"];
    assert_eq!(gen_build.command.as_deref(), Some("cargo build"));
    let resolved = ws.resolve_task(&"gen".into(), "build").unwrap();
    assert_eq!(resolved.depends_on, ["^build"]);
    assert_eq!(resolved.command.as_deref(), Some("cargo build"));
}

#[test]
fn kiln_members_are_added_to_package_manager_globs() {
    let dir = repo(&[
        ("package.json", r#"{"workspaces": ["packages/*"]}"#),
        (
            "kiln.toml",
            "[workspace]\nmembers = [\"crates/x\"]\nexclude = [\"packages/b\"]\n",
        ),
        ("packages/a/package.json", &pkg("a")),
        ("packages/b/package.json", &pkg("b")),
        (
            "crates/x/kiln.toml",
            "[package]\nname = \"x\"\ndependencies = [\"a\"]\n",
        ),
    ]);
    let ws = discover(dir.path());
    assert_eq!(names(&ws), ["//", "a", "x"]);
    assert_eq!(deps(&ws, "x"), ["a"]);
}

#[test]
fn kiln_member_depending_on_an_unknown_package_is_an_error() {
    let dir = repo(&[
        ("kiln.toml", "[workspace]\nmembers = [\"x\"]\n"),
        ("x/kiln.toml", "[package]\ndependencies = [\"nope\"]\n"),
    ]);
    assert_eq!(
        error(dir.path()),
        "x/kiln.toml:2:17: `nope` is not a package of this workspace"
    );
}

#[test]
fn nested_globs_skip_node_modules_but_not_hidden_directories() {
    // As `turbo ls` 2.11: `**` (and `*`) match `.cache`, never `node_modules`.
    let dir = repo(&[
        ("package.json", r#"{"workspaces": ["apps/**", "tools/x"]}"#),
        ("apps/web/package.json", &pkg("web")),
        ("apps/group/admin/package.json", &pkg("admin")),
        ("apps/web/node_modules/dep/package.json", &pkg("dep")),
        ("apps/.cache/c/package.json", &pkg("cached")),
        ("tools/x/package.json", &pkg("x")),
        ("tools/y/package.json", &pkg("y")),
    ]);
    assert_eq!(
        names(&discover(dir.path())),
        ["//", "admin", "cached", "web", "x"]
    );
}

#[test]
fn internal_dependencies_come_from_every_dependency_field() {
    let dir = repo(&[
        ("package.json", r#"{"workspaces": ["packages/*"]}"#),
        ("packages/a/package.json", &pkg("a")),
        ("packages/b/package.json", &pkg("b")),
        ("packages/c/package.json", &pkg("c")),
        ("packages/d/package.json", &pkg("d")),
        ("packages/e/package.json", &pkg("@scope/e")),
        ("packages/f/package.json", &pkg("f")),
        (
            "packages/app/package.json",
            r#"{"name": "app",
                "dependencies": {"a": "workspace:*", "react": "^18", "app": "workspace:*",
                                 "alias": "workspace:b@*", "f": "npm:other@1"},
                "devDependencies": {"c": "workspace:^", "a": "1.0.0"},
                "optionalDependencies": {"whatever": "workspace:../e"}}"#,
        ),
    ]);
    let ws = discover(dir.path());
    assert_eq!(deps(&ws, "app"), ["@scope/e", "a", "b", "c"]);
    assert!(deps(&ws, "a").is_empty());
}

#[test]
fn peer_dependencies_are_not_internal_dependencies() {
    // As Turborepo's `all_dependencies`: a peer adds no `^build` edge, and a plugin that
    // peers on its host while the host depends on it is no cycle.
    let dir = repo(&[
        ("package.json", r#"{"workspaces": ["packages/*"]}"#),
        (
            "packages/host/package.json",
            r#"{"name": "host", "dependencies": {"plugin": "workspace:*"}}"#,
        ),
        (
            "packages/plugin/package.json",
            r#"{"name": "plugin", "peerDependencies": {"host": "workspace:*"}}"#,
        ),
    ]);
    let ws = discover(dir.path());
    assert_eq!(deps(&ws, "host"), ["plugin"]);
    assert!(deps(&ws, "plugin").is_empty());
}

#[test]
fn two_packages_with_one_name_is_an_error_naming_both() {
    let dir = repo(&[
        ("package.json", r#"{"workspaces": ["packages/*"]}"#),
        ("packages/a/package.json", &pkg("same")),
        ("packages/b/package.json", &pkg("same")),
    ]);
    assert_eq!(
        error(dir.path()),
        "two packages are named `same`: packages/a/package.json and packages/b/package.json"
    );
}

#[test]
fn a_package_json_without_name_is_skipped() {
    // Turborepo skips it; only the root's package.json may lack a name and still count.
    let dir = repo(&[
        ("package.json", r#"{"workspaces": ["packages/*"]}"#),
        ("packages/a/package.json", r#"{"version": "1.0.0"}"#),
        ("packages/b/package.json", &pkg("b")),
    ]);
    let ws = discover(dir.path());
    assert_eq!(names(&ws), ["//", "b"]);
    assert_eq!(ws.package(&"//".into()).unwrap().manifest, "package.json");
}

#[test]
fn exclusions_match_the_manifest_path_too() {
    let dir = repo(&[
        (
            "package.json",
            r#"{"name": "root", "packageManager": "pnpm@9.1.0"}"#,
        ),
        (
            "pnpm-workspace.yaml",
            "packages:\n  - 'packages/*'\n  - '!packages/legacy/**'\n  - '!**/test/**'\n",
        ),
        ("packages/a/package.json", &pkg("a")),
        ("packages/legacy/package.json", &pkg("legacy")),
        ("packages/test/package.json", &pkg("test")),
    ]);
    assert_eq!(names(&discover(dir.path())), ["//", "a"]);
}

#[test]
fn packages_inside_packages_are_packages() {
    // Turborepo 2.11 lists every directory its globs match, nested or not: an inner package
    // listed on its own, and everything `**` finds under another package.
    let dir = repo(&[
        (
            "package.json",
            r#"{"workspaces": ["packages/**", "apps/*", "apps/web/inner"]}"#,
        ),
        ("packages/a/package.json", &pkg("a")),
        ("packages/a/test/fixtures/x/package.json", &pkg("fixture")),
        ("packages/group/b/package.json", &pkg("b")),
        ("apps/web/package.json", &pkg("web")),
        ("apps/web/inner/package.json", &pkg("web-inner")),
        // Matched by no glob: `apps/*` is one level.
        ("apps/web/e2e/package.json", &pkg("web-e2e")),
    ]);
    assert_eq!(
        names(&discover(dir.path())),
        ["//", "a", "b", "fixture", "web", "web-inner"]
    );
}

#[test]
fn a_bundle_named_like_its_package_is_a_duplicate_name() {
    // `turbo` refuses this repository too ("Failed to add workspace `a` ... already exists").
    let dir = repo(&[
        ("package.json", r#"{"workspaces": ["packages/**"]}"#),
        ("packages/a/package.json", &pkg("a")),
        ("packages/a/dist/package.json", &pkg("a")),
    ]);
    assert_eq!(
        error(dir.path()),
        "two packages are named `a`: packages/a/package.json and packages/a/dist/package.json"
    );
}

#[test]
fn a_malformed_package_json_points_at_the_error() {
    let dir = repo(&[
        ("package.json", r#"{"workspaces": ["packages/*"]}"#),
        (
            "packages/a/package.json",
            "{\n  \"name\": \"a\",\n  \"version\": 1\n}",
        ),
    ]);
    assert_eq!(
        error(dir.path()),
        "packages/a/package.json:3:14: invalid type: integer `1`, expected a string"
    );
}

#[test]
fn the_root_is_found_from_a_nested_subdirectory() {
    let dir = repo(&[
        ("package.json", r#"{"workspaces": ["packages/*"]}"#),
        ("packages/a/package.json", &pkg("a")),
        ("packages/a/src/deep/file.ts", ""),
    ]);
    let ws = discover(&dir.path().join("packages/a/src/deep"));
    assert_eq!(ws.root, fs_err::canonicalize(dir.path()).unwrap());
    assert_eq!(names(&ws), ["//", "a"]);
}

#[test]
fn a_member_kiln_toml_does_not_make_a_root() {
    let dir = repo(&[
        ("kiln.toml", "[workspace]\nmembers = [\"x\"]\n"),
        ("x/kiln.toml", "[package]\n"),
    ]);
    let ws = discover(&dir.path().join("x"));
    assert_eq!(ws.root, fs_err::canonicalize(dir.path()).unwrap());
}

#[test]
fn turbo_json_alone_marks_the_root_when_nothing_else_does() {
    let dir = repo(&[
        (
            "package.json",
            r#"{"name": "single", "scripts": {"build": "tsc"}}"#,
        ),
        ("turbo.json", r#"{"tasks": {"//#build": {}}}"#),
        ("src/index.ts", ""),
    ]);
    let ws = discover(&dir.path().join("src"));
    assert_eq!(names(&ws), ["//"]);
    assert_eq!(
        ws.pipeline.source,
        Some(ConfigSource::Turbo("turbo.json".into()))
    );
    assert!(ws.resolve_task(&"//".into(), "build").is_some());
}

#[test]
fn no_root_is_an_error_naming_the_start() {
    let dir = repo(&[("src/a.ts", "")]);
    let start = dir.path().join("src");
    let e = error(&start);
    assert!(
        e.starts_with(&format!(
            "no workspace found at or above {}",
            start.display()
        )),
        "{e}"
    );
}

#[test]
fn kiln_toml_wins_over_turbo_json() {
    let dir = repo(&[
        ("package.json", r#"{"workspaces": []}"#),
        ("kiln.toml", "[tasks.build]\noutputs = [\"out/**\"]\n"),
        (
            "turbo.json",
            r#"{"tasks": {"build": {"outputs": ["dist/**"]}}}"#,
        ),
    ]);
    let ws = discover(dir.path());
    assert_eq!(
        ws.pipeline.source,
        Some(ConfigSource::Kiln("kiln.toml".into()))
    );
    assert_eq!(
        ws.pipeline.tasks["build"].outputs.as_deref(),
        Some(&["out/**".to_string()][..])
    );
}

#[test]
fn unknown_kiln_toml_keys_are_errors() {
    let dir = repo(&[
        ("package.json", r#"{"workspaces": []}"#),
        ("kiln.toml", "[workspace]\nmembers = []\nmember = []\n"),
    ]);
    let e = error(dir.path());
    assert!(
        e.starts_with("kiln.toml:3:1: unknown field `member`"),
        "{e}"
    );
}

#[test]
fn bad_globs_name_their_file() {
    let dir = repo(&[("package.json", r#"{"workspaces": ["../outside/*"]}"#)]);
    assert_eq!(
        error(dir.path()),
        "package.json: invalid package glob `../outside/*`: patterns cannot leave the workspace root"
    );
}

#[test]
fn config_errors_are_diagnostics_with_a_span() {
    use miette::Diagnostic;
    let dir = repo(&[
        ("package.json", r#"{"workspaces": []}"#),
        ("turbo.json", "{\n  \"tasks\": {},\n  \"bogus\": 1\n}\n"),
    ]);
    let e = config_error(dir.path());
    assert_eq!(e.to_string(), "turbo.json:3:3: unknown key `bogus`");
    let label = e.labels().unwrap().next().unwrap();
    assert_eq!((label.offset(), label.len()), (19, 7));
    assert!(e.source_code().is_some());
}

/// Not a benchmark: a guard that discovery of a large repo stays in the milliseconds.
#[test]
fn two_thousand_packages_discover_quickly() {
    let dir = repo(&[(
        "package.json",
        r#"{"workspaces": ["packages/*", "apps/*"]}"#,
    )]);
    for i in 0..2000 {
        let group = if i % 4 == 0 { "apps" } else { "packages" };
        let path = dir.path().join(format!("{group}/p{i}"));
        fs_err::create_dir_all(path.join("src")).unwrap();
        let dep = if i > 0 {
            format!(r#""p{}": "workspace:*""#, i - 1)
        } else {
            String::new()
        };
        let json = format!(
            r#"{{"name": "p{i}", "version": "1.0.0", "scripts": {{"build": "tsc -b", "test": "vitest"}},
                "dependencies": {{{dep}}}, "devDependencies": {{"typescript": "^5", "vitest": "^1"}}}}"#
        );
        fs_err::write(path.join("package.json"), json).unwrap();
    }
    discover(dir.path());
    let started = std::time::Instant::now();
    let ws = discover(dir.path());
    let took = started.elapsed();
    assert_eq!(ws.packages.len(), 2001);
    assert_eq!(deps(&ws, "p10"), ["p9"]);
    assert!(took.as_millis() < 500, "discovery took {took:?}");
}

#[test]
fn discovery_may_start_from_a_file() {
    let dir = repo(&[
        ("package.json", r#"{"workspaces": ["packages/*"]}"#),
        ("packages/a/package.json", &pkg("a")),
        ("packages/a/index.js", ""),
    ]);
    let ws = discover(&dir.path().join("packages/a/index.js"));
    assert_eq!(names(&ws), ["//", "a"]);
}

#[test]
fn an_empty_script_is_no_command() {
    let dir = repo(&[
        ("package.json", r#"{"workspaces": ["packages/*"]}"#),
        ("turbo.json", r#"{"tasks": {"build": {}, "lint": {}}}"#),
        (
            "packages/a/package.json",
            r#"{"name": "a", "scripts": {"build": "", "lint": "eslint ."}}"#,
        ),
    ]);
    let ws = discover(dir.path());
    assert_eq!(ws.resolve_task(&"a".into(), "build").unwrap().command, None);
    assert_eq!(
        ws.resolve_task(&"a".into(), "lint")
            .unwrap()
            .command
            .as_deref(),
        Some("eslint .")
    );
}
