//! A child process serving on a loopback port.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// How long a server may take to listen: generous, start-up time varies with machine load.
const START_DEADLINE: Duration = Duration::from_secs(60);

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind an ephemeral loopback port")
        .port()
}

/// The root of the kiln repository (where `tools/` lives).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crates/kiln-testkit is two levels below the root")
        .to_path_buf()
}

/// A tool the tests need: `$env_var` if set, else `tools/<rel>` under the repository root if
/// it exists, else `name` on the PATH. Panics with how to install it when none is there.
pub fn tool(env_var: &str, rel: &str, name: &str, install: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(env_var).filter(|v| !v.is_empty()) {
        return PathBuf::from(path);
    }
    let bundled = repo_root().join("tools").join(rel);
    if bundled.exists() {
        return bundled;
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    });
    on_path.unwrap_or_else(|| {
        panic!("`{name}` is needed by this test and was not found ({env_var}, tools/{rel}, PATH): {install}")
    })
}

/// A server started by a test, killed (with its process) when dropped.
pub struct ServerProcess {
    child: Child,
    port: u16,
    name: String,
    /// Scratch space of the server (storage, config), removed after the process is gone.
    dir: tempfile::TempDir,
}

impl ServerProcess {
    /// Spawns `command` (which must listen on 127.0.0.1:`port`) and waits until the port
    /// accepts connections. Panics if the process exits first or never listens.
    pub fn spawn(name: &str, mut command: Command, port: u16, dir: tempfile::TempDir) -> Self {
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let mut server = Self {
            child,
            port,
            name: name.to_string(),
            dir,
        };
        server.wait_until_listening();
        server
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `scheme://127.0.0.1:port`.
    pub fn url(&self, scheme: &str) -> String {
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// The scratch directory given to [`spawn`](Self::spawn).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Kills the server now (to test a remote that goes away).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn wait_until_listening(&mut self) {
        let deadline = Instant::now() + START_DEADLINE;
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("{} exited before listening ({status})", self.name);
            }
            assert!(
                Instant::now() < deadline,
                "{} did not listen on port {} within {START_DEADLINE:?}",
                self.name,
                self.port
            );
            // Refused connections return at once: don't spin the CPU the server needs.
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.stop();
    }
}
