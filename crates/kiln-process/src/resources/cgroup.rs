//! The limits of the cgroup kiln runs in: memory left before the OOM killer, and CPU quota.
//!
//! In a container or a CI runner `/proc/meminfo` describes the host: `MemAvailable` can say
//! 20 GB while the container will be killed at 4 GB. The truth is in the cgroup, and in every
//! ancestor of it (a limit on a parent caps its children), so each controller keeps the chain
//! of directories from our cgroup up to its mount point and the tightest level wins.
//!
//! Where the controller lives is read from `/proc/self/cgroup` (which cgroup we are in, per
//! hierarchy) and `/proc/self/mountinfo` (where each hierarchy is mounted, and which part of
//! it the mount shows: in a container the mount root is often our own cgroup). A v1 hierarchy
//! that carries the controller wins over the unified (v2) one: on hybrid systems the v2 mount
//! exists but the controller is bound to v1.
//!
//! Memory "used" is the working set (`usage − inactive_file`), not raw usage: page cache the
//! kernel can drop is not pressure, and counting it would throttle every build that reads
//! many files (cAdvisor and the kubelet measure the same way).

use std::path::{Path, PathBuf};
use std::time::Duration;

/// Cgroup v1 reports "no limit" as a huge page-aligned number (`PAGE_COUNTER_MAX` × page
/// size); anything this large is no limit.
const UNLIMITED: u64 = 1 << 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Version {
    V1,
    V2,
}

/// One controller's directories, our own cgroup first, up to the hierarchy's mount point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Controller {
    pub(crate) version: Version,
    pub(crate) levels: Vec<PathBuf>,
}

/// The controllers kiln reads; `None` where the controller is not mounted or not ours.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Cgroups {
    pub(crate) memory: Option<Controller>,
    pub(crate) cpu: Option<Controller>,
    /// CPU usage accounting: `cpuacct` on v1, `cpu` (its `cpu.stat`) on v2.
    pub(crate) cpu_usage: Option<Controller>,
}

impl Cgroups {
    /// Finds this process's cgroups. Anything unreadable means "no cgroup limits".
    pub(crate) fn detect() -> Self {
        let read = |path: &str| fs_err::read_to_string(path).ok();
        match (read("/proc/self/cgroup"), read("/proc/self/mountinfo")) {
            (Some(cgroup), Some(mountinfo)) => Self::locate(&cgroup, &mountinfo),
            _ => Self::default(),
        }
    }

    /// Pure part of [`Cgroups::detect`]: the texts of `/proc/self/cgroup` and
    /// `/proc/self/mountinfo`. Directories are not checked for existence here.
    pub(crate) fn locate(cgroup: &str, mountinfo: &str) -> Self {
        let mounts: Vec<Mount> = mountinfo.lines().filter_map(Mount::parse).collect();
        let controller = |name: &str| {
            // v1 first: see the module doc.
            membership(cgroup, Some(name))
                .and_then(|path| controller_dirs(&mounts, Some(name), path, Version::V1))
                .or_else(|| {
                    membership(cgroup, None)
                        .and_then(|path| controller_dirs(&mounts, None, path, Version::V2))
                })
        };
        Cgroups {
            memory: controller("memory"),
            cpu: controller("cpu"),
            cpu_usage: controller("cpuacct"),
        }
    }

    /// Bytes that may still be allocated before some cgroup level hits its limit: the
    /// smallest `limit − working set` over the levels that have a limit. `None` when no level
    /// has one (or nothing is readable).
    pub(crate) fn memory_available(&self) -> Option<u64> {
        let memory = self.memory.as_ref()?;
        memory
            .levels
            .iter()
            .filter_map(|dir| {
                let limit = memory_limit_at(dir, memory.version)?;
                let used = memory_used_at(dir, memory.version)?;
                Some(limit.saturating_sub(used))
            })
            .min()
    }

    /// The smallest memory limit over all levels, if any.
    pub(crate) fn memory_limit(&self) -> Option<u64> {
        let memory = self.memory.as_ref()?;
        memory
            .levels
            .iter()
            .filter_map(|dir| memory_limit_at(dir, memory.version))
            .min()
    }

    /// The CPU quota in CPUs (quota ÷ period), the smallest over all levels.
    pub(crate) fn cpu_quota(&self) -> Option<f64> {
        let cpu = self.cpu.as_ref()?;
        cpu.levels
            .iter()
            .filter_map(|dir| match cpu.version {
                Version::V2 => parse_cpu_max(&read(&dir.join("cpu.max"))?),
                Version::V1 => {
                    let quota = read(&dir.join("cpu.cfs_quota_us"))?;
                    let period = read(&dir.join("cpu.cfs_period_us"))?;
                    parse_cfs_quota(&quota, &period)
                }
            })
            .min_by(f64::total_cmp)
    }

    /// CPU time used by our cgroup (and its descendants) since it was created.
    pub(crate) fn cpu_usage(&self) -> Option<Duration> {
        let usage = self.cpu_usage.as_ref()?;
        let dir = usage.levels.first()?;
        match usage.version {
            Version::V2 => {
                let usec = stat_field(&read(&dir.join("cpu.stat"))?, "usage_usec")?;
                Some(Duration::from_micros(usec))
            }
            Version::V1 => {
                let nanos = read(&dir.join("cpuacct.usage"))?.trim().parse().ok()?;
                Some(Duration::from_nanos(nanos))
            }
        }
    }
}

fn read(path: &Path) -> Option<String> {
    fs_err::read_to_string(path)
        .inspect_err(|err| tracing::trace!(%err, "cgroup file unreadable"))
        .ok()
}

fn memory_limit_at(dir: &Path, version: Version) -> Option<u64> {
    let file = match version {
        Version::V2 => "memory.max",
        Version::V1 => "memory.limit_in_bytes",
    };
    parse_limit(&read(&dir.join(file))?)
}

fn memory_used_at(dir: &Path, version: Version) -> Option<u64> {
    let (usage, inactive) = match version {
        Version::V2 => ("memory.current", "inactive_file"),
        Version::V1 => ("memory.usage_in_bytes", "total_inactive_file"),
    };
    let usage: u64 = read(&dir.join(usage))?.trim().parse().ok()?;
    let inactive = read(&dir.join("memory.stat"))
        .and_then(|stat| stat_field(&stat, inactive))
        .unwrap_or(0);
    Some(usage.saturating_sub(inactive))
}

/// A memory limit file: bytes, or `max` (v2) / a huge number (v1) for none.
pub(crate) fn parse_limit(text: &str) -> Option<u64> {
    let limit: u64 = text.trim().parse().ok()?;
    (limit < UNLIMITED).then_some(limit)
}

/// v2 `cpu.max`: `"<quota> <period>"` or `"max <period>"`.
pub(crate) fn parse_cpu_max(text: &str) -> Option<f64> {
    let mut fields = text.split_whitespace();
    let quota: f64 = fields.next()?.parse().ok()?;
    let period: f64 = fields.next()?.parse().ok()?;
    (quota > 0.0 && period > 0.0).then(|| quota / period)
}

/// v1 `cpu.cfs_quota_us` (`-1` for none) and `cpu.cfs_period_us`.
pub(crate) fn parse_cfs_quota(quota: &str, period: &str) -> Option<f64> {
    let quota: f64 = quota.trim().parse().ok()?;
    let period: f64 = period.trim().parse().ok()?;
    (quota > 0.0 && period > 0.0).then(|| quota / period)
}

/// The value of `key` in a flat-keyed file (`memory.stat`, `cpu.stat`).
pub(crate) fn stat_field(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (name, value) = line.split_once(' ')?;
        (name == key).then(|| value.trim().parse().ok())?
    })
}

/// Our cgroup path in the v1 hierarchy carrying `controller`, or in the v2 hierarchy
/// (`controller == None`, the `0::/path` line).
fn membership<'a>(cgroup: &'a str, controller: Option<&str>) -> Option<&'a str> {
    cgroup.lines().find_map(|line| {
        let mut fields = line.splitn(3, ':');
        let (id, controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
        let matches = match controller {
            Some(name) => controllers.split(',').any(|c| c == name),
            None => id == "0" && controllers.is_empty(),
        };
        matches.then_some(path)
    })
}

/// The directories of `path` (a cgroup path) under a mount of its hierarchy: leaf first,
/// up to the mount point.
fn controller_dirs(
    mounts: &[Mount],
    controller: Option<&str>,
    path: &str,
    version: Version,
) -> Option<Controller> {
    let mount = mounts.iter().find(|m| match controller {
        Some(name) => m.fs_type == "cgroup" && m.super_options.split(',').any(|o| o == name),
        None => m.fs_type == "cgroup2",
    })?;
    // The mount shows the hierarchy from `mount.root` down; a path outside it (seen with
    // cgroup namespaces, as `/..`) is shown as the mount's top.
    let relative = Path::new(path)
        .strip_prefix(&mount.root)
        .ok()
        .filter(|rel| !rel.components().any(|c| c.as_os_str() == ".."))
        .unwrap_or(Path::new(""));
    // `join("")` would leave a trailing slash on the mount point; keep paths clean for logs.
    let under_mount = |rel: &Path| match rel.as_os_str().is_empty() {
        true => mount.point.clone(),
        false => mount.point.join(rel),
    };
    let mut levels = vec![under_mount(relative)];
    let mut dir = relative;
    while let Some(parent) = dir.parent() {
        levels.push(under_mount(parent));
        dir = parent;
    }
    Some(Controller { version, levels })
}

/// The fields of a `/proc/self/mountinfo` line kiln needs.
struct Mount {
    root: PathBuf,
    point: PathBuf,
    fs_type: String,
    super_options: String,
}

impl Mount {
    fn parse(line: &str) -> Option<Mount> {
        let (before, after) = line.split_once(" - ")?;
        let mut before = before.split(' ');
        let root = before.nth(3)?;
        let point = before.next()?;
        let mut after = after.split(' ');
        let fs_type = after.next()?;
        let _source = after.next()?;
        let super_options = after.next().unwrap_or("");
        Some(Mount {
            root: PathBuf::from(unescape(root)),
            point: PathBuf::from(unescape(point)),
            fs_type: fs_type.to_owned(),
            super_options: super_options.to_owned(),
        })
    }
}

/// mountinfo writes space, tab, newline and backslash in paths as `\ooo` octal escapes.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| bytes[i] == b'\\' && d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match octal {
            Some(digits) => {
                let value = digits
                    .iter()
                    .fold(0u32, |acc, d| acc * 8 + u32::from(d - b'0'));
                out.push(u8::try_from(value).unwrap_or(b'?'));
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
#[path = "cgroup_tests.rs"]
mod tests;
