//! The end-of-run summary: how many tasks ran, hit the cache, failed or were skipped, why
//! the misses ran, and the time taken and saved.

use std::io::Write;
use std::time::Duration;

use kiln_core::{CacheStatus, TaskOutcome, TaskReport};

use super::fmt_duration;

/// The end-of-run summary: counts, failures, skips, wall time and time saved.
pub(crate) fn print_summary(reports: &[TaskReport], wall: Duration, interrupted: bool) {
    let total = reports.len();
    let cached = reports
        .iter()
        .filter(|r| matches!(r.cache, CacheStatus::Hit(_)) && r.outcome == TaskOutcome::Succeeded)
        .count();
    let resumed = reports
        .iter()
        .filter(|r| r.cache == CacheStatus::Resumed)
        .count();
    let succeeded = reports
        .iter()
        .filter(|r| r.outcome == TaskOutcome::Succeeded)
        .count();
    let failed: Vec<&TaskReport> = reports
        .iter()
        .filter(|r| matches!(r.outcome, TaskOutcome::Failed { .. }))
        .collect();
    let skipped: Vec<&TaskReport> = reports
        .iter()
        .filter(|r| matches!(r.outcome, TaskOutcome::Skipped { .. }))
        .collect();
    let cancelled = reports
        .iter()
        .filter(|r| r.outcome == TaskOutcome::Cancelled)
        .count();
    let ran = succeeded - cached - resumed;
    let saved: Duration = reports.iter().map(|r| r.saved).sum();

    let mut out = std::io::stdout().lock();
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "  Tasks:  {succeeded} successful, {total} total ({ran} ran, {cached} cached, {} failed, {} skipped{}{})",
        failed.len(),
        skipped.len(),
        if cancelled > 0 {
            format!(", {cancelled} not started")
        } else {
            String::new()
        },
        if resumed > 0 {
            format!(", {resumed} done before --resume")
        } else {
            String::new()
        }
    );
    print_misses(&mut out, reports);
    for r in &failed {
        if let TaskOutcome::Failed { code } = r.outcome {
            let _ = writeln!(out, " Failed:  {} (exit code {code})", r.id);
        }
    }
    for r in &skipped {
        if let TaskOutcome::Skipped { because } = &r.outcome {
            let _ = writeln!(out, "Skipped:  {} (dependency {because} failed)", r.id);
        }
    }
    let saved = if saved > Duration::ZERO {
        format!(", {} saved by the cache", fmt_duration(saved))
    } else {
        String::new()
    };
    let _ = writeln!(out, "   Time:  {}{saved}", fmt_duration(wall));
    if interrupted {
        let _ = writeln!(out, "Interrupted: running tasks were stopped.");
    } else if total > 0 && cached == total {
        let _ = writeln!(out, "         everything was cached");
    }
}

/// Why each cacheable task ran, one line each, the first few.
fn print_misses(out: &mut impl Write, reports: &[TaskReport]) {
    const SHOWN: usize = 10;
    let misses: Vec<&TaskReport> = reports
        .iter()
        .filter(|r| r.cache == CacheStatus::Miss && r.reason.is_some())
        .collect();
    for (i, r) in misses.iter().take(SHOWN).enumerate() {
        let label = if i == 0 { " Misses:" } else { "        " };
        let reason = r.reason.as_deref().unwrap_or_default();
        let _ = writeln!(out, "{label}  {} — {reason}", r.id);
    }
    if misses.len() > SHOWN {
        let _ = writeln!(
            out,
            "          … and {} more (`kiln run -v` shows every decision)",
            misses.len() - SHOWN
        );
    }
}
