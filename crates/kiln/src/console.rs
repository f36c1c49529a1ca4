//! The terminal subscriber: everything a run prints while it runs. The engine never prints;
//! this is the only place a run's human output comes from.
//!
//! One thread reads the run's events in order and turns them into lines ([`printer`]: task
//! output in `stream` or `grouped` order, warnings and failures on stderr, `-v` decisions),
//! writes them, and on a terminal keeps a live view of the running tasks and an ETA at the
//! bottom ([`live`], [`progress`]). Without the live view, output is written as soon as the
//! events queue runs dry (a burst of replayed logs costs a few writes, a live task's line
//! appears at once); with it, at most every [`FRAME`], together with the redrawn view.

mod live;
mod printer;
mod progress;
mod summary;

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use kiln_core::{Event, TaskId};

pub(crate) use printer::{Grouping, LogPolicy};
use printer::{Line, Printer};
use progress::Progress;
pub(crate) use summary::print_summary;

/// The live view is redrawn at most this often.
const FRAME: Duration = Duration::from_millis(100);

/// What the console prints, and how.
pub(crate) struct ConsoleOptions {
    /// `-v`: a decision line per task.
    pub(crate) verbose: u8,
    /// How much of each task's output is printed.
    pub(crate) logs: LogPolicy,
    pub(crate) grouping: Grouping,
    /// Prefix task lines with `pkg:task:`.
    pub(crate) prefixed: bool,
    /// Keep the live view at the bottom of the terminal.
    pub(crate) live: bool,
    /// Colour task prefixes and the live view.
    pub(crate) color: bool,
    /// For the live view: how many tasks the run has, how many run at once, and the
    /// expected time of those that will probably execute.
    pub(crate) total_tasks: usize,
    pub(crate) concurrency: usize,
    pub(crate) estimates: HashMap<TaskId, Duration>,
}

/// Colours only on a terminal, and never when `NO_COLOR` is set (<https://no-color.org>).
pub(crate) fn color_enabled(stream: &impl IsTerminal) -> bool {
    stream.is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

pub(crate) struct Console {
    handle: JoinHandle<()>,
}

impl Console {
    /// Starts the console thread; it ends when every sender of `events` is dropped, after
    /// printing what is left and erasing the live view (so the summary comes after).
    pub(crate) fn start(events: Receiver<Event>, opts: ConsoleOptions) -> Console {
        let handle = std::thread::Builder::new()
            .name("kiln-console".into())
            .spawn(move || consume(events, opts))
            .expect("spawn the console thread");
        Console { handle }
    }

    pub(crate) fn join(self) {
        let _ = self.handle.join();
    }
}

/// Lines printed in one go at most: past it they are written out before more events are read.
const MAX_PENDING_LINES: usize = 1024;

fn consume(events: Receiver<Event>, opts: ConsoleOptions) {
    let mut printer = Printer::new(
        opts.verbose,
        opts.color,
        opts.grouping,
        opts.prefixed,
        opts.logs,
    );
    let live = opts.live.then(|| Live {
        progress: Progress::new(opts.total_tasks, opts.concurrency, opts.estimates),
        area: live::Area::default(),
        color: opts.color,
    });
    let mut screen = Screen {
        out: std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout()),
        live,
    };
    let mut lines = Vec::new();
    let mut next_frame = Instant::now();
    'run: loop {
        let first = if screen.live.is_some() {
            match events.recv_timeout(next_frame.saturating_duration_since(Instant::now())) {
                Ok(event) => Some(event),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => break 'run,
            }
        } else {
            match events.recv() {
                Ok(event) => Some(event),
                Err(_) => break 'run,
            }
        };
        let mut next = first;
        while let Some(event) = next {
            screen.observe(&event);
            printer.handle(event, &mut lines);
            // A flood of events must not hold the live view still, nor pile up unprinted.
            if lines.len() >= MAX_PENDING_LINES
                || (screen.live.is_some() && Instant::now() >= next_frame)
            {
                break;
            }
            next = events.try_recv().ok();
        }
        if screen.live.is_none() || lines.len() >= MAX_PENDING_LINES || Instant::now() >= next_frame
        {
            screen.show(&mut lines, true);
            next_frame = Instant::now() + FRAME;
        }
    }
    printer.finish(&mut lines);
    screen.show(&mut lines, false);
}

struct Live {
    progress: Progress,
    area: live::Area,
    color: bool,
}

/// The terminal: stdout (buffered, with the live view at its bottom) and stderr.
struct Screen {
    out: std::io::BufWriter<std::io::Stdout>,
    live: Option<Live>,
}

impl Screen {
    fn observe(&mut self, event: &Event) {
        if let Some(live) = &mut self.live {
            live.progress.observe(event);
        }
    }

    /// Writes `lines` (emptying it) above the live view, which is redrawn if `redraw`, else
    /// left erased. Write errors are ignored: a closed stdout (`kiln run | head`) must not
    /// stop the run.
    fn show(&mut self, lines: &mut Vec<Line>, redraw: bool) {
        let mut buf = Vec::new();
        if let Some(live) = &mut self.live {
            live.area.clear(&mut buf);
        }
        for line in lines.drain(..) {
            match line {
                Line::Out(text) => {
                    buf.extend_from_slice(text.as_bytes());
                    buf.push(b'\n');
                }
                Line::Err(text) => {
                    // Keep stdout and stderr in order on a shared terminal.
                    let _ = self.out.write_all(&buf);
                    let _ = self.out.flush();
                    buf.clear();
                    let _ = writeln!(std::io::stderr().lock(), "{text}");
                }
            }
        }
        if let Some(live) = &mut self.live
            && redraw
        {
            let view = live::render(&live.progress, Instant::now(), width(), live.color);
            live.area.draw(&view, &mut buf);
        }
        let _ = self.out.write_all(&buf);
        let _ = self.out.flush();
    }
}

/// The terminal's width, less one column: writing the last column wraps on some terminals.
fn width() -> usize {
    let columns = terminal_size::terminal_size_of(std::io::stdout())
        .map(|(w, _)| usize::from(w.0))
        .or_else(|| std::env::var("COLUMNS").ok()?.parse().ok())
        .unwrap_or(80);
    columns.saturating_sub(1).max(20)
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
