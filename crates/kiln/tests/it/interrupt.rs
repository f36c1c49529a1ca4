//! Ctrl-C stops every child process tree: no orphan survives kiln.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use crate::support::{Repo, artifact_blobs};

/// Alive means running or sleeping; a zombie waiting to be reaped is already dead.
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat.rsplit(')').next().unwrap_or("").trim_start();
            !state.starts_with('Z') && !state.starts_with('X')
        }
        Err(_) => false,
    }
}

#[test]
fn ctrl_c_stops_every_task_and_its_children() {
    let repo = Repo::npm_workspace();
    repo.write(
        "turbo.json",
        r#"{ "tasks": { "build": { "outputs": [] } } }"#,
    );
    for name in ["one", "two"] {
        // Each task leaves a grandchild in the background, records both pids, says ready,
        // then waits forever.
        repo.write(
            &format!("pkgs/{name}/package.json"),
            &format!(r#"{{ "name": "{name}", "scripts": {{ "build": "sh ./run.sh" }} }}"#),
        )
        .write(
            &format!("pkgs/{name}/run.sh"),
            "sleep 1000 &\necho $! > grandchild.pid\necho $$ > child.pid\necho ready\nwait\n",
        );
    }
    repo.write(".gitignore", "*.pid\n.kiln/\n");
    repo.commit("fixture");

    let mut kiln = repo
        .kiln()
        .args(["run", "build", "--concurrency", "2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(kiln.stdout.take().unwrap()).lines();
    let mut ready = 0;
    while ready < 2 {
        let line = lines
            .next()
            .expect("kiln output ended before both tasks were ready")
            .unwrap();
        if line.ends_with("ready") {
            ready += 1;
        }
    }
    let mut pids = Vec::new();
    for name in ["one", "two"] {
        for file in ["child.pid", "grandchild.pid"] {
            let text = std::fs::read_to_string(repo.path(&format!("pkgs/{name}/{file}"))).unwrap();
            let pid: i32 = text.trim().parse().unwrap();
            assert!(alive(pid));
            pids.push(pid);
        }
    }

    let status = std::process::Command::new("kill")
        .args(["-INT", &kiln.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    for _ in lines.by_ref() {}
    let exit = kiln.wait().unwrap();
    assert_eq!(exit.code(), Some(130), "interrupted runs exit 130");
    for pid in pids {
        assert!(!alive(pid), "process {pid} outlived kiln");
    }
    assert!(
        artifact_blobs(&repo).is_empty(),
        "nothing interrupted was cached"
    );
}
