//! A real `turborepo-remote-cache` server (installed by `npm ci --prefix tools/remote-cache`)
//! on a free loopback port, killed when the guard drops.

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use kiln_testkit::ServerProcess;
pub(crate) use kiln_testkit::free_port;

pub(crate) const TOKEN: &str = "kiln-test-token";
pub(crate) const TEAM: &str = "team_kiln";

pub(crate) struct Server {
    process: ServerProcess,
    pub(crate) port: u16,
}

impl Server {
    pub(crate) fn start() -> Self {
        Self::start_on(free_port(), None)
    }

    /// With a signature key set the server keeps the `x-artifact-tag` of each upload.
    pub(crate) fn start_signed() -> Self {
        Self::start_on(free_port(), Some("server-side-flag"))
    }

    pub(crate) fn start_on(port: u16, signature_key: Option<&str>) -> Self {
        let process = kiln_testkit::servers::turborepo_cache_on(port, TOKEN, signature_key);
        Self {
            port: process.port(),
            process,
        }
    }

    pub(crate) fn url(&self) -> String {
        self.process.url("http")
    }

    /// Where the server keeps its objects: `<team>/<hash>` files.
    pub(crate) fn storage(&self) -> &Path {
        self.process.dir()
    }

    /// Where the server keeps the object for `key` of the test team.
    pub(crate) fn object_path(&self, key: &str) -> PathBuf {
        self.storage().join(TEAM).join(key)
    }
}
