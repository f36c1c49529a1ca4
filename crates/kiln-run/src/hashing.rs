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

use kiln_core::{PackageName, TaskId};
use kiln_graph::{TaskGraph, TaskNode};
use kiln_hash::{
    DefinitionInputs, Digest, GlobalInputs, InputManifest, InputOptions, KeyInputs, Platform,
    RepoListing, StatCache, TaskKey, collect_global_inputs, collect_inputs, env_digests,
    hash_files,
};
use kiln_workspace::{EnvMode, ResolvedTask, Workspace};
use rayon::prelude::*;

use crate::RunError;
use crate::git_files::GitFiles;
use crate::script_env::{ScriptStep, task_steps};

/// One task as the run will carry it from its key to its report: planned once, so the
/// command that runs is by construction the command in its key.
#[derive(Clone, Debug)]
pub struct PlannedTask<'g> {
    /// Its node of the task graph (id, resolved definition, arguments).
    pub node: &'g TaskNode,
    /// Its index in the graph (the scheduler's node number).
    pub index: usize,
    pub key: TaskKey,
    /// What went into the key, item by item (to explain a miss, and to check the inputs
    /// did not change while it ran).
    pub manifest: InputManifest,
    /// The script steps that were hashed and that will run; `None` for a task without a
    /// command (a node that only keeps the order).
    pub steps: Option<Vec<ScriptStep>>,
    /// Absolute path of the package directory the task runs in.
    pub package_dir: PathBuf,
    /// Directories of the packages nested inside this one, relative to it: never this
    /// task's outputs.
    pub nested: Vec<String>,
}

impl PlannedTask<'_> {
    pub fn id(&self) -> &TaskId {
        &self.node.id
    }
}

/// The tasks that share their input files: (package dir, `inputs`, `outputs`).
type FileGroup<'a> = (&'a str, &'a [String], &'a [String]);

/// What the hash stage reads besides the graph.
pub struct HashContext<'a, 'g> {
    pub workspace: &'a Workspace,
    pub graph: &'g TaskGraph,
    pub stat_cache: &'a StatCache,
    /// A snapshot of the environment (so every task sees the same values).
    pub env: &'a BTreeMap<String, String>,
}

/// The hash stage's result: the run's plan.
#[derive(Clone, Debug)]
pub struct Plan<'g> {
    /// One per node of the graph, in graph order.
    pub tasks: Vec<PlannedTask<'g>>,
    /// The global inputs every key includes (kept in the build state, to explain changes).
    pub global: GlobalInputs,
    /// What git tracks, as hashing asked it: to select the same inputs again when they are
    /// checked before a result is stored.
    pub git: std::sync::Arc<GitFiles>,
}

/// Keys for every node of the graph.
#[tracing::instrument(name = "hash", skip_all, fields(tasks = ctx.graph.len()))]
pub fn hash_tasks<'g>(ctx: &HashContext<'_, 'g>) -> Result<Plan<'g>, RunError> {
    let started = std::time::Instant::now();
    let ws = ctx.workspace;
    let root = ws.root.as_path();
    check_outside_inputs(ws, ctx.graph)?;
    // One `git ls-files` while the tree is walked.
    let git = std::thread::spawn({
        let root = root.to_path_buf();
        move || GitFiles::read(&root)
    });
    let global_inputs = global_inputs(ctx)?;
    let global = global_inputs.digest();
    let in_run: HashSet<&PackageName> = ctx.graph.nodes().iter().map(|n| &n.id.package).collect();
    let externals = crate::external::ExternalVersions::resolve(ws, &|p| in_run.contains(p));
    let mut packages: Vec<&&PackageName> = in_run.iter().collect();
    packages.sort();
    externals.warn_unresolved(packages.into_iter().copied());
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
    let all_dirs = sorted_dirs(ws);
    let graph_dirs: HashSet<&str> = group_list.iter().map(|((dir, _, _), _)| *dir).collect();
    // One walk of the whole workspace costs about a fifth of walking every package on its
    // own; a run filtered down to a few packages of a large workspace walks just those.
    // The listing takes every package's dir, not only the graph's: it must know which of
    // them it could not enter.
    let listing = if graph_dirs.len() * 4 >= all_dirs.len() {
        Some(RepoListing::walk(root, &all_dirs)?)
    } else {
        None
    };
    let git = git.join().unwrap_or_default();
    let mut files: Vec<Vec<(String, Digest)>> = group_list
        .par_iter()
        .map(|((dir, inputs, outputs), _)| {
            // Besides a filtered run, only a package dir that does not exist is missing from
            // the listing; the walk then reports it.
            let listed = listing.as_ref().and_then(|l| l.files(dir));
            group_files(
                ws,
                ctx.stat_cache,
                dir,
                (inputs, outputs),
                listed.as_deref(),
                &git,
            )
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
    let mut hashed: Vec<PlannedTask<'g>> = Vec::with_capacity(ctx.graph.len());
    for (i, node) in ctx.graph.nodes().iter().enumerate() {
        let steps = task_steps(ws, node);
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
            definition: definition_inputs(ws, node, steps.as_deref(), ctx.env),
            files: group_files,
            dependencies,
            env: crate::task_env::hashed_env(ws, node, ctx.env),
            global,
            external: externals.of(&node.id.package),
            platform: platform.clone(),
        };
        let manifest = inputs.into_manifest();
        let dir = package_dir(ws, node)?;
        let nested = nested_package_dirs(dir, &all_dirs)
            .into_iter()
            .map(|d| match dir {
                "" => d,
                _ => d[dir.len() + 1..].to_string(),
            })
            .collect();
        hashed.push(PlannedTask {
            node,
            index: i,
            key: manifest.key,
            manifest,
            steps,
            package_dir: root.join(dir),
            nested,
        });
    }
    Ok(Plan {
        tasks: hashed,
        global: global_inputs,
        git: std::sync::Arc::new(git),
    })
}

fn sorted_dirs(ws: &Workspace) -> Vec<&str> {
    let mut dirs: Vec<&str> = ws.packages.iter().map(|p| p.dir.as_str()).collect();
    dirs.sort_unstable();
    dirs
}

fn package_dir<'w>(ws: &'w Workspace, node: &TaskNode) -> Result<&'w str, RunError> {
    ws.package(&node.id.package)
        .map(|p| p.dir.as_str())
        .ok_or_else(|| RunError::UnknownPackage(node.id.package.to_string()))
}

/// Other packages' directories inside `dir` (every package's, for the root package): their
/// files belong to them, not to the package that contains them. `all` must be sorted: the
/// nested ones are then one contiguous range (`dir/` up to, not including, `dir0`, since
/// `'0'` follows `'/'`).
fn nested_package_dirs(dir: &str, all: &[&str]) -> Vec<String> {
    if dir.is_empty() {
        return all
            .iter()
            .filter(|d| !d.is_empty())
            .map(|d| d.to_string())
            .collect();
    }
    let lo = format!("{dir}/");
    let hi = format!("{dir}0");
    let start = all.partition_point(|d| *d < lo.as_str());
    let end = all.partition_point(|d| *d < hi.as_str());
    all[start..end].iter().map(|d| d.to_string()).collect()
}

/// The definition's part of the key. The command is the list of steps actually run, so the
/// `pre`/`post` scripts, the runner (direct or through the package manager) and the
/// arguments are in it; so is what decides which variables the task can see.
fn definition_inputs(
    ws: &Workspace,
    node: &TaskNode,
    steps: Option<&[ScriptStep]>,
    env: &BTreeMap<String, String>,
) -> DefinitionInputs {
    let task: &ResolvedTask = &node.task;
    let command = match steps {
        Some(steps) => Some(
            steps
                .iter()
                .map(|s| format!("{}: {}", s.name, s.command))
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        None => task.command.clone(),
    };
    DefinitionInputs {
        command,
        depends_on: task.depends_on.clone(),
        inputs: task.inputs.clone(),
        outputs: task.outputs.clone(),
        env: task.env.clone(),
        pass_through_env: task.pass_through_env.clone(),
        cache: task.cache,
        persistent: task.persistent,
        env_mode: task.env_mode.as_str().to_string(),
        inferred_env: task
            .framework
            .map(|f| f.env_patterns(|name| env.get(name).cloned()))
            .unwrap_or_default(),
        global_pass_through_env: match task.env_mode {
            EnvMode::Strict => ws
                .pipeline
                .global_pass_through_env
                .clone()
                .unwrap_or_default(),
            EnvMode::Loose => Vec::new(),
        },
        args: node.args.clone(),
    }
}

/// The prefix Turborepo gives input globs relative to the workspace root; root files join
/// a task's manifest under it too.
pub const TURBO_ROOT: &str = "$TURBO_ROOT$/";

/// A task's `inputs`, split: the package's globs, the root-relative ones (`!` kept), and
/// those that climb above the workspace root from this package.
#[derive(Debug, Default)]
pub(crate) struct SplitInputs {
    pub(crate) package: Vec<String>,
    pub(crate) root: Vec<String>,
    /// As written. They name no file: a key must not depend on files outside the checkout.
    pub(crate) outside: Vec<String>,
}

/// Splits `inputs` of a package in directory `dir`: `$TURBO_ROOT$/glob`, and globs that
/// leave the package with `..` (Turborepo accepts `../other/src/spec.json`), are made
/// relative to the root. A list of only root globs takes nothing of the package but its
/// package.json (an empty list would mean "the default inputs").
pub(crate) fn split_root_inputs(dir: &str, inputs: &[String]) -> SplitInputs {
    let mut split = SplitInputs::default();
    for input in inputs {
        let (bang, rest) = match input.strip_prefix('!') {
            Some(rest) => ("!", rest),
            None => ("", input.as_str()),
        };
        let root_relative = match rest.strip_prefix(TURBO_ROOT) {
            Some(glob) => Some(normalize_root_glob("", glob)),
            None if rest.split('/').any(|c| c == "..") => Some(normalize_root_glob(dir, rest)),
            None => None,
        };
        match root_relative {
            Some(Some(glob)) => split.root.push(format!("{bang}{glob}")),
            Some(None) => split.outside.push(input.clone()),
            None => split.package.push(input.clone()),
        }
    }
    if split.package.is_empty() && !inputs.is_empty() {
        split.package.push("!**".to_string());
    }
    split
}

/// `glob` (which may hold `..`) taken from directory `dir`, both relative to the root, as a
/// root-relative glob; `None` when it climbs above the root.
fn normalize_root_glob(dir: &str, glob: &str) -> Option<String> {
    let mut parts: Vec<&str> = dir.split('/').filter(|c| !c.is_empty()).collect();
    for component in glob.split('/') {
        match component {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            c => parts.push(c),
        }
    }
    Some(parts.join("/"))
}

/// `inputs` globs that climb above the root. One that does so from every package of the run
/// that has it is an error naming it; one that does so only from some (a root definition's
/// `../../config.ts`, meant for packages two levels down, in a package one level down) names
/// no file there, with one warning, as in Turborepo, which finds nothing there either.
fn check_outside_inputs(ws: &Workspace, graph: &TaskGraph) -> Result<(), RunError> {
    // glob → (a package dir it escapes from, whether it stays inside from any package)
    let mut seen: BTreeMap<&str, (Option<&str>, bool)> = BTreeMap::new();
    for node in graph.nodes() {
        let dir = package_dir(ws, node)?;
        let split = split_root_inputs(dir, &node.task.inputs);
        for glob in &node.task.inputs {
            let entry = seen.entry(glob.as_str()).or_insert((None, false));
            if split.outside.contains(glob) {
                entry.0.get_or_insert(dir);
            } else {
                entry.1 = true;
            }
        }
    }
    for (glob, (escapes_from, inside_somewhere)) in seen {
        let Some(dir) = escapes_from else { continue };
        if !inside_somewhere {
            return Err(RunError::InputOutsideRoot {
                glob: glob.to_string(),
                package_dir: dir.to_string(),
            });
        }
        tracing::warn!(
            "`inputs` glob `{glob}` leads outside the workspace root from `{dir}`: it names no \
             file there"
        );
    }
    Ok(())
}

/// The digested input files of one (package, inputs, outputs). Inputs written
/// `$TURBO_ROOT$/glob` name files relative to the workspace root (Turborepo's syntax); they
/// join the key as `$TURBO_ROOT$/path`, so they never collide with the package's own files.
fn group_files(
    ws: &Workspace,
    stat_cache: &StatCache,
    dir: &str,
    (inputs, outputs): (&[String], &[String]),
    listed: Option<&[String]>,
    git: &GitFiles,
) -> Result<Vec<(String, Digest)>, RunError> {
    let root = ws.root.as_path();
    let split = split_root_inputs(dir, inputs);
    let root_globs = split.root;
    let tracked_ignored = git.tracked_ignored_under(dir);
    let is_tracked = |rel: &str| match dir {
        "" => git.is_tracked(rel),
        dir => git.is_tracked(&format!("{dir}/{rel}")),
    };
    let found = collect_inputs(&InputOptions {
        root,
        package_dir: dir,
        inputs: &split.package,
        outputs,
        listing: listed,
        tracked_ignored: &tracked_ignored,
        is_tracked: Some(&is_tracked),
    })?;
    let mut files = hash_files(&found, stat_cache, root)?;
    if !root_globs.is_empty() {
        let found = collect_global_inputs(root, &root_globs)?;
        let hashed = hash_files(&found, stat_cache, root)?;
        files.extend(
            hashed
                .into_iter()
                .map(|(rel, d)| (format!("{TURBO_ROOT}{rel}"), d)),
        );
        files.sort();
    }
    Ok(files)
}

/// The input files of one task as they are now, walked afresh: to check, before storing a
/// result, that nothing changed under the task while it ran. `git` is the plan's
/// ([`Plan::git`]).
pub fn current_input_files(
    ws: &Workspace,
    stat_cache: &StatCache,
    node: &TaskNode,
    git: &GitFiles,
) -> Result<Vec<(String, Digest)>, RunError> {
    let dir = package_dir(ws, node)?;
    group_files(
        ws,
        stat_cache,
        dir,
        (&node.task.inputs, &node.task.outputs),
        None,
        git,
    )
}

/// `globalDependencies` files and `globalEnv` values. As in Turborepo, the root
/// `.gitattributes` is a global input too (it changes how git reads every file), and so is
/// the root `package.json` of a JavaScript workspace without a lockfile, which then stands
/// for the third-party versions nothing records.
fn global_inputs(ctx: &HashContext<'_, '_>) -> Result<GlobalInputs, RunError> {
    let ws = ctx.workspace;
    let mut globs = ws.pipeline.global_dependencies.clone();
    if ws.root.join(".gitattributes").is_file() {
        globs.push(".gitattributes".to_string());
    }
    if ws.lockfile.is_none()
        && ws.package_manager != kiln_workspace::PackageManager::None
        && ws.root.join("package.json").is_file()
    {
        globs.push("package.json".to_string());
    }
    let files = collect_global_inputs(&ws.root, &globs)?;
    let digests = hash_files(&files, ctx.stat_cache, &ws.root)?;
    let env = env_digests(&ws.pipeline.global_env, ctx.env);
    Ok(GlobalInputs {
        files: digests.into_iter().collect(),
        env: env.into_iter().collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::nested_package_dirs;

    #[test]
    fn nested_dirs_are_those_strictly_below() {
        let mut all = [
            "",
            "packages/a",
            "packages/ab",
            "packages/a/inner",
            "apps/web",
        ];
        all.sort_unstable();
        assert_eq!(
            nested_package_dirs("packages/a", &all),
            ["packages/a/inner"]
        );
        assert_eq!(nested_package_dirs("", &all).len(), 4);
        assert!(nested_package_dirs("apps/web", &all).is_empty());
    }
}
