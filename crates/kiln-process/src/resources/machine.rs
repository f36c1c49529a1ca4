//! What the machine can still take: CPUs, how busy they are, memory left, load.
//!
//! On Linux from `/proc/stat`, `/proc/meminfo` and `/proc/loadavg`, tightened by the cgroup
//! kiln runs in (see `cgroup.rs`): the effective memory is `min(MemAvailable, cgroup limit −
//! cgroup working set)`, the effective CPU count `min(online CPUs, affinity, ⌈quota⌉)`, and
//! under a quota "busy" is the larger of host busy and our usage of the quota. Elsewhere
//! [`MachineSampler::sample`] returns `None`: kiln then runs with its static budget.

use std::time::{Duration, Instant};

use super::cgroup::Cgroups;

/// One reading of the machine.
#[derive(Debug, Clone, PartialEq)]
pub struct MachineSample {
    /// When the sample was taken.
    pub at: Instant,
    /// CPUs kiln may use: online CPUs, capped by CPU affinity and a cgroup CPU quota.
    pub cpus: usize,
    /// Fraction (0..=1) of CPU time spent busy since the previous sample (or since the
    /// sampler was created, for the first one).
    pub cpu_busy: f64,
    /// Memory the machine has for kiln: `MemTotal`, capped by a cgroup memory limit.
    pub memory_total: u64,
    /// Memory that can still be allocated without swapping or an OOM kill: `MemAvailable`,
    /// capped by what the tightest cgroup limit leaves.
    pub memory_available: u64,
    /// The 1-minute load average (host-wide; cgroups do not have one).
    pub load1: f64,
}

/// Takes [`MachineSample`]s; keeps the previous CPU counters so each sample reports the
/// busy fraction of its own interval.
#[derive(Debug)]
pub struct MachineSampler {
    cgroups: Cgroups,
    last_cpu: Option<CpuTimes>,
    last_cgroup_usage: Option<(Instant, Duration)>,
}

impl Default for MachineSampler {
    fn default() -> Self {
        Self::new()
    }
}

impl MachineSampler {
    /// Finds the cgroup limits and takes the first CPU reading, so that the first
    /// [`MachineSampler::sample`] already covers an interval.
    pub fn new() -> Self {
        let mut sampler = MachineSampler {
            cgroups: if cfg!(target_os = "linux") {
                Cgroups::detect()
            } else {
                Cgroups::default()
            },
            last_cpu: None,
            last_cgroup_usage: None,
        };
        sampler.last_cpu = read_cpu_times();
        if sampler.cgroups.cpu_quota().is_some() {
            sampler.last_cgroup_usage = sampler.cgroup_usage();
        }
        sampler
    }

    /// Reads the machine now. `None` where `/proc` is not available (not Linux, or a
    /// sandbox that hides it); never panics.
    pub fn sample(&mut self) -> Option<MachineSample> {
        let at = Instant::now();
        let memory = parse_meminfo(&read("/proc/meminfo")?)?;
        let cpu_stat = read("/proc/stat")?;
        let times = parse_cpu_times(&cpu_stat)?;
        let host_busy = self.last_cpu.map_or(0.0, |last| times.busy_since(&last));
        self.last_cpu = Some(times);

        let quota = self.cgroups.cpu_quota();
        // Our cgroup's usage only matters against a quota; without one, host busy is it.
        let cgroup_usage = quota.and_then(|_| self.cgroup_usage());
        let cgroup_busy = match (quota, cgroup_usage, self.last_cgroup_usage) {
            (Some(quota), Some(now), Some(then)) => quota_busy(quota, then, now),
            _ => None,
        };
        self.last_cgroup_usage = cgroup_usage;

        let online = count_cpus(&cpu_stat).max(1);
        let allowed = std::thread::available_parallelism().map_or(online, |n| n.get());
        let by_quota = quota.map_or(usize::MAX, |q| (q.ceil() as usize).max(1));

        let cgroup_limit = self.cgroups.memory_limit();
        let cgroup_available = self.cgroups.memory_available();
        Some(MachineSample {
            at,
            cpus: online.min(allowed).min(by_quota),
            cpu_busy: host_busy.max(cgroup_busy.unwrap_or(0.0)).clamp(0.0, 1.0),
            memory_total: cgroup_limit.map_or(memory.total, |l| l.min(memory.total)),
            memory_available: cgroup_available
                .map_or(memory.available, |a| a.min(memory.available)),
            load1: read("/proc/loadavg")
                .and_then(|text| parse_loadavg(&text))
                .unwrap_or(0.0),
        })
    }

    fn cgroup_usage(&self) -> Option<(Instant, Duration)> {
        self.cgroups.cpu_usage().map(|used| (Instant::now(), used))
    }
}

fn read(path: &str) -> Option<String> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    fs_err::read_to_string(path)
        .inspect_err(|err| tracing::debug!(%err, "cannot sample the machine"))
        .ok()
}

fn read_cpu_times() -> Option<CpuTimes> {
    parse_cpu_times(&read("/proc/stat")?)
}

/// The fraction of a CPU quota used between two `(when, cgroup CPU usage)` readings.
pub(crate) fn quota_busy(
    quota: f64,
    (then, used_then): (Instant, Duration),
    (now, used_now): (Instant, Duration),
) -> Option<f64> {
    let allowed = now.duration_since(then).as_secs_f64() * quota;
    let used = used_now.saturating_sub(used_then).as_secs_f64();
    (allowed > 0.0).then(|| used / allowed)
}

/// Aggregate CPU counters from the `cpu ` line of `/proc/stat`, in clock ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CpuTimes {
    pub(crate) busy: u64,
    pub(crate) total: u64,
}

impl CpuTimes {
    fn busy_since(&self, last: &CpuTimes) -> f64 {
        let total = self.total.saturating_sub(last.total);
        let busy = self.busy.saturating_sub(last.busy);
        if total == 0 {
            return 0.0;
        }
        busy as f64 / total as f64
    }
}

/// `cpu  user nice system idle iowait irq softirq steal guest guest_nice`. Idle and iowait
/// are not busy; guest time is already inside user and nice, so it is not added again.
pub(crate) fn parse_cpu_times(stat: &str) -> Option<CpuTimes> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    if fields.len() < 4 {
        return None;
    }
    let total: u64 = fields.iter().sum();
    let idle = fields[3] + fields.get(4).copied().unwrap_or(0);
    Some(CpuTimes {
        busy: total - idle,
        total,
    })
}

/// Online CPUs: the `cpuN` lines of `/proc/stat`.
pub(crate) fn count_cpus(stat: &str) -> usize {
    stat.lines()
        .filter(|l| {
            l.strip_prefix("cpu")
                .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
        })
        .count()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Meminfo {
    pub(crate) total: u64,
    pub(crate) available: u64,
}

/// `MemTotal` and `MemAvailable` in bytes. Kernels before 3.14 have no `MemAvailable`;
/// `MemFree + Buffers + Cached` is the estimate they would have given.
pub(crate) fn parse_meminfo(text: &str) -> Option<Meminfo> {
    let field = |name: &str| {
        text.lines().find_map(|line| {
            let rest = line.strip_prefix(name)?.strip_prefix(':')?;
            let kib: u64 = rest.split_whitespace().next()?.parse().ok()?;
            Some(kib * 1024)
        })
    };
    let total = field("MemTotal")?;
    let available = field("MemAvailable").or_else(|| {
        Some(field("MemFree")? + field("Buffers").unwrap_or(0) + field("Cached").unwrap_or(0))
    })?;
    Some(Meminfo {
        total,
        available: available.min(total),
    })
}

/// The first field of `/proc/loadavg`.
pub(crate) fn parse_loadavg(text: &str) -> Option<f64> {
    text.split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &str = "\
cpu  1622438 30429 387744 397352 8339 0 3028 23271 0 0
cpu0 805932 14201 189303 211984 3194 0 126 11359 0 0
cpu1 816505 16227 198440 185367 5144 0 2901 11912 0 0
intr 123 0 0
ctxt 456
cpuset_nonsense 1
";

    #[test]
    fn cpu_times_count_everything_but_idle_and_iowait_as_busy() {
        let times = parse_cpu_times(STAT).unwrap();
        let total = 1622438 + 30429 + 387744 + 397352 + 8339 + 3028 + 23271;
        assert_eq!(times.total, total);
        assert_eq!(times.busy, total - 397352 - 8339);
        assert_eq!(count_cpus(STAT), 2);
    }

    #[test]
    fn busy_fraction_is_over_the_interval_not_since_boot() {
        let before = CpuTimes {
            busy: 1000,
            total: 5000,
        };
        let after = CpuTimes {
            busy: 1150,
            total: 5200,
        };
        assert_eq!(after.busy_since(&before), 0.75);
        assert_eq!(after.busy_since(&after), 0.0, "no time passed");
    }

    #[test]
    fn under_a_quota_busy_is_usage_of_the_quota() {
        let t0 = Instant::now();
        let t1 = t0 + Duration::from_secs(2);
        // 1.5 CPUs for 2 s allow 3 CPU-seconds; 1.5 were used.
        let busy = quota_busy(1.5, (t0, Duration::ZERO), (t1, Duration::from_millis(1500)));
        assert_eq!(busy, Some(0.5));
        assert_eq!(
            quota_busy(1.5, (t1, Duration::ZERO), (t1, Duration::ZERO)),
            None
        );
    }

    #[test]
    fn malformed_stat_is_none_not_a_panic() {
        assert_eq!(parse_cpu_times(""), None);
        assert_eq!(parse_cpu_times("cpu  1 2\n"), None);
        assert_eq!(parse_cpu_times("cpu  a b c d\n"), None);
    }

    #[test]
    fn meminfo_reads_total_and_available_in_bytes() {
        let text = "MemTotal:       24684092 kB\nMemFree:        22074828 kB\n\
                    MemAvailable:   24187344 kB\nBuffers:           30076 kB\n";
        assert_eq!(
            parse_meminfo(text),
            Some(Meminfo {
                total: 24684092 * 1024,
                available: 24187344 * 1024
            })
        );
    }

    #[test]
    fn old_kernels_without_memavailable_estimate_it() {
        let text = "MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 20 kB\nCached: 300 kB\n\
                    SwapCached: 999 kB\n";
        assert_eq!(parse_meminfo(text).unwrap().available, 420 * 1024);
        assert_eq!(
            parse_meminfo("MemFree: 1 kB\n"),
            None,
            "no total, no sample"
        );
    }

    #[test]
    fn loadavg_is_its_first_field() {
        assert_eq!(parse_loadavg("2.68 2.51 3.12 2/99 12441\n"), Some(2.68));
        assert_eq!(parse_loadavg(""), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn sampling_this_machine_gives_sane_numbers() {
        let mut sampler = MachineSampler::new();
        let sample = sampler.sample().expect("Linux has /proc");
        assert!(sample.cpus >= 1);
        assert!((0.0..=1.0).contains(&sample.cpu_busy));
        assert!(sample.memory_total > 0);
        assert!(sample.memory_available <= sample.memory_total);
        assert!(sample.load1 >= 0.0);
        let next = sampler.sample().unwrap();
        assert!(next.at >= sample.at);
    }
}
