//! Resolving the definition of one (package, task), as Turborepo does: a root `pkg#task`
//! entry wins over a root `task` entry, a package-level definition overrides either field by
//! field, and the root package (`//`) only has the tasks written `//#task`.

use kiln_core::PackageName;

use crate::{Framework, Package, ResolvedTask, TaskDefinition, Workspace};

impl TaskDefinition {
    /// Fields set in `over` replace those in `self`.
    pub fn overlay(&self, over: &TaskDefinition) -> TaskDefinition {
        TaskDefinition {
            depends_on: over.depends_on.clone().or_else(|| self.depends_on.clone()),
            inputs: over.inputs.clone().or_else(|| self.inputs.clone()),
            outputs: over.outputs.clone().or_else(|| self.outputs.clone()),
            env: over.env.clone().or_else(|| self.env.clone()),
            pass_through_env: over
                .pass_through_env
                .clone()
                .or_else(|| self.pass_through_env.clone()),
            cache: over.cache.or(self.cache),
            persistent: over.persistent.or(self.persistent),
            command: over.command.clone().or_else(|| self.command.clone()),
            cpus: over.cpus.or(self.cpus),
            memory: over.memory.or(self.memory),
            timeout: over.timeout.or(self.timeout),
            priority: over.priority.or(self.priority),
            locks: over.locks.clone().or_else(|| self.locks.clone()),
            env_mode: over.env_mode.or(self.env_mode),
            output_logs: over.output_logs.or(self.output_logs),
            with: over.with.clone().or_else(|| self.with.clone()),
        }
    }
}

impl Workspace {
    pub fn package(&self, name: &PackageName) -> Option<&Package> {
        self.packages
            .binary_search_by(|p| p.name.cmp(name))
            .ok()
            .map(|i| &self.packages[i])
    }

    /// The definition of `task` in `package` as written (before defaults), or `None` when
    /// the pipeline does not define that task for that package.
    pub fn task_definition(&self, package: &PackageName, task: &str) -> Option<TaskDefinition> {
        let pipeline = &self.pipeline;
        let specific = pipeline.tasks.get(&format!("{package}#{task}"));
        let generic = if package.is_root() {
            None
        } else {
            pipeline.tasks.get(task)
        };
        let local = pipeline
            .package_tasks
            .get(package)
            .and_then(|tasks| tasks.get(task));
        let base = specific.or(generic);
        match (base, local) {
            (None, None) => None,
            (Some(b), None) => Some(b.clone()),
            (None, Some(l)) => Some(l.clone()),
            (Some(b), Some(l)) => Some(b.overlay(l)),
        }
    }

    /// The definition of `task` in `package` with every default applied.
    pub fn resolve_task(&self, package: &PackageName, task: &str) -> Option<ResolvedTask> {
        let def = self.task_definition(package, task)?;
        // An empty script is no script, as in Turborepo: the task is a no-op node (or runs
        // the definition's `command`).
        let found = self.package(package);
        let script = found
            .and_then(|p| p.scripts.get(task).cloned())
            .filter(|s| !s.is_empty());
        let framework = match self.pipeline.framework_inference {
            Some(false) => None,
            _ => found.and_then(Framework::of),
        };
        Some(ResolvedTask {
            depends_on: def.depends_on.unwrap_or_default(),
            inputs: def.inputs.unwrap_or_default(),
            outputs: def.outputs.unwrap_or_default(),
            env: def.env.unwrap_or_default(),
            pass_through_env: def.pass_through_env.unwrap_or_default(),
            cache: def.cache.unwrap_or(true),
            persistent: def.persistent.unwrap_or(false),
            command: script.or(def.command),
            cpus: def.cpus.unwrap_or(1),
            memory: def.memory,
            timeout: def.timeout,
            priority: def.priority.unwrap_or(0),
            locks: def.locks.unwrap_or_default(),
            env_mode: def.env_mode.or(self.pipeline.env_mode).unwrap_or_default(),
            output_logs: def.output_logs.unwrap_or_default(),
            with: def.with.unwrap_or_default(),
            framework,
        })
    }
}
