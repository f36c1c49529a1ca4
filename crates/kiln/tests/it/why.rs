//! `kiln why`, `kiln run -v` and the summary explain every decision, down to the root cause;
//! `kiln state` inspects, checks and resets what the explanations come from.

use crate::support::{Repo, stderr, stdout};

/// `web` → `ui`; `build` copies `src/*` into `dist/out` and declares the `MODE` env var.
fn web_and_ui() -> Repo {
    let repo = Repo::npm_workspace();
    repo.write(
        "turbo.json",
        r#"{ "tasks": { "build": { "dependsOn": ["^build"], "outputs": ["dist/**"], "env": ["MODE"] } } }"#,
    );
    let build = "mkdir -p dist && cat src/* > dist/out";
    repo.write(
        "pkgs/ui/package.json",
        &format!(r#"{{ "name": "ui", "scripts": {{ "build": "{build}" }} }}"#),
    )
    .write("pkgs/ui/src/button.txt", "button\n")
    .write(
        "pkgs/web/package.json",
        &format!(
            r#"{{ "name": "web", "dependencies": {{ "ui": "*" }}, "scripts": {{ "build": "{build}" }} }}"#
        ),
    )
    .write("pkgs/web/src/page.txt", "page\n")
    .write(".gitignore", ".kiln/\ndist/\n");
    repo.commit("fixture");
    repo
}

fn why(repo: &Repo, task: &str, env: &[(&str, &str)]) -> String {
    let out = repo
        .kiln()
        .args(["why", task])
        .env_remove("MODE")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out)
}

fn build(repo: &Repo, extra: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let out = repo
        .kiln()
        .args(["run", "build"])
        .args(extra)
        .env_remove("MODE")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    out
}

#[test]
fn why_follows_a_dependency_down_to_the_changed_file() {
    let repo = web_and_ui();
    let fresh = why(&repo, "web#build", &[]);
    assert!(fresh.contains("No earlier successful run"), "{fresh}");
    build(&repo, &[], &[]);
    let same = why(&repo, "web#build", &[]);
    assert!(same.contains("would be a cache hit"), "{same}");
    assert!(same.contains("Nothing changed"), "{same}");

    repo.write("pkgs/ui/src/button.txt", "bigger button\n");
    let text = why(&repo, "web#build", &[]);
    assert!(text.contains("would run"), "{text}");
    assert!(
        text.contains("web#build ← ui#build ← pkgs/ui/src/button.txt modified"),
        "{text}"
    );
    // Once ui is rebuilt, web's explanation still reaches the file through ui's history.
    build(&repo, &["--filter", "ui"], &[]);
    let text = why(&repo, "web#build", &[]);
    assert!(
        text.contains("web#build ← ui#build ← pkgs/ui/src/button.txt modified"),
        "{text}"
    );

    // Inside a package, the task name alone is enough.
    let inside = repo
        .kiln()
        .current_dir(repo.path("pkgs/web/src"))
        .args(["why", "build"])
        .output()
        .unwrap();
    assert!(
        stdout(&inside).starts_with("web#build would run"),
        "{}",
        stdout(&inside)
    );
    assert_eq!(repo.run(&["why", "build"]).status.code(), Some(1));

    let json = repo.run_ok(&["why", "web#build", "--json"]);
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(value["explanation"]["status"], "changed");
    assert_eq!(value["root_causes"][0]["chain"][1], "ui#build");
    assert_eq!(value["root_causes"][0]["reason"]["reason"], "file_modified");
}

#[test]
fn why_names_added_removed_files_env_and_definition_changes() {
    let repo = web_and_ui();
    build(&repo, &[], &[("MODE", "dev")]);

    repo.write("pkgs/web/src/new.txt", "new\n");
    std::fs::remove_file(repo.path("pkgs/web/src/page.txt")).unwrap();
    let text = why(&repo, "web#build", &[("MODE", "dev")]);
    assert!(text.contains("`src/new.txt` added"), "{text}");
    assert!(text.contains("`src/page.txt` removed"), "{text}");
    assert!(!text.contains("MODE"), "{text}");

    let text = why(&repo, "web#build", &[("MODE", "prod")]);
    assert!(text.contains("env var `MODE` changed"), "{text}");
    assert!(
        !text.contains("prod"),
        "an env value must never be shown: {text}"
    );

    repo.write(
        "pkgs/web/package.json",
        r#"{ "name": "web", "dependencies": { "ui": "*" }, "scripts": { "build": "mkdir -p dist && cat src/* > dist/out.txt" } }"#,
    );
    let text = why(&repo, "web#build", &[("MODE", "dev")]);
    assert!(text.contains("the task definition changed"), "{text}");
    assert!(text.contains("`package.json` changed"), "{text}");
}

#[test]
fn verbose_runs_and_the_summary_say_why_each_task_ran() {
    let repo = web_and_ui();
    let first = build(&repo, &["-v"], &[]);
    let err = stderr(&first);
    assert!(
        err.contains("kiln: ui#build miss: no earlier run recorded"),
        "{err}"
    );

    repo.write("pkgs/ui/src/button.txt", "v2\n");
    let out = build(&repo, &["-v"], &[]);
    let (text, err) = (stdout(&out), stderr(&out));
    assert!(
        err.contains("kiln: ui#build miss: `src/button.txt` changed"),
        "{err}"
    );
    assert!(
        err.contains("kiln: web#build miss: dependency `ui#build` changed"),
        "{err}"
    );
    assert!(
        text.contains("Misses:  ui#build — `src/button.txt` changed"),
        "{text}"
    );

    repo.write("pkgs/ui/src/button.txt", "button\n");
    let out = build(&repo, &["-v"], &[]);
    let err = stderr(&out);
    assert!(err.contains("kiln: ui#build cache hit (local)"), "{err}");
    assert!(!stdout(&out).contains("Misses:"), "{}", stdout(&out));
}

/// Every kind of damage: the file is ignored (reported once), the task counts as never
/// run, the build is right, and `kiln state verify` names the file.
#[test]
fn damaged_state_files_are_reported_ignored_and_repaired() {
    let repo = web_and_ui();
    build(&repo, &[], &[]);
    let tasks = repo.path(".kiln/state/tasks");
    let ui_state = std::fs::read_dir(&tasks)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("ui#build")
        })
        .expect("ui#build has a state file");
    let good = std::fs::read(&ui_state).unwrap();
    let text = String::from_utf8(good.clone()).unwrap();
    let mut flipped = good.clone();
    let at = flipped.len() - 3;
    flipped[at] ^= 0x20;
    let damages: [(&str, Vec<u8>); 4] = [
        ("truncated", good[..good.len() / 2].to_vec()),
        ("flipped", flipped),
        (
            "other version",
            text.replacen(" task 1 ", " task 99 ", 1).into_bytes(),
        ),
        ("garbage", b"\x00\xffnot a state file".to_vec()),
    ];
    for (what, bytes) in damages {
        std::fs::write(&ui_state, &bytes).unwrap();
        let verify = repo.run(&["state", "verify"]);
        assert_eq!(verify.status.code(), Some(1), "{what}: {}", stdout(&verify));
        assert!(stdout(&verify).contains("damaged:"), "{what}");

        repo.write("pkgs/ui/src/button.txt", &format!("{what}\n"));
        let out = build(&repo, &["-v"], &[]);
        let err = stderr(&out);
        assert_eq!(
            err.matches("ignoring build state").count(),
            1,
            "{what}: reported once\n{err}"
        );
        assert!(
            err.contains("kiln: ui#build miss: no earlier run recorded"),
            "{what}: {err}"
        );
        assert_eq!(
            repo.read("pkgs/ui/dist/out"),
            format!("{what}\n").as_bytes()
        );
        // The success rewrote the file: all is well again.
        repo.run_ok(&["state", "verify"]);
    }

    std::fs::write(&ui_state, b"junk").unwrap();
    let repaired = repo.run_ok(&["state", "verify", "--repair"]);
    assert!(
        stdout(&repaired).contains("removed 1 damaged"),
        "{}",
        stdout(&repaired)
    );
    assert!(!ui_state.exists());
    repo.run_ok(&["state", "verify"]);
}

#[test]
fn state_show_and_clean() {
    let repo = web_and_ui();
    build(&repo, &[], &[]);
    let all = stdout(&repo.run_ok(&["state", "show"]));
    assert!(
        all.contains("ui#build") && all.contains("web#build"),
        "{all}"
    );
    let one = stdout(&repo.run_ok(&["state", "show", "web#build"]));
    assert!(one.contains("src/page.txt"), "{one}");
    assert!(one.contains("ui#build"), "lists the dependency keys: {one}");
    let json: serde_json::Value = serde_json::from_slice(
        &repo
            .run_ok(&["state", "show", "web#build", "--json"])
            .stdout,
    )
    .unwrap();
    assert_eq!(json["manifest"]["task"]["package"], "web");

    repo.run_ok(&["state", "clean", "web#build"]);
    assert!(repo.run(&["state", "show", "web#build"]).status.code() == Some(1));
    repo.run_ok(&["state", "clean"]);
    assert!(!repo.path(".kiln/state").exists());
    // Losing the state costs explanations, not results: everything is still cached.
    let out = build(&repo, &[], &[]);
    assert!(stdout(&out).contains("2 cached"), "{}", stdout(&out));
}

/// A package-lock.json v3 where `ui` uses `ext-a` (which pulls `ext-deep`) and `web` uses
/// `ext-b`; `deep` is the version of `ext-deep`.
fn lockfile(deep: &str) -> String {
    format!(
        r#"{{ "name": "root", "lockfileVersion": 3, "requires": true, "packages": {{
  "": {{ "name": "root", "workspaces": ["pkgs/*"] }},
  "node_modules/ui": {{ "resolved": "pkgs/ui", "link": true }},
  "node_modules/web": {{ "resolved": "pkgs/web", "link": true }},
  "node_modules/ext-a": {{ "version": "1.0.0", "dependencies": {{ "ext-deep": "^2.0.0" }} }},
  "node_modules/ext-deep": {{ "version": "{deep}" }},
  "node_modules/ext-b": {{ "version": "3.0.0" }},
  "pkgs/ui": {{ "name": "ui", "dependencies": {{ "ext-a": "^1.0.0" }} }},
  "pkgs/web": {{ "name": "web", "dependencies": {{ "ui": "*", "ext-b": "^3.0.0" }} }}
}} }}"#
    )
}

#[test]
fn a_transitive_lockfile_change_reruns_only_the_packages_that_use_it() {
    let repo = Repo::npm_workspace();
    repo.write(
        "turbo.json",
        r#"{ "tasks": { "build": { "outputs": ["dist/**"] } } }"#,
    );
    for (name, dep) in [
        ("ui", r#""ext-a": "^1.0.0""#),
        ("web", r#""ext-b": "^3.0.0""#),
    ] {
        repo.write(
            &format!("pkgs/{name}/package.json"),
            &format!(
                r#"{{ "name": "{name}", "dependencies": {{ {dep} }}, "scripts": {{ "build": "mkdir -p dist && echo {name} > dist/out" }} }}"#
            ),
        );
    }
    repo.write("package-lock.json", &lockfile("2.0.0"))
        .write(".gitignore", ".kiln/\ndist/\n");
    repo.commit("fixture");
    build(&repo, &[], &[]);

    repo.write("package-lock.json", &lockfile("2.1.0"));
    let out = build(&repo, &["-v"], &[]);
    let err = stderr(&out);
    assert!(
        err.contains("kiln: ui#build miss: external dependency `ext-deep` 2.0.0 → 2.1.0"),
        "{err}"
    );
    assert!(err.contains("kiln: web#build cache hit"), "{err}");

    repo.write("package-lock.json", &lockfile("2.2.0"));
    let text = why(&repo, "ui#build", &[]);
    assert!(
        text.contains("external dependency `ext-deep` 2.1.0 → 2.2.0"),
        "{text}"
    );
    assert!(why(&repo, "web#build", &[]).contains("Nothing changed"));
}

#[test]
fn an_unreadable_lockfile_falls_back_to_the_whole_file_with_a_warning() {
    let repo = web_and_ui();
    repo.write("package-lock.json", "{ this is not json");
    let out = build(&repo, &[], &[]);
    assert!(
        stderr(&out).contains("cannot read the lockfile"),
        "{}",
        stderr(&out)
    );
    repo.write("package-lock.json", "{ still not json");
    let out = build(&repo, &["-v"], &[]);
    let err = stderr(&out);
    assert!(
        err.contains("kiln: ui#build miss: external dependency `lockfile package-lock.json`"),
        "{err}"
    );
}

#[test]
fn why_names_the_global_input_that_changed() {
    let repo = Repo::npm_workspace();
    repo.write(
        "turbo.json",
        r#"{ "globalDependencies": ["tsconfig.base.json"], "globalEnv": ["REGION"],
             "tasks": { "build": { "outputs": ["dist/**"] } } }"#,
    )
    .write("tsconfig.base.json", "{}")
    .write(
        "pkgs/ui/package.json",
        r#"{ "name": "ui", "scripts": { "build": "mkdir -p dist && echo ui > dist/out" } }"#,
    )
    .write(".gitignore", ".kiln/\ndist/\n");
    repo.commit("fixture");
    build(&repo, &[], &[("REGION", "eu")]);
    repo.write("tsconfig.base.json", r#"{ "strict": true }"#);
    let text = why(&repo, "ui#build", &[("REGION", "eu")]);
    assert!(
        text.contains("global input `tsconfig.base.json` changed"),
        "{text}"
    );
    let out = repo
        .kiln()
        .args(["why", "ui#build"])
        .env("REGION", "value-never-shown")
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(text.contains("global env var `REGION` changed"), "{text}");
    assert!(!text.contains("value-never-shown"), "{text}");
}
