//! Environment modes, as Turborepo 2 has them: in strict mode (the default) a task sees only
//! what is declared and a fixed list every program needs; in loose mode everything. The
//! same `turbo.json` run by kiln and by the real turbo, from the same environment, gives
//! tasks the same variable names (less what each tool adds about itself), and what a task
//! cannot see cannot change its result, so it is no part of its key.

use std::collections::BTreeSet;
use std::process::Command;

use crate::support::{Repo, kiln_command, stderr};
use crate::turbo_graph::turbo;
use crate::turbo_repos::{package, workspace};

/// Variables each tool sets for a task about itself (npm, and the shell running the
/// script, for turbo; kiln sets npm's for its direct runner), left out of the comparison.
const TOOL_ADDED: &[&str] = &[
    "COLOR",
    "EDITOR",
    "INIT_CWD",
    "NODE",
    "OLDPWD",
    "PWD",
    "SHLVL",
    "TURBO_HASH",
    "TURBO_INVOCATION_DIR",
    "_",
    "__TURBO_NPM_WRAPPER",
];

/// The environment both tools start from: what they need, and one variable of each kind.
fn environment() -> Vec<(&'static str, String)> {
    let path = std::env::var("PATH").unwrap_or_default();
    vec![
        ("PATH", path),
        (
            "HOME",
            std::env::var("HOME").unwrap_or_else(|_| "/root".into()),
        ),
        ("LANG", "C.UTF-8".into()),
        ("TZ", "UTC".into()),
        ("NO_COLOR", "1".into()),
        ("TURBO_TELEMETRY_DISABLED", "1".into()),
        ("TURBO_NO_UPDATE_NOTIFIER", "1".into()),
        ("DO_NOT_TRACK", "1".into()),
        // env: ["MY_*", "!MY_SECRET"]
        ("MY_VAR", "1".into()),
        ("MY_SECRET", "s".into()),
        // passThroughEnv, globalEnv, globalPassThroughEnv
        ("PT_VAR", "p".into()),
        ("GLOBAL_X", "g".into()),
        ("GPT_A", "a".into()),
        // Declared nowhere.
        ("UNDECLARED", "u".into()),
        // Vite's public prefix (inferred for `vitepkg` only); Next's (always passed).
        ("VITE_X", "v".into()),
        ("NEXT_PUBLIC_Q", "n".into()),
        ("TURBO_FOO", "t".into()),
    ]
}

const PRINT: &str = "node -e \"require('fs').writeFileSync('env.txt', Object.keys(process.env).sort().join('\\n'))\"";

fn repo() -> Repo {
    let repo = workspace(
        &["packages/*"],
        r#"{
  "globalEnv": ["GLOBAL_X"],
  "globalPassThroughEnv": ["GPT_*"],
  "tasks": {
    "print": { "cache": false, "env": ["MY_*", "!MY_SECRET"], "passThroughEnv": ["PT_VAR"] },
    "build": { "env": ["MY_*", "!MY_SECRET"], "outputs": ["env.txt"] }
  }
}"#,
    );
    package(
        &repo,
        "packages/plain",
        "plain",
        &[],
        &[("print", PRINT), ("build", PRINT)],
    );
    repo.write(
        "packages/vitepkg/package.json",
        &format!(
            r#"{{ "name": "vitepkg", "version": "1.0.0", "devDependencies": {{ "vite": "5.0.0" }}, "scripts": {{ "print": {} }} }}"#,
            serde_json::to_string(PRINT).unwrap()
        ),
    );
    repo.write(".gitignore", ".kiln/\n.turbo/\nenv.txt\n");
    repo.commit("fixture");
    repo
}

fn in_env(mut cmd: Command) -> Command {
    cmd.env_clear();
    for (k, v) in environment() {
        cmd.env(k, v);
    }
    cmd
}

/// The variable names the task of `package` saw, less what the tools add.
fn seen(repo: &Repo, package: &str) -> BTreeSet<String> {
    let text = std::fs::read_to_string(repo.path(&format!("packages/{package}/env.txt")))
        .unwrap_or_else(|e| panic!("{package} printed no env.txt: {e}"));
    text.lines()
        .filter(|n| !n.starts_with("npm_") && !TOOL_ADDED.contains(n))
        .map(str::to_string)
        .collect()
}

fn run_turbo(repo: &Repo, args: &[&str]) {
    let mut cmd = in_env(turbo(repo));
    let out = cmd.arg("run").args(args).output().unwrap();
    assert!(out.status.success(), "turbo {args:?}: {}", stderr(&out));
}

fn run_kiln(repo: &Repo, args: &[&str]) -> std::process::Output {
    let mut cmd = in_env(kiln_command());
    let out = cmd
        .current_dir(&repo.root)
        .arg("run")
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "kiln {args:?}: {}", stderr(&out));
    out
}

#[test]
fn strict_and_loose_tasks_see_what_they_see_under_turbo() {
    let repo = repo();
    for mode in ["--env-mode=strict", "--env-mode=loose"] {
        run_turbo(&repo, &["print", mode]);
        let turbo_plain = seen(&repo, "plain");
        let turbo_vite = seen(&repo, "vitepkg");
        run_kiln(&repo, &["print", mode]);
        assert_eq!(seen(&repo, "plain"), turbo_plain, "{mode}: plain");
        assert_eq!(seen(&repo, "vitepkg"), turbo_vite, "{mode}: vitepkg");
        if mode.ends_with("strict") {
            let plain = seen(&repo, "plain");
            for hidden in ["UNDECLARED", "MY_SECRET", "DO_NOT_TRACK", "VITE_X"] {
                assert!(!plain.contains(hidden), "{hidden} hidden: {plain:?}");
            }
            for visible in [
                "MY_VAR",
                "PT_VAR",
                "GLOBAL_X",
                "GPT_A",
                "NEXT_PUBLIC_Q",
                "TURBO_FOO",
                "PATH",
                "HOME",
            ] {
                assert!(plain.contains(visible), "{visible} visible: {plain:?}");
            }
            assert!(
                seen(&repo, "vitepkg").contains("VITE_X"),
                "inferred for Vite"
            );
        } else {
            assert!(seen(&repo, "plain").contains("UNDECLARED"));
        }
    }
    // Strict is the default, as in Turborepo 2.
    run_kiln(&repo, &["print"]);
    assert!(!seen(&repo, "plain").contains("UNDECLARED"));
    // `--framework-inference=false`: Vite's variables are no longer the package's.
    run_kiln(&repo, &["print", "--framework-inference=false"]);
    assert!(!seen(&repo, "vitepkg").contains("VITE_X"));
}

#[test]
fn verbose_runs_name_the_variables_strict_mode_kept_from_a_task() {
    let repo = repo();
    let out = run_kiln(&repo, &["print", "--filter=plain", "-v"]);
    let err = stderr(&out);
    let line = err
        .lines()
        .find(|l| l.contains("plain#print does not see"))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(
        line.contains("UNDECLARED") && line.contains("MY_SECRET"),
        "{line}"
    );
    assert!(
        !line.contains("=u") && !line.contains("MY_VAR"),
        "names only: {line}"
    );
}

#[test]
fn what_a_strict_task_cannot_see_is_no_part_of_its_key() {
    let repo = repo();
    let hit = |repo: &Repo, extra: &[(&str, &str)], mode: &str| -> bool {
        let mut cmd = in_env(kiln_command());
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let out = cmd
            .current_dir(&repo.root)
            .args(["run", "build", "--filter=plain", mode])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        String::from_utf8_lossy(&out.stdout).contains("cache hit")
    };
    assert!(!hit(&repo, &[], "--env-mode=strict"));
    assert!(hit(
        &repo,
        &[("UNDECLARED", "changed")],
        "--env-mode=strict"
    ));
    assert!(
        !hit(&repo, &[("MY_VAR", "2")], "--env-mode=strict"),
        "declared: a miss"
    );
    // The env mode itself decides what a task sees: it is in the key.
    assert!(!hit(&repo, &[("MY_VAR", "2")], "--env-mode=loose"));
    assert!(hit(&repo, &[("MY_VAR", "2")], "--env-mode=loose"));
}
