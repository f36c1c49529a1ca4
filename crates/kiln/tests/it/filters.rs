//! `--filter` selects packages with pnpm/Turborepo syntax. As in Turborepo, the filter picks
//! the entry points; `dependsOn` (`^build`) still pulls in the tasks they depend on.

use crate::support::Repo;

fn fixture() -> Repo {
    // web -> ui -> utils; docs -> ui; api -> utils; tool (alone)
    let repo = Repo::empty();
    repo.write(
        "package.json",
        r#"{ "name": "root", "private": true, "workspaces": ["apps/*", "packages/*"] }"#,
    )
    .write(
        "turbo.json",
        r#"{ "tasks": { "build": { "dependsOn": ["^build"], "outputs": [] } } }"#,
    )
    .write(".gitignore", ".kiln/\nran.log\n");
    let pkg = |dir: &str, name: &str, deps: &[&str]| {
        let deps: Vec<String> = deps
            .iter()
            .map(|d| format!("\"{d}\": \"workspace:*\""))
            .collect();
        repo.write(
            &format!("{dir}/package.json"),
            &format!(
                r#"{{ "name": "{name}", "scripts": {{ "build": "echo {name} >> ../../ran.log" }}, "dependencies": {{ {} }} }}"#,
                deps.join(", ")
            ),
        );
    };
    pkg("apps/web", "@acme/web", &["@acme/ui"]);
    pkg("apps/docs", "@acme/docs", &["@acme/ui"]);
    pkg("packages/ui", "@acme/ui", &["@acme/utils"]);
    pkg("packages/utils", "@acme/utils", &[]);
    pkg("packages/api", "@acme/api", &["@acme/utils"]);
    pkg("packages/tool", "tool", &[]);
    repo.commit("fixture");
    repo
}

fn ran(repo: &Repo, filters: &[&str]) -> Vec<String> {
    let mut args = vec!["run", "build", "--force", "--concurrency", "1"];
    for f in filters {
        args.push("--filter");
        args.push(f);
    }
    repo.run_ok(&args);
    let path = repo.path("ran.log");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    std::fs::remove_file(&path).ok();
    text.lines().map(str::to_string).collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[test]
fn name_with_dependencies_runs_the_closure_in_order() {
    let repo = fixture();
    assert_eq!(
        ran(&repo, &["@acme/web..."]),
        ["@acme/utils", "@acme/ui", "@acme/web"]
    );
}

#[test]
fn dependents_and_exclusions() {
    let repo = fixture();
    assert_eq!(
        sorted(ran(&repo, &["...@acme/ui"])),
        ["@acme/docs", "@acme/ui", "@acme/utils", "@acme/web"]
    );
    // `^` drops the package itself.
    assert_eq!(
        sorted(ran(&repo, &["...^@acme/utils"])),
        [
            "@acme/api",
            "@acme/docs",
            "@acme/ui",
            "@acme/utils",
            "@acme/web"
        ]
    );
    assert_eq!(
        sorted(ran(
            &repo,
            &["@acme/*", "!@acme/web", "!@acme/docs", "!@acme/api"]
        )),
        ["@acme/ui", "@acme/utils"]
    );
}

#[test]
fn path_filters_and_globs() {
    let repo = fixture();
    assert_eq!(
        sorted(ran(&repo, &["./apps/*"])),
        ["@acme/docs", "@acme/ui", "@acme/utils", "@acme/web"]
    );
    assert_eq!(sorted(ran(&repo, &["./packages/tool"])), ["tool"]);
    assert_eq!(
        sorted(ran(&repo, &["tool", "@acme/api"])),
        ["@acme/api", "@acme/utils", "tool"]
    );
}
