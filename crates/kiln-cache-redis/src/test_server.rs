//! A real `redis-server` for the tests: started on a free port of 127.0.0.1, killed on drop.

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
        Self {
            _process: kiln_testkit::servers::redis_on(port),
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
