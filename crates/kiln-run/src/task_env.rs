//! The environment a task sees, in Turborepo 2's env modes.
//!
//! A build that reads a variable nobody declared is served a wrong cache hit once that
//! variable changes: its value is in no key. **Strict mode** (the default) makes that
//! impossible by construction: a task sees only
//!
//! 1. the variables every program needs ([`ALWAYS_PASSED`], Turborepo 2.11's own list:
//!    `PATH`, `HOME`, `SHELL`, `TMPDIR`, `CI`, `TURBO_*`, …; the Rust toolchain's homes
//!    too, for Cargo packages),
//! 2. `globalPassThroughEnv` and `globalEnv` (the latter hashed, in every key),
//! 3. the task's `passThroughEnv`, whose `!` entries take out anything of 1–3,
//! 4. the task's hashed variables, which nothing takes out: its `env` and its framework's
//!    (`NEXT_PUBLIC_*` for Next.js, see `kiln_workspace::Framework`), less the `!` entries of
//!    its `env` (and, for the framework's, of `globalEnv`).
//!
//! **Loose mode** passes kiln's whole environment; only the declared variables are hashed.
//! Either way the package-manager variables (`PATH` with `node_modules/.bin`, `npm_*`,
//! `INIT_CWD`) are added on top, by `script_env`.

use std::collections::BTreeMap;
use std::ffi::OsString;

use kiln_graph::TaskNode;
use kiln_hash::EnvPatterns;
use kiln_workspace::{EnvMode, PackageKind, Workspace};

/// What Turborepo 2.11 passes to every task in strict mode (names, and `PREFIX_*`
/// wildcards), matched case-sensitively.
pub const ALWAYS_PASSED: &[&str] = &[
    "HOME",
    "USER",
    "TZ",
    "LANG",
    "SHELL",
    "PWD",
    "XDG_RUNTIME_DIR",
    "XAUTHORITY",
    "DBUS_SESSION_BUS_ADDRESS",
    "CI",
    "NODE_OPTIONS",
    "LD_LIBRARY_PATH",
    "DYLD_FALLBACK_LIBRARY_PATH",
    "LIBPATH",
    "LD_PRELOAD",
    "DYLD_INSERT_LIBRARIES",
    "COLORTERM",
    "TERM",
    "TERM_PROGRAM",
    "DISPLAY",
    "TMP",
    "TEMP",
    "TMPDIR",
    "FORCE_COLOR",
    "NO_COLOR",
    "WINDIR",
    "ProgramFiles",
    "ProgramFiles(x86)",
    "ELECTRON_RUN_AS_NODE",
    "JB_INTERPRETER",
    "_JETBRAINS_TEST_RUNNER_RUN_SCOPE_TYPE",
    "VERCEL",
    "USE_OUTPUT_FOR_EDGE_FUNCTIONS",
    "NOW_BUILDER",
    "VC_MICROFRONTENDS_CONFIG_FILE_NAME",
    "APPDATA",
    "LOCALAPPDATA",
    "PATH",
    "PROGRAMDATA",
    "SYSTEMROOT",
    "SYSTEMDRIVE",
    "USERPROFILE",
    "HOMEDRIVE",
    "HOMEPATH",
    "PNPM_HOME",
    "pnpm_config_verify_deps_before_run",
    "NPM_CONFIG_STORE_DIR",
    "COMSPEC",
    "PATHEXT",
    "XDG_DATA_*",
    "COREPACK_*",
    "VSCODE_*",
    "DOCKER_*",
    "BUILDKIT_*",
    "COMPOSE_*",
    "JB_IDE_*",
    "TURBO_*",
    "VERCEL_*",
    "NEXT_*",
    "GITHUB_*",
    "RUNNER_*",
    "__NIXOS_*",
    "NIX_*",
];

/// Where Cargo and rustup live: a Cargo package's tasks need them as much as `PATH`.
const CARGO_PASSED: &[&str] = &["CARGO_HOME", "RUSTUP_HOME", "RUSTUP_TOOLCHAIN"];

/// The environment of one task, before the package-manager variables.
#[derive(Debug, Default)]
pub struct TaskEnv {
    pub vars: Vec<(OsString, OsString)>,
    /// The variables strict mode kept from the task, by name, sorted (for `-v`).
    pub hidden: Vec<String>,
}

/// The variable patterns a task's framework adds to its `env`, with the exclusions that
/// apply to them (the task's `!` entries in `env`, and `globalEnv`'s), ready for
/// `kiln_hash::env_digests`; empty without a framework. `var` reads the environment (a
/// framework may add variables depending on another's value).
pub fn inferred_env(
    ws: &Workspace,
    node: &TaskNode,
    var: impl Fn(&str) -> Option<String>,
) -> Vec<String> {
    let Some(framework) = node.task.framework else {
        return Vec::new();
    };
    let mut patterns = framework.env_patterns(var);
    let exclusions = node
        .task
        .env
        .iter()
        .chain(&ws.pipeline.global_env)
        .filter(|p| p.starts_with('!'));
    patterns.extend(exclusions.cloned());
    patterns
}

/// What `node` sees of `base` (kiln's environment).
pub fn task_env(ws: &Workspace, node: &TaskNode, base: &[(OsString, OsString)]) -> TaskEnv {
    if node.task.env_mode == EnvMode::Loose {
        return TaskEnv {
            vars: base.to_vec(),
            hidden: Vec::new(),
        };
    }
    let lookup = |name: &str| {
        base.iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.to_str().map(str::to_string))
    };
    let inferred = inferred_env(ws, node, lookup);
    let global_pass: &[String] = ws
        .pipeline
        .global_pass_through_env
        .as_deref()
        .unwrap_or(&[]);
    let always = EnvPatterns::from_strs(ALWAYS_PASSED.iter().copied());
    let cargo = EnvPatterns::from_strs(CARGO_PASSED.iter().copied());
    let is_cargo = ws
        .package(&node.id.package)
        .is_some_and(|p| p.kind == PackageKind::Cargo);
    let global_pass = EnvPatterns::new(global_pass);
    let global_env = EnvPatterns::new(&ws.pipeline.global_env);
    let pass = EnvPatterns::new(&node.task.pass_through_env);
    let hashed = EnvPatterns::new(&node.task.env);
    let inferred = EnvPatterns::new(&inferred);

    let mut vars = Vec::with_capacity(base.len());
    let mut hidden = Vec::new();
    for (key, value) in base {
        let Some(name) = key.to_str() else {
            hidden.push(key.to_string_lossy().into_owned());
            continue;
        };
        let passed = (always.includes(name)
            || is_cargo && cargo.includes(name)
            || global_pass.matches(name)
            || global_env.matches(name)
            || pass.includes(name))
            && !pass.excludes(name);
        let declared = hashed.matches(name) || inferred.matches(name);
        if passed || declared {
            vars.push((key.clone(), value.clone()));
        } else {
            hidden.push(name.to_string());
        }
    }
    hidden.sort();
    TaskEnv { vars, hidden }
}

/// The hashed variables of a task: its `env` patterns and its framework's, each with the
/// digest of its value.
pub fn hashed_env(
    ws: &Workspace,
    node: &TaskNode,
    env: &BTreeMap<String, String>,
) -> Vec<(String, kiln_hash::Digest)> {
    let mut digests = kiln_hash::env_digests(&node.task.env, env);
    let inferred = inferred_env(ws, node, |name| env.get(name).cloned());
    if !inferred.is_empty() {
        digests.extend(kiln_hash::env_digests(&inferred, env));
        digests.sort();
        digests.dedup();
    }
    digests
}
