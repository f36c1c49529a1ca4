//! A run started in-process through the library, as the dashboard will start one: every
//! task's phases arrive as events, in order, and a second run restores what the first
//! stored.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::mpsc::sync_channel;

use kiln_core::{CacheSource, CacheStatus, Event, Phase, RunReason, TaskId, TaskName, TaskOutcome};
use kiln_graph::TaskGraph;
use kiln_run::{RunRequest, StopHandle};
use kiln_workspace::Workspace;

/// `app` depends on `lib`; each `build` writes `dist/out.txt` from its dependency's output.
fn fixture(dir: &Path) {
    let files = [
        (
            "package.json",
            r#"{"name": "root", "workspaces": ["packages/*"]}"#,
        ),
        (
            "turbo.json",
            r#"{"tasks": {"build": {"dependsOn": ["^build"], "outputs": ["dist/**"]}}}"#,
        ),
        (
            "packages/lib/package.json",
            r#"{"name": "lib", "scripts": {"build": "mkdir -p dist && echo lib > dist/out.txt && echo built lib"}}"#,
        ),
        ("packages/lib/src/index.js", "export const x = 1;\n"),
        (
            "packages/app/package.json",
            r#"{"name": "app", "dependencies": {"lib": "*"}, "scripts": {"build": "mkdir -p dist && cat ../lib/dist/out.txt > dist/out.txt && echo built app"}}"#,
        ),
        ("packages/app/src/index.js", "import { x } from 'lib';\n"),
    ];
    for (path, text) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

/// Runs `build` in-process and returns every event, with the reports.
fn run_build(ws: &Workspace, graph: &TaskGraph) -> (Vec<Event>, Vec<kiln_core::TaskReport>) {
    let (tx, rx) = sync_channel(64);
    let collector = std::thread::spawn(move || rx.into_iter().collect::<Vec<Event>>());
    let mut request = RunRequest::new(ws, graph);
    request.concurrency = 2;
    let outcome = kiln_run::run(request, &StopHandle::new(), tx).expect("the run runs");
    let events = collector.join().unwrap();
    assert!(!outcome.interrupted);
    assert!(outcome.record.as_ref().is_some_and(|p| p.is_file()));
    (events, outcome.reports)
}

/// The phases of each task, in the order their events came.
fn phases(events: &[Event]) -> BTreeMap<TaskId, Vec<Phase>> {
    let mut by_task: BTreeMap<TaskId, Vec<Phase>> = BTreeMap::new();
    for event in events {
        if let Event::Phase { id, phase, .. } = event {
            by_task.entry(id.clone()).or_default().push(*phase);
        }
    }
    by_task
}

#[test]
fn a_run_started_from_a_test_reports_every_phase_of_every_task() {
    let dir = tempfile::tempdir().unwrap();
    fixture(dir.path());
    let ws = Workspace::discover(dir.path()).unwrap();
    let scope: BTreeSet<_> = ws.packages.iter().map(|p| p.name.clone()).collect();
    let graph = TaskGraph::build(&ws, &[TaskName::new("build")], &scope).unwrap();
    let ids: BTreeSet<TaskId> = graph.nodes().iter().map(|n| n.id.clone()).collect();
    assert_eq!(ids.len(), 2);

    let (events, reports) = run_build(&ws, &graph);
    assert!(reports.iter().all(|r| r.outcome == TaskOutcome::Succeeded
        && r.cache == CacheStatus::Miss
        && r.executed
        && r.reason == Some(RunReason::NeverRun)));
    let seen = phases(&events);
    for id in &ids {
        assert_eq!(
            seen[id],
            [Phase::CacheLookup, Phase::Execute, Phase::Store],
            "{id}"
        );
    }
    // Per task: started, then why it runs, its live output, then finished; once each.
    for id in &ids {
        let of_task: Vec<&Event> = events
            .iter()
            .filter(|e| event_task(e) == Some(id))
            .collect();
        assert!(
            matches!(of_task.first(), Some(Event::TaskStarted { .. })),
            "{id}"
        );
        assert!(
            matches!(of_task.last(), Some(Event::TaskFinished(_))),
            "{id}"
        );
        assert!(of_task.iter().any(|e| matches!(
            e,
            Event::Executing {
                reason: RunReason::NeverRun,
                ..
            }
        )));
        assert!(of_task.iter().any(
            |e| matches!(e, Event::TaskOutput { line, replayed: false, .. } if line.starts_with("built "))
        ));
    }
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Stage { name: "hash", .. }))
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Planned { tasks: 2, .. }))
    );
    // `app` ran after `lib` finished, so it read lib's output.
    let app_out = dir.path().join("packages/app/dist/out.txt");
    assert_eq!(std::fs::read_to_string(&app_out).unwrap(), "lib\n");

    // Outputs removed: the second run restores them from the cache and replays the logs.
    std::fs::remove_dir_all(dir.path().join("packages/app/dist")).unwrap();
    std::fs::remove_dir_all(dir.path().join("packages/lib/dist")).unwrap();
    let (events, reports) = run_build(&ws, &graph);
    assert!(
        reports
            .iter()
            .all(|r| r.cache == CacheStatus::Hit(CacheSource::Local)
                && !r.executed
                && r.reason.is_none())
    );
    for id in &ids {
        assert_eq!(phases(&events)[id], [Phase::Restore], "{id}");
        assert!(events.iter().any(|e| matches!(e, Event::CacheHit { id: hit, source: CacheSource::Local, .. } if hit == id)));
        assert!(
            events
                .iter()
                .any(|e| matches!(e, Event::TaskOutput { id: t, replayed: true, .. } if t == id))
        );
    }
    assert_eq!(std::fs::read_to_string(&app_out).unwrap(), "lib\n");
}

fn event_task(event: &Event) -> Option<&TaskId> {
    match event {
        Event::TaskStarted { id, .. }
        | Event::Phase { id, .. }
        | Event::CacheHit { id, .. }
        | Event::Executing { id, .. }
        | Event::TaskOutput { id, .. }
        | Event::TaskWarning { id, .. } => Some(id),
        Event::TaskFinished(report) => Some(&report.id),
        Event::Stage { .. } | Event::Planned { .. } | Event::Resources(_) => None,
    }
}
