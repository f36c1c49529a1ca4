//! Yarn classic (v1) `yarn.lock`: yarn's own indentation format, not YAML.
//!
//! ```text
//! "a@^1.0.0", a@^1.1.0:
//!   version "1.2.0"
//!   resolved "https://registry.yarnpkg.com/a/-/a-1.2.0.tgz#…"
//!   dependencies:
//!     b "^2.0.0"
//! ```
//!
//! Each entry is reachable by every `name@spec` descriptor in its header, and dependencies are
//! looked up by descriptor too. Workspace packages have no entries, and there is no record of
//! what each workspace declared: importers' roots are their manifest's `name@spec`s, and a
//! descriptor without an entry means the lockfile is out of date (`unresolved`).

use std::collections::HashMap;
use std::path::Path;

use crate::graph::{Graph, NodeId, is_registry_tarball, qualified, split_name};
use crate::importer::Roots;
use crate::{Format, Importer, LockfileError, ResolvedPackage};

#[derive(Debug)]
pub(crate) struct YarnLock {
    graph: Graph,
    descriptors: HashMap<String, NodeId>,
}

/// One entry while it is being read.
#[derive(Default)]
struct RawEntry {
    line: usize,
    descriptors: Vec<String>,
    version: Option<String>,
    resolved: Option<String>,
    /// `name@spec` of each dependency.
    deps: Vec<String>,
}

/// Splits `key value` or `"quoted key" "quoted value"`, unquoting both.
fn key_value(line: &str) -> Option<(&str, &str)> {
    let (key, rest) = if let Some(quoted) = line.strip_prefix('"') {
        let end = quoted.find('"')?;
        (&quoted[..end], &quoted[end + 1..])
    } else {
        line.split_at(line.find(' ').unwrap_or(line.len()))
    };
    Some((key, unquote(rest.trim())))
}

fn unquote(text: &str) -> &str {
    text.strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text)
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

fn parse_entries(file: &Path, text: &str) -> Result<Vec<RawEntry>, LockfileError> {
    let mut entries: Vec<RawEntry> = Vec::new();
    let mut in_deps = false;
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let content = line.trim_end();
        if content.trim_start().is_empty() || content.trim_start().starts_with('#') {
            continue;
        }
        let error = |message: &str| Err(LockfileError::parse(file, Some(number), message));
        match indent_of(content) {
            0 => {
                let Some(header) = content.strip_suffix(':') else {
                    return error("expected an entry header ending in ':'");
                };
                let descriptors = header
                    .split(',')
                    .map(|d| unquote(d.trim()).to_owned())
                    .collect();
                entries.push(RawEntry {
                    line: number,
                    descriptors,
                    ..RawEntry::default()
                });
                in_deps = false;
            }
            indent => {
                let Some(entry) = entries.last_mut() else {
                    return error("indented line before the first entry");
                };
                let field = content.trim_start();
                if indent == 2 {
                    in_deps = matches!(field, "dependencies:" | "optionalDependencies:");
                    if field.ends_with(':') {
                        continue;
                    }
                    let Some((key, value)) = key_value(field) else {
                        return error("unterminated quote");
                    };
                    match key {
                        "version" => entry.version = Some(value.to_owned()),
                        "resolved" => entry.resolved = Some(value.to_owned()),
                        _ => {}
                    }
                } else if in_deps {
                    let Some((name, spec)) = key_value(field) else {
                        return error("unterminated quote");
                    };
                    entry.deps.push(format!("{name}@{spec}"));
                }
            }
        }
    }
    Ok(entries)
}

/// The real name behind a descriptor: `alias@npm:real@1` is `real`.
fn real_name(descriptor: &str) -> Option<&str> {
    let (name, spec) = split_name(descriptor)?;
    Some(
        spec.strip_prefix("npm:")
            .and_then(split_name)
            .map_or(name, |(real, _)| real),
    )
}

impl YarnLock {
    pub(crate) fn parse(file: &Path, text: &str) -> Result<YarnLock, LockfileError> {
        let entries = parse_entries(file, text)?;
        let mut graph = Graph::default();
        let mut descriptors = HashMap::new();
        for entry in &entries {
            let malformed = |message: String| LockfileError::parse(file, Some(entry.line), message);
            let first = &entry.descriptors[0];
            let name = real_name(first)
                .ok_or_else(|| malformed(format!("`{first}` is not a name@range descriptor")))?
                .to_owned();
            let version = entry
                .version
                .as_deref()
                .ok_or_else(|| malformed(format!("entry `{first}` has no version")))?;
            let extra = entry
                .resolved
                .as_deref()
                .filter(|r| !is_registry_tarball(r, &name, version));
            let id = graph.add(ResolvedPackage {
                version: qualified(version, extra),
                name,
            });
            for descriptor in &entry.descriptors {
                descriptors.insert(descriptor.clone(), id);
            }
        }
        for (index, entry) in entries.iter().enumerate() {
            graph.nodes[index].deps = entry
                .deps
                .iter()
                .filter_map(|d| descriptors.get(d).copied())
                .collect();
        }
        Ok(YarnLock { graph, descriptors })
    }
}

impl Format for YarnLock {
    fn graph(&self) -> &Graph {
        &self.graph
    }

    fn roots(&self, importer: &Importer<'_>) -> Roots {
        let mut roots = Roots::default();
        for (name, spec) in importer.dependencies {
            match self.descriptors.get(&format!("{name}@{spec}")) {
                Some(&node) => roots.nodes.push(node),
                None => roots.unresolved.push((name.clone(), spec.clone())),
            }
        }
        roots
    }
}
