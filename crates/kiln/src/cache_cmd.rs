//! `kiln cache stats|ls|prune|verify|clear`: look into, bound, check and empty the local
//! cache (`.kiln/cache/`). The store does the work (`kiln_cache::LocalStore`); this module
//! resolves limits, names tasks and prints.

mod limits;
mod recent_runs;

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kiln_cache::{CacheEntry, LocalStore, PrunePolicy, PruneReport};
use kiln_state::BuildState;
use kiln_workspace::Workspace;
use kiln_workspace::units::{parse_duration, parse_size};
use serde_json::json;

use crate::cli::{CacheCommand, CacheSort};
use crate::console::fmt_ago;
use crate::exit::Exit;
use kiln_core::error_chain;

pub(crate) use limits::{Limits, report_pruned};

pub(crate) fn run(cwd: &Path, command: &CacheCommand) -> Result<i32, Exit> {
    let ws = Workspace::discover(cwd).map_err(Exit::diagnostic)?;
    let store = kiln_run::open_local_store(&ws, None)?;
    let fail = |e: kiln_cache::CacheError| Exit::user(error_chain(&e));
    match command {
        CacheCommand::Stats { json } => stats(&ws, &store, *json),
        CacheCommand::Ls { json, sort } => ls(&ws, &store, *json, *sort),
        CacheCommand::Prune {
            max_size,
            max_age,
            dry_run,
        } => {
            let policy = policy(&ws, max_size.as_deref(), max_age.as_deref())?;
            let report = store.prune(&policy, *dry_run).map_err(fail)?;
            print_prune(&report, *dry_run);
            Ok(0)
        }
        CacheCommand::Verify { json } => verify(&store, *json),
        CacheCommand::Clear { json } => {
            let report = store.clear().map_err(fail)?;
            let freed = report.removed_bytes + report.loose_bytes_removed;
            if *json {
                print_json(&json!({ "removed": report.removed.len(), "freed_bytes": freed }));
            } else {
                out(&format!(
                    "removed {} entries, freed {}",
                    report.removed.len(),
                    fmt_bytes(freed)
                ));
            }
            Ok(0)
        }
    }
}

/// The flags' limits, or the configured ones when no flag is given.
fn policy(ws: &Workspace, size: Option<&str>, age: Option<&str>) -> Result<PrunePolicy, Exit> {
    if size.is_none() && age.is_none() {
        return Ok(Limits::of(ws).map_err(Exit::user)?.policy);
    }
    Ok(PrunePolicy {
        max_size: size
            .map(|s| parse_size(s).map_err(|e| Exit::user(format!("--max-size: {e}"))))
            .transpose()?,
        max_age: age
            .map(|s| parse_duration(s).map_err(|e| Exit::user(format!("--max-age: {e}"))))
            .transpose()?,
    })
}

fn stats(ws: &Workspace, store: &LocalStore, json_output: bool) -> Result<i32, Exit> {
    let usage = store.list()?;
    let limits = Limits::of(ws).map_err(Exit::user)?;
    let rate = recent_runs::hit_rate(&kiln_core::Layout::of(&ws.root).runs());
    let created = usage
        .entries
        .iter()
        .filter_map(|e| Some(e.meta.as_ref()?.created_unix_ms));
    let (oldest, newest) = (created.clone().min(), created.max());
    let last_used = usage.entries.iter().map(|e| unix_ms(e.last_used)).max();
    if json_output {
        print_json(&json!({
            "dir": store.dir().display().to_string(),
            "entries": usage.entries.len(),
            "entry_bytes": usage.entry_bytes(),
            "loose_files": usage.loose_files,
            "loose_bytes": usage.loose_bytes,
            "total_bytes": usage.total_bytes(),
            "oldest_created_unix_ms": oldest,
            "newest_created_unix_ms": newest,
            "last_used_unix_ms": last_used,
            "limits": {
                "max_size": limits.policy.max_size,
                "max_size_from": limits.size_from,
                "max_age_secs": limits.policy.max_age.map(|a| a.as_secs()),
                "max_age_from": limits.age_from,
            },
            "recent_runs": rate,
        }));
        return Ok(0);
    }
    let ago = |ms: Option<u64>| ms.map_or("-".to_string(), |ms| format!("{} ago", fmt_ago(ms)));
    let from = |source: &str| match source {
        "default" => "the default".to_string(),
        source => format!("from {source}"),
    };
    let size_limit = match limits.policy.max_size {
        Some(max) => format!("limit {} ({})", fmt_bytes(max), from(limits.size_from)),
        None => format!("no limit ({})", from(limits.size_from)),
    };
    let mut rows = vec![
        ("entries", usage.entries.len().to_string()),
        (
            "size",
            format!("{}, {size_limit}", fmt_bytes(usage.entry_bytes())),
        ),
    ];
    if usage.loose_files > 0 {
        rows.push((
            "other files",
            format!(
                "{} ({}; `kiln cache verify` removes leftovers)",
                usage.loose_files,
                fmt_bytes(usage.loose_bytes)
            ),
        ));
    }
    if let Some(age) = limits.policy.max_age {
        rows.push((
            "max age",
            format!("{} ({})", fmt_age(age), from(limits.age_from)),
        ));
    }
    rows.push(("oldest", ago(oldest)));
    rows.push(("newest", ago(newest)));
    rows.push(("last used", ago(last_used)));
    rows.push((
        "recent runs",
        format!(
            "{} ({} local hits, {} remote hits, {} misses)",
            rate.runs, rate.local_hits, rate.remote_hits, rate.misses
        ),
    ));
    rows.push((
        "hit rate",
        rate.hit_rate
            .map_or("-".to_string(), |r| format!("{:.1}%", r * 100.0)),
    ));
    rows.push((
        "time saved",
        crate::console::fmt_duration(Duration::from_millis(rate.saved_ms)),
    ));
    let mut text = String::new();
    for (label, value) in rows {
        text.push_str(&format!("{label:<12} {value}\n"));
    }
    out(text.trim_end());
    Ok(0)
}

fn ls(ws: &Workspace, store: &LocalStore, json_output: bool, sort: CacheSort) -> Result<i32, Exit> {
    let mut entries = store.list()?.entries;
    let created = |e: &CacheEntry| e.meta.as_ref().map_or(0, |m| m.created_unix_ms);
    match sort {
        CacheSort::Used => entries.sort_by_key(|e| e.last_used),
        CacheSort::Size => entries.sort_by_key(|e| std::cmp::Reverse(e.bytes)),
        CacheSort::Age => entries.sort_by_key(created),
    }
    let tasks = task_names(&ws.root);
    let task = |key: &str| tasks.get(key).cloned();
    if json_output {
        let rows: Vec<_> = entries
            .iter()
            .map(|e| {
                json!({
                    "key": e.key,
                    "task": task(&e.key),
                    "bytes": e.bytes,
                    "files": e.meta.as_ref().map(|m| m.files),
                    "created_unix_ms": e.meta.as_ref().map(|m| m.created_unix_ms),
                    "last_used_unix_ms": unix_ms(e.last_used),
                    "duration_ms": e.meta.as_ref().map(|m| m.duration_ms),
                })
            })
            .collect();
        print_json(&serde_json::Value::Array(rows));
        return Ok(0);
    }
    if entries.is_empty() {
        out(&format!(
            "the local cache is empty ({})",
            store
                .scratch_dir()
                .parent()
                .unwrap_or(Path::new("."))
                .display()
        ));
        return Ok(0);
    }
    let names: Vec<String> = entries
        .iter()
        .map(|e| task(&e.key).unwrap_or_else(|| "?".into()))
        .collect();
    let width = names.iter().map(String::len).max().unwrap_or(4).max(4);
    let mut text = format!(
        "{:16}  {:width$}  {:>10}  {:>6}  {:>9}  {:>9}  {:>8}\n",
        "KEY", "TASK", "SIZE", "FILES", "CREATED", "USED", "TOOK"
    );
    for (entry, name) in entries.iter().zip(&names) {
        let (files, created, took) = match &entry.meta {
            Some(m) => (
                m.files.to_string(),
                format!("{} ago", fmt_ago(m.created_unix_ms)),
                crate::console::fmt_duration(m.duration()),
            ),
            None => ("?".into(), "?".into(), "unreadable".into()),
        };
        text.push_str(&format!(
            "{:16}  {name:width$}  {:>10}  {files:>6}  {created:>9}  {:>9}  {took:>8}\n",
            &entry.key[..entry.key.len().min(16)],
            fmt_bytes(entry.bytes),
            format!("{} ago", fmt_ago(unix_ms(entry.last_used))),
        ));
    }
    out(text.trim_end());
    Ok(0)
}

/// Cache key → task, from the build state's recent runs (cheap: one file per task).
fn task_names(root: &Path) -> HashMap<String, String> {
    let state = BuildState::new(&kiln_core::Layout::of(root).state());
    state
        .list()
        .into_iter()
        .filter_map(|(_, read)| read.ok())
        .flat_map(|task| {
            let id = task.task.to_string();
            task.runs
                .into_iter()
                .map(move |run| (run.key.to_hex(), id.clone()))
        })
        .collect()
}

fn print_prune(report: &PruneReport, dry_run: bool) {
    let mut text = String::new();
    if dry_run {
        for e in &report.removed {
            text.push_str(&format!(
                "would remove {}  {:>10}  used {} ago\n",
                &e.key[..e.key.len().min(16)],
                fmt_bytes(e.bytes),
                fmt_ago(unix_ms(e.last_used))
            ));
        }
    }
    let verb = if dry_run { "would remove" } else { "removed" };
    text.push_str(&format!(
        "{verb} {} entries ({}); {} entries ({}) kept",
        report.removed.len(),
        fmt_bytes(report.removed_bytes),
        report.kept + report.spared,
        fmt_bytes(report.kept_bytes)
    ));
    if report.spared > 0 {
        text.push_str(&format!(
            "\n{} entries were used by another run meanwhile and kept",
            report.spared
        ));
    }
    if report.loose_removed > 0 {
        text.push_str(&format!(
            "\n{verb} {} leftover files of killed processes ({})",
            report.loose_removed,
            fmt_bytes(report.loose_bytes_removed)
        ));
    }
    out(&text);
}

fn verify(store: &LocalStore, json_output: bool) -> Result<i32, Exit> {
    let report = store.verify()?;
    let code = i32::from(!report.bad.is_empty());
    if json_output {
        let bad: Vec<_> = report
            .bad
            .iter()
            .map(|b| json!({ "key": b.key, "reason": b.reason, "bytes": b.bytes }))
            .collect();
        print_json(&json!({
            "checked": report.checked,
            "ok": report.ok,
            "bad": bad,
            "loose_removed": report.loose_removed,
            "loose_bytes_removed": report.loose_bytes_removed,
        }));
        return Ok(code);
    }
    let mut text = String::new();
    for bad in &report.bad {
        text.push_str(&format!("damaged: {} ({}); evicted\n", bad.key, bad.reason));
    }
    text.push_str(&format!(
        "checked {} entries ({}): {} ok, {} damaged",
        report.checked,
        fmt_bytes(report.ok_bytes + report.bad.iter().map(|b| b.bytes).sum::<u64>()),
        report.ok,
        report.bad.len()
    ));
    if report.loose_removed > 0 {
        text.push_str(&format!(
            "\nremoved {} leftover files of killed processes ({})",
            report.loose_removed,
            fmt_bytes(report.loose_bytes_removed)
        ));
    }
    out(&text);
    Ok(code)
}

fn out(text: &str) {
    let _ = writeln!(std::io::stdout().lock(), "{text}");
}

fn print_json(value: &serde_json::Value) {
    out(&serde_json::to_string_pretty(value).unwrap_or_default());
}

fn unix_ms(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Bytes in binary units, as `du -h` and the limits' default (10 GiB) read.
pub(crate) fn fmt_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// An age limit in the largest unit that divides it (`14d`, `36h`, `90m`).
fn fmt_age(age: Duration) -> String {
    let secs = age.as_secs();
    match secs {
        s if s >= 86400 && s % 86400 == 0 => format!("{}d", s / 86400),
        s if s >= 3600 && s % 3600 == 0 => format!("{}h", s / 3600),
        s if s >= 60 && s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::limits::DEFAULT_MAX_SIZE;
    use super::*;

    #[test]
    fn sizes_and_ages_read_as_people_write_them() {
        assert_eq!(fmt_bytes(0), "0 B");
        assert_eq!(fmt_bytes(1023), "1023 B");
        assert_eq!(fmt_bytes(1536), "1.5 KiB");
        assert_eq!(fmt_bytes(DEFAULT_MAX_SIZE), "10.0 GiB");
        assert_eq!(fmt_age(Duration::from_secs(14 * 86400)), "14d");
        assert_eq!(fmt_age(Duration::from_secs(36 * 3600)), "36h");
        assert_eq!(fmt_age(Duration::from_secs(61)), "61s");
    }
}
