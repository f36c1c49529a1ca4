//! The terminal subscriber: prints every task's output live, prefixed `pkg:task:`, warnings
//! and failures on stderr, and the summary at the end. The engine never prints; this is the
//! only place a run's human output comes from.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::mpsc::Receiver;
use std::thread::JoinHandle;
use std::time::Duration;

use kiln_core::{CacheStatus, Event, TaskId, TaskOutcome, TaskReport};

/// Colours only on a terminal, and never when `NO_COLOR` is set (<https://no-color.org>).
pub(crate) fn color_enabled(stream: &impl IsTerminal) -> bool {
    stream.is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

const PALETTE: [&str; 6] = ["36", "35", "32", "33", "34", "31"];

pub(crate) struct Console {
    handle: JoinHandle<()>,
}

impl Console {
    /// Starts the subscriber thread; it ends when every sender of `events` is dropped.
    pub(crate) fn spawn(events: Receiver<Event>, verbose: u8, replay_logs: bool) -> Console {
        let handle = std::thread::Builder::new()
            .name("kiln-console".into())
            .spawn(move || Printer::new(verbose, replay_logs).consume(events))
            .expect("spawn the console thread");
        Console { handle }
    }

    pub(crate) fn join(self) {
        let _ = self.handle.join();
    }
}

struct Printer {
    verbose: u8,
    replay_logs: bool,
    color: bool,
    prefixes: HashMap<TaskId, String>,
}

impl Printer {
    fn new(verbose: u8, replay_logs: bool) -> Self {
        Printer {
            verbose,
            replay_logs,
            color: color_enabled(&std::io::stdout()),
            prefixes: HashMap::new(),
        }
    }

    fn prefix(&mut self, id: &TaskId) -> &str {
        let color = self.color;
        let n = self.prefixes.len();
        self.prefixes.entry(id.clone()).or_insert_with(|| {
            let plain = format!("{}:{}:", id.package, id.task);
            if color {
                format!("\x1b[{}m{plain}\x1b[0m", PALETTE[n % PALETTE.len()])
            } else {
                plain
            }
        })
    }

    /// Prints events as they come. Output is buffered while more events are already
    /// waiting and flushed whenever the queue runs dry, so a burst of replayed logs costs a
    /// few writes instead of one per line, and a live task's lines still appear at once.
    fn consume(mut self, events: Receiver<Event>) {
        let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout());
        while let Ok(first) = events.recv() {
            self.handle(&mut out, first);
            while let Ok(next) = events.try_recv() {
                self.handle(&mut out, next);
            }
            // A closed stdout (`kiln run | head`) is not an error: keep draining events so
            // the run finishes normally.
            let _ = out.flush();
        }
    }

    fn handle(&mut self, out: &mut impl Write, event: Event) {
        match event {
            Event::TaskStarted { .. }
            | Event::Phase { .. }
            | Event::Stage { .. }
            | Event::Resources(_) => {}
            Event::CacheHit { id, key, source } => {
                let source = match source {
                    kiln_core::CacheSource::Local => "local",
                    kiln_core::CacheSource::Remote => "remote",
                };
                let what = if self.replay_logs {
                    ", replaying logs"
                } else {
                    ""
                };
                let p = self.prefix(&id).to_string();
                let _ = writeln!(out, "{p} cache hit ({source}){what} {}", short(&key));
            }
            Event::Executing { id, key, .. } => {
                let p = self.prefix(&id).to_string();
                let _ = writeln!(out, "{p} cache miss, executing {}", short(&key));
            }
            Event::TaskOutput { id, line, replayed } => {
                if replayed && !self.replay_logs {
                    return;
                }
                let p = self.prefix(&id).to_string();
                let _ = writeln!(out, "{p} {line}");
            }
            Event::TaskWarning { id, message } => {
                // Keep stdout and stderr in order on a shared terminal.
                let _ = out.flush();
                eprintln_warning(&format!("{id}: {message}"));
            }
            Event::TaskFinished(report) => {
                if matches!(report.outcome, TaskOutcome::Failed { .. }) || self.verbose >= 1 {
                    let _ = out.flush();
                }
                self.finished(&report);
            }
        }
    }

    fn finished(&mut self, report: &TaskReport) {
        match &report.outcome {
            TaskOutcome::Failed { code } => {
                let mut err = std::io::stderr().lock();
                let _ = writeln!(err, "error: {} failed with exit code {code}", report.id);
            }
            _ if self.verbose >= 1 => {
                let mut err = std::io::stderr().lock();
                let _ = writeln!(
                    err,
                    "kiln: {} {} ({})",
                    report.id,
                    decision(report),
                    fmt_duration(report.duration)
                );
            }
            _ => {}
        }
    }
}

/// What kiln decided for a task, and why, in a few words.
fn decision(report: &TaskReport) -> String {
    let why = report.reason.as_deref().unwrap_or("");
    match (&report.outcome, report.cache) {
        (TaskOutcome::Skipped { because }, _) => {
            format!("skipped: dependency `{because}` failed")
        }
        (TaskOutcome::Cancelled, _) => "not started: the run stopped".into(),
        (TaskOutcome::Failed { code }, _) => {
            format!("failed (exit code {code}); ran because {why}")
        }
        (TaskOutcome::Succeeded, CacheStatus::Hit(kiln_core::CacheSource::Local)) => {
            "cache hit (local)".into()
        }
        (TaskOutcome::Succeeded, CacheStatus::Hit(kiln_core::CacheSource::Remote)) => {
            "cache hit (remote)".into()
        }
        (TaskOutcome::Succeeded, CacheStatus::Resumed) => {
            "done: succeeded in the run being resumed".into()
        }
        (TaskOutcome::Succeeded, _) if report.reason.is_none() => "nothing to run".into(),
        (TaskOutcome::Succeeded, CacheStatus::Disabled) => format!("ran: {why}"),
        (TaskOutcome::Succeeded, _) => format!("miss: {why}"),
    }
}

fn short(key: &str) -> &str {
    &key[..key.len().min(16)]
}

fn eprintln_warning(message: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "warning: {message}");
}

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

/// How long ago a Unix time (ms) was: `42s`, `5m`, `3h`, `2d`.
pub(crate) fn fmt_ago(unix_ms: u64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let secs = now.saturating_sub(unix_ms) / 1000;
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m", secs / 60),
        3600..86400 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86400),
    }
}

pub(crate) fn fmt_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{:.2}s", d.as_secs_f64())
    } else {
        format!("{}m{:02}s", ms / 60_000, (ms % 60_000) / 1000)
    }
}

#[cfg(test)]
mod tests {
    use super::fmt_duration;
    use std::time::Duration;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(fmt_duration(Duration::from_millis(42)), "42ms");
        assert_eq!(fmt_duration(Duration::from_millis(1500)), "1.50s");
        assert_eq!(fmt_duration(Duration::from_secs(125)), "2m05s");
    }
}
