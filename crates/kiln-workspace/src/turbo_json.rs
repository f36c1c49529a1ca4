//! Reading Turborepo's `turbo.json` / `turbo.jsonc` as they are, 1.x (`pipeline`) and 2.x
//! (`tasks`), at the root and in packages (Package Configurations, `"extends": ["//"]`).
//!
//! The text goes through [`jsonc::strip`] and `serde_json::Value`; the typed reading is done
//! by hand here rather than with `#[derive(Deserialize)]` so that every semantic error (an
//! unknown key, a wrong type, `$FOO` in a 2.x `dependsOn`) points at its own token through
//! [`jsonc::locate`], not at wherever the deserializer happened to stop.
//!
//! kiln reads what Turborepo 2.11 reads and refuses what it refuses: a Turborepo 1.x file
//! (`pipeline`, `dotEnv`, `outputMode`, …) is an error at the key, saying what 2.x writes
//! instead. Every key of Turborepo 2.x is accepted: those kiln acts on are read into the [`Pipeline`] (`envMode`, `concurrency`,
//! `cacheDir`, `ui`, `outputLogs`, `with`, …); those that change nothing in a kiln run
//! because kiln has no such part (`daemon`, `noUpdateNotifier`, `$schema`, `description`)
//! are read and dropped; the rest (`boundaries`, `tags`, `futureFlags`, `interactive`, …)
//! are listed in [`Pipeline::ignored_keys`] with their line, for one warning per run.
//! Structured (deferred) `inputs` objects are read as the `inputs` function says.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value};

use crate::error::{ConfigError, offset_of};
use crate::jsonc::{self, Seg};
use crate::{EnvMode, IgnoredKey, OutputLogs, Pipeline, TaskDefinition};

/// Marks "the inherited value goes here" in an array of a package configuration.
const EXTENDS_MARKER: &str = "$TURBO_EXTENDS$";

/// A comment, at the top of a root or package `turbo.json` (Turborepo's `"//"` key).
const COMMENT_KEY: &str = "//";

/// `$TURBO_ROOT$`: the workspace root, in `inputs` (resolved by the hasher).
const TURBO_ROOT: &str = "$TURBO_ROOT$";

const ROOT_KEYS: &[&str] = &[
    "//",
    "$schema",
    "agentGuidance",
    "boundaries",
    "cacheDir",
    "cacheMaxAge",
    "cacheMaxSize",
    "concurrency",
    "daemon",
    "dangerouslyDisablePackageManagerCheck",
    "envMode",
    "experimentalObservability",
    "futureFlags",
    "global",
    "globalDependencies",
    "globalEnv",
    "globalPassThroughEnv",
    "noUpdateNotifier",
    "remoteCache",
    "setup",
    "tags",
    "tasks",
    "ui",
];

/// Turborepo 1.x keys, which Turborepo 2 refuses (and so does kiln), with what 2.x writes
/// instead.
const TURBO_1_KEYS: &[(&str, &str)] = &[
    ("pipeline", "rename it to `tasks`"),
    ("globalDotEnv", "list the files in `globalDependencies`"),
    ("dotEnv", "list the files in `inputs`"),
    ("outputMode", "it is `outputLogs` now"),
    ("experimentalUI", "it is `ui` now"),
    ("experimentalSpaces", "Spaces are gone"),
    (
        "baseBranch",
        "`--affected` compares with `--base` (or `KILN_SCM_BASE`)",
    ),
];

/// The error for a Turborepo 1.x key at `path`, if `key` is one.
fn turbo_1_key(doc: &Doc<'_>, path: &[Seg<'_>], key: &str) -> Option<ConfigError> {
    let (_, instead) = TURBO_1_KEYS.iter().find(|(k, _)| *k == key)?;
    let msg = format!("`{key}` is a Turborepo 1.x key, which Turborepo 2 refuses too: {instead}");
    Some(doc.error(path, true, msg, "Turborepo 1.x"))
}

const PACKAGE_KEYS: &[&str] = &["//", "$schema", "boundaries", "extends", "tags", "tasks"];

/// A parsed (comment-free) config file, kept to point errors at their tokens.
struct Doc<'a> {
    file: &'a Path,
    text: &'a str,
    stripped: String,
}

impl Doc<'_> {
    fn error(&self, path: &[Seg<'_>], key: bool, message: String, label: &str) -> ConfigError {
        let span = jsonc::locate(&self.stripped, path, key).unwrap_or(0..1);
        ConfigError::new(self.file, self.text, span, message, label)
    }

    /// A key kiln reads but does not act on, with its line, for the run's warning.
    fn ignored(&self, path: &[Seg<'_>], why: &'static str) -> IgnoredKey {
        let at = jsonc::locate(&self.stripped, path, true).map_or(0, |span| span.start);
        let key = path
            .iter()
            .map(|seg| match seg {
                Seg::Key(k) => k.to_string(),
                Seg::Index(i) => i.to_string(),
            })
            .collect::<Vec<_>>()
            .join(".");
        IgnoredKey {
            file: self.file.to_path_buf(),
            line: self.text[..at.min(self.text.len())].matches('\n').count() + 1,
            key,
            why,
        }
    }
}

/// Root keys kiln reads but does not act on yet, with why.
const IGNORED_ROOT_KEYS: &[(&str, &str)] = &[
    ("agentGuidance", "kiln writes no agent guidance"),
    ("boundaries", "kiln does not check package boundaries"),
    (
        "cacheMaxAge",
        "kiln's cache limits are `[cache]` in kiln.toml or KILN_CACHE_MAX_AGE",
    ),
    (
        "cacheMaxSize",
        "kiln's cache limits are `[cache]` in kiln.toml or KILN_CACHE_MAX_SIZE",
    ),
    (
        "experimentalObservability",
        "kiln records its own run history",
    ),
    (
        "experimentalSpaces",
        "kiln has no Vercel Spaces integration",
    ),
    (
        "futureFlags",
        "no Turborepo future flag changes what kiln does",
    ),
    ("setup", "kiln has no `setup` command"),
    ("tags", "kiln does not check package boundaries"),
];

fn parse_doc<'a>(
    file: &'a Path,
    text: &'a str,
) -> Result<(Doc<'a>, Map<String, Value>), ConfigError> {
    let doc = Doc {
        file,
        text,
        stripped: jsonc::strip(text),
    };
    match serde_json::from_str::<Value>(&doc.stripped) {
        Ok(Value::Object(map)) => Ok((doc, map)),
        Ok(_) => Err(doc.error(&[], false, "expected a JSON object".into(), "not an object")),
        Err(e) => {
            let at = offset_of(text, e.line(), e.column());
            let full = e.to_string();
            let message = full
                .rsplit_once(" at line ")
                .map_or(full.as_str(), |(m, _)| m)
                .to_string();
            Err(ConfigError::new(file, text, at..at + 1, message, "here"))
        }
    }
}

/// The pipeline of a root `turbo.json` (`source` is left for the caller to set).
pub(crate) fn parse_root(file: &Path, text: &str) -> Result<Pipeline, ConfigError> {
    let (doc, top) = parse_doc(file, text)?;
    for key in top.keys() {
        if key == "extends" {
            let msg = "`extends` is only allowed in a package's turbo.json".to_string();
            return Err(doc.error(&[Seg::Key(key)], true, msg, "not allowed here"));
        }
        if let Some(e) = turbo_1_key(&doc, &[Seg::Key(key)], key) {
            return Err(e);
        }
        if !ROOT_KEYS.contains(&key.as_str()) {
            let msg = format!("unknown key `{key}`");
            return Err(doc.error(&[Seg::Key(key)], true, msg, "unknown key"));
        }
    }
    check_comment(&doc, &top)?;
    let mut pipeline = Pipeline::default();
    read_root_settings(&doc, &top, &mut pipeline)?;
    let global = |name: &'static str| top.get(name).map(|v| (vec![Seg::Key(name)], v));
    let nested = |name: &'static str| {
        let value = top.get("global")?.get(name)?;
        Some((vec![Seg::Key("global"), Seg::Key(name)], value))
    };
    for (path, value) in [global("globalDependencies"), nested("inputs")]
        .into_iter()
        .flatten()
    {
        let files = strings(&doc, &path, value)?.unwrap_or_default();
        pipeline.global_dependencies.extend(files);
    }
    for (path, value) in [global("globalEnv"), nested("env")].into_iter().flatten() {
        pipeline
            .global_env
            .extend(strings(&doc, &path, value)?.unwrap_or_default());
    }
    for (path, value) in [global("globalPassThroughEnv"), nested("passThroughEnv")]
        .into_iter()
        .flatten()
    {
        if let Some(vars) = strings(&doc, &path, value)? {
            pipeline
                .global_pass_through_env
                .get_or_insert_default()
                .extend(vars);
        }
    }
    for (name, value) in task_entries(&doc, &top)? {
        let path = [Seg::Key("tasks"), Seg::Key(name)];
        if name.is_empty() || name.ends_with('#') || name.starts_with('#') {
            let msg = format!("`{name}` is not a task name");
            return Err(doc.error(&path, true, msg, "invalid task name"));
        }
        let raw = read_task(&doc, &path, value, false, &mut pipeline.ignored_keys)?;
        pipeline.tasks.insert(name.clone(), raw.resolve(None));
    }
    Ok(pipeline)
}

/// The root keys besides tasks and global inputs: the ones kiln acts on into `pipeline`,
/// the ones it does not into `pipeline.ignored_keys`.
fn read_root_settings(
    doc: &Doc<'_>,
    top: &Map<String, Value>,
    pipeline: &mut Pipeline,
) -> Result<(), ConfigError> {
    for (key, value) in top {
        let at = [Seg::Key(key)];
        match key.as_str() {
            "envMode" => pipeline.env_mode = Some(env_mode(doc, &at, value)?),
            "concurrency" => {
                pipeline.concurrency = Some(match value {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    _ => {
                        let msg = "`concurrency` must be a number or a percentage (\"50%\")";
                        return Err(doc.error(&at, false, msg.into(), "expected a string"));
                    }
                });
            }
            "cacheDir" => pipeline.cache_dir = Some(string(doc, &at, value)?),
            "ui" => {
                let ui = string(doc, &at, value)?;
                if ui != "tui" && ui != "stream" {
                    let msg = format!("`ui` is `tui` or `stream`, not `{ui}`");
                    return Err(doc.error(&at, false, msg, "unknown value"));
                }
                pipeline.ui = Some(ui);
            }
            "remoteCache" => read_remote_cache(doc, value, pipeline)?,
            _ => {
                if let Some((_, why)) = IGNORED_ROOT_KEYS.iter().find(|(k, _)| k == key) {
                    pipeline.ignored_keys.push(doc.ignored(&at, why));
                }
            }
        }
    }
    Ok(())
}

/// `remoteCache`: `enabled` is honoured; kiln's remote cache is otherwise set by
/// `--remote-cache` or Turborepo's `TURBO_API`/`TURBO_TOKEN`/`TURBO_TEAM`.
fn read_remote_cache(
    doc: &Doc<'_>,
    value: &Value,
    pipeline: &mut Pipeline,
) -> Result<(), ConfigError> {
    let Value::Object(fields) = value else {
        let msg = "`remoteCache` must be an object".to_string();
        return Err(doc.error(&[Seg::Key("remoteCache")], false, msg, "expected an object"));
    };
    for (key, value) in fields {
        let at = [Seg::Key("remoteCache"), Seg::Key(key)];
        if key == "enabled" {
            pipeline.remote_cache_enabled = boolean(doc, &at, value)?;
        } else {
            pipeline.ignored_keys.push(doc.ignored(
                &at,
                "kiln's remote cache comes from --remote-cache or TURBO_API, TURBO_TEAM, \
                 TURBO_TOKEN and TURBO_REMOTE_CACHE_SIGNATURE_KEY",
            ));
        }
    }
    Ok(())
}

fn env_mode(doc: &Doc<'_>, at: &[Seg<'_>], value: &Value) -> Result<EnvMode, ConfigError> {
    let text = string(doc, at, value)?;
    EnvMode::parse(&text).ok_or_else(|| {
        let msg = format!("`envMode` is `strict` or `loose`, not `{text}`");
        doc.error(at, false, msg, "unknown value")
    })
}

fn string(doc: &Doc<'_>, at: &[Seg<'_>], value: &Value) -> Result<String, ConfigError> {
    match value {
        Value::String(s) => Ok(s.clone()),
        _ => {
            let msg = format!("`{}` must be a string", field_name(at));
            Err(doc.error(at, false, msg, "expected a string"))
        }
    }
}

/// The tasks of a package's `turbo.json`, each already merged with `$TURBO_EXTENDS$` against
/// `base(task)`, the root definition it overrides; keys it does not act on go to `ignored`.
pub(crate) fn parse_package(
    file: &Path,
    text: &str,
    base: &dyn Fn(&str) -> Option<TaskDefinition>,
    ignored: &mut Vec<IgnoredKey>,
) -> Result<BTreeMap<String, TaskDefinition>, ConfigError> {
    let (doc, top) = parse_doc(file, text)?;
    for key in top.keys() {
        if let Some(e) = turbo_1_key(&doc, &[Seg::Key(key)], key) {
            return Err(e);
        }
        if !PACKAGE_KEYS.contains(&key.as_str()) {
            let msg = format!(
                "unknown key `{key}` (a package's turbo.json takes `extends`, `tasks`, `tags` and `boundaries`)"
            );
            return Err(doc.error(&[Seg::Key(key)], true, msg, "unknown key"));
        }
    }
    check_comment(&doc, &top)?;
    check_extends(&doc, &top)?;
    for key in ["tags", "boundaries"] {
        if top.contains_key(key) {
            ignored.push(doc.ignored(&[Seg::Key(key)], "kiln does not check package boundaries"));
        }
    }
    let key = "tasks";
    let mut tasks = BTreeMap::new();
    for (name, value) in task_entries(&doc, &top)? {
        let path = [Seg::Key(key), Seg::Key(name)];
        if name.contains('#') {
            let task = name.rsplit_once('#').map_or("", |(_, t)| t);
            let msg = format!(
                "`{name}`: a package's turbo.json names its tasks without a package; use `{task}`"
            );
            return Err(doc.error(&path, true, msg, "package task syntax"));
        }
        let raw = read_task(&doc, &path, value, true, ignored)?;
        if raw.extends == Some(false) && raw.def == TaskDefinition::default() {
            let msg = format!(
                "`\"extends\": false` alone excludes `{name}` from this package, which kiln does not support yet"
            );
            let at = [Seg::Key(key), Seg::Key(name), Seg::Key("extends")];
            return Err(doc.error(&at, false, msg, "unsupported"));
        }
        tasks.insert(name.clone(), raw.resolve(base(name).as_ref()));
    }
    Ok(tasks)
}

/// `"//"` is a comment and is ignored, but like Turborepo only as a string.
fn check_comment(doc: &Doc<'_>, top: &Map<String, Value>) -> Result<(), ConfigError> {
    match top.get(COMMENT_KEY) {
        None | Some(Value::String(_)) => Ok(()),
        Some(_) => {
            let msg = "`\"//\"` (a comment) must be a string".to_string();
            Err(doc.error(&[Seg::Key(COMMENT_KEY)], false, msg, "expected a string"))
        }
    }
}

fn check_extends(doc: &Doc<'_>, top: &Map<String, Value>) -> Result<(), ConfigError> {
    let Some(extends) = top.get("extends") else {
        let msg = "a package's turbo.json must have `\"extends\": [\"//\"]`".to_string();
        return Err(doc.error(&[], false, msg, "add `\"extends\": [\"//\"]` here"));
    };
    let path = [Seg::Key("extends")];
    let list = strings(doc, &path, extends)?.unwrap_or_default();
    if list.first().map(String::as_str) != Some("//") {
        let msg = "`extends` must start with \"//\" (the root turbo.json)".to_string();
        return Err(doc.error(&path, false, msg, "'//' should be first"));
    }
    if let Some(i) = list.iter().position(|e| e != "//") {
        let msg = format!(
            "extending from another package (`{}`) is not supported by kiln yet",
            list[i]
        );
        let at = [Seg::Key("extends"), Seg::Index(i)];
        return Err(doc.error(&at, false, msg, "unsupported"));
    }
    Ok(())
}

fn task_entries<'m>(
    doc: &Doc<'_>,
    top: &'m Map<String, Value>,
) -> Result<Vec<(&'m String, &'m Value)>, ConfigError> {
    let key = "tasks";
    match top.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Object(tasks)) => Ok(tasks.iter().collect()),
        Some(_) => {
            let msg = format!("`{key}` must be an object of task definitions");
            Err(doc.error(&[Seg::Key(key)], false, msg, "expected an object"))
        }
    }
}

/// A task as written, before `$TURBO_EXTENDS$` is resolved.
struct RawTask {
    def: TaskDefinition,
    /// Which array fields asked to extend the inherited value.
    extend: [bool; 6],
    extends: Option<bool>,
}

const DEPENDS_ON: usize = 0;
const INPUTS: usize = 1;
const OUTPUTS: usize = 2;
const ENV: usize = 3;
const PASS_THROUGH: usize = 4;
const WITH: usize = 5;

impl RawTask {
    fn resolve(mut self, base: Option<&TaskDefinition>) -> TaskDefinition {
        let inherit = |own: &mut Option<Vec<String>>, from: Option<&Vec<String>>, on: bool| {
            if let (true, Some(own)) = (on, own.as_mut()) {
                let mut merged = from.cloned().unwrap_or_default();
                merged.append(own);
                *own = merged;
            }
        };
        let b = base.filter(|_| self.extends != Some(false));
        let d = &mut self.def;
        inherit(
            &mut d.depends_on,
            b.and_then(|b| b.depends_on.as_ref()),
            self.extend[DEPENDS_ON],
        );
        inherit(
            &mut d.inputs,
            b.and_then(|b| b.inputs.as_ref()),
            self.extend[INPUTS],
        );
        inherit(
            &mut d.outputs,
            b.and_then(|b| b.outputs.as_ref()),
            self.extend[OUTPUTS],
        );
        inherit(&mut d.env, b.and_then(|b| b.env.as_ref()), self.extend[ENV]);
        inherit(
            &mut d.pass_through_env,
            b.and_then(|b| b.pass_through_env.as_ref()),
            self.extend[PASS_THROUGH],
        );
        inherit(
            &mut d.with,
            b.and_then(|b| b.with.as_ref()),
            self.extend[WITH],
        );
        if self.extends == Some(false) {
            // A fresh definition: every field set, so that nothing of the root shows through.
            d.depends_on.get_or_insert_default();
            d.inputs.get_or_insert_default();
            d.outputs.get_or_insert_default();
            d.env.get_or_insert_default();
            d.pass_through_env.get_or_insert_default();
            d.cache.get_or_insert(true);
            d.persistent.get_or_insert(false);
        }
        self.def
    }
}

fn read_task(
    doc: &Doc<'_>,
    path: &[Seg<'_>],
    value: &Value,
    in_package: bool,
    ignored: &mut Vec<IgnoredKey>,
) -> Result<RawTask, ConfigError> {
    let Value::Object(fields) = value else {
        let msg = "a task definition must be an object".to_string();
        return Err(doc.error(path, false, msg, "expected an object"));
    };
    let mut raw = RawTask {
        def: TaskDefinition::default(),
        extend: [false; 6],
        extends: None,
    };
    let mut deps = None;
    for (key, value) in fields {
        let at: Vec<Seg<'_>> = path.iter().copied().chain([Seg::Key(key)]).collect();
        let mut list = |slot: usize| -> Result<Option<Vec<String>>, ConfigError> {
            let mut list = strings(doc, &at, value)?;
            if let Some(list) = &mut list {
                let before = list.len();
                list.retain(|e| e != EXTENDS_MARKER);
                raw.extend[slot] = in_package && list.len() != before;
            }
            Ok(list)
        };
        match key.as_str() {
            "dependsOn" => {
                raw.def.depends_on = list(DEPENDS_ON)?;
                deps = value.as_array().map(|items| (at.clone(), items));
            }
            "inputs" => raw.def.inputs = inputs(doc, &at, value, &mut raw.extend[INPUTS], ignored)?,
            "outputs" => {
                raw.def.outputs = list(OUTPUTS)?;
                check_outputs(doc, &at, value)?;
            }
            "env" => raw.def.env = list(ENV)?,
            "passThroughEnv" => raw.def.pass_through_env = list(PASS_THROUGH)?,
            "cache" => raw.def.cache = boolean(doc, &at, value)?,
            "persistent" => raw.def.persistent = boolean(doc, &at, value)?,
            "interactive" => {
                if boolean(doc, &at, value)? == Some(true) {
                    ignored.push(
                        doc.ignored(&at, "kiln does not forward the terminal's input to tasks"),
                    );
                }
            }
            "interruptible" => {
                if boolean(doc, &at, value)? == Some(true) {
                    ignored.push(doc.ignored(&at, "kiln has no watch mode yet"));
                }
            }
            "extends" if in_package => raw.extends = boolean(doc, &at, value)?,

            "tags" => {
                strings(doc, &at, value)?;
                ignored.push(doc.ignored(&at, "kiln does not check package boundaries"));
            }
            "with" => raw.def.with = list(WITH)?,
            "envMode" => raw.def.env_mode = Some(env_mode(doc, &at, value)?),
            "outputLogs" => {
                let text = string(doc, &at, value)?;
                let logs = OutputLogs::parse(&text).ok_or_else(|| {
                    let msg = format!(
                        "`{key}` is one of `full`, `new-only`, `errors-only`, `hash-only`, `none`; not `{text}`"
                    );
                    doc.error(&at, false, msg, "unknown value")
                })?;
                raw.def.output_logs = Some(logs);
            }
            "description" => {}
            _ => {
                if let Some(e) = turbo_1_key(doc, &at, key) {
                    return Err(e);
                }
                let msg = format!("unknown key `{key}` in a task definition");
                return Err(doc.error(&at, true, msg, "unknown key"));
            }
        }
    }
    raw.def.inputs = raw.def.inputs.take().map(|mut inputs| {
        inputs.iter_mut().for_each(normalise_default_input);
        inputs
    });
    if let Some((at, items)) = deps {
        raw.def.depends_on = Some(depends_on(doc, &at, items)?);
    }
    Ok(raw)
}

/// Checks `dependsOn` entries (`items` as written, already known to be strings).
fn depends_on(doc: &Doc<'_>, at: &[Seg<'_>], items: &[Value]) -> Result<Vec<String>, ConfigError> {
    let mut kept = Vec::with_capacity(items.len());
    for (i, dep) in items.iter().filter_map(Value::as_str).enumerate() {
        let error = |message: String, label: &str| {
            let at: Vec<Seg<'_>> = at.iter().copied().chain([Seg::Index(i)]).collect();
            doc.error(&at, false, message, label)
        };
        if dep == EXTENDS_MARKER {
            continue;
        }
        let task = dep.strip_prefix('^').unwrap_or(dep);
        let task = task.rsplit_once('#').map_or(task, |(_, t)| t);
        if task.trim().is_empty() {
            return Err(error(format!("`{dep}` names no task"), "empty task name"));
        }
        if dep.starts_with('$') {
            let msg = format!(
                "`dependsOn` cannot contain an environment variable (`{dep}`); list it in `env`"
            );
            return Err(error(msg, "environment variable"));
        }
        kept.push(dep.to_string());
    }
    Ok(kept)
}

/// `inputs` as strings. Turborepo 2.11's structured entries are read too: a `startup` entry
/// is its `globs` (with `$TURBO_DEFAULT$` first for `withDefaults`); `jit` and
/// `dependencyOutputs` entries name files the task's dependencies write, which kiln hashes
/// through those dependencies' keys (all hashing is done before the run starts), so they
/// are dropped, each named once as such.
fn inputs(
    doc: &Doc<'_>,
    at: &[Seg<'_>],
    value: &Value,
    extend: &mut bool,
    ignored: &mut Vec<IgnoredKey>,
) -> Result<Option<Vec<String>>, ConfigError> {
    let Value::Array(items) = value else {
        return strings(doc, at, value);
    };
    let mut list = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let here: Vec<Seg<'_>> = at.iter().copied().chain([Seg::Index(i)]).collect();
        match item {
            Value::String(s) if s == EXTENDS_MARKER => *extend = true,
            Value::String(s) => list.push(s.clone()),
            Value::Object(fields) => {
                let mode = fields
                    .get("mode")
                    .and_then(Value::as_str)
                    .unwrap_or("startup");
                match mode {
                    "startup" => {
                        if fields.get("withDefaults") == Some(&Value::Bool(true)) {
                            list.push("$TURBO_DEFAULT$".to_string());
                        }
                        if let Some(globs) = fields.get("globs") {
                            let at: Vec<Seg<'_>> =
                                here.iter().copied().chain([Seg::Key("globs")]).collect();
                            list.extend(strings(doc, &at, globs)?.unwrap_or_default());
                        }
                    }
                    "jit" | "dependencyOutputs" => ignored.push(doc.ignored(
                        &here,
                        "these files come from the task's dependencies, whose keys stand for \
                         them (kiln hashes everything before the run starts)",
                    )),
                    other => {
                        let msg = format!(
                            "unknown input mode `{other}` (`startup`, `jit` or `dependencyOutputs`)"
                        );
                        return Err(doc.error(&here, false, msg, "unknown mode"));
                    }
                }
            }
            _ => {
                let msg = "`inputs` entries must be strings or input objects".to_string();
                return Err(doc.error(&here, false, msg, "expected a string"));
            }
        }
    }
    Ok(Some(list))
}

/// Outputs are restored into the package, so they stay inside it: no `$TURBO_ROOT$` (not
/// supported yet), no `..`, nothing absolute. `value` is already known to be `null` or strings. (`inputs`
/// keep `$TURBO_ROOT$/…` as written: the hasher resolves it against the root.)
fn check_outputs(doc: &Doc<'_>, at: &[Seg<'_>], value: &Value) -> Result<(), ConfigError> {
    let Value::Array(items) = value else {
        return Ok(());
    };
    for (i, output) in items.iter().filter_map(Value::as_str).enumerate() {
        let problem = if output.contains(TURBO_ROOT) {
            Some((
                "`$TURBO_ROOT$` in `outputs` is not supported yet",
                "unsupported",
            ))
        } else {
            output_outside_package(output)
        };
        if let Some((msg, label)) = problem {
            let at: Vec<Seg<'_>> = at.iter().copied().chain([Seg::Index(i)]).collect();
            return Err(doc.error(&at, false, format!("`{output}`: {msg}"), label));
        }
    }
    Ok(())
}

/// Why an `outputs` glob cannot be used, if it leaves the package (`..`) or is absolute:
/// the message and a short label. Shared by `turbo.json` and `kiln.toml`.
pub(crate) fn output_outside_package(output: &str) -> Option<(&'static str, &'static str)> {
    let glob = output.strip_prefix('!').unwrap_or(output);
    let b = glob.as_bytes();
    let windows_drive =
        b.len() >= 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && matches!(b[2], b'/' | b'\\');
    if glob.starts_with('/') || glob.starts_with('\\') || windows_drive {
        Some((
            "outputs are relative to the package: an absolute path points outside it, \
             where a cache hit must never write; write it relative to the package directory",
            "absolute path",
        ))
    } else if glob.split(['/', '\\']).any(|c| c == "..") {
        Some((
            "outputs cannot leave the package (`..`): kiln restores a task's outputs into \
             its own package only, so that a cache hit never writes anywhere else",
            "outside the package",
        ))
    } else {
        None
    }
}

/// `$KILN_DEFAULT$` is kiln's name for Turborepo's `$TURBO_DEFAULT$`.
pub(crate) fn normalise_default_input(input: &mut String) {
    if input == "$KILN_DEFAULT$" {
        *input = "$TURBO_DEFAULT$".to_string();
    }
}

/// An array of strings; `null` reads as "not set".
fn strings(
    doc: &Doc<'_>,
    at: &[Seg<'_>],
    value: &Value,
) -> Result<Option<Vec<String>>, ConfigError> {
    let name = field_name(at);
    match value {
        Value::Null => Ok(None),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::String(s) => Ok(s.clone()),
                _ => {
                    let at: Vec<Seg<'_>> = at.iter().copied().chain([Seg::Index(i)]).collect();
                    let msg = format!("`{name}` entries must be strings");
                    Err(doc.error(&at, false, msg, "expected a string"))
                }
            })
            .collect::<Result<_, _>>()
            .map(Some),
        _ => {
            let msg = format!("`{name}` must be an array of strings");
            Err(doc.error(at, false, msg, "expected an array"))
        }
    }
}

fn boolean(doc: &Doc<'_>, at: &[Seg<'_>], value: &Value) -> Result<Option<bool>, ConfigError> {
    match value {
        Value::Null => Ok(None),
        Value::Bool(b) => Ok(Some(*b)),
        _ => {
            let msg = format!("`{}` must be `true` or `false`", field_name(at));
            Err(doc.error(at, false, msg, "expected a boolean"))
        }
    }
}

fn field_name<'a>(at: &[Seg<'a>]) -> &'a str {
    at.iter()
        .rev()
        .find_map(|s| match s {
            Seg::Key(k) => Some(*k),
            Seg::Index(_) => None,
        })
        .unwrap_or("value")
}
