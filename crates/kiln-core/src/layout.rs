//! Where kiln keeps its files under a workspace: one type, so the versioned names are
//! spelled once (see ARCHITECTURE.md, "Files kiln writes").

use std::path::{Path, PathBuf};

/// The `.kiln/` directory of one workspace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    dir: PathBuf,
}

impl Layout {
    /// The layout of the workspace rooted at `root`.
    pub fn of(root: &Path) -> Self {
        Layout {
            dir: root.join(".kiln"),
        }
    }

    /// `.kiln/` itself.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The local cache, unless `cacheDir` or `--cache-dir` put it elsewhere.
    pub fn cache(&self) -> PathBuf {
        self.dir.join("cache")
    }

    /// The build state: task records, manifests, the journal, the outputs on disk.
    pub fn state(&self) -> PathBuf {
        self.dir.join("state")
    }

    /// File digests by stat.
    pub fn stat_cache(&self) -> PathBuf {
        self.state().join("stat-cache-v1.bin")
    }

    /// Which outputs are on disk for each task, and their fingerprint.
    pub fn outputs_state(&self) -> PathBuf {
        self.state().join("outputs-v1.json")
    }

    /// One JSON record per run (`docs/run-records.md`).
    pub fn runs(&self) -> PathBuf {
        self.dir.join("runs")
    }

    /// The repository's run lock and the named locks of tasks.
    pub fn locks(&self) -> PathBuf {
        self.dir.join("locks")
    }

    /// The run history database (built from the run records).
    pub fn history(&self) -> PathBuf {
        self.dir.join("history")
    }
}
