//! A real `turborepo-remote-cache` server (installed by `npm ci --prefix tools/remote-cache`)
//! on a free loopback port, killed when the guard drops.

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) const TOKEN: &str = "kiln-test-token";
pub(crate) const TEAM: &str = "team_kiln";

pub(crate) struct Server {
    child: Child,
    pub(crate) port: u16,
    pub(crate) storage: tempfile::TempDir,
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
        let mut child = cmd.spawn().expect("node runs");
        let deadline = Instant::now() + Duration::from_secs(30);
        // Poll until the port accepts: the server's start-up time varies with machine load.
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("remote cache server exited early: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "remote cache server did not start"
            );
            std::thread::sleep(Duration::from_millis(25));
        }
        Self {
            child,
            port,
            storage,
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Where the server keeps the object for `key` of the test team.
    pub(crate) fn object_path(&self, key: &str) -> PathBuf {
        self.storage.path().join(TEAM).join(key)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub(crate) fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap()
        .to_path_buf()
}
