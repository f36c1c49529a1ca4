use super::*;

const FILE: &str = "bun.lock";

#[test]
fn closures_resolve_nested_copies_before_hoisted_ones() {
    let lock = parse(FILE, &fixture("bun.lock"));
    assert_fixture_closures(
        &lock,
        &app_closure("3.0.1 (patch: patches/is-odd@3.0.1.patch)", "18.3.1"),
    );
}

#[test]
fn bumping_a_transitive_dependency_changes_only_the_closures_that_include_it() {
    let before = fixture("bun.lock");
    let after = edit(&before, &[("\"js-tokens@4.0.0\"", "\"js-tokens@4.0.1\"")]);
    assert_js_tokens_bump_affects_only_app(FILE, &before, &after);
}

#[test]
fn declarations_are_checked_against_the_workspace_record() {
    let lock = parse(FILE, &fixture("bun.lock"));
    let closure = closure_of(
        &lock,
        "",
        "monorepo",
        &[("is-number", "^7.0.0"), ("ms", "^2.0.0")],
    );
    assert_eq!(closure.unresolved, [("ms".to_owned(), "^2.0.0".to_owned())]);
    assert_eq!(ids(&closure), ROOT_CLOSURE);
}

#[test]
fn non_registry_sources_keep_their_reference_and_unknown_versions_are_refused() {
    let text = r#"{ "lockfileVersion": 1, "workspaces": { "": { "dependencies": { "a": "github:o/a", }, }, },
      "packages": { "a": ["a@github:o/a#0123abc", { "dependencies": { "@s/b": "^1" } }, "o-a-0123abc"],
                    "@s/b": ["@s/b@1.0.0", "", {}, "sha512-x"], }, }"#;
    let lock = parse(FILE, text);
    assert_eq!(
        ids(&closure_of(&lock, "", "root", &[])),
        ["@s/b@1.0.0", "a@github:o/a#0123abc"]
    );
    let err = parse_err(FILE, r#"{ "lockfileVersion": 9, "packages": {} }"#);
    assert!(
        matches!(err, crate::LockfileError::UnsupportedVersion { .. }),
        "{err:?}"
    );
}

#[test]
fn corrupt_input_is_an_error_naming_the_file() {
    assert_corrupt_names_file(
        FILE,
        "{ \"lockfileVersion\": 1, \"packages\": { \"a\": [] } }",
    );
    assert_corrupt_names_file(FILE, "{ \"lockfileVersion\": 1,\n \"packages\": {");
}
