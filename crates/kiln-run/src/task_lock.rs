//! One task at a time per repository, across kiln processes.
//!
//! Two kiln processes on one repository (a terminal and an editor, `kiln run lint & kiln run
//! test`) may both need `ui#build`. Run at once, one would pack the other's half-written
//! outputs, or delete files the other just restored. So a task's whole life — cache lookup,
//! restore or execute, store — holds an exclusive OS file lock on
//! `.kiln/locks/<digest of the task id>.lock`. The second process waits, then finds the
//! first one's result in the cache. The OS drops the lock when its holder dies, so a killed
//! kiln never leaves a task locked.

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
    let dir = root.join(".kiln").join("locks");
    fs_err::create_dir_all(&dir)?;
    let name = blake3::hash(id.to_string().as_bytes()).to_hex();
    let path = dir.join(format!("{}.lock", &name[..32]));
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
