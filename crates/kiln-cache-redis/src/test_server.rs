//! A real `redis-server` for the tests: started on a free port of 127.0.0.1, killed on drop.

use std::process::{Command, Stdio};

use kiln_testkit::ServerProcess;
pub(crate) use kiln_testkit::free_port;

pub(crate) struct RedisServer {
    _process: ServerProcess,
    pub(crate) port: u16,
}

impl RedisServer {
    pub(crate) fn start() -> Self {
        Self::start_on(free_port())
    }

    pub(crate) fn start_on(port: u16) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut cmd = Command::new("redis-server");
        cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        Self {
            _process: ServerProcess::spawn("redis-server", cmd, port, dir),
            port,
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// A plain connection, to inspect or damage what the store wrote.
    pub(crate) fn raw(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .and_then(|c| c.get_connection())
            .expect("connect to the test server")
    }
}
