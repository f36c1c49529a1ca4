//! The environment and command line a `package.json` script gets, as the package manager
//! would give it, without paying for a package-manager process per task.
//!
//! npm, pnpm, yarn and bun all run a script through a shell in the package directory with
//! `node_modules/.bin` of the package and of every ancestor up to the root prepended to
//! `PATH`, and set a handful of `npm_*` variables that scripts and tools read
//! (`npm_lifecycle_event` above all). kiln reproduces that; `runner = "package-manager"`
//! in the config switches to running `<pm> run <script>` instead.

use std::ffi::OsString;
use std::path::Path;

use kiln_graph::TaskNode;
use kiln_workspace::{Package, PackageManager, ScriptRunner, Workspace};

/// One command a task runs: its `pre` script, the script itself, or its `post` script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptStep {
    /// The script's name (`prebuild`, `build`, `postbuild`), or the task name for a
    /// `kiln.toml` command.
    pub name: String,
    pub command: String,
}

/// The commands a task runs, in order. A `package.json` script brings its `pre` and `post`
/// scripts along (npm's behaviour); a `kiln.toml` command runs alone. With the
/// package-manager runner, the manager itself handles `pre`/`post`. `args` (from after
/// `--`) are appended to the task's own command, each quoted for the shell, as `npm run
/// <script> -- <args>` does; the `pre` and `post` scripts do not get them.
pub fn script_steps(
    package: &Package,
    task: &str,
    command: &str,
    runner: ScriptRunner,
    manager: PackageManager,
    args: &[String],
) -> Vec<ScriptStep> {
    let with_args = |command: String| {
        let mut line = command;
        for arg in args {
            line.push(' ');
            line.push_str(&shell_quote(arg));
        }
        line
    };
    let is_script = package.scripts.get(task).map(String::as_str) == Some(command);
    if !is_script {
        return vec![ScriptStep {
            name: task.to_string(),
            command: with_args(command.to_string()),
        }];
    }
    if runner == ScriptRunner::PackageManager && manager != PackageManager::None {
        let mut line = format!("{} run {}", manager_program(manager), shell_quote(task));
        if !args.is_empty() && manager == PackageManager::Npm {
            line.push_str(" --");
        }
        return vec![ScriptStep {
            name: task.to_string(),
            command: with_args(line),
        }];
    }
    let mut steps = Vec::new();
    for name in [
        format!("pre{task}"),
        task.to_string(),
        format!("post{task}"),
    ] {
        if let Some(cmd) = package.scripts.get(&name) {
            let command = if name == task {
                with_args(cmd.clone())
            } else {
                cmd.clone()
            };
            steps.push(ScriptStep { name, command });
        }
    }
    steps
}

/// The steps of a task of the task graph, or `None` when its package is unknown or it has
/// no command (a no-op node).
pub fn task_steps(ws: &Workspace, node: &TaskNode) -> Option<Vec<ScriptStep>> {
    let package = ws.package(&node.id.package)?;
    let command = node.task.command.as_deref()?;
    Some(script_steps(
        package,
        node.id.task.as_str(),
        command,
        ws.pipeline.runner,
        ws.package_manager,
        &node.args,
    ))
}

fn manager_program(manager: PackageManager) -> &'static str {
    match manager {
        PackageManager::Npm | PackageManager::None => "npm",
        PackageManager::Yarn => "yarn",
        PackageManager::Pnpm => "pnpm",
        PackageManager::Bun => "bun",
    }
}

fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_:./@=,+%".contains(&b))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The environment of one script step: the task's environment (see [`crate::task_env`]),
/// `PATH` with every `node_modules/.bin` from the package up to the root in front, and the
/// `npm_*` variables and `INIT_CWD` that npm gives a script.
pub fn script_env(
    base: &[(OsString, OsString)],
    root: &Path,
    package: &Package,
    step: &ScriptStep,
) -> Vec<(OsString, OsString)> {
    let package_dir = root.join(&package.dir);
    let mut bins: Vec<OsString> = Vec::new();
    let mut dir = Some(package_dir.as_path());
    while let Some(d) = dir {
        bins.push(d.join("node_modules").join(".bin").into_os_string());
        if d == root {
            break;
        }
        dir = d.parent();
    }
    let old_path = base
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let mut path = OsString::new();
    for b in bins {
        path.push(b);
        path.push(":");
    }
    path.push(old_path);

    let mut env: Vec<(OsString, OsString)> =
        base.iter().filter(|(k, _)| k != "PATH").cloned().collect();
    let mut set = |k: &str, v: OsString| {
        env.retain(|(key, _)| key != k);
        env.push((k.into(), v));
    };
    set("PATH", path);
    set("npm_lifecycle_event", step.name.clone().into());
    set("npm_lifecycle_script", step.command.clone().into());
    set("npm_package_name", package.name.as_str().into());
    if let Some(v) = &package.version {
        set("npm_package_version", v.into());
    }
    set(
        "npm_package_json",
        package_dir.join("package.json").into_os_string(),
    );
    set("npm_command", "run-script".into());
    // npm starts a script from the package directory (`npm run` in it, as turbo does).
    set("INIT_CWD", package_dir.clone().into_os_string());
    set("npm_config_local_prefix", root.as_os_str().to_owned());
    env
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use kiln_core::PackageName;

    use super::*;

    fn package(scripts: &[(&str, &str)]) -> Package {
        Package {
            name: PackageName::new("@acme/ui"),
            dir: "packages/ui".into(),
            version: Some("1.2.3".into()),
            scripts: scripts
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
            dependencies: vec![],
            manifest: "packages/ui/package.json".into(),
            kind: Default::default(),
            external_dependencies: BTreeMap::new(),
        }
    }

    #[test]
    fn script_runs_between_its_pre_and_post_scripts() {
        let p = package(&[("prebuild", "a"), ("build", "b"), ("postbuild", "c")]);
        let steps = script_steps(
            &p,
            "build",
            "b",
            ScriptRunner::Direct,
            PackageManager::Npm,
            &[],
        );
        let names: Vec<_> = steps.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["prebuild", "build", "postbuild"]);
    }

    #[test]
    fn arguments_go_to_the_script_itself_quoted_for_the_shell() {
        let p = package(&[("prebuild", "a"), ("build", "b"), ("postbuild", "c")]);
        let args: Vec<String> = ["--prod", "a b", "$HOME", "it's"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let steps = script_steps(
            &p,
            "build",
            "b",
            ScriptRunner::Direct,
            PackageManager::Npm,
            &args,
        );
        let commands: Vec<_> = steps.iter().map(|s| s.command.as_str()).collect();
        assert_eq!(commands, ["a", r"b --prod 'a b' '$HOME' 'it'\''s'", "c"]);
        let steps = script_steps(
            &p,
            "build",
            "b",
            ScriptRunner::PackageManager,
            PackageManager::Npm,
            &args[..1],
        );
        assert_eq!(steps[0].command, "npm run build -- --prod");
    }

    #[test]
    fn config_command_runs_alone() {
        let p = package(&[("prebuild", "a")]);
        let steps = script_steps(
            &p,
            "build",
            "make",
            ScriptRunner::Direct,
            PackageManager::Npm,
            &[],
        );
        assert_eq!(steps.len(), 1);
        assert_eq!(steps[0].command, "make");
    }

    #[test]
    fn package_manager_runner_delegates_to_the_manager() {
        let p = package(&[("build", "b")]);
        let steps = script_steps(
            &p,
            "build",
            "b",
            ScriptRunner::PackageManager,
            PackageManager::Pnpm,
            &[],
        );
        assert_eq!(steps[0].command, "pnpm run build");
    }

    #[test]
    fn path_lists_every_node_modules_bin_up_to_the_root() {
        let p = package(&[("build", "b")]);
        let step = ScriptStep {
            name: "build".into(),
            command: "b".into(),
        };
        let base = vec![("PATH".into(), "/usr/bin".into())];
        let env = script_env(&base, Path::new("/repo"), &p, &step);
        let path = env.iter().find(|(k, _)| k == "PATH").unwrap().1.clone();
        assert_eq!(
            path,
            "/repo/packages/ui/node_modules/.bin:/repo/packages/node_modules/.bin:/repo/node_modules/.bin:/usr/bin"
        );
        let event = env
            .iter()
            .find(|(k, _)| k == "npm_lifecycle_event")
            .unwrap();
        assert_eq!(event.1, "build");
    }
}
