//! "Did you mean …?": the closest known task or package name to a misspelt one.

use kiln_graph::GraphError;
use kiln_workspace::Workspace;

/// A plan error, with a suggestion when it names an unknown task or package that is close
/// to a known one.
pub(crate) fn explain(ws: &Workspace, error: &GraphError) -> String {
    let hint = match error {
        GraphError::UnknownTask { task } => {
            let task = task.as_str();
            match task.rsplit_once('#') {
                Some((package, name)) => {
                    closest(name, &task_names(ws)).map(|n| format!("{package}#{n}"))
                }
                None => closest(task, &task_names(ws)).map(str::to_string),
            }
        }
        GraphError::NoPackageNamed { name, .. } => {
            closest(name, &package_names(ws)).map(str::to_string)
        }
        GraphError::UnknownPackage { package, .. } => {
            closest(package.as_str(), &package_names(ws)).map(str::to_string)
        }
        _ => None,
    };
    match hint {
        Some(hint) => format!("{error}; did you mean `{hint}`?"),
        None => error.to_string(),
    }
}

/// Every task name the pipeline defines, at the root or in a package.
pub(crate) fn task_names(ws: &Workspace) -> Vec<String> {
    let mut names: Vec<String> = ws
        .pipeline
        .tasks
        .keys()
        .map(|k| {
            k.rsplit_once('#')
                .map_or(k.as_str(), |(_, t)| t)
                .to_string()
        })
        .chain(
            ws.pipeline
                .package_tasks
                .values()
                .flat_map(|t| t.keys().cloned()),
        )
        .collect();
    names.sort();
    names.dedup();
    names
}

fn package_names(ws: &Workspace) -> Vec<String> {
    ws.packages.iter().map(|p| p.name.to_string()).collect()
}

/// The candidate nearest `word` by edit distance, if it is near enough to be a typo (at most
/// a third of the word's length, at least one edit allowed).
pub(crate) fn closest<'c>(word: &str, candidates: &'c [String]) -> Option<&'c str> {
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .iter()
        .map(|c| (distance(word, c), c))
        .filter(|(d, c)| *d <= limit && c.as_str() != word)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.as_str())
}

/// Edit distance over characters, a swap of two neighbours counting as one edit (the
/// usual typo: `buidl`).
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn typos_find_their_word_and_strangers_nothing() {
        let tasks = names(&["build", "lint", "test", "typecheck"]);
        assert_eq!(closest("buidl", &tasks), Some("build"));
        assert_eq!(closest("tset", &tasks), Some("test"));
        assert_eq!(closest("typechek", &tasks), Some("typecheck"));
        assert_eq!(closest("deploy", &tasks), None);
        let packages = names(&["@acme/web", "@acme/ui"]);
        assert_eq!(closest("@acme/wbe", &packages), Some("@acme/web"));
    }

    #[test]
    fn distance_counts_edits() {
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("", "ab"), 2);
        assert_eq!(distance("same", "same"), 0);
        assert_eq!(distance("buidl", "build"), 1);
    }
}
