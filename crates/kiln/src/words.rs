//! The words for what the engine reports as data: why a task ran ([`RunReason`]) and what
//! went wrong on the way ([`Warning`]). The only place they are phrased; the console, the
//! trace and the summary all call these.

use kiln_core::{RunReason, Warning};

/// One line on why the task's command ran instead of coming from the cache.
pub(crate) fn reason(reason: &RunReason) -> String {
    match reason {
        RunReason::Persistent => "persistent task (never cached)".into(),
        RunReason::CacheOff => "caching is off for this task (`cache: false`)".into(),
        RunReason::Forced => "forced (--force)".into(),
        RunReason::CacheNotRead => "no cache is read (`--cache` without `r`)".into(),
        RunReason::NeverRun => "no earlier run recorded".into(),
        RunReason::NotInCache => {
            "inputs unchanged since its last run, but the result is not in the cache".into()
        }
        RunReason::InputsChanged { changes } => kiln_state::summarize(changes),
        RunReason::InputsUnrecorded => {
            "inputs changed (the earlier inputs are no longer recorded)".into()
        }
    }
}

/// One line for a warning about one task.
pub(crate) fn warning(warning: &Warning) -> String {
    match warning {
        Warning::WaitingForLock { name } => {
            format!("waiting for lock `{name}`, held by another kiln process")
        }
        Warning::LocksUnavailable { error } => {
            format!("could not take its named locks ({error}); running anyway")
        }
        Warning::KeptChangedOutput { path } => format!(
            "kept `{path}`: it changed since kiln last wrote it (or kiln never wrote it), and \
             restoring the cached outputs would replace it; running the task instead"
        ),
        Warning::EntryDiscarded { error } => {
            format!("discarded the cache entry ({error}); running the task")
        }
        Warning::CacheUnreadable { error } => {
            format!("could not read the cache ({error}); running the task")
        }
        Warning::LogNotReplayed { error } => format!("could not replay the cached log: {error}"),
        Warning::InputChangedWhileRunning { path } => format!(
            "input `{path}` changed while the task ran; result not cached (if the task writes \
             it, declare it in `outputs`)"
        ),
        Warning::NotCached { error } => format!("result not cached: {error}"),
        Warning::TimedOut { after } => {
            format!("timed out after {after:?} (`timeout` in its definition); stopped")
        }
        Warning::CouldNotStart { command, error } => {
            format!("could not start `{command}`: {error}")
        }
        Warning::PackageMissing => "the task's package is not in the workspace".into(),
        Warning::StateNotUpdated { error } => format!("could not update the build state: {error}"),
        Warning::JournalNotUpdated { error } => {
            format!("could not update the run journal: {error}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every variant has its own words, and none is empty or a debug dump.
    #[test]
    fn every_reason_and_warning_is_worded() {
        let reasons: Vec<String> = RunReason::examples().iter().map(reason).collect();
        assert_eq!(
            reasons,
            [
                "persistent task (never cached)",
                "caching is off for this task (`cache: false`)",
                "forced (--force)",
                "no cache is read (`--cache` without `r`)",
                "no earlier run recorded",
                "inputs unchanged since its last run, but the result is not in the cache",
                "`src/index.ts` changed",
                "inputs changed (the earlier inputs are no longer recorded)",
            ]
        );
        let warnings: Vec<String> = Warning::examples().iter().map(warning).collect();
        assert_eq!(warnings.len(), Warning::examples().len());
        let distinct: std::collections::BTreeSet<&String> = warnings.iter().collect();
        assert_eq!(distinct.len(), warnings.len(), "{warnings:#?}");
        for (w, text) in Warning::examples().iter().zip(&warnings) {
            assert!(!text.is_empty() && !text.contains('{'), "{w:?}: {text}");
        }
        assert_eq!(
            warning(&Warning::KeptChangedOutput {
                path: "dist/a.js".into()
            }),
            "kept `dist/a.js`: it changed since kiln last wrote it (or kiln never wrote it), and \
             restoring the cached outputs would replace it; running the task instead"
        );
        assert_eq!(
            warning(&Warning::TimedOut {
                after: std::time::Duration::from_secs(5)
            }),
            "timed out after 5s (`timeout` in its definition); stopped"
        );
    }
}
