use super::*;

fn globs(patterns: &[&str]) -> OutputGlobs {
    OutputGlobs::new(&patterns.iter().map(|p| p.to_string()).collect::<Vec<_>>()).unwrap()
}

#[test]
fn a_double_star_glob_covers_its_directory_and_everything_below() {
    let g = globs(&["dist/**", "!dist/cache/**"]);
    assert!(g.matches("dist"));
    assert!(g.matches("dist/a/b.js"));
    assert!(!g.matches("dist/cache"));
    assert!(!g.matches("dist/cache/x"));
    assert!(!g.matches("distribution"));
    assert!(!g.matches("src/index.ts"));
}

#[test]
fn a_single_star_does_not_cross_directories() {
    let g = globs(&["dist/*.js"]);
    assert!(g.matches("dist/a.js"));
    assert!(!g.matches("dist/sub/a.js"));
}

#[test]
fn walking_starts_at_literal_prefixes_that_do_not_nest() {
    let g = globs(&[
        "dist/**",
        "dist/types/**",
        ".next/**",
        "tsconfig.tsbuildinfo",
    ]);
    assert_eq!(g.bases, [".next", "dist", "tsconfig.tsbuildinfo"]);
    assert_eq!(globs(&["**/*.js", "dist/**"]).bases, [""]);
}

#[test]
fn patterns_leaving_the_package_are_refused() {
    for bad in ["../x/**", "/abs/**", "!", "dist/[", "a/../../b"] {
        let err = OutputGlobs::new(&[bad.to_string()]).unwrap_err();
        assert!(
            matches!(err, CacheError::Glob { ref pattern, .. } if pattern == bad),
            "{bad}"
        );
    }
}

#[test]
fn finds_outputs_without_following_symlinks_or_entering_node_modules() {
    let dir = tempfile::tempdir().unwrap();
    let pkg = dir.path();
    fs_err::create_dir_all(pkg.join("dist/sub")).unwrap();
    fs_err::create_dir_all(pkg.join("dist/node_modules/x")).unwrap();
    fs_err::create_dir_all(pkg.join("elsewhere")).unwrap();
    fs_err::write(pkg.join("dist/sub/a.js"), "a").unwrap();
    fs_err::write(pkg.join("elsewhere/secret"), "s").unwrap();
    std::os::unix::fs::symlink("../elsewhere", pkg.join("dist/link")).unwrap();

    let found = globs(&["dist/**"]).find(pkg).unwrap();
    let rels: Vec<(&str, Kind)> = found.iter().map(|f| (f.rel.as_str(), f.kind)).collect();
    assert_eq!(
        rels,
        [
            ("dist", Kind::Dir),
            ("dist/link", Kind::Symlink),
            ("dist/sub", Kind::Dir),
            ("dist/sub/a.js", Kind::File),
        ]
    );
}

#[test]
fn a_symlinked_base_directory_is_not_walked_through() {
    let dir = tempfile::tempdir().unwrap();
    let pkg = dir.path().join("pkg");
    fs_err::create_dir_all(dir.path().join("outside/js")).unwrap();
    fs_err::write(dir.path().join("outside/js/a.js"), "a").unwrap();
    fs_err::create_dir_all(&pkg).unwrap();
    std::os::unix::fs::symlink("../outside", pkg.join("dist")).unwrap();
    assert!(globs(&["dist/js/*.js"]).find(&pkg).unwrap().is_empty());
}

#[test]
fn a_bare_directory_output_covers_its_subtree() {
    for pattern in ["dist", "dist/", "./dist/"] {
        let g = globs(&[pattern, "!dist/cache/"]);
        assert!(g.matches("dist"), "{pattern}");
        assert!(g.matches("dist/a.js"), "{pattern}");
        assert!(g.matches("dist/sub/b.js"), "{pattern}");
        assert!(!g.matches("dist/cache"), "{pattern}");
        assert!(!g.matches("dist/cache/x"), "{pattern}");
        assert!(!g.matches("distribution"), "{pattern}");
        assert_eq!(g.bases, ["dist"]);
    }
    let file = globs(&["tsconfig.tsbuildinfo"]);
    assert!(file.matches("tsconfig.tsbuildinfo"));
    assert!(!file.matches("tsconfig.tsbuildinfo.bak"));
}

#[test]
fn a_bare_directory_output_is_walked_whole_but_not_an_excluded_subtree() {
    let dir = tempfile::tempdir().unwrap();
    let pkg = dir.path();
    fs_err::create_dir_all(pkg.join("dist/sub")).unwrap();
    fs_err::create_dir_all(pkg.join("dist/cache")).unwrap();
    fs_err::write(pkg.join("dist/sub/a.js"), "a").unwrap();
    fs_err::write(pkg.join("dist/cache/x"), "x").unwrap();
    let found = globs(&["dist/", "!dist/cache"]).find(pkg).unwrap();
    let rels: Vec<&str> = found.iter().map(|f| f.rel.as_str()).collect();
    assert_eq!(rels, ["dist", "dist/sub", "dist/sub/a.js"]);
}

#[test]
fn nested_packages_are_neither_matched_nor_walked() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for file in [
        "tsconfig.tsbuildinfo",
        "tools/x.tsbuildinfo",
        "packages/a/tsconfig.tsbuildinfo",
        "packages/ab/tsconfig.tsbuildinfo",
    ] {
        fs_err::create_dir_all(root.join(file).parent().unwrap()).unwrap();
        fs_err::write(root.join(file), "t").unwrap();
    }
    let nested = ["packages/a/".to_string()];
    let g = OutputGlobs::with_nested(&["**/*.tsbuildinfo".to_string()], &nested).unwrap();
    assert!(!g.matches("packages/a/tsconfig.tsbuildinfo"));
    assert!(
        g.matches("packages/ab/tsconfig.tsbuildinfo"),
        "only a prefix"
    );
    let walk = g.walk(root).unwrap();
    let rels: Vec<&str> = walk.outputs.iter().map(|f| f.rel.as_str()).collect();
    assert_eq!(
        rels,
        [
            "packages/ab/tsconfig.tsbuildinfo",
            "tools/x.tsbuildinfo",
            "tsconfig.tsbuildinfo"
        ]
    );
    assert!(walk.looked_at.iter().all(|f| f.rel != "packages/a"));
    // A base inside a nested package is not walked either.
    let g = OutputGlobs::with_nested(&["packages/a/**".to_string()], &nested).unwrap();
    assert!(g.find(root).unwrap().is_empty());
}

#[test]
fn a_walk_reports_directories_looked_through_and_absent_bases() {
    let dir = tempfile::tempdir().unwrap();
    let pkg = dir.path();
    fs_err::create_dir_all(pkg.join("dist")).unwrap();
    fs_err::write(pkg.join("dist/a.js"), "a").unwrap();
    let walk = globs(&["dist/*.js", "build/**"]).walk(pkg).unwrap();
    let rels = |v: &[Found]| v.iter().map(|f| f.rel.clone()).collect::<Vec<_>>();
    assert_eq!(rels(&walk.outputs), ["dist/a.js"]);
    assert_eq!(rels(&walk.looked_at), ["dist"]);
    assert_eq!(walk.absent_bases, ["build"]);
    assert!(!base_exists(pkg, "build"));
    fs_err::create_dir(pkg.join("build")).unwrap();
    assert!(base_exists(pkg, "build"));
}
