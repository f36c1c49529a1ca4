//! A remote cache behind the local one: a build on one clone is restored on a clean second
//! clone from a real Redis or a real Turborepo remote-cache server; a remote that is down
//! costs one warning and nothing else; a read-only remote receives nothing.

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Repo, dist_trees, stderr, stdout};

const TOKEN: &str = "kiln-it-token";

/// A server process on a free loopback port, killed when dropped.
struct Server {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for(port: u16, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("server exited early: {status}");
        }
        assert!(Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(25));
    }
}

fn redis() -> Server {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server is installed (.ci/run installs it)");
    wait_for(port, &mut child);
    Server {
        child,
        port,
        _dir: dir,
    }
}

fn turborepo_cache() -> Server {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let cli = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tools/remote-cache/node_modules/turborepo-remote-cache/dist/cli.js");
    assert!(cli.exists(), "run `npm ci --prefix tools/remote-cache`");
    let mut child = Command::new("node")
        .arg(&cli)
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .env("STORAGE_PROVIDER", "local")
        .env("STORAGE_PATH", dir.path())
        .env("STORAGE_PATH_USE_TMP_FOLDER", "false")
        .env("TURBO_TOKEN", TOKEN)
        .env("LOG_LEVEL", "warn")
        .env("NODE_ENV", "production")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(port, &mut child);
    Server {
        child,
        port,
        _dir: dir,
    }
}

/// A clean second clone of `repo`: same files, no `.kiln/`, no outputs.
fn second_clone(repo: &Repo) -> Repo {
    let clone = Repo::empty();
    let status = Command::new("git")
        .args(["clone", "-q"])
        .arg(&repo.root)
        .arg(&clone.root)
        .status()
        .unwrap();
    assert!(status.success());
    clone
}

fn build(repo: &Repo, url: &str, extra: &[&str]) -> std::process::Output {
    repo.kiln()
        .args(["run", "build", "--remote-cache", url])
        .args(extra)
        .env("KILN_REMOTE_CACHE_TOKEN", TOKEN)
        .output()
        .unwrap()
}

fn round_trip(url: &str) {
    let first = Repo::generated(6, &[]);
    let out = build(&first, url, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(first.take_exec_log().len(), 6);

    let second = second_clone(&first);
    let out = build(&second, url, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        second.take_exec_log().is_empty(),
        "everything came from the remote"
    );
    assert!(
        stdout(&out).contains("cache hit (remote)"),
        "{}",
        stdout(&out)
    );
    assert!(stdout(&out).contains("6 cached"), "{}", stdout(&out));
    assert_eq!(
        dist_trees(&first),
        dist_trees(&second),
        "byte-identical outputs"
    );
    assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));
}

#[test]
fn a_clean_clone_restores_everything_from_redis() {
    let server = redis();
    round_trip(&format!("redis://127.0.0.1:{}", server.port));
}

#[test]
fn a_clean_clone_restores_everything_from_a_turborepo_remote_cache() {
    let server = turborepo_cache();
    round_trip(&format!("http://127.0.0.1:{}", server.port));
}

#[test]
fn a_remote_that_is_down_costs_one_warning_and_the_build_goes_on() {
    let repo = Repo::generated(6, &[]);
    let url = format!("redis://127.0.0.1:{}", free_port());
    let started = Instant::now();
    let out = build(&repo, &url, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(repo.take_exec_log().len(), 6);
    let err = stderr(&out);
    assert_eq!(err.matches("is not answering").count(), 1, "{err}");
    assert!(started.elapsed() < Duration::from_secs(60));
    // The local cache works as ever.
    let again = build(&repo, &url, &[]);
    assert!(stdout(&again).contains("6 cached"), "{}", stdout(&again));
}

#[test]
fn a_read_only_remote_receives_nothing() {
    let server = redis();
    let url = format!("redis://127.0.0.1:{}", server.port);
    let first = Repo::generated(4, &[]);
    let out = build(&first, &url, &["--cache", "local:rw,remote:r"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let second = second_clone(&first);
    let out = build(&second, &url, &[]);
    assert!(out.status.success());
    assert_eq!(second.take_exec_log().len(), 4, "nothing was uploaded");
    let bad = build(&second, &url, &["--cache", "remote:sometimes"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("--cache"), "{}", stderr(&bad));
}
