//! What each task's process tree uses: CPU time, resident memory, disk I/O.
//!
//! A task is a process group (pgid = its leader's pid), so "its tree" is every process whose
//! `/proc/<pid>/stat` names that group. One pass over `/proc` serves all groups at once: the
//! monitor samples every running task every few hundred milliseconds, and reading each
//! process's `stat` once per tick is the whole cost. Only members of a requested group have
//! their `io` read as well.
//!
//! Processes come and go while we read: one that vanishes between listing `/proc` and opening
//! its files is simply not counted. Numbers are therefore a snapshot, not a ledger; the
//! [`TreeTracker`] keeps peaks and totals across snapshots.
//!
//! **CPU time includes reaped children** (`cutime + cstime`): when `tsc` exits and `npm`
//! waits for it, its CPU moves into npm's counters instead of vanishing, so a group's CPU
//! time only grows while its processes live. Zombies (exited, not yet reaped — the task's
//! leader among them, which kiln keeps as a zombie until the group is cleaned up) still
//! count for CPU but not as processes.

use std::collections::HashMap;
use std::io::Read;

/// One process group's usage at one instant, summed over its live processes.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct TreeSample {
    /// Live (non-zombie) processes in the group.
    pub processes: usize,
    /// CPU time (user + system) of the group's processes and of the children they reaped,
    /// in seconds.
    pub cpu_seconds: f64,
    /// Resident memory, in bytes.
    pub rss: u64,
    /// Bytes read from storage (`read_bytes`; `rchar` where the kernel has no block I/O
    /// accounting).
    pub read_bytes: u64,
    /// Bytes written to storage (`write_bytes`, or `wchar`).
    pub write_bytes: u64,
}

/// Samples the process groups `pgids` in one pass over `/proc`. A group with no process
/// left is absent from the map. Empty where `/proc` is unavailable (not Linux).
pub fn sample_groups(pgids: &[i32]) -> HashMap<i32, TreeSample> {
    let mut samples = HashMap::new();
    if pgids.is_empty() || !cfg!(target_os = "linux") {
        return samples;
    }
    let entries = match fs_err::read_dir("/proc") {
        Ok(entries) => entries,
        Err(err) => {
            tracing::debug!(%err, "cannot list processes");
            return samples;
        }
    };
    let units = Units::of_this_system();
    let mut buf = String::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let dir = entry.path();
        let Some(stat) = read_into(&dir.join("stat"), &mut buf).and_then(parse_stat) else {
            continue; // gone already, or not ours to read
        };
        if !pgids.contains(&stat.pgrp) {
            continue;
        }
        let sample = samples.entry(stat.pgrp).or_insert_with(TreeSample::default);
        sample.cpu_seconds += stat.cpu_ticks as f64 / units.ticks_per_second;
        if stat.is_zombie() {
            continue;
        }
        sample.processes += 1;
        sample.rss += stat.rss_pages * units.page_size;
        if let Some(io) = read_into(&dir.join("io"), &mut buf).and_then(parse_io) {
            sample.read_bytes += io.read;
            sample.write_bytes += io.written;
        }
        tracing::trace!(pid, pgid = stat.pgrp, "sampled process");
    }
    // A group seen only as zombies has no process left to speak of.
    samples.retain(|_, sample| sample.processes > 0);
    samples
}

fn read_into<'a>(path: &std::path::Path, buf: &'a mut String) -> Option<&'a str> {
    buf.clear();
    let mut file = fs_err::File::open(path).ok()?;
    file.read_to_string(buf).ok()?;
    Some(buf.as_str())
}

struct Units {
    page_size: u64,
    ticks_per_second: f64,
}

impl Units {
    fn of_this_system() -> Units {
        // SAFETY: sysconf has no preconditions; it returns -1 for an unknown name.
        let (page, ticks) = unsafe {
            (
                libc::sysconf(libc::_SC_PAGESIZE),
                libc::sysconf(libc::_SC_CLK_TCK),
            )
        };
        Units {
            page_size: u64::try_from(page).ok().filter(|&p| p > 0).unwrap_or(4096),
            ticks_per_second: if ticks > 0 { ticks as f64 } else { 100.0 },
        }
    }
}

/// The fields of `/proc/<pid>/stat` kiln needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProcStat {
    pub(crate) state: char,
    pub(crate) pgrp: i32,
    /// utime + stime + cutime + cstime, in clock ticks.
    pub(crate) cpu_ticks: u64,
    pub(crate) rss_pages: u64,
}

impl ProcStat {
    fn is_zombie(&self) -> bool {
        matches!(self.state, 'Z' | 'X')
    }
}

/// Parses `pid (comm) state ppid pgrp …`. `comm` may hold spaces and parentheses (a
/// process may name itself `a) b (c`), so the fields start after the *last* `)`.
pub(crate) fn parse_stat(text: &str) -> Option<ProcStat> {
    let (_, rest) = text.rsplit_once(')')?;
    // Field numbers below are those of proc(5); `rest` starts at field 3 (state).
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3).copied();
    let number = |n: usize| field(n)?.parse::<u64>().ok();
    Some(ProcStat {
        state: field(3)?.chars().next()?,
        pgrp: field(5)?.parse().ok()?,
        cpu_ticks: number(14)? + number(15)? + number(16)? + number(17)?,
        rss_pages: number(24)?,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProcIo {
    pub(crate) read: u64,
    pub(crate) written: u64,
}

/// `/proc/<pid>/io`: storage bytes where present, else the syscall-level `rchar`/`wchar`.
pub(crate) fn parse_io(text: &str) -> Option<ProcIo> {
    let field = |name: &str| {
        text.lines().find_map(|line| {
            let value = line.strip_prefix(name)?.strip_prefix(':')?;
            value.trim().parse::<u64>().ok()
        })
    };
    Some(ProcIo {
        read: field("read_bytes").or_else(|| field("rchar"))?,
        written: field("write_bytes").or_else(|| field("wchar"))?,
    })
}

/// Per-group totals across samples: what a task's run record keeps.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct TreeTotals {
    /// Largest resident memory seen in one sample.
    pub peak_rss: u64,
    /// Largest number of live processes seen in one sample.
    pub peak_processes: usize,
    /// CPU seconds: the largest value seen (the counters only grow, but a process that
    /// exits unreaped takes its share with it, so the maximum is the best estimate).
    pub cpu_seconds: f64,
    /// Bytes read, largest value seen.
    pub read_bytes: u64,
    /// Bytes written, largest value seen.
    pub write_bytes: u64,
    /// How many samples saw the group.
    pub samples: u32,
}

/// Keeps [`TreeTotals`] per process group across [`sample_groups`] calls.
///
/// Call [`TreeTracker::finish`] when a task ends: a pgid is a pid, and the kernel reuses
/// it, so a stale entry would hand an old task's peak to a new one.
#[derive(Debug, Clone, Default)]
pub struct TreeTracker {
    groups: HashMap<i32, TreeTotals>,
}

impl TreeTracker {
    /// An empty tracker.
    pub fn new() -> Self {
        Self::default()
    }

    /// Folds one round of samples into the totals.
    pub fn record(&mut self, samples: &HashMap<i32, TreeSample>) {
        for (&pgid, sample) in samples {
            let totals = self.groups.entry(pgid).or_default();
            totals.peak_rss = totals.peak_rss.max(sample.rss);
            totals.peak_processes = totals.peak_processes.max(sample.processes);
            totals.cpu_seconds = totals.cpu_seconds.max(sample.cpu_seconds);
            totals.read_bytes = totals.read_bytes.max(sample.read_bytes);
            totals.write_bytes = totals.write_bytes.max(sample.write_bytes);
            totals.samples += 1;
        }
    }

    /// The totals so far for `pgid`.
    pub fn get(&self, pgid: i32) -> Option<&TreeTotals> {
        self.groups.get(&pgid)
    }

    /// Removes and returns the totals of a finished group (`None` if it was never seen:
    /// a task shorter than one sampling interval).
    pub fn finish(&mut self, pgid: i32) -> Option<TreeTotals> {
        self.groups.remove(&pgid)
    }
}

#[cfg(test)]
#[path = "tree_tests.rs"]
mod tests;
