//! One task at a time per repository, across kiln processes.
//!
//! Two kiln processes on one repository (a terminal and an editor, `kiln run lint & kiln run
//! test`) may both need `ui#build`. Run at once, one would pack the other's half-written
//! outputs, or delete files the other just restored. So a task's whole life — cache lookup,
//! restore or execute, store — holds an exclusive OS file lock on
//! `.kiln/locks/<digest of the task id>.lock`. The second process waits, then finds the
//! first one's result in the cache. The OS drops the lock when its holder dies, so a killed
//! kiln never leaves a task locked.
//!
//! Named locks (`locks = ["postgres"]`) work the same way on `.kiln/locks/named-…`: a task
//! takes all of its named locks, in name order (so two tasks can never wait for each other),
//! just before its command runs, and holds them until it ends. The scheduler already keeps
//! two holders apart within one run; the file lock extends that to every kiln process on the
//! repository.

use std::fs::{File, TryLockError};
use std::path::Path;
use std::time::Duration;

use kiln_core::TaskId;

/// How often a waiting task looks at the lock again (and at Ctrl-C).
const POLL: Duration = Duration::from_millis(20);

/// Holds the lock until dropped.
#[derive(Debug)]
pub(crate) struct TaskLock {
    _file: File,
}

/// Takes the lock of `id`, calling `on_wait` once if another process holds it. Returns
/// `Ok(None)` when `stop()` turns true while waiting.
pub(crate) fn lock_task(
    root: &Path,
    id: &TaskId,
    stop: impl Fn() -> bool,
    on_wait: impl FnOnce(),
) -> std::io::Result<Option<TaskLock>> {
    let name = blake3::hash(id.to_string().as_bytes()).to_hex();
    lock_file(root, &format!("{}.lock", &name[..32]), stop, on_wait)
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

fn lock_file(
    root: &Path,
    file_name: &str,
    stop: impl Fn() -> bool,
    on_wait: impl FnOnce(),
) -> std::io::Result<Option<TaskLock>> {
    let dir = root.join(".kiln").join("locks");
    fs_err::create_dir_all(&dir)?;
    let path = dir.join(file_name);
    let file = fs_err::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)?
        .into_parts()
        .0;
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
    use std::cell::Cell;

    use super::*;

    #[test]
    fn a_held_lock_makes_the_second_taker_wait_and_stop_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let id = TaskId::new("web", "build");
        let first = lock_task(dir.path(), &id, || false, || panic!("free lock")).unwrap();
        assert!(first.is_some());
        let waited = Cell::new(false);
        let second = lock_task(dir.path(), &id, || true, || waited.set(true)).unwrap();
        assert!(second.is_none(), "stopped while waiting");
        assert!(waited.get(), "told the caller it waits");
        drop(first);
        let third = lock_task(dir.path(), &id, || false, || panic!("released")).unwrap();
        assert!(third.is_some());
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

    #[test]
    fn different_tasks_do_not_share_a_lock() {
        let dir = tempfile::tempdir().unwrap();
        let a = lock_task(
            dir.path(),
            &TaskId::new("a", "build"),
            || false,
            || panic!(),
        )
        .unwrap();
        let b = lock_task(
            dir.path(),
            &TaskId::new("b", "build"),
            || false,
            || panic!(),
        )
        .unwrap();
        assert!(a.is_some() && b.is_some());
    }
}
