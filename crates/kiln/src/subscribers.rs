//! Everything that watches a run, fed from one channel: the engine sends each event once,
//! and a fan-out thread hands it to the console and, with `--profile`, to the trace writer,
//! each on its own thread so a slow terminal never holds up the trace or the other way
//! round. Neither reaches back into the engine.
//!
//! What the console does is settled here, from the flags and the environment: the log order
//! (`--log-order auto` is grouped, with collapsible groups, on GitHub Actions), and whether
//! the live view is drawn (stdout a terminal, not CI, not a dumb terminal; `KILN_LIVE=1|0`
//! forces it).

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::mpsc::{SyncSender, channel, sync_channel};
use std::thread::JoinHandle;
use std::time::Duration;

use kiln_core::{Event, TaskId};

use crate::cli::{LogOrder, LogPrefix};
use crate::console::{Console, ConsoleOptions, Grouping, LogPolicy, color_enabled};
use crate::profile::Trace;

/// What the run's subscribers need to know before the first event.
pub(crate) struct SubscriberOptions {
    /// `-v` count: decision lines per task from 1.
    pub(crate) verbose: u8,
    /// How much of each task's output is printed (`--output-logs`, `outputLogs`).
    pub(crate) logs: LogPolicy,
    pub(crate) log_order: LogOrder,
    pub(crate) log_prefix: LogPrefix,
    /// `--ui=stream` (or turbo.json `"ui": "stream"`): no live view.
    pub(crate) stream_ui: bool,
    /// `--profile FILE`: where the Chrome trace goes.
    pub(crate) profile: Option<PathBuf>,
    /// How many tasks the run has (the live view's `left`).
    pub(crate) total_tasks: usize,
    /// Expected execution time of the tasks that will probably run, from history; a task
    /// missing here has an unknown time.
    pub(crate) estimates: HashMap<TaskId, Duration>,
    /// How many tasks run at once.
    pub(crate) concurrency: usize,
}

/// Events queued between the run and the console: enough to absorb bursts, small enough
/// that a flood of output lines is paced by what the console can print.
const EVENTS_IN_FLIGHT: usize = 4096;

/// The running subscribers; [`Subscribers::finish`] waits for them.
pub(crate) struct Subscribers {
    fan_out: JoinHandle<()>,
    console: Console,
    trace: Option<JoinHandle<Result<(), String>>>,
}

/// Starts the subscribers. Send every event of the run on the returned sender, drop it (and
/// every clone) when the run ends, then call [`Subscribers::finish`].
pub(crate) fn start(opts: SubscriberOptions) -> (SyncSender<Event>, Subscribers) {
    let env = Environment::read();
    // Bounded, here and below: a task replaying a 100 MB log waits for the console to
    // print, rather than queueing every line in memory first.
    let (console_tx, console_rx) = sync_channel(EVENTS_IN_FLIGHT);
    // As Turborepo: `auto` leaves the prefix out on GitHub Actions, whose groups name the task.
    let prefixed = match opts.log_prefix {
        LogPrefix::Task => true,
        LogPrefix::None => false,
        LogPrefix::Auto => !env.github_actions,
    };
    let console = Console::start(
        console_rx,
        ConsoleOptions {
            verbose: opts.verbose,
            logs: opts.logs,
            grouping: grouping(opts.log_order, env.github_actions),
            prefixed,
            live: env.live && !opts.stream_ui,
            color: env.color,
            total_tasks: opts.total_tasks,
            concurrency: opts.concurrency,
            estimates: opts.estimates,
        },
    );
    let (trace_tx, trace) = match opts.profile {
        Some(path) => {
            let (tx, rx) = channel::<Event>();
            let handle = std::thread::Builder::new()
                .name("kiln-profile".into())
                .spawn(move || {
                    let mut trace = Trace::default();
                    for event in rx {
                        trace.record(&event);
                    }
                    trace.write(&path)
                })
                .expect("spawn the profile thread");
            (Some(tx), Some(handle))
        }
        None => (None, None),
    };
    let (tx, rx) = sync_channel::<Event>(EVENTS_IN_FLIGHT);
    let fan_out = std::thread::Builder::new()
        .name("kiln-events".into())
        .spawn(move || {
            for event in rx {
                // The trace has no use for output lines, the bulk of a run's events.
                if let Some(trace) = &trace_tx
                    && !matches!(event, Event::TaskOutput { .. })
                {
                    let _ = trace.send(event.clone());
                }
                let _ = console_tx.send(event);
            }
        })
        .expect("spawn the event fan-out thread");
    (
        tx,
        Subscribers {
            fan_out,
            console,
            trace,
        },
    )
}

impl Subscribers {
    /// Waits until every subscriber has handled the last event: the console has printed
    /// everything and erased its live view, and the trace (if any) is written. Call it after
    /// dropping every sender. The error says why the trace could not be written.
    pub(crate) fn finish(self) -> Result<(), String> {
        let _ = self.fan_out.join();
        self.console.join();
        match self.trace.map(JoinHandle::join) {
            None => Ok(()),
            Some(Ok(written)) => written,
            Some(Err(_)) => Err("the profile writer crashed; no profile was written".into()),
        }
    }
}

/// `auto` is grouped on GitHub Actions (whose log viewer folds groups), stream elsewhere;
/// grouped output on GitHub Actions is always folded.
fn grouping(order: LogOrder, github_actions: bool) -> Grouping {
    match (order, github_actions) {
        (LogOrder::Stream, _) => Grouping::Stream,
        (LogOrder::Auto | LogOrder::Grouped, true) => Grouping::GitHub,
        (LogOrder::Grouped, false) => Grouping::Grouped,
        (LogOrder::Auto, false) => Grouping::Stream,
    }
}

/// What the console's behaviour depends on outside the flags.
struct Environment {
    github_actions: bool,
    live: bool,
    color: bool,
}

impl Environment {
    fn read() -> Self {
        let var = |name| std::env::var(name).ok();
        Environment {
            github_actions: var("GITHUB_ACTIONS").as_deref() == Some("true"),
            live: live_view(
                var("KILN_LIVE").as_deref(),
                std::io::stdout().is_terminal(),
                var("CI").as_deref(),
                var("TERM").as_deref(),
            ),
            color: color_enabled(&std::io::stdout()),
        }
    }
}

/// Whether this run will draw the live view (so whether its ETA estimates are worth
/// computing).
pub(crate) fn live_view_wanted() -> bool {
    Environment::read().live
}

/// The live view redraws lines in place: only on an interactive terminal that can do it.
/// `KILN_LIVE=1` or `0` decides instead (`1` even when stdout is not a terminal).
fn live_view(forced: Option<&str>, stdout_tty: bool, ci: Option<&str>, term: Option<&str>) -> bool {
    match forced.map(str::trim) {
        Some("1" | "true" | "yes") => return true,
        Some("0" | "false" | "no") => return false,
        _ => {}
    }
    // `CI=false` (or empty) is someone saying they are not on CI.
    let on_ci = ci.is_some_and(|v| !matches!(v.trim(), "" | "0" | "false"));
    stdout_tty && !on_ci && term != Some("dumb")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_order_groups_on_github_actions_only() {
        assert_eq!(grouping(LogOrder::Auto, false), Grouping::Stream);
        assert_eq!(grouping(LogOrder::Auto, true), Grouping::GitHub);
        assert_eq!(grouping(LogOrder::Grouped, false), Grouping::Grouped);
        assert_eq!(grouping(LogOrder::Grouped, true), Grouping::GitHub);
        assert_eq!(grouping(LogOrder::Stream, true), Grouping::Stream);
    }

    #[test]
    fn the_live_view_needs_an_interactive_terminal_unless_forced() {
        let xterm = Some("xterm-256color");
        assert!(live_view(None, true, None, xterm));
        assert!(!live_view(None, false, None, xterm));
        assert!(!live_view(None, true, Some("true"), xterm));
        assert!(live_view(None, true, Some("false"), xterm));
        assert!(!live_view(None, true, None, Some("dumb")));
        assert!(live_view(Some("1"), false, Some("1"), Some("dumb")));
        assert!(!live_view(Some("0"), true, None, xterm));
        assert!(live_view(Some("maybe"), true, None, xterm));
    }

    fn id(s: &str) -> TaskId {
        TaskId::parse(s).unwrap()
    }

    #[test]
    fn the_trace_is_written_once_every_sender_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trace.json");
        let (tx, subscribers) = start(SubscriberOptions {
            verbose: 0,
            logs: LogPolicy::default(),
            log_order: LogOrder::Stream,
            log_prefix: LogPrefix::Auto,
            stream_ui: false,
            profile: Some(path.clone()),
            total_tasks: 1,
            estimates: HashMap::new(),
            concurrency: 1,
        });
        let at = std::time::Instant::now();
        let clone = tx.clone();
        std::thread::spawn(move || {
            let _ = clone.send(Event::TaskStarted {
                id: id("a#build"),
                key: kiln_core::TaskKey::from_bytes([7; 32]),
                worker: 3,
                at,
            });
        })
        .join()
        .unwrap();
        drop(tx);
        subscribers.finish().unwrap();
        let json: serde_json::Value =
            serde_json::from_slice(&fs_err::read(&path).unwrap()).unwrap();
        let spans: Vec<_> = json["traceEvents"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["ph"] == "X")
            .map(|e| (e["name"].as_str().unwrap(), e["tid"].as_u64().unwrap()))
            .collect();
        assert_eq!(spans, [("a#build", 4)]);
    }

    #[test]
    fn a_profile_that_cannot_be_written_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let (tx, subscribers) = start(SubscriberOptions {
            verbose: 0,
            logs: LogPolicy::default(),
            log_order: LogOrder::Stream,
            log_prefix: LogPrefix::Auto,
            stream_ui: false,
            profile: Some(dir.path().to_path_buf()),
            total_tasks: 0,
            estimates: HashMap::new(),
            concurrency: 1,
        });
        drop(tx);
        let err = subscribers.finish().unwrap_err();
        assert!(err.contains(&dir.path().display().to_string()), "{err}");
    }
}
