//! The live view: a few lines at the bottom of the terminal, redrawn in place, saying which
//! tasks are running and how far the run is, while finished output scrolls above them.
//!
//! Drawing is plain ANSI on one writer, done by the console thread only: each frame moves
//! the cursor back up over the area, clears to the end of the screen, writes the lines that
//! came since the last frame, then the area again, in a single write, so nothing flickers
//! and no log line is ever drawn over. Area lines are cut to the terminal's width: a wrapped
//! line would make the next frame move up too little and leave copies behind.

use std::time::{Duration, Instant};

use super::progress::Progress;

/// How many running tasks are listed; the rest are counted.
const SHOWN: usize = 8;

/// The lines of the live area for `progress` at `now`, each at most `width` characters.
pub(crate) fn render(progress: &Progress, now: Instant, width: usize, color: bool) -> Vec<String> {
    let style = |code: &str, text: String| {
        if color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text
        }
    };
    let mut lines = Vec::new();
    let running = progress.running();
    let name_width = running
        .iter()
        .take(SHOWN)
        .map(|r| r.id.package.as_str().len() + r.id.task.as_str().len() + 1)
        .max()
        .unwrap_or(0);
    for task in running.iter().take(SHOWN) {
        let name = format!("{}:{}", task.id.package, task.id.task);
        let elapsed = fmt_elapsed(now.saturating_duration_since(task.since));
        let doing = if task.executing { "" } else { " (cache)" };
        let expected = match progress.remaining(task, now) {
            Some(left) if task.executing && left >= Duration::from_secs(1) => {
                format!(", ~{} left", fmt_eta(left))
            }
            Some(_) if task.executing => ", about done".to_string(),
            _ => String::new(),
        };
        let plain = format!("  {name:<name_width$}  {elapsed:>6}{doing}{expected}");
        lines.push(style("2", fit(&plain, width)));
    }
    if running.len() > SHOWN {
        let more = format!("  … and {} more running", running.len() - SHOWN);
        lines.push(style("2", fit(&more, width)));
    }
    let c = progress.counts();
    let eta = match progress.eta(now) {
        Some(eta) => format!("ETA {}", fmt_eta(eta)),
        None => "ETA unknown".into(),
    };
    let skipped = if c.skipped > 0 {
        format!(", {} skipped", c.skipped)
    } else {
        String::new()
    };
    let summary = format!(
        "  {} done, {} cached, {} failed{skipped}, {} left · {eta}",
        c.done,
        c.cached,
        c.failed,
        progress.left()
    );
    lines.push(style("1", fit(&summary, width)));
    lines
}

/// Cut to `width` characters, so the line never wraps.
fn fit(line: &str, width: usize) -> String {
    match line.char_indices().nth(width) {
        Some((cut, _)) if width > 0 => {
            let keep = line[..cut]
                .char_indices()
                .nth(width - 1)
                .map_or(cut, |(i, _)| i);
            format!("{}…", &line[..keep])
        }
        _ => line.to_string(),
    }
}

/// `3.4s`, `1m05s`: a task's running time, to the tenth of a second while short.
fn fmt_elapsed(d: Duration) -> String {
    let secs = d.as_secs();
    if secs < 60 {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        format!("{}m{:02}s", secs / 60, secs % 60)
    }
}

/// `<1s`, `14s`, `2m05s`, `1h20m`: a time to come, rounded up.
pub(crate) fn fmt_eta(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        return "<1s".into();
    }
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m{:02}s", secs / 60, secs % 60),
        _ => format!("{}h{:02}m", secs / 3600, (secs % 3600) / 60),
    }
}

/// The area as it is on the screen: how many lines to move back over.
#[derive(Default)]
pub(crate) struct Area {
    drawn: usize,
}

impl Area {
    /// Escape codes that erase the area, leaving the cursor where its first line was.
    pub(crate) fn clear(&mut self, buf: &mut Vec<u8>) {
        if self.drawn > 0 {
            buf.extend_from_slice(format!("\x1b[{}A\r\x1b[J", self.drawn).as_bytes());
            self.drawn = 0;
        }
    }

    /// Draws `lines` where the cursor is (the area must have been cleared).
    pub(crate) fn draw(&mut self, lines: &[String], buf: &mut Vec<u8>) {
        for line in lines {
            buf.extend_from_slice(line.as_bytes());
            buf.push(b'\n');
        }
        self.drawn = lines.len();
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use kiln_core::{Event, TaskId};

    use super::*;

    #[test]
    fn the_area_lists_running_tasks_then_counts_and_eta() {
        let t0 = Instant::now();
        let web = TaskId::parse("web#build").unwrap();
        let mut p = Progress::new(3, 2, [(web.clone(), Duration::from_secs(20))].into());
        p.observe(&Event::TaskStarted {
            id: web.clone(),
            key: kiln_core::TaskKey::from_bytes([0; 32]),
            worker: 0,
            at: t0,
        });
        p.observe(&Event::Executing {
            id: web,
            key: kiln_core::TaskKey::from_bytes([0; 32]),
            reason: kiln_core::RunReason::NeverRun,
            bypassed: false,
            hidden_env: vec![],
        });
        p.observe(&Event::TaskStarted {
            id: TaskId::parse("ui#test").unwrap(),
            key: kiln_core::TaskKey::from_bytes([0; 32]),
            worker: 1,
            at: t0,
        });
        let lines = render(&p, t0 + Duration::from_millis(4500), 80, false);
        assert_eq!(
            lines,
            [
                "  web:build    4.5s, ~16s left",
                "  ui:test      4.5s (cache)",
                "  0 done, 0 cached, 0 failed, 3 left · ETA 16s",
            ]
        );
        let narrow = render(&p, t0, 12, false);
        assert!(narrow.iter().all(|l| l.chars().count() <= 12), "{narrow:?}");
        let unknown = render(&Progress::new(1, 1, HashMap::new()), t0, 80, false);
        assert_eq!(
            unknown,
            ["  0 done, 0 cached, 0 failed, 1 left · ETA unknown"]
        );
    }

    #[test]
    fn lines_are_cut_to_the_width_by_characters() {
        assert_eq!(fit("abcdef", 10), "abcdef");
        assert_eq!(fit("abcdef", 6), "abcdef");
        assert_eq!(fit("abcdef", 4), "abc…");
        assert_eq!(fit("ééééé", 3), "éé…");
    }

    #[test]
    fn times_to_come_are_rounded_up() {
        assert_eq!(fmt_eta(Duration::from_millis(300)), "<1s");
        assert_eq!(fmt_eta(Duration::from_millis(13_100)), "14s");
        assert_eq!(fmt_eta(Duration::from_secs(125)), "2m05s");
        assert_eq!(fmt_eta(Duration::from_secs(4800)), "1h20m");
    }

    #[test]
    fn each_frame_moves_back_over_the_last_one() {
        let mut area = Area::default();
        let mut buf = Vec::new();
        area.clear(&mut buf);
        assert!(buf.is_empty());
        area.draw(&["a".into(), "b".into()], &mut buf);
        area.clear(&mut buf);
        assert_eq!(String::from_utf8(buf).unwrap(), "a\nb\n\x1b[2A\r\x1b[J");
    }
}
