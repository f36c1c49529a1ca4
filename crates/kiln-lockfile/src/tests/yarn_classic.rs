use super::*;

const FILE: &str = "yarn.lock";

#[test]
fn closures_come_from_the_declared_specs() {
    let lock = parse(FILE, &fixture("yarn-classic.lock"));
    assert_fixture_closures(&lock, &app_closure("3.0.1", "18.3.1"));
}

#[test]
fn a_spec_without_an_entry_is_unresolved() {
    let lock = parse(FILE, &fixture("yarn-classic.lock"));
    let closure = closure_of(
        &lock,
        "packages/lib",
        "lib",
        &[("debug", "2.6.9"), ("is-number", "^5.0.0")],
    );
    assert_eq!(ids(&closure), ["debug@2.6.9", "ms@2.0.0"]);
    assert_eq!(
        closure.unresolved,
        [("is-number".to_owned(), "^5.0.0".to_owned())]
    );
}

#[test]
fn bumping_a_transitive_dependency_changes_only_the_closures_that_include_it() {
    let before = fixture("yarn-classic.lock");
    let after = edit(
        &before,
        &[
            ("  version \"4.0.0\"", "  version \"4.0.1\""),
            ("js-tokens-4.0.0.tgz", "js-tokens-4.0.1.tgz"),
        ],
    );
    assert_js_tokens_bump_affects_only_app(FILE, &before, &after);
}

#[test]
fn git_resolutions_are_part_of_the_identity_and_cycles_terminate() {
    let text = "# yarn lockfile v1\n\n\"a@github:o/a\":\n  version \"1.0.0\"\n  resolved \"https://codeload.github.com/o/a/tar.gz/0123abc\"\n  dependencies:\n    \"@s/b\" \"^2\"\n\n\"@s/b@^2\", \"@s/b@^2.1\":\n  version \"2.1.0\"\n  resolved \"https://registry.yarnpkg.com/@s/b/-/b-2.1.0.tgz#ff\"\n  dependencies:\n    a \"github:o/a\"\n";
    let lock = parse(FILE, text);
    let closure = closure_of(&lock, "", "root", &[("@s/b", "^2.1")]);
    assert_eq!(
        ids(&closure),
        [
            "@s/b@2.1.0",
            "a@1.0.0 (https://codeload.github.com/o/a/tar.gz/0123abc)"
        ]
    );
}

#[test]
fn corrupt_input_is_an_error_naming_the_file_and_line() {
    let err = parse_err(FILE, "# yarn lockfile v1\n\na@^1:\n  resolved \"x\"\n");
    assert!(
        matches!(err, crate::LockfileError::Parse { line: Some(3), .. }),
        "{err:?}"
    );
    assert_corrupt_names_file(FILE, "a@^1\n  version \"1\"\n");
    assert_corrupt_names_file(FILE, "  version \"1\"\n");
}
