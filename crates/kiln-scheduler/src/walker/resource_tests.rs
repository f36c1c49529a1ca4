//! Walks with weights, memory, locks, persistent nodes and worker indices, on real threads.
//! Overlaps are measured with counters of what runs at once (the peak observed); the order of
//! events is forced with gates and channels, never with sleeps.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, mpsc};
use std::time::Duration;

use super::tests::{Gates, recv};
use super::*;
use crate::NodeSpec;

const MB: u64 = 1 << 20;

/// A graph by name: `(name, deps, spec)`; node indices follow the listing order.
struct Graph {
    names: Vec<&'static str>,
    dag: Dag,
}

impl Graph {
    fn new(nodes: Vec<(&'static str, &[&'static str], NodeSpec)>) -> Graph {
        let names: Vec<_> = nodes.iter().map(|(name, _, _)| *name).collect();
        let index = |name: &str| names.iter().position(|n| *n == name).unwrap();
        let deps = nodes
            .iter()
            .map(|(_, deps, _)| deps.iter().map(|d| index(d)).collect())
            .collect();
        let specs = nodes.into_iter().map(|(_, _, spec)| spec).collect();
        Graph {
            dag: Dag::with_specs(deps, specs).unwrap(),
            names,
        }
    }

    fn walk(
        &self,
        opts: &WalkOptions,
        cancel: &CancelToken,
        work: impl Fn(&'static str) -> NodeResult + Sync,
    ) -> Vec<(&'static str, NodeState)> {
        let states = run(&self.dag, opts, cancel, |i| work(self.names[i]));
        self.names.iter().copied().zip(states).collect()
    }
}

fn cpus(priority: u64, cpus: u32) -> NodeSpec {
    NodeSpec {
        cpus,
        ..NodeSpec::with_priority(priority)
    }
}

fn memory(priority: u64, bytes: u64) -> NodeSpec {
    NodeSpec {
        memory: bytes,
        ..NodeSpec::with_priority(priority)
    }
}

fn locked(priority: u64, locks: &[usize]) -> NodeSpec {
    NodeSpec {
        locks: locks.to_vec(),
        ..NodeSpec::with_priority(priority)
    }
}

fn budget(slots: usize, memory: Option<u64>) -> WalkOptions {
    WalkOptions {
        concurrency: Budget::with_memory(slots, memory),
        on_failure: OnFailure::Stop,
    }
}

fn all_succeeded(states: &[(&str, NodeState)]) -> bool {
    states.iter().all(|(_, s)| *s == NodeState::Succeeded)
}

/// How much of something is in use right now, and the most ever seen at once.
#[derive(Default)]
struct Meter {
    now: AtomicU64,
    peak: AtomicU64,
}

impl Meter {
    /// Adds `amount`, returning the total in use including it.
    fn enter(&self, amount: u64) -> u64 {
        let now = self.now.fetch_add(amount, Ordering::SeqCst) + amount;
        self.peak.fetch_max(now, Ordering::SeqCst);
        now
    }
    fn leave(&self, amount: u64) {
        self.now.fetch_sub(amount, Ordering::SeqCst);
    }
    fn now(&self) -> u64 {
        self.now.load(Ordering::SeqCst)
    }
    fn peak(&self) -> u64 {
        self.peak.load(Ordering::SeqCst)
    }
}

/// Widens the window in which a wrongly allowed overlap would show on a meter.
fn linger() {
    for _ in 0..20 {
        std::thread::yield_now();
    }
}

/// Blocks until `count` reaches `target`; panics instead of hanging if it never does.
struct Counter {
    count: Mutex<usize>,
    changed: Condvar,
}

impl Counter {
    fn new() -> Self {
        Counter {
            count: Mutex::new(0),
            changed: Condvar::new(),
        }
    }
    fn bump(&self) {
        *self.count.lock().unwrap() += 1;
        self.changed.notify_all();
    }
    fn wait_for(&self, target: usize) {
        let count = self.count.lock().unwrap();
        let (_count, timeout) = self
            .changed
            .wait_timeout_while(count, Duration::from_secs(10), |c| *c < target)
            .unwrap();
        assert!(!timeout.timed_out(), "the walk stalled");
    }
}

#[test]
fn two_nodes_of_two_cpus_never_share_three_slots_but_a_small_one_fills_the_gap() {
    let graph = Graph::new(vec![
        ("a", &[], cpus(10, 2)),
        ("b", &[], cpus(9, 2)),
        ("small", &[], cpus(1, 1)),
    ]);
    let gates = Gates::new(1);
    let a_entered = Counter::new();
    let (small_started, small) = mpsc::channel();
    let big = Meter::default();
    let slots = Meter::default();
    let (states, beside_small) = std::thread::scope(|s| {
        let walk = s.spawn(|| {
            graph.walk(&budget(3, None), &CancelToken::new(), |name| {
                let weight = if name == "small" { 1 } else { 2 };
                slots.enter(weight);
                if name == "small" {
                    a_entered.wait_for(1);
                    small_started.send(big.now()).unwrap();
                } else {
                    big.enter(1);
                    if name == "a" {
                        a_entered.bump();
                        gates.wait(0);
                    }
                    linger();
                    big.leave(1);
                }
                slots.leave(weight);
                NodeResult::Success
            })
        });
        let beside_small = recv(&small);
        gates.open(0);
        (walk.join().unwrap(), beside_small)
    });
    // Only "a" runs beside "small": "b", more urgent, was passed over for not fitting.
    assert_eq!(beside_small, 1);
    assert!(all_succeeded(&states));
    assert_eq!(big.peak(), 1);
    assert!(slots.peak() <= 3);
}

#[test]
fn a_node_wider_than_the_slots_runs_alone() {
    let mut nodes = vec![("wide", &[] as &[&str], cpus(5, 8))];
    let smalls = [
        "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11",
    ];
    nodes.extend(smalls.iter().enumerate().map(|(i, name)| {
        let priority = if i % 2 == 0 { 9 } else { 1 };
        (*name, &[] as &[&str], cpus(priority, 1))
    }));
    let graph = Graph::new(nodes);
    let running = Meter::default();
    let wide_running = AtomicBool::new(false);
    let states = graph.walk(&budget(2, None), &CancelToken::new(), |name| {
        let now = running.enter(1);
        if name == "wide" {
            assert_eq!(now, 1, "the wide node started beside another");
            wide_running.store(true, Ordering::SeqCst);
            linger();
            wide_running.store(false, Ordering::SeqCst);
        } else {
            assert!(
                !wide_running.load(Ordering::SeqCst),
                "{name} ran beside the wide node"
            );
            linger();
        }
        running.leave(1);
        NodeResult::Success
    });
    assert!(all_succeeded(&states));
    assert!(running.peak() <= 2);
}

#[test]
fn two_600_mb_nodes_never_share_1_gb_but_a_300_mb_one_fits_beside_one() {
    let graph = Graph::new(vec![
        ("a", &[], memory(10, 600 * MB)),
        ("b", &[], memory(9, 600 * MB)),
        ("small", &[], memory(1, 300 * MB)),
    ]);
    let gates = Gates::new(1);
    let a_entered = Counter::new();
    let (small_started, small) = mpsc::channel();
    let big = Meter::default();
    let (states, beside_small) = std::thread::scope(|s| {
        let walk = s.spawn(|| {
            graph.walk(&budget(8, Some(1024 * MB)), &CancelToken::new(), |name| {
                if name == "small" {
                    a_entered.wait_for(1);
                    small_started.send(big.now()).unwrap();
                } else {
                    big.enter(1);
                    if name == "a" {
                        a_entered.bump();
                        gates.wait(0);
                    }
                    linger();
                    big.leave(1);
                }
                NodeResult::Success
            })
        });
        let beside_small = recv(&small);
        gates.open(0);
        (walk.join().unwrap(), beside_small)
    });
    // Only "a" runs beside "small": "b", more urgent, was passed over for not fitting.
    assert_eq!(beside_small, 1);
    assert!(all_succeeded(&states));
    assert_eq!(big.peak(), 1);
}

#[test]
fn without_a_memory_limit_memory_weights_are_ignored() {
    let graph = Graph::new(vec![
        ("a", &[], memory(0, 600 * MB)),
        ("b", &[], memory(0, 600 * MB)),
    ]);
    let arrived = Counter::new();
    let states = graph.walk(&budget(2, None), &CancelToken::new(), |_| {
        // Each waits for the other: only finishes if both run at once.
        arrived.bump();
        arrived.wait_for(2);
        NodeResult::Success
    });
    assert!(all_succeeded(&states));
}

#[test]
fn raising_then_lowering_memory_mid_walk_starts_and_holds_back_nodes() {
    let n = 5;
    let dag = Dag::with_specs(vec![vec![]; n], vec![memory(0, 400 * MB); n]).unwrap();
    let opts = budget(8, Some(400 * MB));
    let gates = Gates::new(n);
    let running = Meter::default();
    let (started, starts) = mpsc::channel();
    let states = std::thread::scope(|s| {
        let walk = s.spawn(|| {
            run(&dag, &opts, &CancelToken::new(), |i| {
                started.send((i, running.enter(1))).unwrap();
                gates.wait(i);
                running.leave(1);
                NodeResult::Success
            })
        });
        let (first, _) = recv(&starts);
        // Node `first` still runs: only the raise can start two more beside it.
        opts.concurrency.set_memory(Some(1200 * MB));
        let (second, now_second) = recv(&starts);
        let (third, now_third) = recv(&starts);
        // Whichever of the two entered last saw all three.
        assert_eq!(now_second.max(now_third), 3);
        opts.concurrency.set_memory(Some(400 * MB));
        for i in [first, second, third] {
            gates.open(i);
        }
        for _ in 3..n {
            let (i, now) = recv(&starts);
            assert_eq!(now, 1, "node {i} started beside another after memory fell");
            gates.open(i);
        }
        walk.join().unwrap()
    });
    assert!(states.iter().all(|s| *s == NodeState::Succeeded));
}

#[test]
fn nodes_sharing_a_lock_never_overlap_and_other_locks_do() {
    let mut nodes: Vec<(&'static str, &[&str], NodeSpec)> = ["l0", "l1", "l2", "l3", "l4", "l5"]
        .into_iter()
        .map(|name| (name, &[] as &[&str], locked(0, &[3])))
        .collect();
    // Two nodes on two other locks, that only finish if they run at once.
    nodes.push(("x", &[], locked(9, &[1])));
    nodes.push(("y", &[], locked(9, &[2])));
    let graph = Graph::new(nodes);
    let on_lock_3 = Meter::default();
    let both = Counter::new();
    let states = graph.walk(&budget(4, None), &CancelToken::new(), |name| {
        if name == "x" || name == "y" {
            both.bump();
            both.wait_for(2);
        } else {
            on_lock_3.enter(1);
            linger();
            on_lock_3.leave(1);
        }
        NodeResult::Success
    });
    assert!(all_succeeded(&states));
    assert_eq!(on_lock_3.peak(), 1);
}

#[test]
fn a_held_lock_does_not_block_unrelated_ready_nodes() {
    let graph = Graph::new(vec![
        ("holder", &[], locked(10, &[0])),
        ("waiter", &[], locked(9, &[0])),
        ("unrelated", &[], locked(1, &[])),
    ]);
    let gates = Gates::new(1);
    let order = Mutex::new(Vec::new());
    let states = graph.walk(&budget(2, None), &CancelToken::new(), |name| {
        order.lock().unwrap().push(name);
        match name {
            "holder" => gates.wait(0),
            // Only starts while "holder" is blocked, so its start proves it was not held back.
            "unrelated" => gates.open(0),
            _ => {}
        }
        NodeResult::Success
    });
    assert!(all_succeeded(&states));
    assert_eq!(
        order.into_inner().unwrap(),
        ["holder", "unrelated", "waiter"]
    );
}

#[test]
fn a_persistent_node_holds_no_budget_and_the_walk_ends_when_it_returns() {
    let dev = NodeSpec {
        persistent: true,
        ..locked(10, &[0])
    };
    let graph = Graph::new(vec![
        ("build", &[], cpus(20, 1)),
        ("dev", &["build"], dev),
        ("test", &["build"], cpus(1, 1)),
        ("lint", &[], cpus(1, 1)),
        ("docs", &[], cpus(1, 1)),
    ]);
    let finished = Counter::new();
    let running = Meter::default();
    let build_done = AtomicBool::new(false);
    let states = graph.walk(&budget(1, None), &CancelToken::new(), |name| {
        if name == "dev" {
            assert!(
                build_done.load(Ordering::SeqCst),
                "dev started before build"
            );
            // A dev server: runs until everything else is done (the user stops it).
            finished.wait_for(4);
        } else {
            assert_eq!(running.enter(1), 1, "{name} ran beside another on 1 slot");
            linger();
            running.leave(1);
            if name == "build" {
                build_done.store(true, Ordering::SeqCst);
            }
            finished.bump();
        }
        NodeResult::Success
    });
    assert!(all_succeeded(&states));
}

#[test]
fn a_big_urgent_node_is_not_starved_by_a_stream_of_small_ones() {
    let mut nodes = vec![
        ("first", &[] as &[&str], cpus(100, 1)),
        ("big", &[], cpus(50, 2)),
    ];
    const SMALL: [&str; 20] = [
        "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "s12", "s13",
        "s14", "s15", "s16", "s17", "s18", "s19",
    ];
    nodes.extend(SMALL.iter().map(|name| (*name, &[] as &[&str], cpus(1, 1))));
    let graph = Graph::new(nodes);
    let order = Mutex::new(Vec::new());
    let slots = Meter::default();
    let states = graph.walk(&budget(2, None), &CancelToken::new(), |name| {
        let weight = if name == "big" { 2 } else { 1 };
        slots.enter(weight);
        order.lock().unwrap().push(name);
        linger();
        slots.leave(weight);
        NodeResult::Success
    });
    assert!(all_succeeded(&states));
    assert!(slots.peak() <= 2);
    let order = order.into_inner().unwrap();
    let big_at = order.iter().position(|n| *n == "big").unwrap();
    // "first", then at most `slots` = 2 small nodes bypass "big" before it reserves.
    assert!(big_at <= 3, "big started after {big_at} others: {order:?}");
}

#[test]
fn worker_indices_are_below_the_thread_count_and_distinct_among_running_nodes() {
    let n = 60;
    let dag = Dag::new(vec![vec![]; n], vec![0; n]).unwrap();
    let busy: Vec<AtomicBool> = (0..n).map(|_| AtomicBool::new(false)).collect();
    let threads = Mutex::new(HashMap::new());
    let first_wave = Counter::new();
    let states = run_with(
        &dag,
        &WalkOptions::new(4),
        &CancelToken::new(),
        |i, worker| {
            // Budget 4: at most 4 running + 1 idle spare threads.
            assert!(worker < 5, "worker index {worker}");
            assert!(
                !busy[worker].swap(true, Ordering::SeqCst),
                "worker {worker} runs two nodes at once"
            );
            let id = std::thread::current().id();
            assert_eq!(*threads.lock().unwrap().entry(worker).or_insert(id), id);
            if i < 4 {
                first_wave.bump();
                first_wave.wait_for(4);
            }
            linger();
            busy[worker].store(false, Ordering::SeqCst);
            NodeResult::Success
        },
    );
    assert!(states.iter().all(|s| *s == NodeState::Succeeded));
    assert!(threads.into_inner().unwrap().len() >= 4);
}

#[test]
fn cancel_reaches_a_node_waiting_for_a_lock() {
    let graph = Graph::new(vec![
        ("holder", &[], locked(10, &[0])),
        ("waiter", &[], locked(9, &[0])),
    ]);
    let cancel = CancelToken::new();
    let states = graph.walk(&budget(2, None), &cancel, |name| {
        assert_eq!(name, "holder", "nothing starts after cancel");
        cancel.cancel();
        NodeResult::Success
    });
    assert_eq!(
        states,
        [
            ("holder", NodeState::Succeeded),
            ("waiter", NodeState::NotRun)
        ]
    );
}

#[test]
fn continue_on_failure_frees_the_lock_and_budget_of_a_failed_node() {
    let graph = Graph::new(vec![
        (
            "bad",
            &[],
            NodeSpec {
                locks: vec![0],
                ..cpus(10, 2)
            },
        ),
        ("after", &["bad"], cpus(5, 1)),
        (
            "same_lock",
            &[],
            NodeSpec {
                locks: vec![0],
                ..cpus(1, 2)
            },
        ),
    ]);
    let opts = WalkOptions {
        on_failure: OnFailure::SkipDependents,
        ..budget(2, None)
    };
    let states = graph.walk(&opts, &CancelToken::new(), |name| match name {
        "bad" => NodeResult::Failure,
        _ => NodeResult::Success,
    });
    use NodeState::*;
    assert_eq!(
        states,
        [
            ("bad", Failed),
            ("after", Skipped { because: 0 }),
            ("same_lock", Succeeded)
        ]
    );
}
