//! The run's resource loop: every 200 ms, sample the machine and every running task's
//! process tree, let the memory governor set the budget (fewer tasks under memory pressure,
//! back up when memory recovers), and tell subscribers what was seen (live view, trace).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use kiln_core::{Event, ResourceSample};

use crate::events::Emitter;
use kiln_process::{
    GovernorConfig, MachineSampler, MemoryGovernor, Monitor, ProcessRegistry, TreeTracker,
};
use kiln_scheduler::Budget;

const INTERVAL: Duration = Duration::from_millis(200);

/// Starts the loop; it stops when the returned monitor is stopped or dropped. `None` where
/// the machine cannot be sampled (the budget then stays as set). `trees` collects each
/// process group's totals, for the task that owns it to take when it ends.
pub(crate) fn start(
    budget: &Budget,
    memory_limit: Option<u64>,
    registry: &ProcessRegistry,
    events: &Emitter,
    trees: &Arc<Mutex<TreeTracker>>,
) -> Option<Monitor> {
    let max_slots = budget.slots().max(1);
    let total = MachineSampler::new().sample()?.memory_total;
    let mut governor =
        MemoryGovernor::new(GovernorConfig::for_machine(max_slots, total, memory_limit));
    let (budget, registry, events) = (budget.clone(), registry.clone(), events.clone());
    let tracker = Arc::clone(trees);
    let groups = {
        let registry = registry.clone();
        move || registry.pgids()
    };
    let monitor = Monitor::spawn(INTERVAL, groups, move |machine, trees| {
        let tasks_rss: u64 = trees.values().map(|t| t.rss).sum();
        tracker
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .record(trees);
        let decision = governor.update(machine, trees.len(), tasks_rss);
        if decision.slots != budget.slots() {
            tracing::info!(
                slots = decision.slots,
                available_mb = machine.memory_available / 1_000_000,
                "memory budget changed"
            );
        }
        budget.set_slots(decision.slots);
        budget.set_memory(decision.memory);
        events.emit(Event::Resources(ResourceSample {
            at: machine.at,
            cpu_busy: machine.cpu_busy,
            memory_total: machine.memory_total,
            memory_available: machine.memory_available,
            tasks_rss,
            running: registry.len(),
            budget_slots: decision.slots,
        }));
    });
    match monitor {
        Ok(monitor) => Some(monitor),
        Err(e) => {
            tracing::warn!("cannot watch memory use ({e}); the budget stays fixed");
            None
        }
    }
}
