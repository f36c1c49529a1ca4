//! The local cache's limits for this repository (the run prunes within them and this
//! module tells what it removed; the store's own options are `kiln_run::store_options`).
//!
//! Precedence: `KILN_CACHE_MAX_SIZE` / `KILN_CACHE_MAX_AGE`, then kiln.toml `[cache]`
//! `max_size` / `max_age`, then the defaults (10 GiB, no age limit). `0` or `off` turns a
//! limit off. The limit per artifact (`KILN_CACHE_MAX_ARTIFACT_SIZE`, `max_artifact_size`,
//! default 4 GiB) bounds what is stored and what a restore will expand: it cannot be off.

use std::io::Write;
use std::time::Duration;

use kiln_cache::{PrunePolicy, PruneReport};
use kiln_workspace::{Workspace, parse_cache_limit_age, parse_cache_limit_size};

use super::fmt_bytes;

/// The size limit when nothing is configured.
pub(crate) const DEFAULT_MAX_SIZE: u64 = 10 << 30;

const SIZE_ENV: &str = "KILN_CACHE_MAX_SIZE";

const AGE_ENV: &str = "KILN_CACHE_MAX_AGE";

/// The limits in force and where each came from (`default`, `kiln.toml` or the variable).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub(crate) policy: PrunePolicy,
    pub(crate) size_from: &'static str,
    pub(crate) age_from: &'static str,
}

impl Limits {
    /// The limits of `ws`; an error names the bad variable or the kiln.toml position.
    pub(crate) fn of(ws: &Workspace) -> Result<Limits, String> {
        let config = ws.cache_config().map_err(|e| e.to_string())?;
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let (size, size_from) = match env(SIZE_ENV) {
            Some(text) => (
                parse_cache_limit_size(&text).map_err(|e| format!("{SIZE_ENV}: {e}"))?,
                SIZE_ENV,
            ),
            None => match config.max_size {
                Some(size) => (size, "kiln.toml"),
                None => (DEFAULT_MAX_SIZE, "default"),
            },
        };
        let (age, age_from) = match env(AGE_ENV) {
            Some(text) => (
                parse_cache_limit_age(&text).map_err(|e| format!("{AGE_ENV}: {e}"))?,
                AGE_ENV,
            ),
            None => match config.max_age {
                Some(age) => (age, "kiln.toml"),
                None => (Duration::ZERO, "default"),
            },
        };
        Ok(Limits {
            policy: PrunePolicy {
                max_size: (size > 0).then_some(size),
                max_age: (!age.is_zero()).then_some(age),
            },
            size_from,
            age_from,
        })
    }
}

/// Tells what the pruning after a run removed.
pub(crate) fn report_pruned(ws: &Workspace, report: &PruneReport) {
    if report.removed.is_empty() {
        return;
    }
    let limit = Limits::of(ws)
        .ok()
        .and_then(|limits| limits.policy.max_size)
        .map_or(String::new(), |max| format!(" of {}", fmt_bytes(max)));
    let _ = writeln!(
        std::io::stderr().lock(),
        "kiln: pruned the local cache: evicted {} least recently used entries ({}); {} left{limit}",
        report.removed.len(),
        fmt_bytes(report.removed_bytes),
        fmt_bytes(report.kept_bytes),
    );
}
