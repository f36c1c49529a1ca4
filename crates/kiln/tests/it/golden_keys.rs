//! The task keys of the bundled example are pinned: an accidental change to what goes into a
//! key (or how it is encoded) fails here, loudly. A deliberate change bumps
//! `KEY_FORMAT_VERSION` and updates the snapshot (`INSTA_UPDATE=always scripts/test`).
//!
//! Keys include the platform, so the snapshot is for Linux on x86-64.

#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

use std::path::Path;

use crate::support::Repo;

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if [".kiln", "dist", "node_modules"].iter().any(|n| name == *n) {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn example_monorepo_task_keys_are_stable() {
    let repo = Repo::empty();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/acme");
    copy_tree(&example, &repo.root);
    repo.commit("example");
    let out = repo.run_ok(&["run", "build", "test", "lint", "--dry-run=json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let keys: Vec<String> = json["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            format!(
                "{} {}",
                t["taskId"].as_str().unwrap(),
                t["hash"].as_str().unwrap()
            )
        })
        .collect();
    insta::assert_snapshot!(keys.join("\n"));
}
