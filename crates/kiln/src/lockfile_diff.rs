//! A lockfile change, reduced to the packages whose resolved third-party versions differ.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use kiln_core::PackageName;
use kiln_run::{ExternalVersions, LockfileText};
use kiln_scm::{Git, Revision};
use kiln_workspace::Workspace;

use crate::affected_cmd::Range;
use crate::exit::Exit;
use kiln_core::error_chain;

/// Packages whose external dependency closure differs between the base and the head (the
/// work tree when there is no `--head`), with why. Empty unless a lockfile changed.
pub(crate) fn changed_packages(
    ws: &Workspace,
    git: &Git,
    base: &Revision,
    range: &Range,
    changed: &BTreeSet<String>,
) -> Result<BTreeMap<PackageName, String>, Exit> {
    let rel = |p: &Path| p.to_string_lossy().replace('\\', "/");
    let touched = [ws.lockfile.as_deref(), ws.cargo_lockfile.as_deref()]
        .into_iter()
        .flatten()
        .any(|p| changed.contains(&rel(p)));
    if !touched {
        return Ok(BTreeMap::new());
    }
    let at = |rev: Option<&str>, path: Option<&Path>| -> Result<Option<Vec<u8>>, Exit> {
        let Some(path) = path else { return Ok(None) };
        match rev {
            Some(rev) => git
                .file_at(rev, &rel(path))
                .map_err(|e| Exit::user(error_chain(&e))),
            None => Ok(std::fs::read(ws.root.join(path)).ok()),
        }
    };
    let (node, cargo) = (ws.lockfile.as_deref(), ws.cargo_lockfile.as_deref());
    let before = (
        at(Some(&base.commit), node)?,
        at(Some(&base.commit), cargo)?,
    );
    let after = (
        at(range.head.as_deref(), node)?,
        at(range.head.as_deref(), cargo)?,
    );
    let versions = |texts: &(Option<Vec<u8>>, Option<Vec<u8>>)| {
        ExternalVersions::from_texts(
            ws,
            node.map(|path| LockfileText {
                path,
                text: texts.0.as_deref(),
            }),
            cargo.map(|path| LockfileText {
                path,
                text: texts.1.as_deref(),
            }),
        )
    };
    Ok(versions(&before).changed_since(&versions(&after)))
}
