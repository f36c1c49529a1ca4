//! The pick policy on its own, one pick at a time: no threads, so every step is exact.

use super::*;

const GB: u64 = 1 << 30;

fn spec(priority: u64, cpus: u32, memory: u64) -> NodeSpec {
    NodeSpec {
        priority,
        cpus,
        memory,
        ..NodeSpec::default()
    }
}

fn locked(priority: u64, locks: Vec<usize>) -> NodeSpec {
    NodeSpec {
        locks,
        ..NodeSpec::with_priority(priority)
    }
}

/// Independent nodes, all ready.
fn ready(specs: Vec<NodeSpec>) -> (Dag, Ready) {
    let dag = Dag::with_specs(vec![vec![]; specs.len()], specs).unwrap();
    let mut ready = Ready::new(&dag);
    for node in 0..dag.len() {
        ready.push(&dag, node);
    }
    (dag, ready)
}

fn slots(slots: u64) -> Limits {
    Limits {
        slots,
        memory: None,
    }
}

#[test]
fn the_most_urgent_fitting_node_starts_first() {
    let (dag, mut ready) = ready(vec![spec(1, 1, 0), spec(5, 1, 0), spec(3, 1, 0)]);
    assert_eq!(ready.take(&dag, slots(8)), Some(1));
    assert_eq!(ready.take(&dag, slots(8)), Some(2));
    assert_eq!(ready.take(&dag, slots(8)), Some(0));
    assert_eq!(ready.take(&dag, slots(8)), None);
    assert!(ready.is_empty());
}

#[test]
fn weights_add_up_against_the_slots() {
    let (dag, mut ready) = ready(vec![spec(0, 2, 0), spec(0, 2, 0)]);
    assert_eq!(ready.take(&dag, slots(3)), Some(0));
    assert_eq!(ready.take(&dag, slots(3)), None, "2 + 2 > 3");
    assert!(!ready.may_start(slots(3)));
    ready.finish(&dag, 0);
    assert_eq!(ready.take(&dag, slots(3)), Some(1));
}

#[test]
fn a_node_bigger_than_the_budget_starts_only_when_nothing_holds_cpus() {
    let (dag, mut ready) = ready(vec![spec(0, 1, 0), spec(0, 8, 0), spec(0, 1, 0)]);
    assert_eq!(ready.take(&dag, slots(2)), Some(0));
    // 8 never fits beside anything; the small node after it may bypass it.
    assert_eq!(ready.take(&dag, slots(2)), Some(2));
    ready.finish(&dag, 0);
    assert_eq!(ready.take(&dag, slots(2)), None);
    ready.finish(&dag, 2);
    assert_eq!(ready.take(&dag, slots(2)), Some(1));
}

#[test]
fn zero_slots_run_one_node_at_a_time() {
    let (dag, mut ready) = ready(vec![spec(0, 1, 0), spec(0, 1, 0)]);
    assert_eq!(ready.take(&dag, slots(0)), Some(0));
    assert_eq!(ready.take(&dag, slots(0)), None);
}

#[test]
fn memory_is_a_second_dimension_and_none_ignores_it() {
    let limit = Limits {
        slots: 8,
        memory: Some(GB),
    };
    let (dag, mut ready) = ready(vec![spec(0, 1, 600 << 20), spec(0, 1, 600 << 20)]);
    assert_eq!(ready.take(&dag, limit), Some(0));
    assert_eq!(ready.take(&dag, limit), None, "1.2 GB > 1 GB");
    assert_eq!(ready.take(&dag, slots(8)), Some(1), "no memory limit");
}

#[test]
fn free_nodes_start_even_when_the_budget_is_full() {
    let persistent = NodeSpec {
        persistent: true,
        ..spec(0, 4, GB)
    };
    let (dag, mut ready) = ready(vec![
        spec(9, 1, 0),
        persistent,
        spec(0, 0, 0),
        spec(5, 1, 0),
    ]);
    assert_eq!(ready.take(&dag, slots(1)), Some(0));
    assert_eq!(
        ready.take(&dag, slots(1)),
        Some(1),
        "persistent holds nothing"
    );
    assert_eq!(ready.take(&dag, slots(1)), Some(2), "cpus 0 costs nothing");
    assert_eq!(ready.take(&dag, slots(1)), None);
    ready.finish(&dag, 0);
    assert_eq!(ready.take(&dag, slots(1)), Some(3));
}

#[test]
fn an_urgent_node_is_bypassed_at_most_slots_times_then_reserves() {
    // Node 0 runs; node 1 (urgent, 2 cpus) cannot fit beside it; small nodes 2.. stream by.
    let mut specs = vec![spec(100, 1, 0), spec(50, 2, 0)];
    specs.extend((0..10).map(|_| spec(1, 1, 0)));
    let (dag, mut ready) = ready(specs);
    let limit = slots(2);
    assert_eq!(ready.take(&dag, limit), Some(0));
    assert_eq!(ready.take(&dag, limit), Some(2), "first bypass");
    ready.finish(&dag, 0);
    assert_eq!(ready.take(&dag, limit), Some(3), "second bypass");
    ready.finish(&dag, 2);
    assert_eq!(ready.take(&dag, limit), None, "reserved for node 1");
    ready.finish(&dag, 3);
    assert_eq!(ready.take(&dag, limit), Some(1));
}

#[test]
fn a_reservation_does_not_hold_back_free_nodes() {
    let (dag, mut ready) = ready(vec![
        spec(100, 1, 0),
        spec(50, 2, 0),
        spec(1, 1, 0),
        spec(1, 0, 0),
    ]);
    let limit = slots(1);
    assert_eq!(ready.take(&dag, limit), Some(0));
    assert_eq!(
        ready.take(&dag, limit),
        Some(3),
        "free, though node 1 waits"
    );
    ready.finish(&dag, 0);
    // Nothing holds cpus now: node 1 runs alone despite asking 2 of 1.
    assert_eq!(ready.take(&dag, limit), Some(1));
}

#[test]
fn a_held_lock_parks_its_waiters_without_blocking_others() {
    let (dag, mut ready) = ready(vec![
        locked(9, vec![7]),
        locked(8, vec![7]),
        locked(1, vec![]),
    ]);
    assert_eq!(ready.take(&dag, slots(8)), Some(0));
    assert_eq!(
        ready.take(&dag, slots(8)),
        Some(2),
        "node 1 waits for lock 7"
    );
    assert_eq!(ready.take(&dag, slots(8)), None);
    assert!(!ready.is_empty(), "a parked node is still waiting");
    ready.finish(&dag, 0);
    assert_eq!(ready.take(&dag, slots(8)), Some(1));
}

#[test]
fn a_node_takes_all_its_locks_at_once() {
    let (dag, mut ready) = ready(vec![
        locked(9, vec![1]),
        locked(8, vec![1, 2]),
        locked(7, vec![2]),
    ]);
    assert_eq!(ready.take(&dag, slots(8)), Some(0));
    assert_eq!(ready.take(&dag, slots(8)), Some(2), "lock 2 is free");
    ready.finish(&dag, 0);
    assert_eq!(
        ready.take(&dag, slots(8)),
        None,
        "node 1 now waits for lock 2"
    );
    ready.finish(&dag, 2);
    assert_eq!(ready.take(&dag, slots(8)), Some(1));
}

#[test]
fn a_lock_blocked_node_is_not_counted_as_bypassed() {
    // Node 1 needs lock 0 (held by node 0) and more cpus than fit: it is parked, not passed.
    let (dag, mut ready) = ready(vec![
        NodeSpec {
            locks: vec![0],
            ..spec(100, 1, 0)
        },
        NodeSpec {
            locks: vec![0],
            ..spec(50, 2, 0)
        },
        spec(1, 1, 0),
    ]);
    assert_eq!(ready.take(&dag, slots(2)), Some(0));
    assert_eq!(ready.take(&dag, slots(2)), Some(2));
    assert_eq!(ready.passed_over[1], 0);
}
