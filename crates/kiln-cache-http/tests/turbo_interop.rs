//! Protocol interop with the real `turbo` binary (installed into `tools/turbo` by
//! `.ci/run`), both ways: an artifact turbo uploads, signed, to the same server is read back
//! by kiln's client and its signature verifies under kiln's implementation of the scheme; and
//! an object kiln's client uploads, signed, is verified and restored by turbo. (The two tools
//! compute different keys, so this is tested at the protocol level.)

mod server;

use std::process::Command;

use kiln_cache::{CacheError, CacheStore};
use kiln_cache_http::{HttpConfig, HttpStore};
use server::{Server, TEAM, TOKEN};

const KEY: &str = "a signing key of at least thirty-two bytes";

/// Runs `turbo run build` in a one-package repository at `root` (created on first use)
/// against `server`, and returns its stdout.
fn turbo_build(server: &Server, root: &std::path::Path) -> String {
    let turbo = kiln_testkit::repo_root().join("tools/turbo/node_modules/.bin/turbo");
    assert!(
        turbo.exists(),
        "{} is missing: run `npm ci --prefix tools/turbo`",
        turbo.display()
    );
    fs_err::create_dir_all(root.join("packages/a")).unwrap();
    fs_err::write(
        root.join("package.json"),
        r#"{"name":"root","private":true,"packageManager":"npm@10.0.0","workspaces":["packages/*"]}"#,
    )
    .unwrap();
    fs_err::write(
        root.join("turbo.json"),
        r#"{"remoteCache":{"signature":true},"tasks":{"build":{"outputs":["dist/**"]}}}"#,
    )
    .unwrap();
    fs_err::write(
        root.join("packages/a/package.json"),
        r#"{"name":"a","version":"1.0.0","scripts":{"build":"mkdir -p dist && echo hi > dist/out.txt"}}"#,
    )
    .unwrap();
    let out = Command::new(&turbo)
        .args(["run", "build", "--summarize=false"])
        .current_dir(root)
        .env("TURBO_API", server.url())
        .env("TURBO_TOKEN", TOKEN)
        .env("TURBO_TEAMID", TEAM)
        .env("TURBO_REMOTE_CACHE_SIGNATURE_KEY", KEY)
        .env("TURBO_TELEMETRY_DISABLED", "1")
        .env("DO_NOT_TRACK", "1")
        .env_remove("TURBO_TEAM")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "turbo failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn turbo_uploads_one_artifact(server: &Server, root: &std::path::Path) -> String {
    turbo_build(server, root);
    // turbo uploads in the background before it exits; the object is there once it has.
    let mut hashes: Vec<String> = fs_err::read_dir(server.storage().join(TEAM))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| !name.ends_with(".tag"))
        .collect();
    assert_eq!(hashes.len(), 1, "{hashes:?}");
    hashes.pop().unwrap()
}

#[test]
fn kiln_verifies_what_turbo_signed_and_refuses_it_as_an_entry() {
    let server = Server::start_signed();
    let repo = tempfile::tempdir().unwrap();
    let hash = turbo_uploads_one_artifact(&server, repo.path());
    let dir = tempfile::tempdir().unwrap();
    let mut config = HttpConfig::new(server.url(), TOKEN);
    config.team_id = Some(TEAM.into());
    config.signing_key = Some(KEY.as_bytes().to_vec());
    let store = HttpStore::new(config.clone());

    let raw = store.fetch_object(&hash, dir.path()).unwrap().unwrap();
    assert_eq!(
        fs_err::read(&raw).unwrap(),
        fs_err::read(server.storage().join(TEAM).join(&hash)).unwrap()
    );
    // Turbo's artifact is a tarball, not a kiln entry: a corrupt entry, never misread.
    assert!(matches!(
        store.fetch(&hash, dir.path()),
        Err(CacheError::Corrupt { .. })
    ));

    config.signing_key = Some(b"another key entirely, also long".to_vec());
    let wrong = HttpStore::new(config);
    assert!(matches!(
        wrong.fetch_object(&hash, dir.path()),
        Err(CacheError::Corrupt { .. })
    ));
}

#[test]
fn turbo_verifies_and_restores_what_kiln_uploaded() {
    let server = Server::start_signed();
    let repo = tempfile::tempdir().unwrap();
    let root = repo.path();
    let hash = turbo_uploads_one_artifact(&server, root);
    let mut config = HttpConfig::new(server.url(), TOKEN);
    config.team_id = Some(TEAM.into());
    config.signing_key = Some(KEY.as_bytes().to_vec());
    let store = HttpStore::new(config);
    let scratch = tempfile::tempdir().unwrap();
    let object = store.fetch_object(&hash, scratch.path()).unwrap().unwrap();

    // Take turbo's upload away, and everything turbo keeps locally; kiln puts the object
    // back with its own client and its own signature.
    let team_dir = server.storage().join(TEAM);
    fs_err::remove_dir_all(&team_dir).unwrap();
    fs_err::create_dir_all(&team_dir).unwrap();
    for local in [
        ".turbo",
        "node_modules/.cache",
        "packages/a/dist",
        "packages/a/.turbo",
    ] {
        let _ = fs_err::remove_dir_all(root.join(local));
    }
    assert!(!root.join("packages/a/dist/out.txt").exists());
    store.store_object(&hash, &object, 1234).unwrap();

    let out = turbo_build(&server, root);
    assert!(
        out.contains("cache hit"),
        "turbo did not use kiln's upload: {out}"
    );
    assert_eq!(
        fs_err::read_to_string(root.join("packages/a/dist/out.txt")).unwrap(),
        "hi\n"
    );

    // A body kiln signs with another key is refused by turbo: it runs the task again.
    let mut config = HttpConfig::new(server.url(), TOKEN);
    config.team_id = Some(TEAM.into());
    config.signing_key = Some(b"another key entirely, also long".to_vec());
    HttpStore::new(config)
        .store_object(&hash, &object, 1234)
        .unwrap();
    for local in [
        ".turbo",
        "node_modules/.cache",
        "packages/a/dist",
        "packages/a/.turbo",
    ] {
        let _ = fs_err::remove_dir_all(root.join(local));
    }
    let out = turbo_build(&server, root);
    assert!(out.contains("cache miss"), "{out}");
}
