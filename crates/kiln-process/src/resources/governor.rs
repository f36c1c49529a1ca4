//! Turning memory pressure into a concurrency budget.
//!
//! kiln starts as many tasks at once as it has slots (the core count by default). Memory is
//! what a parallel build runs out of first: eight `tsc` or `rustc` processes at 2 GB each
//! will get one of them OOM-killed on a 16 GB laptop, a 7 GB CI runner, or a container.
//! The [`MemoryGovernor`] watches how much memory is left — the *headroom* — and moves the
//! slot budget so that a small machine slows down instead of failing.
//!
//! ```text
//!  headroom = min(sample.memory_available, memory_limit − rss of running tasks)
//!
//!  headroom < low_water          → pressure: slots = max(1, min(slots, running − 1))
//!  low_water ≤ headroom < high   → hold
//!  headroom ≥ high_water, and one more task of average size still leaves low_water,
//!    continuously for recovery_dwell  → slots + 1 (up to max_slots), dwell starts again
//! ```
//!
//! **Lowering is immediate, raising is slow.** A lowered budget costs only a delayed start
//! (no task is killed: the budget stops new starts, running ones finish); a budget raised too
//! early can cost an OOM kill. So one sample under low water lowers the budget below the
//! number of running tasks, and every further pressure sample follows the running count
//! down as tasks finish. Raising needs the headroom above high water without a break for
//! `recovery_dwell`, then adds one slot and starts the dwell again.
//!
//! **No flapping.** The gap between the two thresholds is the hysteresis band: a headroom
//! wobbling around low water lowers the budget and then holds it (it never reaches high
//! water); one wobbling around high water breaks the dwell every time it dips, so it never
//! raises. The "one more average task" check stops the other cycle — raise, start a big
//! task, fall under low water, lower — on machines where tasks are larger than the band.
//!
//! **Defaults** ([`GovernorConfig::for_machine`]): `low_water = max(min(512 MiB, pool/4),
//! pool/10)` where the pool is the machine's memory (or `--memory-limit`, if smaller). Ten
//! percent scales with the machine, and 512 MiB is roughly what one more compiler or bundler
//! process needs to start, which is what the reserve must cover on small machines; capping
//! the floor at a quarter keeps a 1 GiB container from being throttled from the start.
//! `high_water = 1.5 × low_water`: wide enough that the page cache refilling or one task's
//! allocation swinging does not cross both thresholds. `recovery_dwell = 2 s`: ten samples
//! at the 200 ms interval, and about the time a starting Node or JVM task takes to reach its
//! working set, so a raise sees the effect of the previous one.

use std::time::{Duration, Instant};

use super::machine::MachineSample;

/// How the [`MemoryGovernor`] decides; see the module doc for the defaults and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GovernorConfig {
    /// The most tasks at once (the user's `--concurrency`, or the core count).
    pub max_slots: usize,
    /// Headroom (bytes) below which the budget is lowered. Also the reserve kept out of
    /// [`Decision::memory`].
    pub low_water: u64,
    /// Headroom (bytes) above which, sustained, the budget is raised again.
    pub high_water: u64,
    /// `--memory-limit`: the most memory kiln's running tasks may hold together.
    pub memory_limit: Option<u64>,
    /// How long the headroom must stay above high water before each one-slot raise.
    pub recovery_dwell: Duration,
}

impl GovernorConfig {
    /// Default thresholds for a machine with `memory_total` bytes ([`MachineSample::memory_total`]).
    pub fn for_machine(max_slots: usize, memory_total: u64, memory_limit: Option<u64>) -> Self {
        const FLOOR: u64 = 512 << 20;
        let pool = memory_limit.map_or(memory_total, |limit| limit.min(memory_total));
        let low_water = FLOOR.min(pool / 4).max(pool / 10);
        GovernorConfig {
            max_slots,
            low_water,
            high_water: low_water + low_water / 2,
            memory_limit,
            recovery_dwell: Duration::from_secs(2),
        }
    }
}

/// What the budget should be now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// How many tasks may run at once (1..=max_slots).
    pub slots: usize,
    /// Bytes that tasks may still take on top of what running tasks hold: headroom minus
    /// the low-water reserve. For weighting tasks that declare `memory`. `None` before the
    /// first sample (nothing known: do not limit).
    pub memory: Option<u64>,
}

/// The slot budget, moved by memory headroom with hysteresis. Pure logic: feed it samples.
#[derive(Debug, Clone)]
pub struct MemoryGovernor {
    config: GovernorConfig,
    slots: usize,
    memory: Option<u64>,
    /// When the headroom last went (and stayed) above high water.
    calm_since: Option<Instant>,
}

impl MemoryGovernor {
    /// Starts at `max_slots`. A `max_slots` of 0 is taken as 1, and a `high_water` below
    /// `low_water` as equal to it (no band is still no flapping in one direction).
    pub fn new(mut config: GovernorConfig) -> Self {
        config.max_slots = config.max_slots.max(1);
        config.high_water = config.high_water.max(config.low_water);
        MemoryGovernor {
            slots: config.max_slots,
            memory: None,
            calm_since: None,
            config,
        }
    }

    /// The configuration in force (after the adjustments of [`MemoryGovernor::new`]).
    pub fn config(&self) -> &GovernorConfig {
        &self.config
    }

    /// The current decision, without a new sample.
    pub fn decision(&self) -> Decision {
        Decision {
            slots: self.slots,
            memory: self.memory,
        }
    }

    /// Folds in one machine sample. `running_tasks` is how many tasks are running now and
    /// `running_task_rss` the resident memory their process trees hold together (the sum of
    /// their [`crate::TreeSample::rss`]).
    pub fn update(
        &mut self,
        sample: &MachineSample,
        running_tasks: usize,
        running_task_rss: u64,
    ) -> Decision {
        let config = &self.config;
        let headroom = match config.memory_limit {
            Some(limit) => sample
                .memory_available
                .min(limit.saturating_sub(running_task_rss)),
            None => sample.memory_available,
        };
        self.memory = Some(headroom.saturating_sub(config.low_water));

        if headroom < config.low_water {
            self.calm_since = None;
            let below_running = running_tasks.saturating_sub(1).max(1);
            let lowered = self.slots.min(below_running);
            if lowered < self.slots {
                tracing::info!(
                    from = self.slots,
                    to = lowered,
                    headroom,
                    low_water = config.low_water,
                    "memory is short; lowering the task budget"
                );
                self.slots = lowered;
            }
        } else if headroom >= config.high_water
            && room_for_one_more(config, headroom, running_tasks, running_task_rss)
        {
            let since = *self.calm_since.get_or_insert(sample.at);
            if self.slots < config.max_slots
                && sample.at.saturating_duration_since(since) >= config.recovery_dwell
            {
                self.slots += 1;
                self.calm_since = Some(sample.at);
                tracing::info!(
                    to = self.slots,
                    headroom,
                    "memory recovered; raising the task budget"
                );
            }
        } else {
            self.calm_since = None;
        }
        self.decision()
    }
}

/// Whether starting one more task as large as the running ones' average would still leave
/// the low-water reserve.
fn room_for_one_more(config: &GovernorConfig, headroom: u64, running: usize, rss: u64) -> bool {
    let average = if running == 0 {
        0
    } else {
        rss / running as u64
    };
    headroom.saturating_sub(average) >= config.low_water
}

#[cfg(test)]
#[path = "governor_tests.rs"]
mod tests;
