//! The shared vocabulary of kiln.
//!
//! Every other crate speaks in these types: [`PackageName`], [`TaskName`] and [`TaskId`] name
//! what runs; [`Event`] is what the engine tells its subscribers (terminal UI, run record,
//! later the dashboard); [`TaskOutcome`] and [`CacheStatus`] say how a task ended. There is no
//! logic here beyond parsing and formatting ids, and no dependency beyond `serde`.

mod event;
mod id;

pub use event::{
    CacheSource, CacheStatus, Event, Phase, ResourceSample, TaskOutcome, TaskReport, TaskResources,
};
pub use id::{PackageName, ROOT_PACKAGE, TaskId, TaskIdParseError, TaskName};
