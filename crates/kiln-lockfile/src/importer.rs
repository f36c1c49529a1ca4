//! An importer's roots in the lockfile graph, and the check of its declared dependencies
//! against the lockfile's record of it.
//!
//! When the lockfile records the importer, the recorded dependencies are the roots: that is
//! what the package manager installed. The manifest's declarations are still compared with the
//! record, because a manifest edited without re-locking is the usual way a lockfile goes out of
//! date: a declared dependency the record lacks, or records with another spec, is reported as
//! unresolved so the caller keys on the spec as written (and warns) rather than silently
//! keying on a stale resolution alone.

use crate::Importer;
use crate::graph::NodeId;

/// An importer's direct external dependencies, resolved where the lockfile allows.
#[derive(Debug, Default)]
pub(crate) struct Roots {
    pub(crate) nodes: Vec<NodeId>,
    pub(crate) unresolved: Vec<(String, String)>,
}

/// What the lockfile recorded for one dependency name of an importer.
pub(crate) enum Recorded<'a> {
    /// Not recorded at all.
    Absent,
    /// Recorded, but the format does not keep the spec it came from.
    Present,
    /// Recorded with the manifest spec the package manager saw.
    WithSpec(&'a str),
}

/// The declared dependencies of `importer` that the lockfile's record contradicts.
pub(crate) fn stale_declarations<'a>(
    importer: &Importer<'_>,
    recorded: impl Fn(&str) -> Recorded<'a>,
) -> Vec<(String, String)> {
    importer
        .dependencies
        .iter()
        .filter(|(name, spec)| match recorded(name) {
            Recorded::Absent => true,
            Recorded::Present => false,
            Recorded::WithSpec(locked) => locked != spec.as_str(),
        })
        .map(|(name, spec)| (name.clone(), spec.clone()))
        .collect()
}

/// Every declared dependency, for a lockfile that does not know the importer at all.
pub(crate) fn all_declared(importer: &Importer<'_>) -> Vec<(String, String)> {
    importer
        .dependencies
        .iter()
        .map(|(name, spec)| (name.clone(), spec.clone()))
        .collect()
}
