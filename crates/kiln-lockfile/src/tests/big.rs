//! Scale: a generated 5 MB npm lockfile with 2,000 importers. Time is measured and logged, not
//! asserted (the machine is shared), but the results are checked.

use std::fmt::Write;
use std::time::Instant;

use super::*;

/// `packages` externals in layers, each depending on a few of the next layer down (and one
/// back-edge, for cycles), and `importers` workspaces each depending on a few top ones.
fn generate(packages: usize, importers: usize) -> String {
    let mut text = String::from("{ \"lockfileVersion\": 3, \"packages\": {\n");
    let _ = writeln!(text, "\"\": {{ \"name\": \"root\" }},");
    for i in 0..importers {
        let deps: Vec<String> = (0..5)
            .map(|k| format!("\"pkg-{}\": \"^1.0.0\"", (i * 7 + k * 13) % (packages / 10)))
            .collect();
        let _ = writeln!(
            text,
            "\"packages/ws-{i}\": {{ \"name\": \"ws-{i}\", \"version\": \"1.0.0\", \"dependencies\": {{ {} }} }},",
            deps.join(", ")
        );
        let _ = writeln!(
            text,
            "\"node_modules/ws-{i}\": {{ \"resolved\": \"packages/ws-{i}\", \"link\": true }},"
        );
    }
    for p in 0..packages {
        let mut deps: Vec<String> = (1..=4)
            .map(|k| p * 3 + k * 11)
            .filter(|&d| d < packages)
            .map(|d| format!("\"pkg-{d}\": \"^1.0.0\""))
            .collect();
        if p % 50 == 49 {
            deps.push(format!("\"pkg-{}\": \"^1.0.0\"", p / 2));
        }
        let _ = writeln!(
            text,
            "\"node_modules/pkg-{p}\": {{ \"version\": \"1.0.{p}\", \"resolved\": \"https://registry.npmjs.org/pkg-{p}/-/pkg-{p}-1.0.{p}.tgz\", \"integrity\": \"sha512-{}\", \"dependencies\": {{ {} }} }},",
            "A".repeat(86),
            deps.join(", ")
        );
    }
    text.push_str("\"node_modules/zzz\": { \"version\": \"0.0.1\" } } }\n");
    text
}

#[test]
#[allow(clippy::print_stderr)]
fn two_thousand_importers_on_a_five_megabyte_lockfile() {
    let text = generate(18_000, 2_000);
    assert!(text.len() > 5_000_000, "{} bytes", text.len());
    let start = Instant::now();
    let lock = parse("package-lock.json", &text);
    let parsed = start.elapsed();
    let start = Instant::now();
    let mut total = 0;
    for i in 0..2_000 {
        let dir = format!("packages/ws-{i}");
        let closure = closure_of(&lock, &dir, &format!("ws-{i}"), &[]);
        assert!(!closure.packages.is_empty());
        total += closure.packages.len();
    }
    let closures = start.elapsed();
    eprintln!(
        "{} bytes, {} packages: parse {parsed:?}, 2000 closures {closures:?} ({total} entries)",
        text.len(),
        lock.len()
    );
}
