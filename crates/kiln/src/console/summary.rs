//! The end-of-run summary: how many tasks ran, hit the cache, failed or were skipped, why
//! the misses ran, and the time taken and saved.

use std::io::Write;
use std::time::Duration;

use kiln_core::{CacheStatus, TaskOutcome, TaskReport};

use super::fmt_duration;

/// The end-of-run summary: counts, failures, skips, wall time and time saved. Counted as
/// Turborepo counts: a package without the script is no task (its node only keeps the
/// order), and the total is what ran or came from the cache; skipped and unstarted tasks
/// are named beside it.
pub(crate) fn print_summary(reports: &[TaskReport], wall: Duration, interrupted: bool) {
    let reports: Vec<TaskReport> = reports
        .iter()
        .filter(|r| r.cache != CacheStatus::NothingToRun)
        .cloned()
        .collect();
    let reports = reports.as_slice();
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
    let total = succeeded + failed.len();
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
    for (i, line) in miss_lines(reports).iter().enumerate() {
        let label = if i == 0 { " Misses:" } else { "        " };
        let _ = writeln!(out, "{label}  {line}");
    }
}

/// One line per miss (`ui#build — \`src/a.ts\` changed`), the first few; a reason shared by
/// many tasks (a cold build's "no earlier run recorded", a global input) is one line for
/// all of them.
fn miss_lines(reports: &[TaskReport]) -> Vec<String> {
    const SHOWN: usize = 10;
    const GROUPED: usize = 3;
    let misses: Vec<&TaskReport> = reports
        .iter()
        .filter(|r| r.cache == CacheStatus::Miss && r.reason.is_some())
        .collect();
    let mut by_reason: Vec<(String, Vec<&TaskReport>)> = Vec::new();
    for r in &misses {
        let reason = r
            .reason
            .as_ref()
            .map(crate::words::reason)
            .unwrap_or_default();
        match by_reason.iter_mut().find(|(why, _)| *why == reason) {
            Some((_, tasks)) => tasks.push(r),
            None => by_reason.push((reason, vec![r])),
        }
    }
    // Each line with how many tasks it stands for.
    let mut lines: Vec<(String, usize)> = Vec::new();
    for (reason, tasks) in &by_reason {
        if tasks.len() >= GROUPED {
            let line = format!(
                "{} tasks — {reason} ({}, {}, …)",
                tasks.len(),
                tasks[0].id,
                tasks[1].id
            );
            lines.push((line, tasks.len()));
        } else {
            lines.extend(tasks.iter().map(|r| (format!("{} — {reason}", r.id), 1)));
        }
    }
    lines.truncate(SHOWN);
    let shown: usize = lines.iter().map(|(_, n)| n).sum();
    let mut lines: Vec<String> = lines.into_iter().map(|(line, _)| line).collect();
    if misses.len() > shown {
        lines.push(format!(
            "  … and {} more (`kiln run -v` shows every decision)",
            misses.len() - shown
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use kiln_core::{CacheStatus, TaskId, TaskOutcome, TaskReport};

    use super::miss_lines;
    use kiln_core::{ChangeReason, RunReason, TaskKey};

    fn changed(path: &str) -> RunReason {
        RunReason::InputsChanged {
            changes: vec![ChangeReason::FileModified { path: path.into() }],
        }
    }

    fn miss(task: &str, reason: RunReason) -> TaskReport {
        TaskReport {
            id: TaskId::parse(task).unwrap(),
            key: TaskKey::from_bytes([0; 32]),
            outcome: TaskOutcome::Succeeded,
            cache: CacheStatus::Miss,
            duration: Duration::ZERO,
            saved: Duration::ZERO,
            reason: Some(reason),
            executed: true,
            resources: None,
            started_unix_ms: None,
        }
    }

    #[test]
    fn a_reason_shared_by_many_tasks_is_one_line() {
        let mut reports: Vec<TaskReport> = (0..20)
            .map(|i| miss(&format!("p{i:02}#build"), RunReason::NeverRun))
            .collect();
        reports.push(miss("ui#build", changed("src/a.ts")));
        assert_eq!(
            miss_lines(&reports),
            [
                "20 tasks — no earlier run recorded (p00#build, p01#build, …)",
                "ui#build — `src/a.ts` changed"
            ]
        );
    }

    #[test]
    fn many_different_reasons_are_cut_with_a_count() {
        let reports: Vec<TaskReport> = (0..14)
            .map(|i| miss(&format!("p{i:02}#build"), changed(&format!("f{i}"))))
            .collect();
        let lines = miss_lines(&reports);
        assert_eq!(lines.len(), 11);
        assert_eq!(lines[0], "p00#build — `f0` changed");
        assert!(lines[10].contains("… and 4 more"), "{lines:?}");
    }
}
