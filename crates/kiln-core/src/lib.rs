//! The shared vocabulary of kiln.
//!
//! Every other crate speaks in these types: [`PackageName`], [`TaskName`] and [`TaskId`] name
//! what runs; [`TaskKey`] is where its result lives in a cache; [`Event`] is what the engine
//! tells its subscribers (terminal UI, run record, trace, later the dashboard);
//! [`TaskOutcome`] and [`CacheStatus`] say how a task ended, [`RunReason`] why its command
//! ran, [`Warning`] what went wrong on the way; [`Layout`] is where kiln keeps its files.
//! There is no logic here beyond parsing and formatting, and no dependency beyond `serde`.

mod event;
mod id;
mod key;
mod layout;
mod reason;

pub use event::{
    CacheSource, CacheStatus, Event, Phase, ResourceSample, TaskOutcome, TaskReport, TaskResources,
};
pub use id::{PackageName, ROOT_PACKAGE, TaskId, TaskIdParseError, TaskName};
pub use key::{ParseKeyError, TaskKey};
pub use layout::Layout;
pub use reason::{ChangeReason, Platform, RunReason, Warning};

/// An error and its sources on one line (`a: b: c`), as the CLI and warnings show them.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
