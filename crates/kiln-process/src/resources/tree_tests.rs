//! Parsing on literal `/proc` texts, then real process groups. Waiting is done on the samples
//! themselves (retry until the group looks as expected, with a deadline), never by sleeping
//! for a guessed time.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::*;

/// `cat`'s own stat on this machine, comm replaced as noted per test.
fn stat_line(comm: &str) -> String {
    format!(
        "12477 ({comm}) S 12474 12474 12474 0 -1 4194304 96 0 0 0 7 3 20 10 20 0 1 0 \
         76335779 2564096 219 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n"
    )
}

#[test]
fn stat_fields_are_read_after_the_command_name() {
    let stat = parse_stat(&stat_line("cat")).unwrap();
    assert_eq!(
        stat,
        ProcStat {
            state: 'S',
            pgrp: 12474,
            cpu_ticks: 7 + 3 + 20 + 10,
            rss_pages: 219,
        }
    );
}

#[test]
fn command_names_with_spaces_and_parentheses_do_not_shift_fields() {
    for comm in ["my prog", "a) b (c", ") Z 1 2 3", "((", "x)"] {
        let stat = parse_stat(&stat_line(comm)).unwrap();
        assert_eq!(stat.pgrp, 12474, "comm {comm:?}");
        assert_eq!(stat.state, 'S', "comm {comm:?}");
        assert_eq!(stat.rss_pages, 219, "comm {comm:?}");
    }
}

#[test]
fn truncated_or_garbled_stat_is_skipped() {
    assert_eq!(parse_stat(""), None);
    assert_eq!(parse_stat("12 (x) S 1 12"), None);
    assert_eq!(parse_stat("12 (x S 1 12 12 0 0 0 0 0 0 0 0 1 1 1 1"), None);
    let zombie = "99 (sh) Z 1 99 99 0 -1 0 0 0 0 0 4 1 0 0 20 0 1 0 5 0 0 0\n";
    let stat = parse_stat(zombie).unwrap();
    assert!(stat.is_zombie());
    assert_eq!(stat.cpu_ticks, 5);
}

#[test]
fn io_prefers_storage_bytes_and_falls_back_to_chars() {
    let full = "rchar: 6976\nwchar: 12\nsyscr: 10\nsyscw: 0\nread_bytes: 4096\n\
                write_bytes: 8192\ncancelled_write_bytes: 0\n";
    assert_eq!(
        parse_io(full),
        Some(ProcIo {
            read: 4096,
            written: 8192
        })
    );
    let no_block_accounting = "rchar: 6976\nwchar: 12\nsyscr: 10\nsyscw: 0\n";
    assert_eq!(
        parse_io(no_block_accounting),
        Some(ProcIo {
            read: 6976,
            written: 12
        })
    );
    assert_eq!(parse_io(""), None);
}

#[test]
fn the_tracker_keeps_peaks_across_samples_and_forgets_finished_groups() {
    let round = |rss, cpu| {
        HashMap::from([(
            7,
            TreeSample {
                processes: 2,
                cpu_seconds: cpu,
                rss,
                read_bytes: 10,
                write_bytes: 20,
            },
        )])
    };
    let mut tracker = TreeTracker::new();
    tracker.record(&round(100, 1.0));
    tracker.record(&round(300, 2.5));
    tracker.record(&round(50, 2.0));
    let totals = *tracker.get(7).unwrap();
    assert_eq!(totals.peak_rss, 300);
    assert_eq!(totals.cpu_seconds, 2.5);
    assert_eq!(totals.peak_processes, 2);
    assert_eq!(totals.samples, 3);
    assert_eq!(tracker.finish(7), Some(totals));
    assert_eq!(tracker.get(7), None, "a reused pgid starts afresh");
}

#[test]
fn no_groups_or_unknown_groups_sample_to_nothing() {
    assert!(sample_groups(&[]).is_empty());
    // pid_max is at most 2^22: no group can have this id.
    assert!(sample_groups(&[i32::MAX]).is_empty());
}

/// A process group kiln-style (own group, killed as a whole on drop).
struct Group {
    child: Child,
    reaped: bool,
}

impl Group {
    fn spawn(command: &mut Command) -> Group {
        let child = command.process_group(0).spawn().expect("spawn");
        Group {
            child,
            reaped: false,
        }
    }

    fn pgid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Samples until `done` holds, for at most 20 s.
    fn sample_until(&self, done: impl Fn(&TreeSample) -> bool) -> TreeSample {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let last = sample_groups(&[self.pgid()]).get(&self.pgid()).copied();
            match last {
                Some(sample) if done(&sample) => return sample,
                _ if Instant::now() > deadline => panic!("group never got there: {last:?}"),
                // Polling the kernel's counters; there is nothing to block on.
                _ => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        if self.reaped {
            return; // its pgid may belong to someone else by now
        }
        // SAFETY: kill(2) with a negative pid signals our own child's group.
        unsafe { libc::kill(-self.pgid(), libc::SIGKILL) };
        let _ = self.child.wait();
    }
}

#[cfg(target_os = "linux")]
#[test]
fn a_shell_and_its_background_jobs_are_one_tree() {
    let group = Group::spawn(Command::new("sh").args(["-c", "sleep 30 & sleep 30 & wait"]));
    let sample = group.sample_until(|s| s.processes >= 3);
    assert_eq!(sample.processes, 3);
    assert!(sample.rss > 0);
    let other = sample_groups(&[group.pgid(), i32::MAX]);
    assert_eq!(other.len(), 1, "only groups that exist are reported");
}

#[cfg(target_os = "linux")]
#[test]
fn memory_allocated_by_a_child_shows_up_as_rss() {
    const MB: u64 = 1 << 20;
    let mut group = Group::spawn(
        Command::new("python3")
            .args([
                "-c",
                "import sys; b = b'x' * 200_000_000; sys.stdin.read(); print(len(b))",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::null()),
    );
    let sample = group.sample_until(|s| s.rss >= 150 * MB);
    assert!(
        sample.rss < 1024 * MB,
        "{} bytes is not one 200 MB buffer",
        sample.rss
    );

    let mut tracker = TreeTracker::new();
    tracker.record(&sample_groups(&[group.pgid()]));
    assert!(tracker.get(group.pgid()).unwrap().peak_rss >= 150 * MB);

    // Closing stdin lets it finish on its own.
    drop(group.child.stdin.take());
    let status = group.child.wait().unwrap();
    group.reaped = true;
    assert!(status.success(), "{status}");
    assert!(sample_groups(&[group.pgid()]).is_empty());
}

#[cfg(target_os = "linux")]
#[test]
fn cpu_time_of_a_busy_tree_grows() {
    let group = Group::spawn(Command::new("sh").args(["-c", "while :; do :; done"]));
    let sample = group.sample_until(|s| s.cpu_seconds >= 0.05);
    assert!(sample.cpu_seconds < 60.0);
}
