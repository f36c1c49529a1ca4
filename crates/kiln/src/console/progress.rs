//! Where a run stands: the tasks running now, how many ended and how, and when it should end.
//!
//! The estimate is deliberately simple: the tasks that have not started are expected to
//! share the workers evenly (their expected times summed, divided by the concurrency), and
//! the run cannot end before the running task with the most expected time left. Expected
//! times come from history, for the tasks that will probably execute; a task without one
//! (a cache hit, or never run before) counts as nothing, and when no task left has one the
//! ETA is unknown rather than a guess.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use kiln_core::{CacheStatus, Event, TaskId, TaskOutcome};

/// A task that started and has not ended.
#[derive(Clone, Debug)]
pub(crate) struct Running {
    pub(crate) id: TaskId,
    pub(crate) since: Instant,
    /// Its command runs (a miss), as opposed to a lookup or restore.
    pub(crate) executing: bool,
}

/// How many tasks ended, by how.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    /// Ran (or had nothing to run) and succeeded.
    pub(crate) done: usize,
    pub(crate) cached: usize,
    pub(crate) failed: usize,
    /// Skipped after a failure, or not started because the run stopped.
    pub(crate) skipped: usize,
}

impl Counts {
    fn ended(&self) -> usize {
        self.done + self.cached + self.failed + self.skipped
    }
}

pub(crate) struct Progress {
    total: usize,
    concurrency: usize,
    estimates: HashMap<TaskId, Duration>,
    /// In the order they started.
    running: Vec<Running>,
    /// Tasks no longer waiting: their estimate has left `waiting_work`.
    accounted: HashSet<TaskId>,
    /// Expected time of the tasks with an estimate that have not started.
    waiting_work: Duration,
    waiting_known: usize,
    counts: Counts,
}

impl Progress {
    pub(crate) fn new(
        total: usize,
        concurrency: usize,
        estimates: HashMap<TaskId, Duration>,
    ) -> Self {
        Progress {
            total,
            concurrency: concurrency.max(1),
            waiting_work: estimates.values().sum(),
            waiting_known: estimates.len(),
            estimates,
            running: Vec::new(),
            accounted: HashSet::new(),
            counts: Counts::default(),
        }
    }

    pub(crate) fn observe(&mut self, event: &Event) {
        match event {
            Event::TaskStarted { id, at, .. } => {
                self.leave_waiting(id);
                self.running.push(Running {
                    id: id.clone(),
                    since: *at,
                    executing: false,
                });
            }
            Event::Planned { tasks, estimates } => {
                self.total = *tasks;
                self.waiting_work = estimates.values().sum();
                self.waiting_known = estimates.len();
                self.estimates = estimates.clone();
            }
            Event::Executing { id, .. } => {
                if let Some(r) = self.running.iter_mut().find(|r| &r.id == id) {
                    r.executing = true;
                }
            }
            Event::TaskFinished(report) => {
                self.leave_waiting(&report.id);
                self.running.retain(|r| r.id != report.id);
                let c = &mut self.counts;
                match (&report.outcome, report.cache) {
                    (TaskOutcome::Succeeded, CacheStatus::Hit(_)) => c.cached += 1,
                    (TaskOutcome::Succeeded, _) => c.done += 1,
                    (TaskOutcome::Failed { .. }, _) => c.failed += 1,
                    (TaskOutcome::Skipped { .. } | TaskOutcome::Cancelled, _) => c.skipped += 1,
                }
            }
            _ => {}
        }
    }

    fn leave_waiting(&mut self, id: &TaskId) {
        if self.accounted.insert(id.clone())
            && let Some(expected) = self.estimates.get(id)
        {
            self.waiting_work = self.waiting_work.saturating_sub(*expected);
            self.waiting_known -= 1;
        }
    }

    pub(crate) fn running(&self) -> &[Running] {
        &self.running
    }

    pub(crate) fn counts(&self) -> Counts {
        self.counts
    }

    /// Tasks that have not ended (running ones included).
    pub(crate) fn left(&self) -> usize {
        self.total.saturating_sub(self.counts.ended())
    }

    /// The expected time left of a running task: `None` without an estimate.
    pub(crate) fn remaining(&self, task: &Running, now: Instant) -> Option<Duration> {
        let expected = self.estimates.get(&task.id)?;
        Some(expected.saturating_sub(now.saturating_duration_since(task.since)))
    }

    /// When the run should end, from `now`: `None` when no task left has an estimate.
    pub(crate) fn eta(&self, now: Instant) -> Option<Duration> {
        if self.left() == 0 {
            return Some(Duration::ZERO);
        }
        let running: Vec<Duration> = self
            .running
            .iter()
            .filter_map(|r| self.remaining(r, now))
            .collect();
        if self.waiting_known == 0 && running.is_empty() {
            return None;
        }
        let longest = running.into_iter().max().unwrap_or_default();
        Some(self.waiting_work / self.concurrency as u32 + longest)
    }
}

#[cfg(test)]
mod tests {
    use kiln_core::TaskReport;

    use super::*;

    fn id(s: &str) -> TaskId {
        TaskId::parse(s).unwrap()
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn started(task: &str, at: Instant) -> Event {
        Event::TaskStarted {
            id: id(task),
            key: kiln_core::TaskKey::from_bytes([0; 32]),
            worker: 0,
            at,
        }
    }

    fn finished(task: &str, outcome: TaskOutcome, cache: CacheStatus) -> Event {
        Event::TaskFinished(TaskReport {
            id: id(task),
            key: kiln_core::TaskKey::from_bytes([0; 32]),
            outcome,
            cache,
            duration: Duration::ZERO,
            saved: Duration::ZERO,
            reason: None,
            executed: false,
            resources: None,
            started_unix_ms: None,
        })
    }

    /// Four tasks expected to take 10s, 20s, 30s and 40s, on 2 workers.
    fn four_tasks() -> Progress {
        let estimates = [("a#t", 10), ("b#t", 20), ("c#t", 30), ("d#t", 40)]
            .into_iter()
            .map(|(t, s)| (id(t), secs(s)))
            .collect();
        Progress::new(5, 2, estimates)
    }

    #[test]
    fn before_anything_starts_the_work_is_shared_by_the_workers() {
        assert_eq!(four_tasks().eta(Instant::now()), Some(secs(50)));
    }

    #[test]
    fn a_running_task_adds_what_is_left_of_it() {
        let mut p = four_tasks();
        let t0 = Instant::now();
        p.observe(&started("d#t", t0));
        // (10 + 20 + 30) / 2 waiting, and 40 - 15 left of the running one.
        assert_eq!(p.eta(t0 + secs(15)), Some(secs(30 + 25)));
        // A task over its estimate adds nothing more.
        assert_eq!(p.eta(t0 + secs(60)), Some(secs(30)));
    }

    #[test]
    fn ended_tasks_leave_the_estimate_and_are_counted_by_how_they_ended() {
        let mut p = four_tasks();
        let t0 = Instant::now();
        p.observe(&started("a#t", t0));
        p.observe(&finished("a#t", TaskOutcome::Succeeded, CacheStatus::Miss));
        p.observe(&started("b#t", t0));
        p.observe(&finished(
            "b#t",
            TaskOutcome::Succeeded,
            CacheStatus::Hit(kiln_core::CacheSource::Local),
        ));
        // Never started: skipped after a failure.
        p.observe(&finished(
            "c#t",
            TaskOutcome::Skipped { because: id("x#t") },
            CacheStatus::Miss,
        ));
        p.observe(&started("e#t", t0));
        p.observe(&finished(
            "e#t",
            TaskOutcome::Failed { code: 1 },
            CacheStatus::Miss,
        ));
        assert_eq!(
            p.counts(),
            Counts {
                done: 1,
                cached: 1,
                failed: 1,
                skipped: 1
            }
        );
        assert_eq!(p.left(), 1);
        assert_eq!(p.eta(t0), Some(secs(20)));
        assert!(p.running().is_empty());
    }

    #[test]
    fn without_an_estimate_for_any_task_left_the_eta_is_unknown() {
        let t0 = Instant::now();
        assert_eq!(Progress::new(3, 4, HashMap::new()).eta(t0), None);
        let mut p = Progress::new(2, 1, [(id("a#t"), secs(5))].into_iter().collect());
        p.observe(&started("a#t", t0));
        assert_eq!(p.eta(t0 + secs(1)), Some(secs(4)));
        p.observe(&finished("a#t", TaskOutcome::Succeeded, CacheStatus::Miss));
        p.observe(&started("b#t", t0));
        assert_eq!(p.eta(t0 + secs(1)), None);
        p.observe(&finished("b#t", TaskOutcome::Succeeded, CacheStatus::Miss));
        assert_eq!(p.eta(t0 + secs(1)), Some(Duration::ZERO));
    }
}
