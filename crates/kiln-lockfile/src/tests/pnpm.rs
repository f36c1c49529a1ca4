use super::*;

const FILE: &str = "pnpm-lock.yaml";
const HASH: &str = "g3wdyvhxmij5qxi3bahi4z4cc4";

fn patched(suffix: &str) -> String {
    format!("3.0.1{suffix}")
}

#[test]
fn v9_closures_use_snapshots_with_peer_and_patch_suffixes() {
    let lock = parse(FILE, &fixture("pnpm-v9.yaml"));
    assert_fixture_closures(
        &lock,
        &app_closure(
            &patched(&format!("(patch_hash={HASH})")),
            "18.3.1(react@18.3.1)",
        ),
    );
}

#[test]
fn v6_closures_use_slash_prefixed_keys() {
    let lock = parse(FILE, &fixture("pnpm-v6.yaml"));
    assert_fixture_closures(
        &lock,
        &app_closure(
            &patched(&format!("(patch_hash={HASH})")),
            "18.3.1(react@18.3.1)",
        ),
    );
}

#[test]
fn v5_closures_use_slash_separated_keys_and_underscore_suffixes() {
    let lock = parse(FILE, &fixture("pnpm-v5.4.yaml"));
    assert_fixture_closures(
        &lock,
        &app_closure(&patched(&format!("_{HASH}")), "18.3.1_react@18.3.1"),
    );
}

#[test]
fn a_patch_change_changes_the_patched_identity_and_nothing_else() {
    for name in ["pnpm-v9.yaml", "pnpm-v6.yaml", "pnpm-v5.4.yaml"] {
        let before = fixture(name);
        let after = edit(&before, &[(HASH, "aaaaaaaaaaaaaaaaaaaaaaaaaa")]);
        let (old, new) = (parse(FILE, &before), parse(FILE, &after));
        let old_app = closure_for(&old, APP);
        let new_app = closure_for(&new, APP);
        let changed: Vec<_> = old_app
            .packages
            .symmetric_difference(&new_app.packages)
            .collect();
        assert_eq!(changed.len(), 2, "{name}: {changed:?}");
        assert!(
            changed.iter().all(|p| p.name == "is-odd"),
            "{name}: {changed:?}"
        );
        assert_eq!(closure_for(&old, LIB), closure_for(&new, LIB), "{name}");
    }
}

#[test]
fn bumping_a_transitive_dependency_changes_only_the_closures_that_include_it() {
    let before = fixture("pnpm-v9.yaml");
    let after = edit(
        &before,
        &[
            ("js-tokens@4.0.0", "js-tokens@4.0.1"),
            ("js-tokens: 4.0.0", "js-tokens: 4.0.1"),
        ],
    );
    assert_js_tokens_bump_affects_only_app(FILE, &before, &after);
    let before = fixture("pnpm-v5.4.yaml");
    let after = edit(
        &before,
        &[
            ("/js-tokens/4.0.0", "/js-tokens/4.0.1"),
            ("js-tokens: 4.0.0", "js-tokens: 4.0.1"),
        ],
    );
    assert_js_tokens_bump_affects_only_app(FILE, &before, &after);
}

#[test]
fn a_changed_specifier_or_a_new_dependency_is_unresolved() {
    let lock = parse(FILE, &fixture("pnpm-v9.yaml"));
    let closure = closure_of(
        &lock,
        "",
        "monorepo",
        &[("is-number", "^7.0.0"), ("ms", "^3.0.0"), ("zod", "^3")],
    );
    assert_eq!(
        closure.unresolved,
        [
            ("ms".to_owned(), "^3.0.0".to_owned()),
            ("zod".to_owned(), "^3".to_owned())
        ]
    );
    // v5 keeps the specifiers in a separate map; they are compared too.
    let lock = parse(FILE, &fixture("pnpm-v5.4.yaml"));
    let closure = closure_of(&lock, "packages/lib", "lib", &[("debug", "^2.6.0")]);
    assert_eq!(
        closure.unresolved,
        [("debug".to_owned(), "^2.6.0".to_owned())]
    );
    // An importer pnpm has never seen has nothing resolved.
    let closure = closure_of(&lock, "packages/new", "new", &[("debug", "2.6.9")]);
    assert!(closure.packages.is_empty());
    assert_eq!(closure.unresolved.len(), 1);
}

#[test]
fn a_lockfile_without_importers_is_the_root_importer() {
    let text = "lockfileVersion: '6.0'\n\ndependencies:\n  a:\n    specifier: ^1.0.0\n    version: 1.0.0\n\npackages:\n\n  /a@1.0.0:\n    resolution: {integrity: sha512-x}\n    dependencies:\n      b: 2.0.0\n\n  /b@2.0.0:\n    resolution: {integrity: sha512-y}\n    dependencies:\n      a: 1.0.0\n";
    let lock = parse(FILE, text);
    let closure = closure_of(&lock, "", "solo", &[("a", "^1.0.0")]);
    assert_eq!(ids(&closure), ["a@1.0.0", "b@2.0.0"]);
    assert!(closure.unresolved.is_empty());
}

#[test]
fn unknown_versions_are_unsupported_and_corrupt_input_names_the_file() {
    let err = parse_err(FILE, "lockfileVersion: '42.0'\n");
    assert!(
        matches!(&err, crate::LockfileError::UnsupportedVersion { version, .. } if version == "42.0"),
        "{err:?}"
    );
    assert_corrupt_names_file(FILE, "lockfileVersion: '9.0'\nimporters:\n  .: [unclosed\n");
}

/// What pnpm 9.15 writes for `"ms": "catalog:", "debug": "catalog:"` with `overrides: {ms:
/// 2.1.2}`: the overridden dependency's specifier is the override, the other the catalog
/// reference.
const CATALOG_AND_OVERRIDES: &str = r#"lockfileVersion: '9.0'

catalogs:
  default:
    debug:
      specifier: ^4.3.0
      version: 4.4.3

overrides:
  ms: 2.1.2

importers:

  .: {}

  packages/a:
    dependencies:
      debug:
        specifier: 'catalog:'
        version: 4.4.3
      ms:
        specifier: 2.1.2
        version: 2.1.2

packages:

  debug@4.4.3:
    resolution: {integrity: sha512-x}

  ms@2.1.2:
    resolution: {integrity: sha512-y}

snapshots:

  debug@4.4.3:
    dependencies:
      ms: 2.1.2

  ms@2.1.2: {}
"#;

#[test]
fn catalog_references_and_overrides_resolve_through_the_lockfile() {
    let lock = parse(FILE, CATALOG_AND_OVERRIDES);
    let declared = [("ms", "catalog:"), ("debug", "catalog:")];
    let closure = closure_of(&lock, "packages/a", "a", &declared);
    assert!(closure.unresolved.is_empty(), "{:?}", closure.unresolved);
    assert_eq!(ids(&closure), ["debug@4.4.3", "ms@2.1.2"]);
    // A range the override replaced is the override's, too; a catalog name the lockfile
    // does not know is stale.
    let closure = closure_of(&lock, "packages/a", "a", &[("ms", "^2.0.0")]);
    assert!(closure.unresolved.is_empty(), "{:?}", closure.unresolved);
    let closure = closure_of(&lock, "packages/a", "a", &[("debug", "catalog:other")]);
    assert_eq!(closure.unresolved.len(), 1);
}
