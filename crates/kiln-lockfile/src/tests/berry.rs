use super::*;

const FILE: &str = "yarn.lock";
const PATCHED: &str =
    "3.0.1 (patch:is-odd@npm%3A3.0.1#~/patches/is-odd@3.0.1.patch::version=3.0.1&hash=9ab332)";

#[test]
fn closures_start_at_the_workspace_entries() {
    let lock = parse(FILE, &fixture("yarn-berry.lock"));
    assert_fixture_closures(&lock, &app_closure(PATCHED, "18.3.1"));
}

#[test]
fn a_patch_change_changes_the_patched_identity() {
    let before = fixture("yarn-berry.lock");
    let after = edit(&before, &[("hash=9ab332", "hash=000000")]);
    let old = closure_for(&parse(FILE, &before), APP);
    let new = closure_for(&parse(FILE, &after), APP);
    let changed: Vec<_> = old.packages.symmetric_difference(&new.packages).collect();
    assert_eq!(changed.len(), 2, "{changed:?}");
    assert!(changed.iter().all(|p| p.name == "is-odd"));
}

#[test]
fn bumping_a_transitive_dependency_changes_only_the_closures_that_include_it() {
    let before = fixture("yarn-berry.lock");
    let after = edit(
        &before,
        &[(
            "version: 4.0.0\n  resolution: \"js-tokens@npm:4.0.0\"",
            "version: 4.0.1\n  resolution: \"js-tokens@npm:4.0.1\"",
        )],
    );
    assert_js_tokens_bump_affects_only_app(FILE, &before, &after);
}

#[test]
fn declarations_are_checked_against_the_workspace_entry() {
    let lock = parse(FILE, &fixture("yarn-berry.lock"));
    let closure = closure_of(
        &lock,
        "packages/lib",
        "lib",
        &[("debug", "2.6.9"), ("is-number", "^7.0.0"), ("zod", "^3")],
    );
    assert_eq!(
        closure.unresolved,
        [
            ("is-number".to_owned(), "^7.0.0".to_owned()),
            ("zod".to_owned(), "^3".to_owned())
        ]
    );
    let unknown = closure_of(
        &lock,
        "packages/new",
        "new",
        &[("ms", "^2.1.3"), ("zod", "^3")],
    );
    assert_eq!(ids(&unknown), ["ms@2.1.3"]);
    assert_eq!(unknown.unresolved, [("zod".to_owned(), "^3".to_owned())]);
}

#[test]
fn corrupt_input_is_an_error_naming_the_file() {
    assert_corrupt_names_file(
        FILE,
        "__metadata:\n  version: 8\n\n\"a@npm:^1\":\n  version: 1.0.0\n",
    );
    assert_corrupt_names_file(FILE, "__metadata:\n  version: 8\n\"a@npm:^1\": [\n");
}

/// yarn 2 and 3 (lockfile v6) write some ranges unquoted: YAML reads `2` and `0.3` as
/// numbers, and they are ranges all the same.
#[test]
fn unquoted_numeric_ranges_of_yarn_3_resolve() {
    let text = r#"__metadata:
  version: 6
  cacheKey: 8

"a@workspace:packages/a":
  version: 0.0.0-use.local
  resolution: "a@workspace:packages/a"
  dependencies:
    glob: ^7.1.3
  languageName: unknown
  linkType: soft

"glob@npm:^7.1.3":
  version: 7.2.3
  resolution: "glob@npm:7.2.3"
  dependencies:
    inherits: 2
    split: 0.3
  languageName: node
  linkType: hard

"inherits@npm:2":
  version: 2.0.4
  resolution: "inherits@npm:2.0.4"
  languageName: node
  linkType: hard

"split@npm:0.3":
  version: 0.3.3
  resolution: "split@npm:0.3.3"
  languageName: node
  linkType: hard
"#;
    let lock = parse(FILE, text);
    let closure = closure_of(&lock, "packages/a", "a", &[("glob", "^7.1.3")]);
    assert!(closure.unresolved.is_empty(), "{:?}", closure.unresolved);
    assert_eq!(
        ids(&closure),
        ["glob@7.2.3", "inherits@2.0.4", "split@0.3.3"]
    );
}
