//! Where a run's events go: first to this run's own record (a subscriber kept inside the
//! run, see `run_record.rs`), then to the caller's channel. Nothing here ever blocks a task
//! on the record; a caller whose subscriber has gone away never stops the build.

use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use kiln_core::{Event, Phase, TaskId, Warning};

use crate::run_record::RecordBuilder;

/// A cheap handle (shared by every worker, the uploader and the resource loop).
#[derive(Clone)]
pub(crate) struct Emitter {
    inner: Arc<Inner>,
}

struct Inner {
    tx: SyncSender<Event>,
    record: Option<Mutex<RecordBuilder>>,
}

impl Emitter {
    pub(crate) fn new(tx: SyncSender<Event>, record: Option<RecordBuilder>) -> Self {
        Emitter {
            inner: Arc::new(Inner {
                tx,
                record: record.map(Mutex::new),
            }),
        }
    }

    pub(crate) fn emit(&self, event: Event) {
        if let Some(record) = &self.inner.record
            && RecordBuilder::wants(&event)
        {
            record
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .observe(&event);
        }
        let _ = self.inner.tx.send(event);
    }

    /// Tells subscribers that `phase` of task `id` ran from `started` until now.
    pub(crate) fn phase(&self, id: &TaskId, phase: Phase, started: Instant) {
        self.phase_between(id, phase, started, Instant::now());
    }

    pub(crate) fn phase_between(
        &self,
        id: &TaskId,
        phase: Phase,
        started: Instant,
        ended: Instant,
    ) {
        self.emit(Event::Phase {
            id: id.clone(),
            phase,
            started,
            ended,
        });
    }

    pub(crate) fn warn(&self, id: &TaskId, warning: Warning) {
        self.emit(Event::TaskWarning {
            id: id.clone(),
            warning,
        });
    }

    /// The record built from what was emitted (once the run is over).
    pub(crate) fn take_record(&self) -> Option<RecordBuilder> {
        let record = self.inner.record.as_ref()?;
        Some(std::mem::take(
            &mut *record.lock().unwrap_or_else(|p| p.into_inner()),
        ))
    }
}
