//! [`InputManifest`]: what went into a key, item by item, and why two keys differ.
//!
//! The run keeps the manifest of each task's last key (in `.kiln/state/`); when the next
//! key differs, [`InputManifest::diff`] names every input that changed, so `kiln why` and
//! `-v` can say "`src/a.ts` changed" instead of "cache miss". Env values appear only as
//! digests. The manifest never decides anything itself: the key does.

use std::collections::BTreeMap;

use kiln_core::TaskId;
use serde::{Deserialize, Serialize};

use kiln_core::{ChangeReason, Platform, TaskKey};

use crate::Digest;

/// Everything that went into one task's key (see `key.rs` for the table).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputManifest {
    /// The [`crate::KEY_FORMAT_VERSION`] this key was made with.
    pub key_format: u32,
    pub task: TaskId,
    pub key: TaskKey,
    /// The digest of the task definition.
    pub definition: Digest,
    /// Package-relative path → content digest.
    pub files: BTreeMap<String, Digest>,
    /// Variable name → digest of its value (never the value).
    pub env: BTreeMap<String, Digest>,
    /// The keys of the tasks this one depends on, sorted by task.
    pub dependencies: Vec<DependencyKey>,
    /// The [`crate::GlobalInputs::digest`].
    pub global: Digest,
    /// Third-party package name → resolved version(s).
    pub external: BTreeMap<String, String>,
    pub platform: Platform,
}

/// One dependency's key, as recorded in a manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DependencyKey {
    pub task: TaskId,
    pub key: TaskKey,
}

impl InputManifest {
    /// Every reason `current`'s key differs from `self`'s (the previous one), most general
    /// first: format, platform, definition, global, external, dependencies, env, files.
    /// Empty when nothing differs.
    pub fn diff(&self, current: &InputManifest) -> Vec<ChangeReason> {
        let mut reasons = Vec::new();
        if self.key_format != current.key_format {
            reasons.push(ChangeReason::KeyFormatChanged {
                from: self.key_format,
                to: current.key_format,
            });
        }
        if self.platform != current.platform {
            reasons.push(ChangeReason::PlatformChanged {
                from: self.platform.clone(),
                to: current.platform.clone(),
            });
        }
        if self.definition != current.definition {
            reasons.push(ChangeReason::DefinitionChanged);
        }
        if self.global != current.global {
            reasons.push(ChangeReason::GlobalChanged);
        }
        external_changes(&self.external, &current.external, &mut reasons);
        let deps = |m: &InputManifest| -> BTreeMap<TaskId, TaskKey> {
            m.dependencies
                .iter()
                .map(|d| (d.task.clone(), d.key))
                .collect()
        };
        compare(
            &deps(self),
            &deps(current),
            &mut reasons,
            |task, change| match change {
                Change::Added => ChangeReason::DependencyAdded { task },
                Change::Removed => ChangeReason::DependencyRemoved { task },
                Change::Modified => ChangeReason::DependencyChanged { task },
            },
        );
        compare(
            &self.env,
            &current.env,
            &mut reasons,
            |name, change| match change {
                Change::Added => ChangeReason::EnvAdded { name },
                Change::Removed => ChangeReason::EnvRemoved { name },
                Change::Modified => ChangeReason::EnvChanged { name },
            },
        );
        compare(
            &self.files,
            &current.files,
            &mut reasons,
            |path, change| match change {
                Change::Added => ChangeReason::FileAdded { path },
                Change::Removed => ChangeReason::FileRemoved { path },
                Change::Modified => ChangeReason::FileModified { path },
            },
        );
        reasons
    }
}

impl crate::GlobalInputs {
    /// What changed from `self` (earlier) to `current`, file by file and variable by
    /// variable.
    pub fn diff(&self, current: &crate::GlobalInputs) -> Vec<ChangeReason> {
        let mut reasons = Vec::new();
        compare(&self.env, &current.env, &mut reasons, |name, _| {
            ChangeReason::GlobalEnvChanged { name }
        });
        compare(
            &self.files,
            &current.files,
            &mut reasons,
            |path, change| match change {
                Change::Added => ChangeReason::GlobalFileAdded { path },
                Change::Removed => ChangeReason::GlobalFileRemoved { path },
                Change::Modified => ChangeReason::GlobalFileModified { path },
            },
        );
        reasons
    }
}

fn external_changes(
    old: &BTreeMap<String, String>,
    new: &BTreeMap<String, String>,
    reasons: &mut Vec<ChangeReason>,
) {
    for (name, version) in old {
        match new.get(name) {
            None => reasons.push(ChangeReason::ExternalRemoved {
                name: name.clone(),
                version: version.clone(),
            }),
            Some(to) if to != version => reasons.push(ChangeReason::ExternalChanged {
                name: name.clone(),
                from: version.clone(),
                to: to.clone(),
            }),
            Some(_) => {}
        }
    }
    for (name, version) in new {
        if !old.contains_key(name) {
            reasons.push(ChangeReason::ExternalAdded {
                name: name.clone(),
                version: version.clone(),
            });
        }
    }
}

enum Change {
    Added,
    Removed,
    Modified,
}

/// Appends one reason per key that is only in `old`, only in `new`, or in both with a
/// different value, in key order.
fn compare<K: Ord + Clone, V: PartialEq>(
    old: &BTreeMap<K, V>,
    new: &BTreeMap<K, V>,
    reasons: &mut Vec<ChangeReason>,
    reason: impl Fn(K, Change) -> ChangeReason,
) {
    let mut keys: Vec<&K> = old.keys().chain(new.keys()).collect();
    keys.sort_unstable();
    keys.dedup();
    for key in keys {
        let change = match (old.get(key), new.get(key)) {
            (None, Some(_)) => Change::Added,
            (Some(_), None) => Change::Removed,
            (Some(a), Some(b)) if a != b => Change::Modified,
            _ => continue,
        };
        reasons.push(reason(key.clone(), change));
    }
}
