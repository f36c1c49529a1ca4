use super::*;
use crate::turbo_json::parse_root;
use crate::{ConfigSource, EnvMode, OutputLogs, Pipeline, TaskDefinition};

fn root(text: &str) -> Pipeline {
    parse_root(Path::new("turbo.json"), text).unwrap_or_else(|e| panic!("{e}"))
}

fn root_error(text: &str) -> String {
    parse_root(Path::new("turbo.json"), text)
        .unwrap_err()
        .to_string()
}

fn list(items: &[&str]) -> Option<Vec<String>> {
    Some(items.iter().map(|s| s.to_string()).collect())
}

#[test]
fn turbo_2_tasks_and_globals() {
    let p = root(
        r#"{
  "$schema": "https://turborepo.dev/schema.json",
  "ui": "tui",
  "globalDependencies": [".env", "tsconfig.json"],
  "globalEnv": ["CI"],
  "globalPassThroughEnv": ["HOME"],
  "remoteCache": {"enabled": false},
  "futureFlags": {"errorsOnlyShowHash": true},
  "tasks": {
    "build": {"dependsOn": ["^build"], "outputs": ["dist/**", "!dist/cache/**"], "env": ["API_URL"],
              "inputs": ["$TURBO_DEFAULT$", "!README.md"], "outputLogs": "new-only",
              "description": "compile", "tags": ["ci"], "with": ["watch"]},
    "dev": {"cache": false, "persistent": true, "interactive": false, "interruptible": true},
    "web#build": {"outputs": [".next/**"], "passThroughEnv": ["SECRET"]},
    "//#lint": {}
  }
}"#,
    );
    assert_eq!(p.global_dependencies, [".env", "tsconfig.json"]);
    assert_eq!(p.global_env, ["CI"]);
    assert_eq!(p.global_pass_through_env, list(&["HOME"]));
    let build = &p.tasks["build"];
    assert_eq!(build.depends_on, list(&["^build"]));
    assert_eq!(build.outputs, list(&["dist/**", "!dist/cache/**"]));
    assert_eq!(build.inputs, list(&["$TURBO_DEFAULT$", "!README.md"]));
    assert_eq!(build.env, list(&["API_URL"]));
    assert_eq!(build.cache, None);
    let dev = &p.tasks["dev"];
    assert_eq!((dev.cache, dev.persistent), (Some(false), Some(true)));
    assert_eq!(p.tasks["web#build"].pass_through_env, list(&["SECRET"]));
    assert_eq!(p.tasks["//#lint"], TaskDefinition::default());
    assert_eq!(build.output_logs, Some(OutputLogs::NewOnly));
    assert_eq!(build.with, list(&["watch"]));
    assert_eq!(p.ui.as_deref(), Some("tui"));
    assert_eq!(p.remote_cache_enabled, Some(false));
}

#[test]
fn structured_inputs_read_as_startup_globs_and_deferred_ones_are_named() {
    let p = root(
        r#"{"tasks": {"build": {"dependsOn": ["codegen"], "inputs": [
            {"mode": "startup", "withDefaults": true, "globs": ["!src/generated/**"]},
            {"mode": "jit", "globs": ["src/generated/**"]},
            "extra.json"
        ]}}}"#,
    );
    assert_eq!(
        p.tasks["build"].inputs,
        list(&["$TURBO_DEFAULT$", "!src/generated/**", "extra.json"])
    );
    assert_eq!(p.ignored_keys.len(), 1);
    assert_eq!(p.ignored_keys[0].key, "tasks.build.inputs.1");
}

#[test]
fn settings_kiln_acts_on_are_read_and_the_others_listed_with_their_line() {
    let p = root(
        r#"{
  "envMode": "loose",
  "concurrency": "50%",
  "cacheDir": ".cache/turbo",
  "daemon": false,
  "boundaries": {"tags": {}},
  "remoteCache": {"signature": true},
  "tasks": {
    "build": {"envMode": "strict", "tags": ["x"]},
    "dev": {"interactive": true, "persistent": true, "cache": false}
  }
}"#,
    );
    assert_eq!(p.env_mode, Some(EnvMode::Loose));
    assert_eq!(p.concurrency.as_deref(), Some("50%"));
    assert_eq!(p.cache_dir.as_deref(), Some(".cache/turbo"));
    assert_eq!(p.tasks["build"].env_mode, Some(EnvMode::Strict));
    let ignored: Vec<(String, usize)> = p
        .ignored_keys
        .iter()
        .map(|k| (k.key.clone(), k.line))
        .collect();
    assert_eq!(
        ignored,
        [
            ("boundaries".to_string(), 6),
            ("remoteCache.signature".to_string(), 7),
            ("tasks.build.tags".to_string(), 9),
            ("tasks.dev.interactive".to_string(), 10),
        ]
    );
    assert!(root_error(r#"{"envMode": "infer"}"#).contains("`envMode` is `strict` or `loose`"));
    assert!(
        root_error(r#"{"tasks": {"b": {"outputLogs": "some"}}}"#)
            .contains("turbo.json:1:32: `outputLogs` is one of")
    );
}

#[test]
fn turbo_1_keys_are_refused_as_turbo_2_refuses_them_saying_what_replaced_them() {
    for (text, expected) in [
        (
            r#"{"pipeline": {"build": {}}}"#,
            "turbo.json:1:2: `pipeline` is a Turborepo 1.x key, which Turborepo 2 refuses too: rename it to `tasks`",
        ),
        (
            r#"{"globalDotEnv": [".env"], "tasks": {}}"#,
            "turbo.json:1:2: `globalDotEnv` is a Turborepo 1.x key, which Turborepo 2 refuses too: list the files in `globalDependencies`",
        ),
        (
            r#"{"tasks": {"build": {"outputMode": "full"}}}"#,
            "turbo.json:1:22: `outputMode` is a Turborepo 1.x key, which Turborepo 2 refuses too: it is `outputLogs` now",
        ),
        (
            r#"{"tasks": {"build": {"dotEnv": [".env"]}}}"#,
            "turbo.json:1:22: `dotEnv` is a Turborepo 1.x key, which Turborepo 2 refuses too: list the files in `inputs`",
        ),
        (
            r#"{"baseBranch": "origin/main", "tasks": {}}"#,
            "turbo.json:1:2: `baseBranch` is a Turborepo 1.x key, which Turborepo 2 refuses too: `--affected` compares with `--base` (or `KILN_SCM_BASE`)",
        ),
    ] {
        assert_eq!(root_error(text), expected, "{text}");
    }
}

#[test]
fn jsonc_comments_and_trailing_commas_are_accepted() {
    let p = root(
        "{\n  // the pipeline\n  \"tasks\": {\n    /* build */ \"build\": {\n      \"outputs\": [\"dist//**\", \"http://x/*y*/\",],\n    },\n  },\n}\n",
    );
    assert_eq!(
        p.tasks["build"].outputs,
        list(&["dist//**", "http://x/*y*/"])
    );
}

#[test]
fn errors_point_at_the_offending_token() {
    let cases = [
        (
            "{\n  \"tasks\": {\n    \"build\": {\"dependsOn\": [\"^build\", \"$API\"]}\n  }\n}",
            "turbo.json:3:39: `dependsOn` cannot contain an environment variable (`$API`); list it in `env`",
        ),
        (
            "{\"tasks\": {\"build\": {\"dependsOn\": [\"\"]}}}",
            "turbo.json:1:36: `` names no task",
        ),
        (
            "{\"tasks\": {\"build\": {\"dependsOn\": [\"web#\"]}}}",
            "turbo.json:1:36: `web#` names no task",
        ),
        (
            "{\"tasks\": {\"build\": {\n  \"cache\": \"yes\"}}}",
            "turbo.json:2:12: `cache` must be `true` or `false`",
        ),
        (
            "{\"tasks\": {\"build\": {\"outputs\": \"dist/**\"}}}",
            "turbo.json:1:33: `outputs` must be an array of strings",
        ),
        (
            "{\"tasks\": {\"build\": {\"env\": [\"A\", 3]}}}",
            "turbo.json:1:35: `env` entries must be strings",
        ),
        (
            "{\"tasks\": {\"build\": {\"output\": []}}}",
            "turbo.json:1:22: unknown key `output` in a task definition",
        ),
        (
            "{\"tasks\": {}, \"pipeline\": {}}",
            "turbo.json:1:15: `pipeline` is a Turborepo 1.x key, which Turborepo 2 refuses too: rename it to `tasks`",
        ),
        (
            "{\"tasks\": {},\n \"globalEnvs\": []}",
            "turbo.json:2:2: unknown key `globalEnvs`",
        ),
        (
            "{\"extends\": [\"//\"], \"tasks\": {}}",
            "turbo.json:1:2: `extends` is only allowed in a package's turbo.json",
        ),
        (
            "{\"tasks\": {\"build\": {\"inputs\": [{\"mode\": \"later\", \"globs\": [\"a\"]}]}}}",
            "turbo.json:1:33: unknown input mode `later` (`startup`, `jit` or `dependencyOutputs`)",
        ),
        (
            "{\"tasks\": {\"build\": {}}\n  \"x\": 1}",
            "turbo.json:2:3: expected `,` or `}`",
        ),
        ("[1]", "turbo.json:1:1: expected a JSON object"),
    ];
    let wrong: Vec<String> = cases
        .iter()
        .filter(|(text, expected)| root_error(text) != *expected)
        .map(|(text, _)| format!("{text}\n  => {}", root_error(text)))
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn error_columns_count_from_the_original_text_with_its_comments() {
    let text = "{ /* ünïcödé */ \"tasks\": {\"b\": {\"cache\": 1}}}";
    assert_eq!(
        root_error(text),
        "turbo.json:1:42: `cache` must be `true` or `false`"
    );
}

#[test]
fn turbo_jsonc_is_read_when_there_is_no_turbo_json() {
    let dir = repo(&[
        ("package.json", r#"{"workspaces": []}"#),
        (
            "turbo.jsonc",
            "{ // comment\n \"tasks\": {\"build\": {\"outputs\": [\"dist/**\"],},},}",
        ),
    ]);
    let ws = discover(dir.path());
    assert_eq!(
        ws.pipeline.source,
        Some(ConfigSource::Turbo("turbo.jsonc".into()))
    );
    assert_eq!(ws.pipeline.tasks["build"].outputs, list(&["dist/**"]));
}

fn with_package_config(config: &str) -> TempDir {
    repo(&[
        ("package.json", r#"{"workspaces": ["apps/*"]}"#),
        (
            "turbo.json",
            r#"{"tasks": {"build": {"dependsOn": ["^build"], "outputs": ["dist/**"], "env": ["A"]},
                          "web#lint": {"inputs": ["src/**"]}, "lint": {}}}"#,
        ),
        ("apps/web/package.json", &pkg("web")),
        ("apps/web/turbo.json", config),
        ("apps/docs/package.json", &pkg("docs")),
    ])
}

#[test]
fn package_configurations_override_the_root_field_by_field() {
    let dir = with_package_config(
        r#"{"extends": ["//"], "tasks": {"build": {"outputs": [".next/**"], "cache": false}}}"#,
    );
    let ws = discover(dir.path());
    let web = ws.resolve_task(&"web".into(), "build").unwrap();
    assert_eq!(web.outputs, [".next/**"]);
    assert_eq!(web.depends_on, ["^build"]);
    assert!(!web.cache);
    let docs = ws.resolve_task(&"docs".into(), "build").unwrap();
    assert_eq!(docs.outputs, ["dist/**"]);
}

#[test]
fn turbo_extends_appends_to_the_inherited_arrays() {
    let dir = with_package_config(
        r#"{"extends": ["//"], "tasks": {
            "build": {"outputs": ["$TURBO_EXTENDS$", ".next/**"], "env": ["B", "$TURBO_EXTENDS$"]},
            "lint": {"inputs": ["$TURBO_EXTENDS$", "tests/**"]}}}"#,
    );
    let ws = discover(dir.path());
    let build = ws.resolve_task(&"web".into(), "build").unwrap();
    assert_eq!(build.outputs, ["dist/**", ".next/**"]);
    assert_eq!(build.env, ["A", "B"]);
    // The inherited value of `web#lint` is the root's `web#lint`, not `lint`.
    let lint = ws.resolve_task(&"web".into(), "lint").unwrap();
    assert_eq!(lint.inputs, ["src/**", "tests/**"]);
}

#[test]
fn turbo_extends_appends_to_the_inherited_with_too() {
    let dir = repo(&[
        ("package.json", r#"{"workspaces": ["apps/*"]}"#),
        (
            "turbo.json",
            r#"{"tasks": {"build": {"with": ["watch"]}, "watch": {}}}"#,
        ),
        ("apps/web/package.json", &pkg("web")),
        (
            "apps/web/turbo.json",
            r#"{"extends": ["//"], "tasks": {"build": {"with": ["$TURBO_EXTENDS$", "ui#serve"]}}}"#,
        ),
    ]);
    let ws = crate::Workspace::discover(dir.path()).unwrap();
    let def = ws.task_definition(&"web".into(), "build").unwrap();
    assert_eq!(def.with, list(&["watch", "ui#serve"]));
}

#[test]
fn extends_false_starts_a_fresh_definition() {
    let dir = with_package_config(
        r#"{"extends": ["//"], "tasks": {"build": {"extends": false, "cache": false}}}"#,
    );
    let ws = discover(dir.path());
    let build = ws.resolve_task(&"web".into(), "build").unwrap();
    assert!(build.outputs.is_empty() && build.depends_on.is_empty() && !build.cache);
}

#[test]
fn package_configuration_errors() {
    let cases = [
        (
            r#"{"tasks": {"build": {}}}"#,
            "apps/web/turbo.json:1:1: a package's turbo.json must have `\"extends\": [\"//\"]`",
        ),
        (
            r#"{"extends": ["docs"], "tasks": {}}"#,
            "apps/web/turbo.json:1:13: `extends` must start with \"//\" (the root turbo.json)",
        ),
        (
            r#"{"extends": ["//"], "tasks": {"web#build": {}}}"#,
            "apps/web/turbo.json:1:31: `web#build`: a package's turbo.json names its tasks without a package; use `build`",
        ),
        (
            r#"{"extends": ["//"], "tasks": {"//#lint": {}}}"#,
            "apps/web/turbo.json:1:31: `//#lint`: a package's turbo.json names its tasks without a package; use `lint`",
        ),
        (
            r#"{"extends": ["//"], "globalEnv": ["X"]}"#,
            "apps/web/turbo.json:1:21: unknown key `globalEnv` (a package's turbo.json takes `extends`, `tasks`, `tags` and `boundaries`)",
        ),
    ];
    for (config, expected) in cases {
        let dir = with_package_config(config);
        assert_eq!(error(dir.path()), expected, "{config}");
    }
}

#[test]
fn a_comment_key_is_accepted_at_the_root_and_in_packages() {
    let dir = with_package_config(
        r#"{"//": "web overrides", "extends": ["//"], "tasks": {"build": {"cache": false}}}"#,
    );
    let text = r#"{"//": "the pipeline", "tasks": {"build": {"outputs": ["dist/**"]}}}"#;
    fs_err::write(dir.path().join("turbo.json"), text).unwrap();
    let ws = discover(dir.path());
    assert!(!ws.resolve_task(&"web".into(), "build").unwrap().cache);
    assert_eq!(
        root_error(r#"{"//": 1, "tasks": {}}"#),
        "turbo.json:1:8: `\"//\"` (a comment) must be a string"
    );
}

#[test]
fn turbo_root_inputs_pass_through_unchanged() {
    let p = root(
        r#"{"tasks": {"build": {"inputs": ["$TURBO_DEFAULT$", "$TURBO_ROOT$/tsconfig.json", "!$TURBO_ROOT$/x/**"]}}}"#,
    );
    assert_eq!(
        p.tasks["build"].inputs,
        list(&[
            "$TURBO_DEFAULT$",
            "$TURBO_ROOT$/tsconfig.json",
            "!$TURBO_ROOT$/x/**"
        ])
    );
}

#[test]
fn turbo_root_and_dot_dot_in_outputs_are_errors_at_the_entry() {
    assert_eq!(
        root_error(
            "{\"tasks\": {\"build\": {\n  \"outputs\": [\"dist/**\", \"$TURBO_ROOT$/out/**\"]}}}"
        ),
        "turbo.json:2:26: `$TURBO_ROOT$/out/**`: `$TURBO_ROOT$` in `outputs` is not supported yet"
    );
    assert_eq!(
        root_error("{\"tasks\": {\"build\": {\"outputs\": [\"!../cache/**\"]}}}"),
        "turbo.json:1:34: `!../cache/**`: outputs cannot leave the package (`..`): kiln \
         restores a task's outputs into its own package only, so that a cache hit never writes \
         anywhere else"
    );
    // `..` inside a name is not a path component.
    let e = root_error(r#"{"tasks": {"build": {"outputs": ["dist/**", "/abs/out/**"]}}}"#);
    assert!(
        e.starts_with("turbo.json:1:45: `/abs/out/**`: outputs are relative to the package"),
        "{e}"
    );
    let p = root(r#"{"tasks": {"build": {"outputs": ["dist/a..b/**"]}}}"#);
    assert_eq!(p.tasks["build"].outputs, list(&["dist/a..b/**"]));
}
