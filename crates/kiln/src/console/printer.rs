//! Events into lines: what a run prints about each task, in the order the user asked for.
//!
//! In `stream` order a task's lines are printed as they come, prefixed `pkg:task:` so the
//! interleaved output of parallel tasks can still be told apart. In `grouped` order they are
//! held back until the task ends and then printed as one block, never split by another
//! task's; on GitHub Actions the block is wrapped in `::group::`/`::endgroup::` so the log
//! folds per task, except a failed task's, which stays open where the reader looks first.
//! Lines about a task's end (a failure, the `-v` decision) come after its block, on stderr;
//! warnings are printed when they come, in every order.

use std::collections::{BTreeMap, HashMap};

use kiln_core::{CacheSource, CacheStatus, Event, TaskId, TaskOutcome, TaskReport};

use super::fmt_duration;

/// One line for the terminal, without its newline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Line {
    Out(String),
    Err(String),
}

/// How task output is ordered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Grouping {
    /// Lines as they come.
    Stream,
    /// One block per task when it ends.
    Grouped,
    /// One block per task, folded with GitHub Actions' workflow commands.
    GitHub,
}

const PALETTE: [&str; 6] = ["36", "35", "32", "33", "34", "31"];

pub(crate) struct Printer {
    verbose: u8,
    replay_logs: bool,
    color: bool,
    grouping: Grouping,
    prefixes: HashMap<TaskId, String>,
    /// Grouped orders: the lines of each task that has not ended yet.
    blocks: BTreeMap<TaskId, Vec<Line>>,
}

impl Printer {
    pub(crate) fn new(verbose: u8, replay_logs: bool, color: bool, grouping: Grouping) -> Self {
        Printer {
            verbose,
            replay_logs,
            color,
            grouping,
            prefixes: HashMap::new(),
            blocks: BTreeMap::new(),
        }
    }

    /// Appends to `out` what `event` prints now (nothing, in grouped order, until the task
    /// ends).
    pub(crate) fn handle(&mut self, event: Event, out: &mut Vec<Line>) {
        let (id, line) = match event {
            Event::TaskStarted { .. }
            | Event::Phase { .. }
            | Event::Stage { .. }
            | Event::Resources(_) => return,
            Event::CacheHit { id, key, source } => {
                let source = match source {
                    CacheSource::Local => "local",
                    CacheSource::Remote => "remote",
                };
                let what = if self.replay_logs {
                    ", replaying logs"
                } else {
                    ""
                };
                let p = self.prefix(&id);
                let line = Line::Out(format!("{p} cache hit ({source}){what} {}", short(&key)));
                (id, line)
            }
            Event::Executing { id, key, .. } => {
                let p = self.prefix(&id);
                let line = Line::Out(format!("{p} cache miss, executing {}", short(&key)));
                (id, line)
            }
            Event::TaskOutput { id, line, replayed } => {
                if replayed && !self.replay_logs {
                    return;
                }
                let p = self.prefix(&id);
                let line = Line::Out(format!("{p} {line}"));
                (id, line)
            }
            Event::TaskWarning { id, message } => {
                // At once in every order: it may say why a task is stalled (waiting for a
                // lock), which is no use once the task ends.
                out.push(Line::Err(format!("warning: {id}: {message}")));
                return;
            }
            Event::TaskFinished(report) => {
                self.finished(&report, out);
                return;
            }
        };
        match self.grouping {
            Grouping::Stream => out.push(line),
            Grouping::Grouped | Grouping::GitHub => self.blocks.entry(id).or_default().push(line),
        }
    }

    /// The blocks of tasks that never ended (the run was stopped under them), so no line a
    /// task printed is lost.
    pub(crate) fn finish(&mut self, out: &mut Vec<Line>) {
        for (id, lines) in std::mem::take(&mut self.blocks) {
            self.block(&id, "did not finish", true, lines, out);
        }
    }

    fn finished(&mut self, report: &TaskReport, out: &mut Vec<Line>) {
        if let Some(lines) = self.blocks.remove(&report.id) {
            let failed = matches!(report.outcome, TaskOutcome::Failed { .. });
            self.block(&report.id, &status(report), !failed, lines, out);
        }
        match &report.outcome {
            TaskOutcome::Failed { code } => out.push(Line::Err(format!(
                "error: {} failed with exit code {code}",
                report.id
            ))),
            _ if self.verbose >= 1 => out.push(Line::Err(format!(
                "kiln: {} {} ({})",
                report.id,
                decision(report),
                fmt_duration(report.duration)
            ))),
            _ => {}
        }
    }

    /// One task's lines in one piece; on GitHub Actions folded under a title saying how the
    /// task ended, unless `fold` is false.
    fn block(&self, id: &TaskId, status: &str, fold: bool, lines: Vec<Line>, out: &mut Vec<Line>) {
        let fold = fold && self.grouping == Grouping::GitHub;
        if fold {
            out.push(Line::Out(format!(
                "::group::{}:{} ({status})",
                id.package, id.task
            )));
        }
        out.extend(lines);
        if fold {
            out.push(Line::Out("::endgroup::".into()));
        }
    }

    fn prefix(&mut self, id: &TaskId) -> String {
        let color = self.color;
        let n = self.prefixes.len();
        self.prefixes
            .entry(id.clone())
            .or_insert_with(|| {
                let plain = format!("{}:{}:", id.package, id.task);
                if color {
                    format!("\x1b[{}m{plain}\x1b[0m", PALETTE[n % PALETTE.len()])
                } else {
                    plain
                }
            })
            .clone()
    }
}

/// How a task ended, as a group title says it: `cache hit`, `ran in 1.20s`, `failed`.
fn status(report: &TaskReport) -> String {
    match (&report.outcome, report.cache) {
        (TaskOutcome::Failed { .. }, _) => "failed".into(),
        (TaskOutcome::Cancelled, _) => "stopped".into(),
        (TaskOutcome::Skipped { .. }, _) => "skipped".into(),
        (TaskOutcome::Succeeded, CacheStatus::Hit(_)) => "cache hit".into(),
        (TaskOutcome::Succeeded, _) => format!("ran in {}", fmt_duration(report.duration)),
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
        (TaskOutcome::Succeeded, CacheStatus::Hit(CacheSource::Local)) => {
            "cache hit (local)".into()
        }
        (TaskOutcome::Succeeded, CacheStatus::Hit(CacheSource::Remote)) => {
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn id(s: &str) -> TaskId {
        TaskId::parse(s).unwrap()
    }

    fn executing(task: &str) -> Event {
        Event::Executing {
            id: id(task),
            key: "0123456789abcdef0123".into(),
            reason: "never run before".into(),
        }
    }

    fn output(task: &str, line: &str) -> Event {
        Event::TaskOutput {
            id: id(task),
            line: line.into(),
            replayed: false,
        }
    }

    fn finished(task: &str, outcome: TaskOutcome, cache: CacheStatus) -> Event {
        Event::TaskFinished(TaskReport {
            id: id(task),
            key: "0123456789abcdef0123".into(),
            outcome,
            cache,
            duration: Duration::from_millis(1200),
            saved: Duration::ZERO,
            reason: Some("never run before".into()),
            resources: None,
        })
    }

    /// `a` and `b` run at once, their lines interleaved; `b` ends first.
    fn interleaved(b_outcome: TaskOutcome) -> Vec<Event> {
        vec![
            executing("a#build"),
            output("a#build", "a1"),
            executing("b#build"),
            output("b#build", "b1"),
            output("a#build", "a2"),
            output("b#build", "b2"),
            finished("b#build", b_outcome, CacheStatus::Miss),
            output("a#build", "a3"),
            finished("a#build", TaskOutcome::Succeeded, CacheStatus::Miss),
        ]
    }

    fn print(grouping: Grouping, events: Vec<Event>) -> Vec<Line> {
        let mut printer = Printer::new(0, true, false, grouping);
        let mut out = Vec::new();
        for e in events {
            printer.handle(e, &mut out);
        }
        printer.finish(&mut out);
        out
    }

    fn out(s: &str) -> Line {
        Line::Out(s.into())
    }

    #[test]
    fn stream_order_prints_lines_as_they_come() {
        let lines = print(Grouping::Stream, interleaved(TaskOutcome::Succeeded));
        assert_eq!(
            lines,
            [
                out("a:build: cache miss, executing 0123456789abcdef"),
                out("a:build: a1"),
                out("b:build: cache miss, executing 0123456789abcdef"),
                out("b:build: b1"),
                out("a:build: a2"),
                out("b:build: b2"),
                out("a:build: a3"),
            ]
        );
    }

    #[test]
    fn grouped_order_prints_each_task_as_one_block_when_it_ends() {
        let lines = print(Grouping::Grouped, interleaved(TaskOutcome::Succeeded));
        assert_eq!(
            lines,
            [
                out("b:build: cache miss, executing 0123456789abcdef"),
                out("b:build: b1"),
                out("b:build: b2"),
                out("a:build: cache miss, executing 0123456789abcdef"),
                out("a:build: a1"),
                out("a:build: a2"),
                out("a:build: a3"),
            ]
        );
    }

    #[test]
    fn github_groups_fold_each_task_under_how_it_ended() {
        let mut events = interleaved(TaskOutcome::Succeeded);
        events.push(Event::CacheHit {
            id: id("c#build"),
            key: "fedcba9876543210ff".into(),
            source: CacheSource::Local,
        });
        events.push(finished(
            "c#build",
            TaskOutcome::Succeeded,
            CacheStatus::Hit(CacheSource::Local),
        ));
        let lines = print(Grouping::GitHub, events);
        assert_eq!(
            lines,
            [
                out("::group::b:build (ran in 1.20s)"),
                out("b:build: cache miss, executing 0123456789abcdef"),
                out("b:build: b1"),
                out("b:build: b2"),
                out("::endgroup::"),
                out("::group::a:build (ran in 1.20s)"),
                out("a:build: cache miss, executing 0123456789abcdef"),
                out("a:build: a1"),
                out("a:build: a2"),
                out("a:build: a3"),
                out("::endgroup::"),
                out("::group::c:build (cache hit)"),
                out("c:build: cache hit (local), replaying logs fedcba9876543210"),
                out("::endgroup::"),
            ]
        );
    }

    #[test]
    fn a_failed_task_stays_unfolded_and_its_error_follows_its_block() {
        let lines = print(
            Grouping::GitHub,
            interleaved(TaskOutcome::Failed { code: 3 }),
        );
        assert_eq!(
            lines[..4],
            [
                out("b:build: cache miss, executing 0123456789abcdef"),
                out("b:build: b1"),
                out("b:build: b2"),
                Line::Err("error: b#build failed with exit code 3".into()),
            ]
        );
        assert_eq!(lines[4], out("::group::a:build (ran in 1.20s)"));
    }

    #[test]
    fn tasks_cut_off_by_the_end_of_the_run_still_print_their_lines() {
        let mut events = interleaved(TaskOutcome::Succeeded);
        events.push(executing("d#build"));
        events.push(output("d#build", "half"));
        let lines = print(Grouping::GitHub, events);
        assert_eq!(
            lines[lines.len() - 4..],
            [
                out("::group::d:build (did not finish)"),
                out("d:build: cache miss, executing 0123456789abcdef"),
                out("d:build: half"),
                out("::endgroup::"),
            ]
        );
    }

    #[test]
    fn warnings_are_not_held_back_with_the_block() {
        let events = vec![
            executing("a#build"),
            Event::TaskWarning {
                id: id("a#build"),
                message: "waiting for lock `db`".into(),
            },
        ];
        let mut printer = Printer::new(0, true, false, Grouping::Grouped);
        let mut out = Vec::new();
        for e in events {
            printer.handle(e, &mut out);
        }
        assert_eq!(
            out,
            [Line::Err("warning: a#build: waiting for lock `db`".into())]
        );
    }

    #[test]
    fn skipped_tasks_print_no_empty_group() {
        let events = vec![finished(
            "e#build",
            TaskOutcome::Skipped {
                because: id("a#build"),
            },
            CacheStatus::Miss,
        )];
        assert!(print(Grouping::GitHub, events).is_empty());
    }
}
