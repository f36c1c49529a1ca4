//! The sampling thread: every interval, one machine sample and one pass over the running
//! task groups, handed to a callback (where the caller runs the governor and emits events).
//!
//! The interval is a `recv_timeout` on a stop channel rather than a sleep, so
//! [`Monitor::stop`] (or dropping the [`Monitor`]) wakes the thread at once: shutdown waits
//! at most for a sample in progress, never for the rest of an interval.

use std::collections::HashMap;
use std::io;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use super::machine::{MachineSample, MachineSampler};
use super::tree::{TreeSample, sample_groups};

/// A running sampling thread; stops on [`Monitor::stop`] or drop.
#[derive(Debug)]
pub struct Monitor {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Monitor {
    /// Starts sampling every `interval` (the first sample one interval from now, so its CPU
    /// figure covers a real interval). Each tick calls `groups` for the process-group ids to
    /// sample, then `on_sample` with the machine and the groups that still have processes.
    ///
    /// Where the machine cannot be sampled (no `/proc`), the thread idles and `on_sample` is
    /// never called. Fails only if the thread cannot be created.
    pub fn spawn(
        interval: Duration,
        groups: impl Fn() -> Vec<i32> + Send + 'static,
        mut on_sample: impl FnMut(&MachineSample, &HashMap<i32, TreeSample>) + Send + 'static,
    ) -> io::Result<Monitor> {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = thread::Builder::new()
            .name("kiln-monitor".into())
            .spawn(move || {
                let mut sampler = MachineSampler::new();
                // A message or a dropped sender both mean stop.
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(interval) {
                    let Some(machine) = sampler.sample() else {
                        continue;
                    };
                    let trees = sample_groups(&groups());
                    on_sample(&machine, &trees);
                }
            })?;
        Ok(Monitor {
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Stops the thread and waits for it (at most for a sample in progress). A panic in a
    /// callback is logged, not propagated: losing the monitor must not fail the build.
    pub fn stop(mut self) {
        self.shut_down();
    }

    fn shut_down(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("the resource monitor thread panicked");
        }
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        self.shut_down();
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::os::unix::process::CommandExt;
    use std::process::Command;
    use std::time::Instant;

    use super::*;

    #[test]
    fn samples_arrive_every_interval_with_the_requested_groups() {
        let mut child = Command::new("sleep")
            .arg("30")
            .process_group(0)
            .spawn()
            .unwrap();
        let pgid = child.id() as i32;
        let (tx, rx) = mpsc::channel();
        let monitor = Monitor::spawn(
            Duration::from_millis(20),
            move || vec![pgid],
            move |machine, trees| {
                let _ = tx.send((machine.clone(), trees.get(&pgid).copied()));
            },
        )
        .unwrap();
        let (first, tree) = rx.recv_timeout(Duration::from_secs(20)).unwrap();
        let (second, _) = rx.recv_timeout(Duration::from_secs(20)).unwrap();
        monitor.stop();
        assert!(second.at > first.at);
        let tree = tree.expect("the sleep's group was sampled");
        assert_eq!(tree.processes, 1);
        assert!(tree.rss > 0);
        // SAFETY: kill(2) on our own child's group.
        unsafe { libc::kill(-pgid, libc::SIGKILL) };
        child.wait().unwrap();
    }

    #[test]
    fn stop_returns_at_once_even_with_a_long_interval() {
        let monitor = Monitor::spawn(Duration::from_secs(3600), Vec::new, |_, _| {
            unreachable!("no sample within an hour")
        })
        .unwrap();
        let started = Instant::now();
        monitor.stop();
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn a_panicking_callback_does_not_take_the_caller_down() {
        let (tx, rx) = mpsc::channel();
        let monitor = Monitor::spawn(Duration::from_millis(1), Vec::new, move |_, _| {
            let _ = tx.send(());
            panic!("callback bug");
        })
        .unwrap();
        rx.recv_timeout(Duration::from_secs(20)).unwrap();
        drop(monitor);
    }
}
