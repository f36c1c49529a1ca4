//! Ctrl-C stops every child process tree: no orphan survives kiln.

use crate::support::{Repo, Running, artifact_blobs};

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

    let mut kiln = Running::start(repo.kiln().args(["run", "build", "--concurrency", "2"]));
    kiln.wait_for(2, "ready");
    let mut pids = Vec::new();
    for name in ["one", "two"] {
        for file in ["child.pid", "grandchild.pid"] {
            let text = std::fs::read_to_string(repo.path(&format!("pkgs/{name}/{file}"))).unwrap();
            let pid: i32 = text.trim().parse().unwrap();
            assert!(alive(pid));
            pids.push(pid);
        }
    }

    let exit = kiln.interrupt();
    assert_eq!(exit.code(), Some(130), "interrupted runs exit 130");
    for pid in pids {
        assert!(!alive(pid), "process {pid} outlived kiln");
    }
    assert!(
        artifact_blobs(&repo).is_empty(),
        "nothing interrupted was cached"
    );
}
