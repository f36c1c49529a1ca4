//! The task key: one BLAKE3 digest over everything that can change what a task produces.
//!
//! A key is an address in the cache, local or remote, shared between machines. Two rules
//! follow: whatever can change a task's result goes in (a missing input is a wrong cache hit,
//! the worst bug kiln can have), and whatever differs between machines without changing the
//! result stays out (or nobody ever shares a hit).
//!
//! | input | why it is in the key |
//! |---|---|
//! | [`KEY_FORMAT_VERSION`] | bumped whenever this table or its encoding changes, so old artifacts are never read as new ones |
//! | task id (`pkg#task`) | outputs are restored into this package; two packages never share an artifact |
//! | definition ([`DefinitionInputs`]): command, arguments passed after `--`, `depends_on`, `inputs`, `outputs`, `env`, `pass_through_env`, `cache`, `persistent`, env mode, the framework's variable patterns, the global pass-through names (strict mode) | the command is the build; the globs decide what is hashed and restored; the env mode and the pass-through lists decide what the task can see; a pipeline edit is a change |
//! | files: (package-relative path, content digest) | the sources; the *name* is there too, so a rename is a change |
//! | dependencies: (task id, key) of every task this one depends on | a dependency's outputs are this task's inputs; its key stands for all of them, transitively |
//! | env: (name, digest of value) for the task's `env` patterns and its framework's (`NEXT_PUBLIC_*`) | `NODE_ENV=production` builds something else; unset differs from empty |
//! | global: digest of the global files and the global env | `globalDependencies` / `globalEnv`: root config every task reads |
//! | external: (name, resolved version) of every third-party package in the package's transitive closure, from the lockfile | an upgraded dependency changes the result; one that is not in the closure must not |
//! | platform: OS and architecture | native binaries and `node_modules/.bin` shims differ across them |
//!
//! What must never go in:
//! - **absolute paths** (the checkout's location): they differ on every machine and CI run;
//!   files are named relative to their package, the root relative to nothing;
//! - **mtimes, inodes, sizes**: they change on checkout or restore without any content change.
//!   The stat cache uses them to *avoid* reading files, never as part of a key;
//! - **`pass_through_env` values**: passing a variable through says it does not matter (its
//!   name is in the definition, so changing the list is a change);
//! - **anything about the run** (time, user, host name, kiln's own version other than
//!   [`KEY_FORMAT_VERSION`]).
//!
//! The encoding is length-prefixed (see `encode.rs`) and runs in a BLAKE3 key-derivation
//! context of its own; lists are sorted before hashing, so callers cannot change a key by
//! handing the same inputs in another order. The [`InputManifest`] keeps the same inputs
//! item by item (env values as digests only) so that a miss can be explained.

use kiln_core::{Platform, TaskId, TaskKey};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::Digest;
use crate::encode::Encoder;
use crate::manifest::{DependencyKey, InputManifest};

/// Bump whenever what goes into a key, or how it is encoded, changes.
pub const KEY_FORMAT_VERSION: u32 = 3;

const KEY_CONTEXT: &str = "kiln 2025 task key";
const DEFINITION_CONTEXT: &str = "kiln 2025 task definition";
const GLOBAL_CONTEXT: &str = "kiln 2025 global inputs";

/// The fields of a resolved task definition that go into the key.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefinitionInputs {
    pub command: Option<String>,
    /// Order does not matter (sorted before hashing).
    pub depends_on: Vec<String>,
    /// Order matters: `!glob` removes what came before it.
    pub inputs: Vec<String>,
    /// Order does not matter.
    pub outputs: Vec<String>,
    /// Order does not matter.
    pub env: Vec<String>,
    /// Names only; order does not matter.
    pub pass_through_env: Vec<String>,
    pub cache: bool,
    pub persistent: bool,
    /// `strict` or `loose`: what the task can see of the environment.
    #[serde(default)]
    pub env_mode: String,
    /// The variable patterns its framework adds (`NEXT_PUBLIC_*`); order does not matter.
    #[serde(default)]
    pub inferred_env: Vec<String>,
    /// `globalPassThroughEnv`, in strict mode (what else the task can see); order does not
    /// matter.
    #[serde(default)]
    pub global_pass_through_env: Vec<String>,
    /// Arguments passed to the command (`kiln run build -- --prod`); order matters.
    #[serde(default)]
    pub args: Vec<String>,
}

impl DefinitionInputs {
    /// The digest of the canonical form: unordered lists sorted and deduplicated.
    pub fn digest(&self) -> Digest {
        Encoder::new(DEFINITION_CONTEXT)
            .opt_str(self.command.as_deref())
            .strs(sorted(&self.depends_on).into_iter())
            .strs(self.inputs.iter().map(String::as_str))
            .strs(sorted(&self.outputs).into_iter())
            .strs(sorted(&self.env).into_iter())
            .strs(sorted(&self.pass_through_env).into_iter())
            .bool(self.cache)
            .bool(self.persistent)
            .str(&self.env_mode)
            .strs(sorted(&self.inferred_env).into_iter())
            .strs(sorted(&self.global_pass_through_env).into_iter())
            .strs(self.args.iter().map(String::as_str))
            .finish()
    }
}

fn sorted(v: &[String]) -> Vec<&str> {
    let mut v: Vec<&str> = v.iter().map(String::as_str).collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// Everything that goes into one task's key (see the module doc for why each is there).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyInputs {
    pub task_id: TaskId,
    pub definition: DefinitionInputs,
    /// (package-relative path, content digest), as [`crate::hash_files()`] returns them.
    pub files: Vec<(String, Digest)>,
    /// The keys of the tasks this one depends on.
    pub dependencies: Vec<(TaskId, TaskKey)>,
    /// As [`crate::env_digests`] returns them for the task's `env`.
    pub env: Vec<(String, Digest)>,
    /// [`global_digest`] of the global files and env.
    pub global: Digest,
    /// The package's resolved third-party dependencies: name → version(s) (see
    /// `kiln_run::ExternalVersions`, in `kiln-run/src/external.rs`). When the lockfile cannot
    /// be read per package, one entry stands for the whole file.
    pub external: BTreeMap<String, String>,
    pub platform: Platform,
}

impl KeyInputs {
    /// The task's key.
    pub fn key(&self) -> TaskKey {
        let mut files: Vec<&(String, Digest)> = self.files.iter().collect();
        files.sort_unstable();
        files.dedup();
        let mut deps: Vec<&(TaskId, TaskKey)> = self.dependencies.iter().collect();
        deps.sort_unstable();
        deps.dedup();
        let mut env: Vec<&(String, Digest)> = self.env.iter().collect();
        env.sort_unstable();
        env.dedup();

        let mut e = Encoder::new(KEY_CONTEXT);
        e.u32(KEY_FORMAT_VERSION)
            .str(self.task_id.package.as_str())
            .str(self.task_id.task.as_str())
            .digest(&self.definition.digest());
        e.u64(files.len() as u64);
        for (path, digest) in files {
            e.str(path).digest(digest);
        }
        e.u64(deps.len() as u64);
        for (id, key) in deps {
            e.str(id.package.as_str())
                .str(id.task.as_str())
                .digest(&Digest::from(*key));
        }
        e.u64(env.len() as u64);
        for (name, digest) in env {
            e.str(name).digest(digest);
        }
        e.digest(&self.global);
        e.u64(self.external.len() as u64);
        for (name, version) in &self.external {
            e.str(name).str(version);
        }
        e.str(&self.platform.os).str(&self.platform.arch);
        TaskKey::from(e.finish())
    }

    /// The key together with the record of what went into it.
    pub fn manifest(&self) -> InputManifest {
        self.clone().into_manifest()
    }

    /// [`KeyInputs::manifest`] without copying the file list (a path per file, on every run).
    pub fn into_manifest(self) -> InputManifest {
        let key = self.key();
        let definition = self.definition.digest();
        let mut dependencies: Vec<DependencyKey> = self
            .dependencies
            .into_iter()
            .map(|(task, key)| DependencyKey { task, key })
            .collect();
        dependencies.sort_unstable_by(|a, b| a.task.cmp(&b.task));
        dependencies.dedup_by(|a, b| a.task == b.task);
        InputManifest {
            key_format: KEY_FORMAT_VERSION,
            task: self.task_id,
            key,
            definition,
            files: self.files.into_iter().collect(),
            env: self.env.into_iter().collect(),
            dependencies,
            global: self.global,
            external: self.external,
            platform: self.platform,
        }
    }
}

/// The inputs every task shares: `globalDependencies` files (root-relative) and `globalEnv`
/// values (as digests). Keys take only their [`GlobalInputs::digest`]; the items are kept
/// once per run in the build state, to name the global input that changed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GlobalInputs {
    pub files: BTreeMap<String, Digest>,
    pub env: BTreeMap<String, Digest>,
}

impl GlobalInputs {
    pub fn digest(&self) -> Digest {
        let files: Vec<(String, Digest)> =
            self.files.iter().map(|(k, v)| (k.clone(), *v)).collect();
        let env: Vec<(String, Digest)> = self.env.iter().map(|(k, v)| (k.clone(), *v)).collect();
        global_digest(&files, &env)
    }
}

/// The digest of the global inputs: root-relative global files and the global env.
pub fn global_digest(files: &[(String, Digest)], env: &[(String, Digest)]) -> Digest {
    let mut e = Encoder::new(GLOBAL_CONTEXT);
    for list in [files, env] {
        let mut sorted: Vec<&(String, Digest)> = list.iter().collect();
        sorted.sort_unstable();
        e.u64(sorted.len() as u64);
        for (name, digest) in sorted {
            e.str(name).digest(digest);
        }
    }
    e.finish()
}

/// Keys are kiln-core's [`TaskKey`]: made here, read everywhere.
impl From<Digest> for TaskKey {
    fn from(d: Digest) -> Self {
        TaskKey::from_bytes(*d.as_bytes())
    }
}

impl From<TaskKey> for Digest {
    fn from(key: TaskKey) -> Self {
        Digest::from_bytes(*key.as_bytes())
    }
}

#[cfg(test)]
#[path = "key_tests.rs"]
mod tests;
