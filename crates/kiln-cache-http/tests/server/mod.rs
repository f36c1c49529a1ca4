//! A real `turborepo-remote-cache` server (installed by `npm ci --prefix tools/remote-cache`)
//! on a free loopback port, killed when the guard drops.

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Stdio};

use kiln_testkit::ServerProcess;
pub(crate) use kiln_testkit::{free_port, repo_root};

pub(crate) const TOKEN: &str = "kiln-test-token";
pub(crate) const TEAM: &str = "team_kiln";

pub(crate) struct Server {
    process: ServerProcess,
    pub(crate) port: u16,
    pub(crate) storage: Storage,
}

/// Where the server keeps its objects (the server's scratch directory).
pub(crate) struct Storage(PathBuf);

impl Storage {
    pub(crate) fn path(&self) -> &std::path::Path {
        &self.0
    }
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
        let cli =
            repo_root().join("tools/remote-cache/node_modules/turborepo-remote-cache/dist/cli.js");
        assert!(
            cli.exists(),
            "{} is missing: run `npm ci --prefix tools/remote-cache`",
            cli.display()
        );
        let storage = tempfile::tempdir().unwrap();
        let mut cmd = Command::new("node");
        cmd.arg(&cli)
            .env("HOST", "127.0.0.1")
            .env("PORT", port.to_string())
            .env("STORAGE_PROVIDER", "local")
            .env("STORAGE_PATH", storage.path())
            .env("STORAGE_PATH_USE_TMP_FOLDER", "false")
            .env("TURBO_TOKEN", TOKEN)
            .env("LOG_LEVEL", "warn")
            .env("NODE_ENV", "production")
            .env_remove("TURBO_REMOTE_CACHE_SIGNATURE_KEY")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        if let Some(key) = signature_key {
            cmd.env("TURBO_REMOTE_CACHE_SIGNATURE_KEY", key);
        }
        let storage_path = storage.path().to_path_buf();
        let process = ServerProcess::spawn("turborepo-remote-cache", cmd, port, storage);
        Self {
            process,
            port,
            storage: Storage(storage_path),
        }
    }

    pub(crate) fn url(&self) -> String {
        self.process.url("http")
    }

    /// Where the server keeps the object for `key` of the test team.
    pub(crate) fn object_path(&self, key: &str) -> PathBuf {
        self.storage.path().join(TEAM).join(key)
    }
}
