//! A server that accepts every connection and never answers: what a hung or overloaded cache
//! looks like to a client. Connecting succeeds at once, so only request timeouts can save the
//! caller; the slow-server tests of every store point their client here.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;

/// The silent server; stops accepting when dropped (held connections are closed).
pub struct Silent {
    port: u16,
    stopping: Arc<AtomicBool>,
    accepted: Arc<AtomicUsize>,
    acceptor: Option<JoinHandle<()>>,
}

impl Silent {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let port = listener.local_addr().expect("local addr").port();
        let stopping = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicUsize::new(0));
        let acceptor = {
            let stopping = Arc::clone(&stopping);
            let accepted = Arc::clone(&accepted);
            std::thread::spawn(move || {
                let mut held: Vec<JoinHandle<()>> = Vec::new();
                for stream in listener.incoming() {
                    if stopping.load(Ordering::Acquire) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    accepted.fetch_add(1, Ordering::Relaxed);
                    held.push(std::thread::spawn(move || swallow(stream)));
                }
            })
        };
        Self {
            port,
            stopping,
            accepted,
            acceptor: Some(acceptor),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `scheme://127.0.0.1:port`.
    pub fn url(&self, scheme: &str) -> String {
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// Connections accepted so far: a tripped breaker stops making new ones.
    pub fn connections(&self) -> usize {
        self.accepted.load(Ordering::Relaxed)
    }
}

/// Reads and discards until the client gives up.
fn swallow(mut stream: TcpStream) {
    let mut buf = [0u8; 8192];
    while matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
}

impl Drop for Silent {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::Release);
        // Wake the acceptor so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::time::Duration;

    #[test]
    fn accepts_and_never_answers() {
        let silent = Silent::start();
        let mut stream = TcpStream::connect(("127.0.0.1", silent.port())).unwrap();
        stream.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
        stream
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut buf = [0u8; 16];
        let err = stream.read(&mut buf).unwrap_err();
        assert!(matches!(
            err.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ));
        assert_eq!(silent.connections(), 1);
    }
}
