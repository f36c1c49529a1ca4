//! Walks over hand-drawn and random graphs. Interleavings are forced with gates and
//! channels, never with sleeps; a `recv_timeout` only turns a would-be hang into a failure.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Barrier, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::*;

/// `dag!["a" => [], "b" => ["a"]]`: a graph by name; node indices follow the listing order.
macro_rules! dag {
    ($($name:literal => [$($dep:literal),* $(,)?]),* $(,)?) => {
        Spec::new(vec![$(($name, vec![$($dep),*])),*])
    };
}

struct Spec {
    names: Vec<&'static str>,
    deps: Vec<Vec<usize>>,
}

impl Spec {
    fn new(nodes: Vec<(&'static str, Vec<&'static str>)>) -> Spec {
        let names: Vec<_> = nodes.iter().map(|(name, _)| *name).collect();
        let index = |name: &str| {
            names
                .iter()
                .position(|n| *n == name)
                .expect("unknown node name")
        };
        let deps = nodes
            .iter()
            .map(|(_, deps)| deps.iter().map(|d| index(d)).collect())
            .collect();
        Spec { names, deps }
    }

    fn idx(&self, name: &str) -> usize {
        self.names.iter().position(|n| *n == name).unwrap()
    }

    /// Priority = number of nodes on the longest path from the node to the end of the graph,
    /// the way kiln ranks tasks (critical path first).
    fn dag(&self) -> Dag {
        let n = self.names.len();
        let probe = Dag::new(self.deps.clone(), vec![0; n]).unwrap();
        let mut memo = vec![None; n];
        fn depth(dag: &Dag, node: usize, memo: &mut Vec<Option<u64>>) -> u64 {
            if let Some(d) = memo[node] {
                return d;
            }
            let d = 1 + dag
                .dependents(node)
                .iter()
                .map(|&x| depth(dag, x, memo))
                .max()
                .unwrap_or(0);
            memo[node] = Some(d);
            d
        }
        let priority = (0..n).map(|i| depth(&probe, i, &mut memo)).collect();
        Dag::new(self.deps.clone(), priority).unwrap()
    }

    fn walk(
        &self,
        opts: &WalkOptions,
        cancel: &CancelToken,
        work: impl Fn(&'static str) -> NodeResult + Sync,
    ) -> Vec<(&'static str, NodeState)> {
        let states = run(&self.dag(), opts, cancel, |i| work(self.names[i]));
        self.names.iter().copied().zip(states).collect()
    }

    fn skipped(&self, because: &str) -> NodeState {
        NodeState::Skipped {
            because: self.idx(because),
        }
    }
}

/// One gate per node: work blocks on its gate until the test opens it.
pub(super) struct Gates {
    open: Mutex<Vec<bool>>,
    changed: Condvar,
}

impl Gates {
    pub(super) fn new(n: usize) -> Self {
        Gates {
            open: Mutex::new(vec![false; n]),
            changed: Condvar::new(),
        }
    }
    pub(super) fn open(&self, i: usize) {
        self.open.lock().unwrap()[i] = true;
        self.changed.notify_all();
    }
    pub(super) fn wait(&self, i: usize) {
        let mut open = self.open.lock().unwrap();
        while !open[i] {
            open = self.changed.wait(open).unwrap();
        }
    }
}

pub(super) fn recv<T>(rx: &mpsc::Receiver<T>) -> T {
    rx.recv_timeout(Duration::from_secs(10))
        .expect("the walk stalled")
}

fn ok(_: &str) -> NodeResult {
    NodeResult::Success
}

/// Deterministic xorshift, so random graphs are reproducible without a dependency.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn random_dag(seed: u64, n: usize, max_deps: u64) -> Dag {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let deps = (0..n)
        .map(|i| {
            if i == 0 {
                return vec![];
            }
            (0..rng.below(max_deps + 1))
                .map(|_| rng.below(i as u64) as usize)
                .collect()
        })
        .collect();
    let priority = (0..n).map(|_| rng.below(10)).collect();
    Dag::new(deps, priority).unwrap()
}

#[test]
fn an_empty_graph_walks_to_nothing() {
    let dag = Dag::new(vec![], vec![]).unwrap();
    assert!(
        run(
            &dag,
            &WalkOptions::new(4),
            &CancelToken::new(),
            |_| unreachable!()
        )
        .is_empty()
    );
}

#[test]
fn a_chain_runs_in_dependency_order() {
    let spec = dag!["c" => ["b"], "a" => [], "b" => ["a"]];
    let order = Mutex::new(Vec::new());
    let states = spec.walk(&WalkOptions::new(4), &CancelToken::new(), |name| {
        order.lock().unwrap().push(name);
        NodeResult::Success
    });
    assert_eq!(order.into_inner().unwrap(), ["a", "b", "c"]);
    assert!(states.iter().all(|(_, s)| *s == NodeState::Succeeded));
}

#[test]
fn dependencies_always_finish_before_dependents_start_on_random_graphs() {
    for seed in 0..30 {
        let dag = random_dag(seed, 80, 4);
        let clock = AtomicUsize::new(0);
        let started: Vec<AtomicUsize> = (0..dag.len()).map(|_| AtomicUsize::new(0)).collect();
        let finished: Vec<AtomicUsize> = (0..dag.len()).map(|_| AtomicUsize::new(0)).collect();
        let states = run(&dag, &WalkOptions::new(4), &CancelToken::new(), |i| {
            started[i].store(clock.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
            std::thread::yield_now();
            finished[i].store(clock.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
            NodeResult::Success
        });
        assert!(
            states.iter().all(|s| *s == NodeState::Succeeded),
            "seed {seed}"
        );
        for (node, start) in started.iter().enumerate() {
            for &dep in dag.deps(node) {
                assert!(
                    finished[dep].load(Ordering::SeqCst) < start.load(Ordering::SeqCst),
                    "seed {seed}: node {node} started before its dependency {dep} finished"
                );
            }
        }
    }
}

#[test]
fn running_work_never_exceeds_the_budget_and_fills_it() {
    let dag = Dag::new(vec![vec![]; 200], vec![0; 200]).unwrap();
    let now = AtomicUsize::new(0);
    let peak = AtomicUsize::new(0);
    // The first three nodes only finish together, so three must run at once.
    let first_wave = Barrier::new(3);
    let states = run(&dag, &WalkOptions::new(3), &CancelToken::new(), |i| {
        let running = now.fetch_add(1, Ordering::SeqCst) + 1;
        peak.fetch_max(running, Ordering::SeqCst);
        if i < 3 {
            first_wave.wait();
        }
        std::thread::yield_now();
        now.fetch_sub(1, Ordering::SeqCst);
        NodeResult::Success
    });
    assert!(states.iter().all(|s| *s == NodeState::Succeeded));
    assert_eq!(peak.load(Ordering::SeqCst), 3);
}

#[test]
fn concurrency_one_follows_priority_critical_path_first() {
    // a -> b -> c is the longest path; docs and lint are leaves listed first.
    let spec = dag!["docs" => [], "lint" => [], "a" => [], "b" => ["a"], "c" => ["b"]];
    let order = Mutex::new(Vec::new());
    spec.walk(&WalkOptions::new(1), &CancelToken::new(), |name| {
        order.lock().unwrap().push(name);
        NodeResult::Success
    });
    // a (3 to go), b (2), then the three priority-1 nodes by listing order.
    assert_eq!(order.into_inner().unwrap(), ["a", "b", "docs", "lint", "c"]);
}

#[test]
fn more_concurrency_than_nodes_runs_everything() {
    let spec = dag!["a" => [], "b" => [], "c" => ["a", "b"]];
    let states = spec.walk(&WalkOptions::new(64), &CancelToken::new(), ok);
    assert!(states.iter().all(|(_, s)| *s == NodeState::Succeeded));
}

#[test]
fn a_zero_budget_still_makes_progress() {
    let spec = dag!["a" => [], "b" => ["a"]];
    let states = spec.walk(&WalkOptions::new(0), &CancelToken::new(), ok);
    assert_eq!(
        states,
        [("a", NodeState::Succeeded), ("b", NodeState::Succeeded)]
    );
}

#[test]
fn fail_fast_starts_nothing_after_the_first_failure() {
    let spec = dag!["a" => [], "b" => ["a"], "c" => [], "d" => ["c"]];
    let states = spec.walk(
        &WalkOptions::new(1),
        &CancelToken::new(),
        |name| match name {
            "a" => NodeResult::Failure,
            _ => NodeResult::Success,
        },
    );
    use NodeState::*;
    assert_eq!(
        states,
        [("a", Failed), ("b", NotRun), ("c", NotRun), ("d", NotRun)]
    );
}

#[test]
fn fail_fast_lets_running_work_finish() {
    let spec = dag!["a" => [], "b" => ["a"], "slow" => []];
    let (slow_started, wait_slow) = mpsc::channel();
    let (a_failing, wait_a) = mpsc::channel();
    let wait_slow = Mutex::new(wait_slow);
    let wait_a = Mutex::new(wait_a);
    let states = spec.walk(
        &WalkOptions::new(2),
        &CancelToken::new(),
        |name| match name {
            "a" => {
                recv(&wait_slow.lock().unwrap());
                a_failing.send(()).unwrap();
                NodeResult::Failure
            }
            _ => {
                slow_started.send(()).unwrap();
                recv(&wait_a.lock().unwrap());
                NodeResult::Success
            }
        },
    );
    use NodeState::*;
    assert_eq!(states, [("a", Failed), ("b", NotRun), ("slow", Succeeded)]);
}

#[test]
fn continue_on_failure_skips_exactly_the_dependents_and_names_the_cause() {
    let spec = dag![
        "a" => [], "b" => ["a"], "c" => ["b"],
        "x" => [], "y" => ["x", "c"], "z" => [],
    ];
    let opts = WalkOptions {
        on_failure: OnFailure::SkipDependents,
        ..WalkOptions::new(4)
    };
    let states = spec.walk(&opts, &CancelToken::new(), |name| match name {
        "a" => NodeResult::Failure,
        _ => NodeResult::Success,
    });
    use NodeState::*;
    let a = spec.skipped("a");
    assert_eq!(
        states,
        [
            ("a", Failed),
            ("b", a),
            ("c", a),
            ("x", Succeeded),
            ("y", a),
            ("z", Succeeded)
        ]
    );
}

#[test]
fn running_dependents_of_a_failure_runs_every_node() {
    let spec = dag!["a" => [], "b" => ["a"], "c" => ["b"], "z" => []];
    let opts = WalkOptions {
        on_failure: OnFailure::RunDependents,
        ..WalkOptions::new(2)
    };
    let states = spec.walk(&opts, &CancelToken::new(), |name| match name {
        "a" => NodeResult::Failure,
        _ => NodeResult::Success,
    });
    use NodeState::*;
    assert_eq!(
        states,
        [
            ("a", Failed),
            ("b", Succeeded),
            ("c", Succeeded),
            ("z", Succeeded)
        ]
    );
}

#[test]
fn a_panicking_node_is_a_failure_and_does_not_hang_the_walk() {
    let spec = dag!["a" => [], "boom" => ["a"], "after" => ["boom"], "other" => []];
    let opts = WalkOptions {
        on_failure: OnFailure::SkipDependents,
        ..WalkOptions::new(2)
    };
    let states = spec.walk(&opts, &CancelToken::new(), |name| {
        assert_ne!(name, "boom", "work panicked on purpose");
        NodeResult::Success
    });
    use NodeState::*;
    assert_eq!(
        states,
        [
            ("a", Succeeded),
            ("boom", Failed),
            ("after", spec.skipped("boom")),
            ("other", Succeeded)
        ]
    );
}

#[test]
fn cancel_mid_run_lets_running_work_finish_and_starts_nothing_else() {
    let dag = Dag::new(vec![vec![]; 5], vec![0; 5]).unwrap();
    let cancel = CancelToken::new();
    let gates = Gates::new(5);
    let (started, starts) = mpsc::channel();
    let states = std::thread::scope(|s| {
        let walk = s.spawn(|| {
            run(&dag, &WalkOptions::new(2), &cancel, |i| {
                started.send(i).unwrap();
                gates.wait(i);
                NodeResult::Success
            })
        });
        let mut first = [recv(&starts), recv(&starts)];
        first.sort();
        assert_eq!(first, [0, 1]);
        cancel.cancel();
        gates.open(0);
        gates.open(1);
        walk.join().unwrap()
    });
    use NodeState::*;
    assert_eq!(states, [Succeeded, Succeeded, NotRun, NotRun, NotRun]);
    assert!(starts.try_recv().is_err(), "nothing starts after cancel");
}

#[test]
fn a_walk_cancelled_before_it_starts_runs_nothing() {
    let spec = dag!["a" => [], "b" => ["a"]];
    let cancel = CancelToken::new();
    cancel.cancel();
    let states = spec.walk(&WalkOptions::new(2), &cancel, |_| unreachable!());
    assert_eq!(states, [("a", NodeState::NotRun), ("b", NodeState::NotRun)]);
}

#[test]
fn lowering_the_budget_delays_new_starts_without_stopping_running_work() {
    let n = 6;
    let dag = Dag::new(vec![vec![]; n], vec![0; n]).unwrap();
    let opts = WalkOptions::new(2);
    let gates = Gates::new(n);
    let now = AtomicUsize::new(0);
    let (started, starts) = mpsc::channel();
    let states = std::thread::scope(|s| {
        let walk = s.spawn(|| {
            run(&dag, &opts, &CancelToken::new(), |i| {
                started
                    .send((i, now.fetch_add(1, Ordering::SeqCst) + 1))
                    .unwrap();
                gates.wait(i);
                now.fetch_sub(1, Ordering::SeqCst);
                NodeResult::Success
            })
        });
        let first = [recv(&starts), recv(&starts)];
        opts.concurrency.set(1);
        for (i, _) in first {
            gates.open(i);
        }
        // Every later node starts alone.
        for _ in 2..n {
            let (i, running) = recv(&starts);
            assert_eq!(
                running, 1,
                "node {i} started beside another after the budget fell to 1"
            );
            gates.open(i);
        }
        walk.join().unwrap()
    });
    assert!(states.iter().all(|s| *s == NodeState::Succeeded));
}

#[test]
fn raising_the_budget_starts_waiting_nodes_at_once() {
    let n = 4;
    let dag = Dag::new(vec![vec![]; n], vec![0; n]).unwrap();
    let opts = WalkOptions::new(1);
    let gates = Gates::new(n);
    let (started, starts) = mpsc::channel();
    let states = std::thread::scope(|s| {
        let walk = s.spawn(|| {
            run(&dag, &opts, &CancelToken::new(), |i| {
                started.send(i).unwrap();
                gates.wait(i);
                NodeResult::Success
            })
        });
        assert_eq!(recv(&starts), 0);
        // Node 0 is still running: only the raise can start more.
        opts.concurrency.set(3);
        let mut more = [recv(&starts), recv(&starts)];
        more.sort();
        assert_eq!(more, [1, 2]);
        for i in 0..n {
            gates.open(i);
        }
        walk.join().unwrap()
    });
    assert!(states.iter().all(|s| *s == NodeState::Succeeded));
}

#[test]
fn four_thousand_trivial_nodes_walk_in_milliseconds() {
    let dag = random_dag(7, 4000, 3);
    let count = AtomicUsize::new(0);
    let started = Instant::now();
    let states = run(&dag, &WalkOptions::new(4), &CancelToken::new(), |_| {
        count.fetch_add(1, Ordering::Relaxed);
        NodeResult::Success
    });
    let elapsed = started.elapsed();
    assert_eq!(count.load(Ordering::Relaxed), 4000);
    assert!(states.iter().all(|s| *s == NodeState::Succeeded));
    // ~3 ms optimised, ~20 ms in a test build; the bound is loose for a busy shared machine.
    assert!(elapsed < Duration::from_secs(1), "took {elapsed:?}");
}

#[test]
fn a_walk_uses_at_most_one_thread_more_than_its_budget() {
    let dag = random_dag(11, 1000, 2);
    let threads = Mutex::new(std::collections::HashSet::new());
    run(&dag, &WalkOptions::new(4), &CancelToken::new(), |_| {
        threads.lock().unwrap().insert(std::thread::current().id());
        std::thread::yield_now();
        NodeResult::Success
    });
    let used = threads.into_inner().unwrap().len();
    assert!((1..=5).contains(&used), "{used} threads ran work");
}

#[test]
fn results_are_indexed_like_the_graph() {
    let spec = dag!["a" => [], "b" => []];
    let seen: Mutex<HashMap<&str, usize>> = Mutex::default();
    spec.walk(&WalkOptions::new(2), &CancelToken::new(), |name| {
        *seen.lock().unwrap().entry(name).or_default() += 1;
        NodeResult::Success
    });
    assert_eq!(
        seen.into_inner().unwrap(),
        HashMap::from([("a", 1), ("b", 1)])
    );
}
