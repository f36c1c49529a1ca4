//! The *hash* stage: one [`TaskKey`] per node of the task graph.
//!
//! The workspace is walked once ([`RepoListing`]) and its files split among the packages
//! (unless the run is filtered down to a few packages: those are walked one by one).
//! Files are then selected and digested per (package, inputs, outputs) — the `build` and
//! `test` of one package usually share that — in parallel across packages, through the
//! shared stat cache. Keys are then composed in topological order,
//! because each key folds in the keys of the tasks it depends on. What goes into a key is
//! documented in `kiln_hash::key`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;

use kiln_graph::TaskGraph;
use kiln_hash::{
    DefinitionInputs, Digest, InputManifest, InputOptions, KeyInputs, Platform, RepoListing,
    StatCache, TaskKey, collect_global_inputs, collect_inputs, env_digests, global_digest,
    hash_files,
};
use kiln_workspace::{ResolvedTask, Workspace};
use rayon::prelude::*;

use crate::RunError;

/// A task of the plan with its key.
#[derive(Clone, Debug)]
pub struct HashedTask {
    pub key: TaskKey,
    pub manifest: InputManifest,
    /// Absolute path of the package directory the task runs in.
    pub package_dir: PathBuf,
}

/// The tasks that share their input files: (package dir, `inputs`, `outputs`).
type FileGroup<'a> = (&'a str, &'a [String], &'a [String]);

/// What the hash stage reads besides the graph.
pub struct HashContext<'a> {
    pub workspace: &'a Workspace,
    pub graph: &'a TaskGraph,
    pub stat_cache: &'a StatCache,
    /// A snapshot of the environment (so every task sees the same values).
    pub env: &'a BTreeMap<String, String>,
}

/// Keys for every node of the graph, indexed like it.
#[tracing::instrument(name = "hash", skip_all, fields(tasks = ctx.graph.len()))]
pub fn hash_tasks(ctx: &HashContext<'_>) -> Result<Vec<HashedTask>, RunError> {
    let started = std::time::Instant::now();
    let ws = ctx.workspace;
    let root = ws.root.as_path();
    let global = global_inputs_digest(ctx)?;
    let external = external_digest(ctx)?;
    let platform = Platform::current();

    // One file walk per distinct (package dir, inputs, outputs).
    let mut groups: HashMap<FileGroup<'_>, usize> = HashMap::new();
    let mut group_of = Vec::with_capacity(ctx.graph.len());
    for node in ctx.graph.nodes() {
        let dir = package_dir(ws, node)?;
        let next = groups.len();
        let g = *groups
            .entry((dir, &node.task.inputs, &node.task.outputs))
            .or_insert(next);
        group_of.push(g);
    }
    let mut group_list: Vec<(FileGroup<'_>, usize)> = groups.into_iter().collect();
    group_list.sort_by_key(|(_, g)| *g);
    let all_dirs: Vec<&str> = ws.packages.iter().map(|p| p.dir.as_str()).collect();
    let graph_dirs: HashSet<&str> = group_list.iter().map(|((dir, _, _), _)| *dir).collect();
    // One walk of the whole workspace costs about a fifth of walking every package on its
    // own; a run filtered down to a few packages of a large workspace walks just those.
    // The listing takes every package's dir, not only the graph's: a package's files are
    // those that no package nested in it claims.
    let listing = if graph_dirs.len() * 4 >= all_dirs.len() {
        Some(RepoListing::walk(root, &all_dirs)?)
    } else {
        None
    };
    let mut files: Vec<Vec<(String, Digest)>> = group_list
        .par_iter()
        .map(|((dir, inputs, outputs), _)| {
            // Besides a filtered run, only a package dir that does not exist is missing from
            // the listing; the walk then reports it.
            let listed = listing.as_ref().and_then(|l| l.files(dir));
            let exclude_dirs = match listed {
                Some(_) => Vec::new(),
                None => nested_package_dirs(dir, &all_dirs),
            };
            let found = collect_inputs(&InputOptions {
                root,
                package_dir: dir,
                inputs,
                outputs,
                exclude_dirs: &exclude_dirs,
                listing: listed,
            })?;
            Ok(hash_files(&found, ctx.stat_cache, root)?)
        })
        .collect::<Result<_, RunError>>()?;

    tracing::debug!(
        groups = files.len(),
        files = files.iter().map(Vec::len).sum::<usize>(),
        elapsed = ?started.elapsed(),
        "input files digested"
    );

    // The last task of a group takes its file list; the others copy it.
    let mut uses_left = vec![0usize; files.len()];
    for &g in &group_of {
        uses_left[g] += 1;
    }
    let mut hashed: Vec<HashedTask> = Vec::with_capacity(ctx.graph.len());
    for (i, node) in ctx.graph.nodes().iter().enumerate() {
        let g = group_of[i];
        uses_left[g] -= 1;
        let group_files = if uses_left[g] == 0 {
            std::mem::take(&mut files[g])
        } else {
            files[g].clone()
        };
        let dependencies = ctx.graph.deps()[i]
            .iter()
            .map(|&d| (ctx.graph.nodes()[d].id.clone(), hashed[d].key))
            .collect();
        let inputs = KeyInputs {
            task_id: node.id.clone(),
            definition: definition_inputs(&node.task),
            files: group_files,
            dependencies,
            env: env_digests(&node.task.env, ctx.env),
            global,
            external,
            platform: platform.clone(),
        };
        let manifest = inputs.into_manifest();
        hashed.push(HashedTask {
            key: manifest.key,
            manifest,
            package_dir: root.join(package_dir(ws, node)?),
        });
    }
    Ok(hashed)
}

fn package_dir<'w>(ws: &'w Workspace, node: &kiln_graph::TaskNode) -> Result<&'w str, RunError> {
    ws.package(&node.id.package)
        .map(|p| p.dir.as_str())
        .ok_or_else(|| RunError::UnknownPackage(node.id.package.to_string()))
}

/// Other packages' directories inside `dir` (every package's, for the root package): their
/// files belong to them, not to the package that contains them.
fn nested_package_dirs(dir: &str, all: &[&str]) -> Vec<String> {
    all.iter()
        .filter(|other| {
            **other != dir
                && (dir.is_empty()
                    || (other.starts_with(dir) && other.as_bytes().get(dir.len()) == Some(&b'/')))
        })
        .map(|d| d.to_string())
        .collect()
}

fn definition_inputs(task: &ResolvedTask) -> DefinitionInputs {
    DefinitionInputs {
        command: task.command.clone(),
        depends_on: task.depends_on.clone(),
        inputs: task.inputs.clone(),
        outputs: task.outputs.clone(),
        env: task.env.clone(),
        pass_through_env: task.pass_through_env.clone(),
        cache: task.cache,
        persistent: task.persistent,
    }
}

/// `globalDependencies` files and `globalEnv` values.
fn global_inputs_digest(ctx: &HashContext<'_>) -> Result<Digest, RunError> {
    let ws = ctx.workspace;
    let files = collect_global_inputs(&ws.root, &ws.pipeline.global_dependencies)?;
    let digests = hash_files(&files, ctx.stat_cache, &ws.root)?;
    let env = env_digests(&ws.pipeline.global_env, ctx.env);
    Ok(global_digest(&digests, &env))
}

/// The third-party dependency versions. Until lockfiles are parsed per package, the whole
/// lockfile stands for them: any change to it changes every key (safe, not minimal).
fn external_digest(ctx: &HashContext<'_>) -> Result<Digest, RunError> {
    let ws = ctx.workspace;
    let Some(lockfile) = &ws.lockfile else {
        return Ok(global_digest(&[], &[]));
    };
    let rel = lockfile.to_string_lossy().replace('\\', "/");
    let file = kiln_hash::InputFile {
        abs: ws.root.join(lockfile),
        rel: rel.clone(),
    };
    let digests = hash_files(std::slice::from_ref(&file), ctx.stat_cache, &ws.root)?;
    Ok(global_digest(&digests, &[]))
}

#[cfg(test)]
mod tests {
    use super::nested_package_dirs;

    #[test]
    fn nested_dirs_are_those_strictly_below() {
        let all = [
            "",
            "packages/a",
            "packages/ab",
            "packages/a/inner",
            "apps/web",
        ];
        assert_eq!(
            nested_package_dirs("packages/a", &all),
            ["packages/a/inner"]
        );
        assert_eq!(nested_package_dirs("", &all).len(), 4);
        assert!(nested_package_dirs("apps/web", &all).is_empty());
    }
}
