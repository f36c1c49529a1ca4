//! Knowing, without reading them, that a task's outputs on disk are still the ones kiln last
//! wrote or restored.
//!
//! A full-cache rerun would otherwise delete and re-create every output file of every task:
//! correct, but the file system work dominates the run. Instead, right after a task's outputs
//! are produced or restored, kiln records an [`OutputsFingerprint`]: every output path with
//! its kind, size, mode, inode, mtime and ctime (symlinks not followed). On the next hit for
//! the same key, if every recorded path still has exactly that stat, the outputs are the
//! artifact's and the restore is skipped.
//!
//! Why this is safe: any write to a file changes its mtime and ctime, and ctime cannot be set
//! back from user space (`touch -d` moves mtime, and in doing so bumps ctime); replacing a file
//! changes its inode; adding or removing an entry changes its directory's mtime, and output
//! directories are recorded too. A path that is gone, or any difference at all, means
//! "restore".
//!
//! What is *not* there matters as much, because a restore would remove it: an output file
//! appearing later must be noticed. So the fingerprint also records the directories the walk
//! went through without them being outputs (`dist` for `dist/*.js`, the package itself for
//! `*.tsbuildinfo`; a new entry changes their mtime), and each output base that was absent
//! (`build` for `build/**` when there was no `build/`): such an entry fails once the path
//! exists. Nested packages are skipped as by every other walk (see `outputs.rs`).
//!
//! Records carry a [`version`](FINGERPRINT_VERSION); one written by an older kiln (which did
//! not record the above) parses but never matches.
//!
//! The one hole is time granularity ("racy clean", as git calls it): file timestamps come
//! from a coarse clock, so a write in the same tick as the recorded one leaves the stat
//! unchanged. So every entry also records a digest of its content (file bytes, symlink
//! target, or directory listing), and an entry changed less than [`RACY_WINDOW`] before the
//! fingerprint was taken is trusted only after its digest is checked again. A check that
//! passes [`refresh`](OutputsFingerprint::refresh)es the fingerprint, so the next check of
//! entries that have since grown old is stat-only.

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::error::CacheError;
use crate::outputs::{Kind, OutputGlobs, base_exists};

/// How recent a change must be for its stat alone not to be trusted.
pub const RACY_WINDOW: Duration = Duration::from_secs(2);

/// Version of what a fingerprint records; a record of another version never matches.
pub const FINGERPRINT_VERSION: u32 = 2;

/// The stat of every output of one task, as kiln left them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputsFingerprint {
    /// [`FINGERPRINT_VERSION`] of the writer; absent (0) in records older than the field.
    #[serde(default)]
    version: u32,
    /// When the entries were last known to hold their recorded content (system clock, ns).
    checked_ns: i128,
    entries: Vec<Entry>,
}

impl Default for OutputsFingerprint {
    /// No outputs: always matches.
    fn default() -> Self {
        Self {
            version: FINGERPRINT_VERSION,
            checked_ns: 0,
            entries: Vec::new(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Entry {
    path: String,
    /// The path did not exist: the entry holds as long as it still does not (`stat` and
    /// `content` are unused).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    absent: bool,
    stat: Stat,
    /// BLAKE3 of the content (file), target (symlink) or sorted entry names (directory).
    content: String,
}

impl Entry {
    /// Whether the path still has the recorded stat and, if that stat is recent enough to be
    /// racy (changed after `racy_after`), the recorded content.
    fn holds(&self, package_dir: &Path, racy_after: i128) -> bool {
        let path = package_dir.join(&self.path);
        let Ok(stat) = Stat::of(&path) else {
            return false;
        };
        if stat != self.stat {
            return false;
        }
        let racy = stat.ctime_ns >= racy_after || stat.mtime_ns >= racy_after;
        !racy || content_digest(&path, stat.kind).is_ok_and(|d| d == self.content)
    }
}

fn now_ns() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128)
}

fn content_digest(path: &Path, kind: u8) -> io::Result<String> {
    let mut hasher = blake3::Hasher::new();
    match kind {
        0 => {
            hasher.update_reader(std::fs::File::open(path)?)?;
        }
        1 => {
            let mut names: Vec<_> = std::fs::read_dir(path)?
                .map(|e| e.map(|e| e.file_name()))
                .collect::<io::Result<_>>()?;
            names.sort();
            for n in names {
                hasher.update(n.as_encoded_bytes());
                hasher.update(b"\0");
            }
        }
        2 => {
            hasher.update(std::fs::read_link(path)?.as_os_str().as_encoded_bytes());
        }
        _ => {}
    }
    Ok(hasher.finalize().to_hex().to_string())
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Stat {
    kind: u8,
    size: u64,
    mode: u32,
    ino: u64,
    mtime_ns: i128,
    ctime_ns: i128,
}

impl Stat {
    fn of(path: &Path) -> io::Result<Stat> {
        let m = std::fs::symlink_metadata(path)?;
        let ft = m.file_type();
        let kind = if ft.is_symlink() {
            2
        } else if ft.is_dir() {
            1
        } else if ft.is_file() {
            0
        } else {
            3
        };
        Ok(Stat {
            kind,
            size: if ft.is_dir() { 0 } else { m.size() },
            mode: m.mode(),
            ino: m.ino(),
            mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
            ctime_ns: i128::from(m.ctime()) * 1_000_000_000 + i128::from(m.ctime_nsec()),
        })
    }
}

impl OutputsFingerprint {
    /// Records the outputs (matched by `outputs`) now present under `package_dir`, the
    /// directories walked to find them and the output bases that are absent. `nested` are the
    /// package-relative directories of the packages inside this one: never looked at.
    pub fn take(
        package_dir: &Path,
        outputs: &[String],
        nested: &[String],
    ) -> Result<Self, CacheError> {
        let checked_ns = now_ns();
        let globs = OutputGlobs::with_nested(outputs, nested)?;
        let fail = |source: io::Error| CacheError::Pack {
            package_dir: package_dir.to_path_buf(),
            source,
        };
        let walk = globs.walk(package_dir).map_err(fail)?;
        let mut entries = Vec::with_capacity(walk.outputs.len() + walk.looked_at.len());
        for f in walk.looked_at.into_iter().chain(walk.outputs) {
            if f.kind == Kind::Other {
                continue;
            }
            let path = package_dir.join(&f.rel);
            let stat = Stat::of(&path).map_err(fail)?;
            let content = content_digest(&path, stat.kind).map_err(fail)?;
            entries.push(Entry {
                path: f.rel,
                absent: false,
                stat,
                content,
            });
        }
        entries.extend(walk.absent_bases.into_iter().map(|path| Entry {
            path,
            absent: true,
            stat: Stat::default(),
            content: String::new(),
        }));
        Ok(OutputsFingerprint {
            version: FINGERPRINT_VERSION,
            checked_ns,
            entries,
        })
    }

    /// Whether every recorded output is still exactly as recorded: same stat, and for an
    /// entry changed within [`RACY_WINDOW`] of the last check, the same content. An empty
    /// fingerprint (a task without outputs) always matches: there is nothing to restore. A
    /// recorded absence holds while the path is still absent. A record of another
    /// [`FINGERPRINT_VERSION`] never matches.
    pub fn still_matches(&self, package_dir: &Path) -> bool {
        if self.version != FINGERPRINT_VERSION {
            return false;
        }
        let racy_after = self.racy_after();
        self.entries.iter().all(|e| {
            if e.absent {
                return !base_exists(package_dir, &e.path);
            }
            e.holds(package_dir, racy_after)
        })
    }

    /// The recorded outputs that are still exactly as kiln left them (the check of
    /// [`still_matches`](Self::still_matches), path by path): the ones a restore may replace
    /// or remove without losing anybody's work. Empty for a record of another version.
    pub fn unchanged_paths(&self, package_dir: &Path) -> std::collections::HashSet<String> {
        if self.version != FINGERPRINT_VERSION {
            return Default::default();
        }
        let racy_after = self.racy_after();
        self.entries
            .iter()
            .filter(|e| !e.absent && e.holds(package_dir, racy_after))
            .map(|e| e.path.clone())
            .collect()
    }

    fn racy_after(&self) -> i128 {
        self.checked_ns - RACY_WINDOW.as_nanos() as i128
    }

    /// After [`still_matches`](Self::still_matches) said yes: the entries are known good as
    /// of now, so entries older than the racy window need no content check next time.
    pub fn refresh(&mut self) {
        self.checked_ns = now_ns();
    }

    /// Whether a check would need to read content (some entry is within the racy window).
    pub fn is_racy(&self) -> bool {
        let racy_after = self.racy_after();
        self.entries
            .iter()
            .any(|e| !e.absent && (e.stat.ctime_ns >= racy_after || e.stat.mtime_ns >= racy_after))
    }

    /// How many paths are recorded (outputs, directories walked, absent bases).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn outputs() -> Vec<String> {
        vec!["dist/**".to_string()]
    }

    fn fixture() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        fs_err::create_dir_all(dir.path().join("dist/sub")).unwrap();
        fs_err::write(dir.path().join("dist/a.js"), "a").unwrap();
        fs_err::write(dir.path().join("dist/sub/b.js"), "b").unwrap();
        fs_err::write(dir.path().join("src.js"), "src").unwrap();
        dir
    }

    #[test]
    fn unchanged_paths_are_the_outputs_still_as_recorded() {
        let dir = fixture();
        let fp = OutputsFingerprint::take(dir.path(), &outputs(), &[]).unwrap();
        // Same size, same tick: only the content check can tell.
        fs_err::write(dir.path().join("dist/a.js"), "A").unwrap();
        fs_err::write(dir.path().join("dist/new.js"), "new").unwrap();
        let unchanged = fp.unchanged_paths(dir.path());
        assert!(unchanged.contains("dist/sub/b.js"));
        assert!(!unchanged.contains("dist/a.js"), "edited");
        assert!(!unchanged.contains("dist/new.js"), "never recorded");
    }

    #[test]
    fn unchanged_outputs_match() {
        let dir = fixture();
        let fp = OutputsFingerprint::take(dir.path(), &outputs(), &[]).unwrap();
        assert_eq!(fp.len(), 4, "dist, dist/a.js, dist/sub, dist/sub/b.js");
        assert!(fp.still_matches(dir.path()));
        // Non-outputs may change freely.
        fs_err::write(dir.path().join("src.js"), "changed").unwrap();
        assert!(fp.still_matches(dir.path()));
    }

    #[test]
    fn any_change_to_an_output_is_seen() {
        let changes: [fn(&Path); 5] = [
            |d| fs_err::write(d.join("dist/a.js"), "x").unwrap(),
            |d| fs_err::remove_file(d.join("dist/sub/b.js")).unwrap(),
            |d| fs_err::write(d.join("dist/new.js"), "n").unwrap(),
            |d| fs_err::remove_dir_all(d.join("dist")).unwrap(),
            |d| {
                let p = d.join("dist/a.js");
                fs_err::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
            },
        ];
        for change in changes {
            let dir = fixture();
            let fp = OutputsFingerprint::take(dir.path(), &outputs(), &[]).unwrap();
            change(dir.path());
            assert!(!fp.still_matches(dir.path()));
        }
    }

    #[test]
    fn a_same_tick_rewrite_is_caught_by_the_content_check() {
        let dir = fixture();
        let mut fp = OutputsFingerprint::take(dir.path(), &outputs(), &[]).unwrap();
        assert!(fp.is_racy(), "just written");
        // Forge the worst case: the file changes but its stat is recorded as unchanged.
        fs_err::write(dir.path().join("dist/a.js"), "b").unwrap();
        let now = Stat::of(&dir.path().join("dist/a.js")).unwrap();
        fp.entries
            .iter_mut()
            .find(|e| e.path == "dist/a.js")
            .unwrap()
            .stat = now;
        assert!(!fp.still_matches(dir.path()), "content differs");
    }

    #[test]
    fn old_entries_are_trusted_on_stat_alone() {
        let dir = fixture();
        let mut fp = OutputsFingerprint::take(dir.path(), &outputs(), &[]).unwrap();
        fp.checked_ns += 10 * RACY_WINDOW.as_nanos() as i128;
        assert!(!fp.is_racy());
        for e in &mut fp.entries {
            e.content.clear();
        }
        assert!(fp.still_matches(dir.path()), "no content was read");
    }

    #[test]
    fn no_outputs_always_match() {
        let dir = fixture();
        let fp = OutputsFingerprint::take(dir.path(), &[], &[]).unwrap();
        assert!(fp.is_empty());
        assert!(fp.still_matches(dir.path()));
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn an_absent_output_base_that_appears_is_seen() {
        let dir = fixture();
        let outs = strings(&["dist/**", "build/**"]);
        let fp = OutputsFingerprint::take(dir.path(), &outs, &[]).unwrap();
        assert!(fp.still_matches(dir.path()));
        fs_err::create_dir_all(dir.path().join("build")).unwrap();
        fs_err::write(dir.path().join("build/stale.js"), "s").unwrap();
        assert!(
            !fp.still_matches(dir.path()),
            "a restore would remove build/"
        );
    }

    #[test]
    fn a_new_output_in_a_directory_walked_through_is_seen() {
        let dir = fixture();
        let outs = strings(&["dist/*.js"]);
        let fp = OutputsFingerprint::take(dir.path(), &outs, &[]).unwrap();
        assert!(fp.still_matches(dir.path()));
        fs_err::write(dir.path().join("dist/new.js"), "n").unwrap();
        assert!(!fp.still_matches(dir.path()));
    }

    #[test]
    fn a_bare_directory_output_is_fingerprinted_whole() {
        let dir = fixture();
        let fp = OutputsFingerprint::take(dir.path(), &strings(&["dist/"]), &[]).unwrap();
        assert_eq!(fp.len(), 4, "dist, dist/a.js, dist/sub, dist/sub/b.js");
        fs_err::write(dir.path().join("dist/sub/b.js"), "changed").unwrap();
        assert!(!fp.still_matches(dir.path()));
    }

    #[test]
    fn nested_packages_are_not_fingerprinted() {
        let dir = fixture();
        fs_err::create_dir_all(dir.path().join("packages/a")).unwrap();
        let outs = strings(&["**/*.tsbuildinfo"]);
        let nested = strings(&["packages/a"]);
        let fp = OutputsFingerprint::take(dir.path(), &outs, &nested).unwrap();
        assert!(fp.entries.iter().all(|e| !e.path.starts_with("packages/a")));
        fs_err::write(dir.path().join("packages/a/x.tsbuildinfo"), "x").unwrap();
        assert!(fp.still_matches(dir.path()), "another package's output");
        fs_err::write(dir.path().join("x.tsbuildinfo"), "x").unwrap();
        assert!(!fp.still_matches(dir.path()), "our own new output");
    }

    #[test]
    fn a_record_from_an_older_version_never_matches() {
        let dir = fixture();
        let fp = OutputsFingerprint::take(dir.path(), &outputs(), &[]).unwrap();
        let mut json: serde_json::Value = serde_json::to_value(&fp).unwrap();
        json.as_object_mut().unwrap().remove("version");
        let old: OutputsFingerprint = serde_json::from_value(json).unwrap();
        assert!(!old.still_matches(dir.path()));
        let round_trip: OutputsFingerprint =
            serde_json::from_str(&serde_json::to_string(&fp).unwrap()).unwrap();
        assert!(round_trip.still_matches(dir.path()));
    }
}
