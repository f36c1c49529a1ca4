//! The trace's shape, from synthetic runs.

use std::time::Duration;

use super::*;

fn id(s: &str) -> TaskId {
    TaskId::parse(s).unwrap()
}

fn ms(t0: Instant, ms: u64) -> Instant {
    t0 + Duration::from_millis(ms)
}

fn report(task: &str, outcome: TaskOutcome, cache: CacheStatus, took: u64) -> Event {
    Event::TaskFinished(TaskReport {
        id: id(task),
        key: kiln_core::TaskKey::from_bytes([task.len() as u8; 32]),
        outcome,
        cache,
        duration: Duration::from_millis(took),
        saved: Duration::ZERO,
        reason: (cache == CacheStatus::Miss).then_some(kiln_core::RunReason::NeverRun),
        executed: cache == CacheStatus::Miss,
        resources: None,
        started_unix_ms: None,
    })
}

/// A run of three stages, then `ui#build` (a miss) and `web#build` (a hit) on two
/// workers, `docs#build` stopped mid-execution, `app#build` skipped.
fn run() -> Vec<Event> {
    let t0 = Instant::now();
    let started = |task: &str, worker, at| Event::TaskStarted {
        id: id(task),
        key: kiln_core::TaskKey::from_bytes([task.len() as u8; 32]),
        worker,
        at: ms(t0, at),
    };
    let phase = |task: &str, phase, from, to| Event::Phase {
        id: id(task),
        phase,
        started: ms(t0, from),
        ended: ms(t0, to),
    };
    vec![
        Event::Stage {
            name: "discover",
            started: t0,
            ended: ms(t0, 2),
        },
        Event::Stage {
            name: "plan",
            started: ms(t0, 2),
            ended: ms(t0, 3),
        },
        Event::Stage {
            name: "hash",
            started: ms(t0, 3),
            ended: ms(t0, 10),
        },
        started("ui#build", 0, 10),
        started("web#build", 1, 11),
        phase("web#build", Phase::Restore, 11, 15),
        report(
            "web#build",
            TaskOutcome::Succeeded,
            CacheStatus::Hit(CacheSource::Local),
            4,
        ),
        phase("ui#build", Phase::CacheLookup, 10, 12),
        Event::Resources(ResourceSample {
            at: ms(t0, 50),
            cpu_busy: 0.4567,
            memory_total: 8 << 30,
            memory_available: 4 << 30,
            tasks_rss: 300 << 20,
            running: 1,
            budget_slots: 2,
        }),
        phase("ui#build", Phase::Execute, 12, 100),
        phase("ui#build", Phase::Store, 100, 110),
        report("ui#build", TaskOutcome::Succeeded, CacheStatus::Miss, 100),
        started("docs#build", 1, 111),
        phase("docs#build", Phase::CacheLookup, 111, 113),
        report(
            "app#build",
            TaskOutcome::Skipped {
                because: id("x#build"),
            },
            CacheStatus::Miss,
            0,
        ),
    ]
}

fn trace(events: &[Event]) -> Value {
    let mut trace = Trace::default();
    for e in events {
        trace.record(e);
    }
    // What a reader gets: the bytes, parsed back.
    let bytes = serde_json::to_vec(&trace.to_json()).unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn of<'a>(json: &'a Value, ph: &str, cat: Option<&str>) -> Vec<&'a Value> {
    json["traceEvents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["ph"] == ph && cat.is_none_or(|c| e["cat"] == c))
        .collect()
}

#[test]
fn every_task_that_started_is_one_span_on_its_workers_track() {
    let json = trace(&run());
    assert_eq!(json["displayTimeUnit"], "ms");
    let tasks = of(&json, "X", Some("task"));
    let names: Vec<(&str, u64)> = tasks
        .iter()
        .map(|t| (t["name"].as_str().unwrap(), t["tid"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        names,
        [("ui#build", 1), ("web#build", 2), ("docs#build", 2)]
    );
    let ui = tasks[0];
    assert_eq!(
        (ui["ts"].as_u64(), ui["dur"].as_u64()),
        (Some(10_000), Some(100_000))
    );
    assert_eq!(
        ui["args"]["key"],
        kiln_core::TaskKey::from_bytes([8; 32]).to_hex()
    );
    assert_eq!(ui["args"]["cache"], "miss");
    assert_eq!(ui["args"]["outcome"], "succeeded");
    assert_eq!(ui["args"]["reason"], "no earlier run recorded");
    assert_eq!(tasks[1]["args"]["cache"], "hit (local)");
    // Stopped under the run: it ends where the trace does.
    assert_eq!(tasks[2]["args"]["outcome"], "did not finish");
    assert_eq!(
        tasks[2]["ts"].as_u64().unwrap() + tasks[2]["dur"].as_u64().unwrap(),
        113_000
    );
}

#[test]
fn phases_nest_inside_their_task() {
    let json = trace(&run());
    let tasks = of(&json, "X", Some("task"));
    let phases = of(&json, "X", Some("phase"));
    assert_eq!(phases.len(), 5);
    for p in phases {
        let parent = tasks
            .iter()
            .find(|t| t["name"] == p["args"]["task"])
            .expect("a phase of a task with a span");
        let (ts, dur) = (p["ts"].as_u64().unwrap(), p["dur"].as_u64().unwrap());
        let (pts, pdur) = (
            parent["ts"].as_u64().unwrap(),
            parent["dur"].as_u64().unwrap(),
        );
        assert_eq!(p["tid"], parent["tid"]);
        assert!(ts >= pts && ts + dur <= pts + pdur, "{p} outside {parent}");
    }
}

#[test]
fn a_phase_past_its_task_is_clamped_into_it() {
    let mut events = run();
    let t0 = match &events[0] {
        Event::Stage { started, .. } => *started,
        _ => unreachable!(),
    };
    // Reported as ending before its last phase did.
    events.push(Event::TaskStarted {
        id: id("late#t"),
        key: kiln_core::TaskKey::from_bytes([0; 32]),
        worker: 0,
        at: ms(t0, 200),
    });
    events.push(Event::Phase {
        id: id("late#t"),
        phase: Phase::Execute,
        started: ms(t0, 199),
        ended: ms(t0, 260),
    });
    events.push(report(
        "late#t",
        TaskOutcome::Failed { code: 2 },
        CacheStatus::Miss,
        50,
    ));
    let json = trace(&events);
    let late = of(&json, "X", None)
        .into_iter()
        .filter(|e| e["name"] == "late#t" || e["args"]["task"] == "late#t")
        .map(|e| (e["ts"].as_u64().unwrap(), e["dur"].as_u64().unwrap()))
        .collect::<Vec<_>>();
    assert_eq!(late, [(200_000, 60_000), (200_000, 60_000)]);
}

#[test]
fn stages_counters_and_track_names_are_there() {
    let json = trace(&run());
    let stages: Vec<_> = of(&json, "X", Some("stage"))
        .iter()
        .map(|s| (s["name"].as_str().unwrap(), s["tid"].as_u64().unwrap()))
        .collect();
    assert_eq!(stages, [("discover", 0), ("plan", 0), ("hash", 0)]);
    let names: Vec<String> = of(&json, "M", None)
        .iter()
        .map(|m| format!("{} {}", m["name"], m["args"]["name"]))
        .collect();
    assert_eq!(
        names,
        [
            r#""process_name" "kiln""#,
            r#""thread_name" "stages""#,
            r#""thread_name" "worker 1""#,
            r#""thread_name" "worker 2""#,
        ]
    );
    let counters = of(&json, "C", None);
    assert_eq!(counters[0]["name"], "cpu");
    assert_eq!(counters[0]["args"]["busy %"], 45.7);
    assert_eq!(counters[1]["args"]["available MB"], 4096.0);
    assert_eq!(counters[1]["args"]["tasks RSS MB"], 300.0);
    assert_eq!(counters[2]["args"], json!({"slots": 2, "running": 1}));
}

#[test]
fn the_file_is_written_whole_and_its_directory_made() {
    let dir = tempfile::tempdir().unwrap();
    let mut trace = Trace::default();
    for e in run() {
        trace.record(&e);
    }
    let path = dir.path().join("out/trace.json");
    trace.write(&path).unwrap();
    let json: Value = serde_json::from_slice(&fs_err::read(&path).unwrap()).unwrap();
    assert_eq!(of(&json, "X", Some("task")).len(), 3);
    let left: Vec<_> = fs_err::read_dir(dir.path().join("out")).unwrap().collect();
    assert_eq!(left.len(), 1, "no temp file is left behind");
}

#[test]
fn an_unwritable_path_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    fs_err::write(dir.path().join("file"), "").unwrap();
    let path = dir.path().join("file/trace.json");
    let err = Trace::default().write(&path).unwrap_err();
    assert!(
        err.starts_with(&format!("could not write the profile {}: ", path.display())),
        "{err}"
    );
}
