//! `kiln.toml`, kiln's own config: at the root it defines the workspace and the pipeline; in
//! a member directory it declares a package (when there is no `package.json`) and that
//! package's own task definitions.
//!
//! ```toml
//! [workspace]                              # root only; all keys optional
//! members = ["packages/*", "tools/gen"]    # globs, added to the package manager's ones
//! exclude = ["packages/legacy"]            # globs, removed from all of them
//! global_inputs = ["tsconfig.base.json"]   # files (globs, from the root) in every task's key
//! global_env = ["CI", "NODE_ENV"]          # env vars (or `PREFIX*`) in every task's key
//! global_pass_through_env = ["HOME"]       # env vars passed to tasks, not hashed
//! runner = "direct"                        # or "package-manager": run scripts via `<pm> run`
//! env_mode = "strict"                      # or "loose": tasks see every variable
//! framework_inference = true               # Next.js, Vite, …: their public vars join `env`
//!
//! [package]                                # member only, for a directory without package.json
//! name = "gen"                             # default: the directory's name
//! dependencies = ["@acme/core"]            # workspace packages it depends on
//!
//! [tasks.build]                            # root: for every package; member: for this one
//! depends_on = ["^build"]                  # `^task`, `task`, `pkg#task`
//! inputs = ["src/**", "$KILN_DEFAULT$"]    # `$KILN_DEFAULT$` = `$TURBO_DEFAULT$`: git-tracked files
//! outputs = ["dist/**", "!dist/cache/**"]
//! env = ["API_URL"]
//! pass_through_env = ["HOME"]
//! cache = true
//! persistent = false
//! command = "tsc -b"                       # for packages with no `build` script
//! cpus = 2                                 # CPU slots it takes in the budget (default 1)
//! memory = "2GB"                           # memory it needs (GB/MB or GiB/MiB)
//! timeout = "10m"                          # stopped and failed after this long
//! priority = 10                            # starts earlier among ready tasks (default 0)
//! locks = ["postgres"]                     # never at once with another task holding one
//! env_mode = "loose"                       # this task's env mode, over the workspace's
//! output_logs = "new-only"                 # full, new-only, errors-only, hash-only, none
//! with = ["api#dev"]                       # tasks run alongside this one (turbo's `with`)
//!
//! [tasks."@acme/web#build"]                # root only: one package's task
//! outputs = [".next/**"]
//!
//! [cache]                                  # root only: limits of the local cache
//! max_size = "20GB"                        # default 10GiB; 0 or "off": no limit
//! max_age = "30d"                          # evict entries unused this long; default: none
//! ```
//!
//! Unknown keys are errors, reported with their line and column.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use crate::error::ConfigError;
use crate::turbo_json::normalise_default_input;
use crate::{EnvMode, OutputLogs, ScriptRunner, TaskDefinition};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct KilnToml {
    pub(crate) workspace: Option<Spanned<WorkspaceTable>>,
    pub(crate) package: Option<Spanned<PackageTable>>,
    #[serde(default)]
    tasks: BTreeMap<Spanned<String>, TaskTable>,
    pub(crate) cache: Option<Spanned<crate::cache_config::CacheTable>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WorkspaceTable {
    #[serde(default)]
    pub(crate) members: Vec<String>,
    #[serde(default)]
    pub(crate) exclude: Vec<String>,
    #[serde(default)]
    pub(crate) global_inputs: Vec<String>,
    #[serde(default)]
    pub(crate) global_env: Vec<String>,
    pub(crate) global_pass_through_env: Option<Vec<String>>,
    #[serde(default)]
    pub(crate) runner: Runner,
    pub(crate) env_mode: Option<EnvModeValue>,
    pub(crate) framework_inference: Option<bool>,
}

#[derive(Debug, Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub(crate) enum EnvModeValue {
    Strict,
    Loose,
}

impl From<EnvModeValue> for EnvMode {
    fn from(v: EnvModeValue) -> Self {
        match v {
            EnvModeValue::Strict => EnvMode::Strict,
            EnvModeValue::Loose => EnvMode::Loose,
        }
    }
}

#[derive(Debug, Deserialize, Clone, Copy)]
#[serde(rename_all = "kebab-case")]
enum OutputLogsValue {
    Full,
    NewOnly,
    ErrorsOnly,
    HashOnly,
    None,
}

impl From<OutputLogsValue> for OutputLogs {
    fn from(v: OutputLogsValue) -> Self {
        match v {
            OutputLogsValue::Full => OutputLogs::Full,
            OutputLogsValue::NewOnly => OutputLogs::NewOnly,
            OutputLogsValue::ErrorsOnly => OutputLogs::ErrorsOnly,
            OutputLogsValue::HashOnly => OutputLogs::HashOnly,
            OutputLogsValue::None => OutputLogs::None,
        }
    }
}

#[derive(Debug, Default, Deserialize, Clone, Copy)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Runner {
    #[default]
    Direct,
    PackageManager,
}

impl From<Runner> for ScriptRunner {
    fn from(r: Runner) -> Self {
        match r {
            Runner::Direct => ScriptRunner::Direct,
            Runner::PackageManager => ScriptRunner::PackageManager,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PackageTable {
    pub(crate) name: Option<String>,
    #[serde(default)]
    pub(crate) dependencies: Vec<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TaskTable {
    depends_on: Option<Vec<Spanned<String>>>,
    inputs: Option<Vec<String>>,
    outputs: Option<Vec<Spanned<String>>>,
    env: Option<Vec<String>>,
    pass_through_env: Option<Vec<String>>,
    cache: Option<bool>,
    persistent: Option<bool>,
    command: Option<String>,
    cpus: Option<Spanned<i64>>,
    memory: Option<Spanned<toml::Value>>,
    timeout: Option<Spanned<toml::Value>>,
    priority: Option<i64>,
    locks: Option<Vec<String>>,
    env_mode: Option<EnvModeValue>,
    output_logs: Option<OutputLogsValue>,
    with: Option<Vec<String>>,
}

/// Where a `kiln.toml` sits, which decides the tables it may have.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    Root,
    Member,
}

/// Parses and checks a `kiln.toml`; `file` is how errors name it.
pub(crate) fn parse(file: &Path, text: &str, place: Place) -> Result<KilnToml, ConfigError> {
    let config: KilnToml = toml::from_str(text).map_err(|e| {
        let span = e.span().unwrap_or(0..1);
        ConfigError::new(file, text, span, e.message().trim_end(), "here")
    })?;
    let misplaced = match place {
        Place::Root => config
            .package
            .as_ref()
            .map(|p| (p.span(), "[package]", "a member's")),
        Place::Member => config
            .workspace
            .as_ref()
            .map(|w| (w.span(), "[workspace]", "the root"))
            .or_else(|| {
                config
                    .cache
                    .as_ref()
                    .map(|c| (c.span(), "[cache]", "the root"))
            }),
    };
    if let Some((span, table, owner)) = misplaced {
        let msg = format!("{table} belongs in {owner} kiln.toml");
        return Err(ConfigError::new(file, text, span, msg, "not allowed here"));
    }
    if let Some(cache) = &config.cache {
        cache.get_ref().check(file, text)?;
    }
    for (name, task) in &config.tasks {
        let error = |span, msg: String, label: &str| ConfigError::new(file, text, span, msg, label);
        let key = name.get_ref();
        if key.is_empty() || key.starts_with('#') || key.ends_with('#') {
            return Err(error(
                name.span(),
                format!("`{key}` is not a task name"),
                "invalid task name",
            ));
        }
        if place == Place::Member && key.contains('#') {
            let task = key.rsplit_once('#').map_or("", |(_, t)| t);
            let msg = format!(
                "`{key}`: a member's kiln.toml names its tasks without a package; use `{task}`"
            );
            return Err(error(name.span(), msg, "package task syntax"));
        }
        for dep in task.depends_on.iter().flatten() {
            let spec = dep.get_ref();
            let bare = spec.strip_prefix('^').unwrap_or(spec);
            if bare
                .rsplit_once('#')
                .map_or(bare, |(_, t)| t)
                .trim()
                .is_empty()
            {
                return Err(error(
                    dep.span(),
                    format!("`{spec}` names no task"),
                    "empty task name",
                ));
            }
            if spec.starts_with('$') {
                let msg = format!(
                    "`depends_on` cannot contain an environment variable (`{spec}`); list it in `env`"
                );
                return Err(error(dep.span(), msg, "environment variable"));
            }
        }
        for output in task.outputs.iter().flatten() {
            if let Some((msg, label)) = crate::turbo_json::output_outside_package(output.get_ref())
            {
                let msg = format!("`{}`: {msg}", output.get_ref());
                return Err(error(output.span(), msg, label));
            }
        }
        if let Some(cpus) = &task.cpus
            && !(0..=4096).contains(cpus.get_ref())
        {
            let msg = format!(
                "`cpus = {}`: expected a number from 0 to 4096",
                cpus.get_ref()
            );
            return Err(error(cpus.span(), msg, "invalid cpus"));
        }
        if let Some(memory) = &task.memory
            && let Err(msg) = size(memory.get_ref())
        {
            return Err(error(memory.span(), msg, "invalid size"));
        }
        if let Some(timeout) = &task.timeout
            && let Err(msg) = duration(timeout.get_ref())
        {
            return Err(error(timeout.span(), msg, "invalid duration"));
        }
    }
    Ok(config)
}

/// `memory = "2GB"` or a number of bytes.
fn size(value: &toml::Value) -> Result<u64, String> {
    match value {
        toml::Value::String(s) => crate::units::parse_size(s),
        toml::Value::Integer(n) if *n >= 0 => Ok(*n as u64),
        other => Err(format!(
            "`{other}` is not a size (try \"512MB\" or \"2GiB\")"
        )),
    }
}

/// `timeout = "10m"` or a number of seconds.
fn duration(value: &toml::Value) -> Result<std::time::Duration, String> {
    match value {
        toml::Value::String(s) => crate::units::parse_duration(s),
        toml::Value::Integer(n) if *n >= 0 => Ok(std::time::Duration::from_secs(*n as u64)),
        other => Err(format!(
            "`{other}` is not a duration (try \"30s\" or \"10m\")"
        )),
    }
}

impl KilnToml {
    /// The task definitions, keyed as written.
    pub(crate) fn tasks(&self) -> BTreeMap<String, TaskDefinition> {
        self.tasks
            .iter()
            .map(|(name, t)| {
                let def = TaskDefinition {
                    depends_on: t
                        .depends_on
                        .as_ref()
                        .map(|deps| deps.iter().map(|d| d.get_ref().clone()).collect()),
                    inputs: t.inputs.clone().map(|mut inputs| {
                        inputs.iter_mut().for_each(normalise_default_input);
                        inputs
                    }),
                    outputs: t
                        .outputs
                        .as_ref()
                        .map(|o| o.iter().map(|g| g.get_ref().clone()).collect()),
                    env: t.env.clone(),
                    pass_through_env: t.pass_through_env.clone(),
                    cache: t.cache,
                    persistent: t.persistent,
                    command: t.command.clone(),
                    // Checked by `parse`.
                    cpus: t.cpus.as_ref().map(|c| *c.get_ref() as u32),
                    memory: t.memory.as_ref().and_then(|m| size(m.get_ref()).ok()),
                    timeout: t.timeout.as_ref().and_then(|d| duration(d.get_ref()).ok()),
                    priority: t.priority,
                    locks: t.locks.clone(),
                    env_mode: t.env_mode.map(Into::into),
                    output_logs: t.output_logs.map(Into::into),
                    with: t.with.clone(),
                };
                (name.get_ref().clone(), def)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(text: &str, place: Place) -> String {
        parse(Path::new("kiln.toml"), text, place)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn reads_the_documented_schema() {
        let text = r#"
[workspace]
members = ["packages/*"]
global_inputs = ["tsconfig.base.json"]
runner = "package-manager"

[tasks.build]
depends_on = ["^build"]
inputs = ["src/**", "$KILN_DEFAULT$"]
command = "tsc -b"

[tasks."@acme/web#build"]
cache = false
"#;
        let config = parse(Path::new("kiln.toml"), text, Place::Root).unwrap();
        let ws = config.workspace.as_ref().unwrap().get_ref();
        assert_eq!(ws.members, ["packages/*"]);
        assert!(matches!(ws.runner, Runner::PackageManager));
        let tasks = config.tasks();
        let build = &tasks["build"];
        assert_eq!(
            build.depends_on.as_deref(),
            Some(&["^build".to_string()][..])
        );
        assert_eq!(build.inputs.as_ref().unwrap()[1], "$TURBO_DEFAULT$");
        assert_eq!(build.command.as_deref(), Some("tsc -b"));
        assert_eq!(tasks["@acme/web#build"].cache, Some(false));
    }

    #[test]
    fn unknown_keys_are_errors_with_their_position() {
        let text = "[tasks.build]\ncache = true\noutput = [\"dist/**\"]\n";
        let e = error(text, Place::Root);
        assert!(
            e.starts_with("kiln.toml:3:1: unknown field `output`"),
            "{e}"
        );
    }

    #[test]
    fn environment_variables_in_depends_on_point_at_the_entry() {
        let text = "[tasks.build]\ndepends_on = [\"^build\", \"$API\"]\n";
        assert_eq!(
            error(text, Place::Root),
            "kiln.toml:2:25: `depends_on` cannot contain an environment variable (`$API`); list it in `env`"
        );
    }

    #[test]
    fn empty_depends_on_entries_are_errors() {
        let text = "[tasks.build]\ndepends_on = [\"^\"]\n";
        assert_eq!(
            error(text, Place::Root),
            "kiln.toml:2:15: `^` names no task"
        );
    }

    #[test]
    fn tables_in_the_wrong_place_are_errors() {
        assert_eq!(
            error("[workspace]\nmembers = []\n", Place::Member),
            "kiln.toml:1:1: [workspace] belongs in the root kiln.toml"
        );
        let e = error("[package]\nname = \"x\"\n", Place::Root);
        assert_eq!(
            e,
            "kiln.toml:1:1: [package] belongs in a member's kiln.toml"
        );
        let e = error("[tasks.\"x#build\"]\ncache = false\n", Place::Member);
        assert!(e.starts_with("kiln.toml:1:8: `x#build`: a member's"), "{e}");
    }

    #[test]
    fn resource_fields_parse_and_bad_values_name_their_line() {
        let text = "[tasks.build]\ncpus = 2\nmemory = \"1.5GB\"\ntimeout = \"1h30m\"\npriority = -3\nlocks = [\"db\"]\n";
        let config = parse(Path::new("kiln.toml"), text, Place::Root).unwrap();
        let build = &config.tasks()["build"];
        assert_eq!(build.cpus, Some(2));
        assert_eq!(build.memory, Some(1_500_000_000));
        assert_eq!(build.timeout, Some(std::time::Duration::from_secs(5400)));
        assert_eq!(build.priority, Some(-3));
        assert_eq!(build.locks.as_deref(), Some(&["db".to_string()][..]));

        let bad = error("[tasks.build]\nmemory = \"lots\"\n", Place::Root);
        assert!(bad.contains("kiln.toml:2:10"), "{bad}");
        assert!(bad.contains("not a size"), "{bad}");
        let bad = error("[tasks.build]\n\ntimeout = \"soon\"\n", Place::Root);
        assert!(
            bad.contains("kiln.toml:3:11") && bad.contains("not a duration"),
            "{bad}"
        );
        let bad = error("[tasks.build]\ncpus = -1\n", Place::Root);
        assert!(bad.contains("expected a number from 0"), "{bad}");
    }

    #[test]
    fn outputs_outside_the_package_are_errors_on_their_line() {
        let bad = error(
            "[tasks.build]\noutputs = [\"dist/**\", \"/tmp/out/**\"]\n",
            Place::Root,
        );
        assert!(
            bad.starts_with("kiln.toml:2:23: `/tmp/out/**`: outputs are relative"),
            "{bad}"
        );
        let bad = error("[tasks.build]\n\noutputs = [\"!../x\"]\n", Place::Root);
        assert!(
            bad.starts_with("kiln.toml:3:12: `!../x`: outputs cannot leave"),
            "{bad}"
        );
    }
}
