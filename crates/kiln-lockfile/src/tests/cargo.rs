use super::*;
use crate::LockfileKind;

const FILE: &str = "Cargo.lock";

/// The workspace members of a Cargo.lock: entries without a source.
fn members(text: &str) -> Vec<String> {
    let value: toml::Value = toml::from_str(text).unwrap();
    value["package"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p.get("source").is_none())
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_member_closure_is_its_external_crates_only() {
    let lock = parse(FILE, &fixture("Cargo.lock"));
    assert_eq!(lock.kind(), LockfileKind::Cargo);
    let closure = closure_of(&lock, "crates/kiln-core", "kiln-core", &[("serde", "1")]);
    let names: Vec<&str> = closure.packages.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "proc-macro2",
            "quote",
            "serde",
            "serde_core",
            "serde_derive",
            "syn",
            "unicode-ident"
        ]
    );
    assert!(ids(&closure).contains(&"serde@1.0.229".to_owned()));
    assert!(closure.unresolved.is_empty());
    // kiln-graph depends on kiln-core and kiln-workspace: their crates are not its closure's.
    for member in members(&fixture("Cargo.lock")) {
        let closure = closure_of(&lock, "", &member, &[]);
        assert!(
            !closure.packages.iter().any(|p| p.name.starts_with("kiln")),
            "{member}"
        );
    }
}

#[test]
fn bumping_a_transitive_crate_changes_exactly_the_closures_that_include_it() {
    let before = fixture("Cargo.lock");
    let after = edit(
        &before,
        &[(
            "name = \"unicode-ident\"\nversion = \"",
            "name = \"unicode-ident\"\nversion = \"9",
        )],
    );
    let (old, new) = (parse(FILE, &before), parse(FILE, &after));
    let mut changed = 0;
    for member in members(&before) {
        let (a, b) = (
            closure_of(&old, "", &member, &[]),
            closure_of(&new, "", &member, &[]),
        );
        let includes = a.packages.iter().any(|p| p.name == "unicode-ident");
        assert_eq!(a != b, includes, "{member}");
        changed += usize::from(includes);
    }
    assert!(changed > 0);
}

#[test]
fn git_and_other_registry_sources_are_part_of_the_identity() {
    let text = r#"version = 3

[[package]]
name = "app"
version = "0.1.0"
dependencies = ["log 0.4.20", "log 0.4.21 (git+https://github.com/rust-lang/log?rev=abc#abc123)", "tool", "helper"]

[[package]]
name = "helper"
version = "0.1.0"
dependencies = ["cycle-a"]

[[package]]
name = "log"
version = "0.4.20"
source = "registry+https://github.com/rust-lang/crates.io-index"

[[package]]
name = "log"
version = "0.4.21"
source = "git+https://github.com/rust-lang/log?rev=abc#abc123"

[[package]]
name = "tool"
version = "1.0.0"
source = "sparse+https://my.registry/index/"
dependencies = ["cycle-a"]

[[package]]
name = "cycle-a"
version = "1.0.0"
source = "registry+https://github.com/rust-lang/crates.io-index"
dependencies = ["cycle-b"]

[[package]]
name = "cycle-b"
version = "1.0.0"
source = "registry+https://github.com/rust-lang/crates.io-index"
dependencies = ["cycle-a"]
"#;
    let lock = parse(FILE, text);
    let closure = closure_of(&lock, "app", "app", &[("log", "0.4"), ("serde", "1")]);
    assert_eq!(
        ids(&closure),
        [
            "cycle-a@1.0.0",
            "cycle-b@1.0.0",
            "log@0.4.20",
            "log@0.4.21 (git+https://github.com/rust-lang/log?rev=abc#abc123)",
            "tool@1.0.0 (sparse+https://my.registry/index/)",
        ]
    );
    // Not traversed through the path crate `helper`; serde is declared but not locked.
    assert_eq!(closure.unresolved, [("serde".to_owned(), "1".to_owned())]);
}

#[test]
fn version_1_files_with_a_root_table_are_read() {
    let text = "[root]\nname = \"app\"\nversion = \"0.1.0\"\ndependencies = [\n \"libc 0.2.0 (registry+https://github.com/rust-lang/crates.io-index)\",\n]\n\n[[package]]\nname = \"libc\"\nversion = \"0.2.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n\n[metadata]\n\"checksum libc 0.2.0 (registry+https://github.com/rust-lang/crates.io-index)\" = \"00\"\n";
    let lock = parse(FILE, text);
    assert_eq!(ids(&closure_of(&lock, "", "app", &[])), ["libc@0.2.0"]);
}

#[test]
fn corrupt_or_future_files_are_errors_naming_the_file() {
    let err = parse_err(
        FILE,
        "version = 4\n\n[[package]]\nname = \"a\"\nversion = 1\n",
    );
    assert!(
        matches!(err, crate::LockfileError::Parse { line: Some(5), .. }),
        "{err:?}"
    );
    assert!(err.to_string().starts_with("Cargo.lock:5"), "{err}");
    assert_corrupt_names_file(
        FILE,
        "[[package]]\nname = \"a\"\nversion = \"1.0.0\"\ndependencies = [\"missing\"]\n",
    );
    let err = parse_err(FILE, "version = 5\n");
    assert!(
        matches!(err, crate::LockfileError::UnsupportedVersion { .. }),
        "{err:?}"
    );
}
