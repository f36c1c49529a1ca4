//! The governor fed synthetic sample sequences: time is the samples' own `at`, so a
//! "2 seconds of calm" test takes microseconds.

use super::*;

const GIB: u64 = 1 << 30;
const MIB: u64 = 1 << 20;

fn config() -> GovernorConfig {
    GovernorConfig {
        max_slots: 8,
        low_water: GIB,
        high_water: 3 * GIB / 2,
        memory_limit: None,
        recovery_dwell: Duration::from_secs(2),
    }
}

/// A clock for sample sequences: every sample is 200 ms after the previous one.
struct Samples {
    start: Instant,
    n: u32,
}

impl Samples {
    fn new() -> Self {
        Samples {
            start: Instant::now(),
            n: 0,
        }
    }

    fn next(&mut self, available: u64) -> MachineSample {
        self.n += 1;
        MachineSample {
            at: self.start + Duration::from_millis(200) * self.n,
            cpus: 8,
            cpu_busy: 0.5,
            memory_total: 16 * GIB,
            memory_available: available,
            load1: 1.0,
        }
    }
}

#[test]
fn defaults_scale_with_the_machine_and_never_choke_a_small_one() {
    let big = GovernorConfig::for_machine(8, 24 * GIB, None);
    assert_eq!(big.low_water, 24 * GIB / 10);
    assert_eq!(big.high_water, 24 * GIB / 10 * 3 / 2);
    assert_eq!(
        GovernorConfig::for_machine(4, 4 * GIB, None).low_water,
        512 * MIB
    );
    assert_eq!(
        GovernorConfig::for_machine(2, GIB, None).low_water,
        256 * MIB
    );
    let limited = GovernorConfig::for_machine(8, 24 * GIB, Some(2 * GIB));
    assert_eq!(limited.low_water, 512 * MIB, "the limit is the pool");
    assert_eq!(limited.memory_limit, Some(2 * GIB));
}

#[test]
fn it_starts_at_full_budget_knowing_nothing_about_memory() {
    let governor = MemoryGovernor::new(config());
    assert_eq!(
        governor.decision(),
        Decision {
            slots: 8,
            memory: None
        }
    );
    let zero = MemoryGovernor::new(GovernorConfig {
        max_slots: 0,
        ..config()
    });
    assert_eq!(zero.decision().slots, 1);
}

#[test]
fn pressure_drops_the_budget_below_the_running_tasks_at_once() {
    let mut governor = MemoryGovernor::new(config());
    let mut samples = Samples::new();
    let decision = governor.update(&samples.next(600 * MIB), 6, 9 * GIB);
    assert_eq!(decision.slots, 5, "nothing new starts until one finishes");
    assert_eq!(decision.memory, Some(0));

    // Still short, same tasks: hold; one finished: follow it down.
    assert_eq!(
        governor.update(&samples.next(600 * MIB), 6, 9 * GIB).slots,
        5
    );
    assert_eq!(
        governor.update(&samples.next(700 * MIB), 5, 8 * GIB).slots,
        4
    );
}

#[test]
fn pressure_never_lowers_the_budget_to_zero() {
    let mut governor = MemoryGovernor::new(config());
    let mut samples = Samples::new();
    assert_eq!(governor.update(&samples.next(0), 1, GIB).slots, 1);
    assert_eq!(governor.update(&samples.next(0), 0, 0).slots, 1);
}

#[test]
fn recovery_raises_one_slot_per_dwell() {
    let mut governor = MemoryGovernor::new(config());
    let mut samples = Samples::new();
    governor.update(&samples.next(100 * MIB), 3, 6 * GIB);
    assert_eq!(governor.decision().slots, 2);

    let mut raised_at = Vec::new();
    for _ in 0..30 {
        let sample = samples.next(8 * GIB);
        let before = governor.decision().slots;
        if governor.update(&sample, 2, GIB).slots > before {
            raised_at.push(samples.n);
        }
    }
    // Calm from sample 2; 2 s = 10 samples later, and again 10 later.
    assert_eq!(raised_at, [12, 22]);
    assert_eq!(governor.decision().slots, 4);
}

#[test]
fn recovery_stops_at_max_slots() {
    let mut governor = MemoryGovernor::new(GovernorConfig {
        max_slots: 3,
        ..config()
    });
    let mut samples = Samples::new();
    governor.update(&samples.next(0), 2, GIB);
    for _ in 0..200 {
        governor.update(&samples.next(10 * GIB), 1, GIB);
    }
    assert_eq!(governor.decision().slots, 3);
}

#[test]
fn headroom_wobbling_around_low_water_never_raises() {
    let mut governor = MemoryGovernor::new(config());
    let mut samples = Samples::new();
    let mut slots = Vec::new();
    for i in 0..100 {
        let available = if i % 2 == 0 { GIB - MIB } else { GIB + MIB };
        slots.push(governor.update(&samples.next(available), 4, 4 * GIB).slots);
    }
    assert!(slots.iter().all(|&s| s == 3), "{slots:?}");
}

#[test]
fn headroom_wobbling_around_high_water_never_raises() {
    let mut governor = MemoryGovernor::new(config());
    let mut samples = Samples::new();
    governor.update(&samples.next(0), 3, 3 * GIB);
    for i in 0..200 {
        let available = if i % 3 == 0 {
            3 * GIB / 2 - MIB
        } else {
            3 * GIB / 2 + MIB
        };
        assert_eq!(governor.update(&samples.next(available), 2, MIB).slots, 2);
    }
}

#[test]
fn no_raise_when_one_more_average_task_would_cause_pressure() {
    let mut governor = MemoryGovernor::new(config());
    let mut samples = Samples::new();
    governor.update(&samples.next(0), 3, 12 * GIB);
    // Two 4 GiB tasks running, 4.5 GiB free: above high water, but a third such task
    // would leave 0.5 GiB.
    for _ in 0..50 {
        assert_eq!(
            governor
                .update(&samples.next(9 * GIB / 2), 2, 8 * GIB)
                .slots,
            2
        );
    }
    // 6 GiB free: room for one more.
    for _ in 0..11 {
        governor.update(&samples.next(6 * GIB), 2, 8 * GIB);
    }
    assert_eq!(governor.decision().slots, 3);
}

#[test]
fn memory_limit_caps_headroom_by_what_tasks_hold() {
    let mut governor = MemoryGovernor::new(GovernorConfig {
        memory_limit: Some(4 * GIB),
        ..config()
    });
    let mut samples = Samples::new();
    // The machine has plenty, but tasks hold 1 GiB of their 4 GiB allowance.
    let decision = governor.update(&samples.next(20 * GIB), 2, GIB);
    assert_eq!(decision.memory, Some(3 * GIB - GIB));
    assert_eq!(decision.slots, 8);
    // They grow to 3.5 GiB: under low water of the allowance.
    let decision = governor.update(&samples.next(20 * GIB), 2, 7 * GIB / 2);
    assert_eq!(decision.slots, 1);
    assert_eq!(decision.memory, Some(0));
    // Over the limit is no headroom, not an underflow.
    assert_eq!(
        governor.update(&samples.next(20 * GIB), 2, 5 * GIB).memory,
        Some(0)
    );
}

#[test]
fn machine_memory_still_counts_under_a_generous_limit() {
    let mut governor = MemoryGovernor::new(GovernorConfig {
        memory_limit: Some(64 * GIB),
        ..config()
    });
    let decision = governor.update(&Samples::new().next(512 * MIB), 4, GIB);
    assert_eq!(decision.slots, 3);
}
