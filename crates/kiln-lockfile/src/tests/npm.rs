use super::*;
use crate::LockfileKind;

const FILE: &str = "package-lock.json";

#[test]
fn v3_closures_follow_node_resolution_from_each_importer() {
    let lock = parse(FILE, &fixture("npm-v3.package-lock.json"));
    assert_eq!(lock.kind(), LockfileKind::Npm);
    // app's is-odd needs is-number ^6: the copy nested under node_modules/is-odd, not the
    // hoisted 7.0.0; lib's own ^6 copy lives in packages/lib/node_modules.
    assert_fixture_closures(&lock, &app_closure("3.0.1", "18.3.1"));
}

#[test]
fn v2_reads_the_packages_map_like_v3() {
    let v2 = parse(FILE, &fixture("npm-v2.package-lock.json"));
    let v3 = parse(FILE, &fixture("npm-v3.package-lock.json"));
    for importer in [ROOT, APP, LIB] {
        assert_eq!(closure_for(&v2, importer), closure_for(&v3, importer));
    }
}

#[test]
fn v1_is_unsupported_so_the_caller_hashes_the_whole_file() {
    let err = parse_err(FILE, &fixture("npm-v1.package-lock.json"));
    assert!(
        matches!(&err, crate::LockfileError::UnsupportedVersion { version, .. } if version == "1"),
        "{err:?}"
    );
    assert!(err.to_string().contains(FILE));
}

#[test]
fn an_alias_resolves_to_the_aliased_package() {
    let lock = parse(FILE, &fixture("npm-v3.package-lock.json"));
    let closure = closure_of(&lock, "packages/app", "app", &[]);
    assert!(ids(&closure).contains(&"ms@2.1.2".to_owned()));
    assert!(!closure.packages.iter().any(|p| p.name == "my-ms"));
}

#[test]
fn bumping_a_transitive_dependency_changes_only_the_closures_that_include_it() {
    let before = fixture("npm-v3.package-lock.json");
    let after = edit(
        &before,
        &[(
            "\"node_modules/js-tokens\": {\n      \"version\": \"4.0.0\"",
            "\"node_modules/js-tokens\": {\n      \"version\": \"4.0.1\"",
        )],
    );
    assert_js_tokens_bump_affects_only_app(FILE, &before, &after);
}

#[test]
fn declarations_the_lockfile_does_not_match_are_unresolved() {
    let lock = parse(FILE, &fixture("npm-v3.package-lock.json"));
    let closure = closure_of(
        &lock,
        "packages/lib",
        "lib",
        &[
            ("debug", "2.6.9"),
            ("is-number", "^7.0.0"),
            ("left-pad", "^1.3.0"),
        ],
    );
    assert_eq!(
        closure.unresolved,
        [
            ("is-number".to_owned(), "^7.0.0".to_owned()),
            ("left-pad".to_owned(), "^1.3.0".to_owned())
        ]
    );
    // What was installed still counts.
    assert_eq!(ids(&closure), LIB_CLOSURE);
}

#[test]
fn an_importer_missing_from_the_lockfile_resolves_its_declarations_from_its_directory() {
    let lock = parse(FILE, &fixture("npm-v3.package-lock.json"));
    let closure = closure_of(
        &lock,
        "packages/new",
        "new",
        &[("debug", "^2.0.0"), ("nope", "1")],
    );
    assert_eq!(ids(&closure), ["debug@2.6.9", "ms@2.0.0"]);
    assert_eq!(closure.unresolved, [("nope".to_owned(), "1".to_owned())]);
}

#[test]
fn git_sources_are_part_of_the_identity_and_missing_optional_deps_are_not_errors() {
    let text = r#"{ "lockfileVersion": 3, "packages": {
      "": { "dependencies": { "a": "github:o/a" }, "devDependencies": { "b": "^1" } },
      "node_modules/a": { "version": "1.0.0", "resolved": "git+ssh://git@github.com/o/a.git#0123abc",
                          "optionalDependencies": { "fsevents": "^2" }, "peerDependencies": { "b": "^1" } },
      "node_modules/b": { "version": "1.1.0", "resolved": "https://registry.npmjs.org/b/-/b-1.1.0.tgz",
                          "dependencies": { "a": "*" } } } }"#;
    let lock = parse(FILE, text);
    let closure = closure_of(&lock, "", "root", &[]);
    assert_eq!(
        ids(&closure),
        [
            "a@1.0.0 (git+ssh://git@github.com/o/a.git#0123abc)",
            "b@1.1.0"
        ]
    );
}

#[test]
fn corrupt_input_is_an_error_naming_the_file_and_line() {
    assert_corrupt_names_file(FILE, "{\n  \"lockfileVersion\": 3,\n  \"packages\": {\n}");
    let err = parse_err(FILE, "{\n  \"lockfileVersion\": 3,\n  \"packages\": [\n");
    assert!(
        matches!(
            err,
            crate::LockfileError::Parse {
                line: Some(3 | 4),
                ..
            }
        ),
        "{err:?}"
    );
}
