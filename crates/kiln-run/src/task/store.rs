//! Phase three of a task, after a successful execution: check that its inputs did not
//! change while it ran, pack its outputs with its log, store the artifact locally and queue
//! it for the remote, and record the outputs' fingerprint. A failure to store is a warning:
//! the task still succeeded.

use std::time::{Duration, Instant};

use kiln_cache::{ArtifactInfo, OutputsFingerprint, pack};
use kiln_core::{Phase, Warning, error_chain};
use kiln_hash::StatCache;
use kiln_workspace::Workspace;

use super::lookup::Cache;
use crate::events::Emitter;
use crate::output_state::OutputRecord;
use crate::{GitFiles, PlannedTask, current_input_files};

/// What the check of the inputs needs: the same selection hashing made.
pub(crate) struct InputCheck<'a> {
    pub(crate) workspace: &'a Workspace,
    /// Digests of input files, to check that a task's inputs did not change while it ran.
    pub(crate) stat_cache: &'a StatCache,
    /// What git tracks, as hashing asked it ([`crate::Plan::git`]).
    pub(crate) git: &'a GitFiles,
}

/// Whether the result reached a cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stored {
    /// Stored (locally, or queued for the remote), its fingerprint recorded.
    Yes,
    /// Not stored (an input changed, or packing or storing failed: warned).
    No,
}

/// Packs and stores the outputs.
pub(crate) fn store(
    cache: &Cache<'_>,
    check: &InputCheck<'_>,
    events: &Emitter,
    task: &PlannedTask<'_>,
    log: &[u8],
    took: Duration,
) -> Stored {
    let id = task.id();
    // The key was computed before the task ran. If an input changed since (an edit during
    // the run, or a task that writes into its own inputs), the outputs do not belong to it.
    match current_input_files(check.workspace, check.stat_cache, task.node, check.git) {
        Ok(now) => {
            if let Some(path) = first_difference(&now, &task.manifest.files) {
                events.warn(id, Warning::InputChangedWhileRunning { path });
                return Stored::No;
            }
        }
        Err(e) => {
            events.warn(
                id,
                Warning::NotCached {
                    error: error_chain(&e),
                },
            );
            return Stored::No;
        }
    }
    let key = task.key.to_hex();
    let info = ArtifactInfo {
        key: key.clone(),
        duration_ms: took.as_millis() as u64,
        exit_code: 0,
    };
    let outputs = &task.node.task.outputs;
    let upload = cache.remote.filter(|r| r.can_write());
    let stored = pack(
        &task.package_dir,
        outputs,
        &task.nested,
        log,
        &info,
        cache.store.scratch_dir(),
    )
    .and_then(|packed| {
        if cache.mode.write {
            // A forced run replaces what is stored: `--force` is how a bad entry gets
            // repaired.
            if cache.mode.read {
                cache.store.put(&key, &packed)?;
            } else {
                cache.store.put_replacing(&key, &packed)?;
            }
        }
        if let Some(remote) = upload {
            let (events, id) = (events.clone(), id.clone());
            remote.push(packed, move |started: Instant, ended: Instant| {
                events.phase_between(&id, Phase::Upload, started, ended)
            });
        }
        Ok(())
    })
    .and_then(|()| OutputsFingerprint::take(&task.package_dir, outputs, &task.nested));
    match stored {
        Ok(fingerprint) => {
            cache.outputs.set(
                id,
                OutputRecord {
                    key,
                    fingerprint,
                    log: super::kept_log(log),
                },
            );
            Stored::Yes
        }
        Err(e) => {
            events.warn(
                id,
                Warning::NotCached {
                    error: error_chain(&e),
                },
            );
            Stored::No
        }
    }
}

/// Records what the task's own command left in its outputs (it failed, was stopped, or its
/// result was not stored), under no key: never a hit in place, but a later restore may
/// replace these files, which kiln's run wrote and nobody has touched since.
pub(crate) fn note_outputs_written(cache: &Cache<'_>, task: &PlannedTask<'_>) {
    let outputs = &task.node.task.outputs;
    match OutputsFingerprint::take(&task.package_dir, outputs, &task.nested) {
        Ok(fingerprint) => cache.outputs.set(
            task.id(),
            OutputRecord {
                key: String::new(),
                fingerprint,
                log: None,
            },
        ),
        Err(e) => tracing::debug!("cannot fingerprint the outputs of {}: {e}", task.id()),
    }
}

/// The first input path whose digest differs between `now` and `then` (added, removed or
/// modified), if any.
fn first_difference(
    now: &[(String, kiln_hash::Digest)],
    then: &std::collections::BTreeMap<String, kiln_hash::Digest>,
) -> Option<String> {
    if let Some((path, _)) = now.iter().find(|(p, d)| then.get(p) != Some(d)) {
        return Some(path.clone());
    }
    let current: std::collections::HashSet<&str> = now.iter().map(|(p, _)| p.as_str()).collect();
    then.keys().find(|p| !current.contains(p.as_str())).cloned()
}

#[cfg(test)]
mod tests {
    use super::first_difference;
    use kiln_hash::Digest;

    #[test]
    fn input_differences_name_the_first_changed_added_or_removed_path() {
        let d = |s: &str| Digest::of_bytes(s.as_bytes());
        let then = [("a".to_string(), d("1")), ("b".to_string(), d("2"))]
            .into_iter()
            .collect();
        assert_eq!(
            first_difference(&[("a".into(), d("1")), ("b".into(), d("2"))], &then),
            None
        );
        assert_eq!(
            first_difference(&[("a".into(), d("1")), ("b".into(), d("9"))], &then).as_deref(),
            Some("b")
        );
        assert_eq!(
            first_difference(&[("a".into(), d("1"))], &then).as_deref(),
            Some("b")
        );
        assert_eq!(
            first_difference(
                &[
                    ("a".into(), d("1")),
                    ("b".into(), d("2")),
                    ("c".into(), d("3"))
                ],
                &then
            )
            .as_deref(),
            Some("c")
        );
    }
}
