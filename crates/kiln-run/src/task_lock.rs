//! One writing run at a time per repository, and named locks across kiln processes.
//!
//! Two kiln processes on one repository (a terminal and an editor, `kiln run lint & kiln run
//! test`) share every package's outputs. Let them write at once and one can restore an old
//! `l/dist` while a task of the other reads it, and store what it built from the old files
//! under its new key: a wrong hit for every later run. A lock per task cannot prevent that,
//! because what a task reads is its dependencies' outputs, not its own. So a run that may
//! write holds [`RunLock`], an exclusive OS file lock on `.kiln/locks/run.lock`, from before
//! it hashes until its last non-persistent task has ended; a second run waits (and says for
//! which process), then hashes what the first left and finds its results in the cache.
//! Bazel allows one command per output base for the same reason. Dry runs, `kiln why`,
//! `kiln affected` and the cache commands write no outputs and never wait. The OS drops the
//! lock when its holder dies, so a killed kiln never leaves the repository locked.
//!
//! Named locks (`locks = ["postgres"]`) live on `.kiln/locks/named-…`: a task takes all of its
//! named locks, in name order (so two tasks can never wait for each other), just before its
//! command runs, and holds them until it ends. The scheduler already keeps two holders apart
//! within one run; the file lock extends that to every kiln process on the repository (a
//! persistent task keeps its named locks after its run released [`RunLock`]).

use std::fs::{File, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

/// How often a waiting task looks at the lock again (and at Ctrl-C).
const POLL: Duration = Duration::from_millis(20);

/// Holds the lock until dropped.
#[derive(Debug)]
pub(crate) struct TaskLock {
    _file: File,
}

/// The repository's writer lock: held by a run from before it hashes until its last
/// non-persistent task has ended (see the module docs).
#[derive(Debug)]
pub struct RunLock {
    file: Mutex<Option<File>>,
}

impl RunLock {
    /// Takes the lock of the repository at `root`, blocking while another run holds it.
    /// `on_wait` is called once, with what the holder wrote of itself (`pid 123: kiln run
    /// build`), before waiting. `what` (the command line) is left in the file for the next
    /// waiter to read.
    pub fn acquire(root: &Path, what: &str, on_wait: impl FnOnce(&str)) -> std::io::Result<Self> {
        let mut file = open_lock(root, "run.lock")?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                on_wait(if holder.is_empty() {
                    "another kiln process"
                } else {
                    holder
                });
                file.lock()?;
            }
            Err(TryLockError::Error(e)) => return Err(e),
        }
        // Who holds it is only a courtesy for the next waiter: failing to say costs nothing.
        let _ = file
            .set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| writeln!(file, "pid {}: {what}", std::process::id()));
        Ok(RunLock {
            file: Mutex::new(Some(file)),
        })
    }

    /// Lets the next run in (idempotent). Called once only persistent tasks are left: they
    /// write nothing kiln caches, and a dev server must not keep every other run waiting.
    pub fn release(&self) {
        let taken = self.file.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(file) = taken {
            let _ = file.set_len(0);
            drop(file);
        }
    }
}

/// Takes every named lock in `names` (in name order), calling `on_wait(name)` once for each
/// one another process holds. `Ok(None)` when `stop()` turns true while waiting.
pub(crate) fn lock_named(
    root: &Path,
    names: &[String],
    stop: impl Fn() -> bool,
    on_wait: impl Fn(&str),
) -> std::io::Result<Option<Vec<TaskLock>>> {
    let mut sorted: Vec<&String> = names.iter().collect();
    sorted.sort();
    sorted.dedup();
    let mut held = Vec::with_capacity(sorted.len());
    for name in sorted {
        let readable: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .take(40)
            .collect();
        let digest = blake3::hash(name.as_bytes()).to_hex();
        let file = format!("named-{readable}-{}.lock", &digest[..12]);
        match lock_file(root, &file, &stop, || on_wait(name))? {
            Some(lock) => held.push(lock),
            None => return Ok(None),
        }
    }
    Ok(Some(held))
}

fn open_lock(root: &Path, file_name: &str) -> std::io::Result<File> {
    let dir = kiln_core::Layout::of(root).locks();
    fs_err::create_dir_all(&dir)?;
    Ok(fs_err::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(dir.join(file_name))?
        .into_parts()
        .0)
}

fn lock_file(
    root: &Path,
    file_name: &str,
    stop: impl Fn() -> bool,
    on_wait: impl FnOnce(),
) -> std::io::Result<Option<TaskLock>> {
    let file = open_lock(root, file_name)?;
    let mut on_wait = Some(on_wait);
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(Some(TaskLock { _file: file })),
            Err(TryLockError::WouldBlock) => {
                if let Some(f) = on_wait.take() {
                    f();
                }
                if stop() {
                    return Ok(None);
                }
                std::thread::sleep(POLL);
            }
            Err(TryLockError::Error(e)) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {

    use super::*;

    #[test]
    fn a_second_run_waits_for_the_first_and_is_told_who_holds_it() {
        let dir = tempfile::tempdir().unwrap();
        let first = RunLock::acquire(dir.path(), "kiln run build", |_| panic!("free")).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let root = dir.path().to_path_buf();
        let second = std::thread::spawn(move || {
            RunLock::acquire(&root, "kiln run test", |holder| {
                tx.send(holder.to_string()).unwrap()
            })
            .unwrap()
        });
        let holder = rx.recv().unwrap();
        assert_eq!(
            holder,
            format!("pid {}: kiln run build", std::process::id())
        );
        assert!(!second.is_finished(), "waits while the first holds it");
        first.release();
        first.release();
        let second = second.join().unwrap();
        drop(second);
        RunLock::acquire(dir.path(), "again", |_| panic!("dropped with its holder")).unwrap();
    }

    #[test]
    fn named_locks_are_shared_by_name_and_taken_all_or_none() {
        let dir = tempfile::tempdir().unwrap();
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let db = lock_named(dir.path(), &names(&["db"]), || false, |_| panic!()).unwrap();
        assert_eq!(db.as_ref().map(Vec::len), Some(1));
        let waited_for = std::cell::RefCell::new(Vec::new());
        let both = lock_named(
            dir.path(),
            &names(&["cache", "db"]),
            || true,
            |n| waited_for.borrow_mut().push(n.to_string()),
        )
        .unwrap();
        assert!(both.is_none(), "db is held: stopped while waiting");
        assert_eq!(*waited_for.borrow(), ["db"]);
        // `cache` was released when the attempt gave up.
        let cache = lock_named(dir.path(), &names(&["cache"]), || false, |_| panic!()).unwrap();
        assert!(cache.is_some());
        drop(db);
        let again = lock_named(dir.path(), &names(&["db", "db"]), || false, |_| panic!()).unwrap();
        assert_eq!(again.map(|v| v.len()), Some(1));
    }
}
