//! Events into lines: what a run prints about each task, in the order the user asked for.
//!
//! In `stream` order a task's lines are printed as they come, prefixed `pkg:task:` so the
//! interleaved output of parallel tasks can still be told apart. In `grouped` order they are
//! held back until the task ends and then printed as one block, never split by another
//! task's; on GitHub Actions the block is wrapped in `::group::`/`::endgroup::` so the log
//! folds per task, except a failed task's, which stays open where the reader looks first.
//! Lines about a task's end (a failure, the `-v` decision) come after its block, on stderr;
//! warnings are printed when they come, in every order.
//!
//! How much of each task is printed is its [`OutputLogs`] (Turborepo's `outputLogs`):
//! `full` (its hash line and all output, replayed on a hit), `new-only` (a hit prints only
//! its hash line), `hash-only` (only hash lines), `errors-only` (nothing, unless it fails:
//! then all of it at once), `none`. The hash lines read as Turborepo's: `cache hit,
//! replaying logs <hash>`, `cache miss, executing <hash>`, `cache bypass, force executing
//! <hash>` (`--force`, `cache: false`).

use std::collections::{BTreeMap, HashMap};

use kiln_core::{CacheSource, CacheStatus, Event, TaskId, TaskOutcome, TaskReport};
use kiln_workspace::OutputLogs;

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

/// How much of each task's output is printed.
#[derive(Clone, Debug, Default)]
pub(crate) struct LogPolicy {
    /// For tasks missing from `tasks`.
    pub(crate) default: OutputLogs,
    /// Each task's own `outputLogs`.
    pub(crate) tasks: HashMap<TaskId, OutputLogs>,
}

impl LogPolicy {
    /// Every task the same way.
    pub(crate) fn all(mode: OutputLogs) -> Self {
        LogPolicy {
            default: mode,
            tasks: HashMap::new(),
        }
    }

    fn of(&self, id: &TaskId) -> OutputLogs {
        self.tasks.get(id).copied().unwrap_or(self.default)
    }
}

const PALETTE: [&str; 6] = ["36", "35", "32", "33", "34", "31"];

pub(crate) struct Printer {
    verbose: u8,
    color: bool,
    grouping: Grouping,
    /// Prefix task lines with `pkg:task:` (`--log-prefix`).
    prefixed: bool,
    logs: LogPolicy,
    prefixes: HashMap<TaskId, String>,
    /// Grouped orders and `errors-only` tasks: the lines of each task that has not ended.
    blocks: BTreeMap<TaskId, Vec<Line>>,
}

impl Printer {
    pub(crate) fn new(
        verbose: u8,
        color: bool,
        grouping: Grouping,
        prefixed: bool,
        logs: LogPolicy,
    ) -> Self {
        Printer {
            verbose,
            color,
            grouping,
            prefixed,
            logs,
            prefixes: HashMap::new(),
            blocks: BTreeMap::new(),
        }
    }

    /// Appends to `out` what `event` prints now (nothing, in grouped order, until the task
    /// ends).
    pub(crate) fn handle(&mut self, event: Event, out: &mut Vec<Line>) {
        let (id, text) = match event {
            Event::TaskStarted { .. }
            | Event::Planned { .. }
            | Event::Phase { .. }
            | Event::Stage { .. }
            | Event::Resources(_) => return,
            Event::CacheHit {
                id, key, source, ..
            } => {
                let source = match source {
                    CacheSource::Local => "",
                    CacheSource::Remote => " (remote)",
                };
                let text = match self.logs.of(&id) {
                    OutputLogs::Full => {
                        format!("cache hit{source}, replaying logs {}", short(&key))
                    }
                    OutputLogs::NewOnly | OutputLogs::HashOnly => {
                        format!("cache hit{source}, suppressing logs {}", short(&key))
                    }
                    OutputLogs::ErrorsOnly | OutputLogs::None => return,
                };
                (id, text)
            }
            Event::Executing {
                id,
                key,
                bypassed,
                hidden_env,
                ..
            } => {
                if self.verbose >= 1 && !hidden_env.is_empty() {
                    out.push(Line::Err(hidden_line(&id, &hidden_env)));
                }
                if self.logs.of(&id) == OutputLogs::None {
                    return;
                }
                let text = if bypassed {
                    format!("cache bypass, force executing {}", short(&key))
                } else {
                    format!("cache miss, executing {}", short(&key))
                };
                (id, text)
            }
            Event::TaskOutput { id, line, replayed } => {
                let shown = match self.logs.of(&id) {
                    OutputLogs::Full => true,
                    OutputLogs::NewOnly | OutputLogs::ErrorsOnly => !replayed,
                    OutputLogs::HashOnly | OutputLogs::None => false,
                };
                if !shown {
                    return;
                }
                (id, line)
            }
            Event::TaskWarning { id, warning } => {
                let message = crate::words::warning(&warning);
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
        let line = Line::Out(self.prefixed_line(&id, &text));
        let held = self.logs.of(&id) == OutputLogs::ErrorsOnly;
        match self.grouping {
            Grouping::Stream if !held => out.push(line),
            _ => self.blocks.entry(id).or_default().push(line),
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
        let failed = matches!(report.outcome, TaskOutcome::Failed { .. });
        if let Some(lines) = self.blocks.remove(&report.id) {
            // `errors-only` keeps a task's output unless it failed.
            if failed || self.logs.of(&report.id) != OutputLogs::ErrorsOnly {
                self.block(&report.id, &status(report), !failed, lines, out);
            }
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

    fn prefixed_line(&mut self, id: &TaskId, text: &str) -> String {
        if !self.prefixed {
            return text.to_string();
        }
        let color = self.color;
        let n = self.prefixes.len();
        let prefix = self.prefixes.entry(id.clone()).or_insert_with(|| {
            let plain = format!("{}:{}:", id.package, id.task);
            if color {
                format!("\x1b[{}m{plain}\x1b[0m", PALETTE[n % PALETTE.len()])
            } else {
                plain
            }
        });
        format!("{prefix} {text}")
    }
}

/// `-v`: which variables strict env mode kept from a task, by name.
fn hidden_line(id: &TaskId, hidden: &[String]) -> String {
    const SHOWN: usize = 20;
    let mut names = hidden[..hidden.len().min(SHOWN)].join(", ");
    if hidden.len() > SHOWN {
        names.push_str(&format!(", … ({} more)", hidden.len() - SHOWN));
    }
    format!(
        "kiln: {id} does not see {} variable{} (strict env mode; declare them in `env` or \
         `passThroughEnv`): {names}",
        hidden.len(),
        if hidden.len() == 1 { "" } else { "s" }
    )
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
    let why = report
        .reason
        .as_ref()
        .map(crate::words::reason)
        .unwrap_or_default();
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
        (TaskOutcome::Succeeded, CacheStatus::NothingToRun) => "nothing to run".into(),
        (TaskOutcome::Succeeded, CacheStatus::Disabled) => format!("ran: {why}"),
        (TaskOutcome::Succeeded, _) => format!("miss: {why}"),
    }
}

fn short(key: &kiln_core::TaskKey) -> String {
    key.to_hex()[..16].to_string()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn id(s: &str) -> TaskId {
        TaskId::parse(s).unwrap()
    }

    /// A key whose text starts `0123456789abcdef`.
    fn key() -> kiln_core::TaskKey {
        key_starting("0123456789abcdef")
    }

    fn key_starting(hex: &str) -> kiln_core::TaskKey {
        format!("{hex:0<64}").parse().unwrap()
    }

    fn executing(task: &str) -> Event {
        Event::Executing {
            id: id(task),
            key: key(),
            reason: kiln_core::RunReason::NeverRun,
            bypassed: false,
            hidden_env: vec![],
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
            key: key(),
            outcome,
            cache,
            duration: Duration::from_millis(1200),
            saved: Duration::ZERO,
            reason: Some(kiln_core::RunReason::NeverRun),
            executed: true,
            resources: None,
            started_unix_ms: None,
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
        print_with(grouping, true, OutputLogs::Full, events)
    }

    fn print_with(
        grouping: Grouping,
        prefixed: bool,
        logs: OutputLogs,
        events: Vec<Event>,
    ) -> Vec<Line> {
        let mut printer = Printer::new(0, false, grouping, prefixed, LogPolicy::all(logs));
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
            key: key_starting("fedcba9876543210ff"),
            source: CacheSource::Local,
            remote: None,
            prefetched: false,
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
                out("c:build: cache hit, replaying logs fedcba9876543210"),
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
                warning: kiln_core::Warning::WaitingForLock { name: "db".into() },
            },
        ];
        let mut printer = Printer::new(0, false, Grouping::Grouped, true, LogPolicy::default());
        let mut out = Vec::new();
        for e in events {
            printer.handle(e, &mut out);
        }
        assert_eq!(
            out,
            [Line::Err(
                "warning: a#build: waiting for lock `db`, held by another kiln process".into()
            )]
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

    fn hit(task: &str) -> Vec<Event> {
        vec![
            Event::CacheHit {
                id: id(task),
                key: key_starting("fedcba9876543210ff"),
                source: CacheSource::Local,
                remote: None,
                prefetched: false,
            },
            Event::TaskOutput {
                id: id(task),
                line: "old".into(),
                replayed: true,
            },
            finished(
                task,
                TaskOutcome::Succeeded,
                CacheStatus::Hit(CacheSource::Local),
            ),
        ]
    }

    #[test]
    fn output_logs_modes_print_what_turbo_prints() {
        let mut events = hit("c#build");
        events.extend(interleaved(TaskOutcome::Failed { code: 2 }));
        let shown = |logs| -> Vec<Line> {
            print_with(Grouping::Stream, true, logs, events.clone())
                .into_iter()
                .filter(|l| matches!(l, Line::Out(_)))
                .collect()
        };
        let full = shown(OutputLogs::Full);
        assert_eq!(
            full[..2],
            [
                out("c:build: cache hit, replaying logs fedcba9876543210"),
                out("c:build: old")
            ]
        );
        let new_only = shown(OutputLogs::NewOnly);
        assert_eq!(
            new_only[0],
            out("c:build: cache hit, suppressing logs fedcba9876543210")
        );
        assert_eq!(new_only.len(), 1 + 7, "{new_only:?}");
        let hash_only = shown(OutputLogs::HashOnly);
        assert_eq!(hash_only.len(), 3, "{hash_only:?}");
        // errors-only: the failed task, hash line and output, nothing else.
        assert_eq!(
            shown(OutputLogs::ErrorsOnly),
            [
                out("b:build: cache miss, executing 0123456789abcdef"),
                out("b:build: b1"),
                out("b:build: b2"),
            ]
        );
        assert!(shown(OutputLogs::None).is_empty());
    }

    #[test]
    fn without_prefixes_lines_are_bare_and_forced_runs_say_bypass() {
        let mut forced = executing("a#build");
        if let Event::Executing { bypassed, .. } = &mut forced {
            *bypassed = true;
        }
        let lines = print_with(
            Grouping::Stream,
            false,
            OutputLogs::Full,
            vec![forced, output("a#build", "a1")],
        );
        assert_eq!(
            lines,
            [
                out("cache bypass, force executing 0123456789abcdef"),
                out("a1")
            ]
        );
    }
}
