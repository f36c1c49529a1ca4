//! The real servers kiln's remote cache stores are tested against, each started on a free
//! loopback port with its storage in the [`ServerProcess`]'s scratch directory and its output
//! in `server.log` there: `redis-server`, the npm `turborepo-remote-cache`, `s3s-fs` and
//! BuildGrid's `bgd`. `.ci/run` installs them; [`tool`] says how when one is missing.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::{ServerProcess, free_port, repo_root, tool};

/// `redis-server` without persistence.
pub fn redis() -> ServerProcess {
    redis_on(free_port())
}

/// [`redis`] on a given port (to test a client that was there before the server).
pub fn redis_on(port: u16) -> ServerProcess {
    let mut cmd = Command::new("redis-server");
    cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"]);
    start("redis-server", cmd, port, |_, _| {})
}

/// `turborepo-remote-cache` with local storage (objects at `<dir>/<team>/<hash>`),
/// accepting `token`; with `signature_key` it keeps each upload's `x-artifact-tag`.
pub fn turborepo_cache(token: &str, signature_key: Option<&str>) -> ServerProcess {
    turborepo_cache_on(free_port(), token, signature_key)
}

/// [`turborepo_cache`] on a given port (to test a client that was there before the server).
pub fn turborepo_cache_on(port: u16, token: &str, signature_key: Option<&str>) -> ServerProcess {
    let cli =
        repo_root().join("tools/remote-cache/node_modules/turborepo-remote-cache/dist/cli.js");
    assert!(
        cli.exists(),
        "{} is missing: run `npm ci --prefix tools/remote-cache`",
        cli.display()
    );
    let mut cmd = Command::new("node");
    cmd.arg(&cli)
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .env("STORAGE_PROVIDER", "local")
        .env("STORAGE_PATH_USE_TMP_FOLDER", "false")
        .env("TURBO_TOKEN", token)
        .env("LOG_LEVEL", "warn")
        .env("NODE_ENV", "production")
        .env_remove("TURBO_REMOTE_CACHE_SIGNATURE_KEY");
    if let Some(key) = signature_key {
        cmd.env("TURBO_REMOTE_CACHE_SIGNATURE_KEY", key);
    }
    start("turborepo-remote-cache", cmd, port, |cmd, dir| {
        cmd.env("STORAGE_PATH", dir);
    })
}

/// `s3s-fs` serving `<dir>/data`, with `bucket` created, checking signatures made with
/// `access_key`/`secret_key`. Objects are files at `<dir>/data/<bucket>/<object>`.
pub fn s3s_fs(bucket: &str, access_key: &str, secret_key: &str) -> ServerProcess {
    let binary = tool(
        "KILN_S3S_FS",
        "s3s/bin/s3s-fs",
        "s3s-fs",
        "cargo install s3s-fs --version 0.14.1 --features binary --locked --root tools/s3s",
    );
    let port = free_port();
    let bucket = bucket.to_string();
    let mut cmd = Command::new(binary);
    cmd.args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--access-key", access_key, "--secret-key", secret_key]);
    start("s3s-fs", cmd, port, move |cmd, dir| {
        let data = dir.join("data");
        std::fs::create_dir_all(data.join(&bucket)).expect("create the bucket");
        cmd.arg(data);
    })
}

/// BuildGrid's `bgd` from `tools/buildgrid/cas-ac.yml` (disk CAS under `<dir>/cas`, action
/// cache, ByteStream, instance `main`), the config text passed through `edit` first.
pub fn buildgrid(edit: impl FnOnce(String) -> String) -> ServerProcess {
    let bgd = tool(
        "KILN_BGD",
        "buildgrid/.venv/bin/bgd",
        "bgd",
        "python3 -m venv tools/buildgrid/.venv && \
         tools/buildgrid/.venv/bin/pip install -r tools/buildgrid/requirements.txt",
    );
    let template = std::fs::read_to_string(repo_root().join("tools/buildgrid/cas-ac.yml"))
        .expect("tools/buildgrid/cas-ac.yml");
    let port = free_port();
    let mut cmd = Command::new(bgd);
    cmd.args(["server", "start"]);
    start("bgd", cmd, port, move |cmd, dir| {
        let config = dir.join("config.yml");
        let text = template
            .replace("@PORT@", &port.to_string())
            .replace("@DIR@", dir.to_str().expect("a UTF-8 temp dir"));
        std::fs::write(&config, edit(text)).expect("write the bgd config");
        cmd.arg(config);
    })
}

/// Runs `cmd` in a fresh scratch directory (after `prepare` has completed it for that
/// directory), output to `server.log` there, and waits until it listens on `port`.
fn start(
    name: &str,
    mut cmd: Command,
    port: u16,
    prepare: impl FnOnce(&mut Command, &Path),
) -> ServerProcess {
    let dir = tempfile::tempdir().expect("a scratch directory for the server");
    let log = std::fs::File::create(dir.path().join("server.log")).expect("server log");
    cmd.current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log handle"))
        .stderr(log);
    prepare(&mut cmd, dir.path());
    ServerProcess::spawn(name, cmd, port, dir)
}
