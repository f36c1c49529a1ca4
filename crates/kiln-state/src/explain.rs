//! Why a task's key is not the one of its last successful run, down to the root cause.
//!
//! A task's own inputs explain themselves (`src/a.ts` changed). A changed *dependency* key
//! only says that something upstream changed, so the explanation follows it: the dependent's
//! recorded manifest holds the key the dependency had then, the manifest store holds the
//! dependency's inputs at that key, and diffing them with its inputs now tells what changed
//! there, and so on down (`web#build` ← `ui#build` ← `packages/ui/src/button.tsx`).

use std::collections::HashMap;

use kiln_core::TaskId;
use kiln_hash::{ChangeReason, GlobalInputs, InputManifest, TaskKey};
use serde::Serialize;

use crate::BuildState;

/// How a task's inputs now compare with an earlier run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Explanation {
    /// No successful run recorded.
    NeverRun { task: TaskId, key: TaskKey },
    /// The key is the same as then.
    Unchanged { task: TaskId, key: TaskKey },
    /// The key changed; `reasons` say how, `causes` explain each changed dependency.
    Changed {
        task: TaskId,
        from: TaskKey,
        to: TaskKey,
        reasons: Vec<ChangeReason>,
        causes: Vec<Explanation>,
    },
    /// The key changed, but the inputs of the earlier key are no longer recorded.
    Unrecorded {
        task: TaskId,
        from: TaskKey,
        to: TaskKey,
    },
}

impl Explanation {
    pub fn task(&self) -> &TaskId {
        match self {
            Self::NeverRun { task, .. }
            | Self::Unchanged { task, .. }
            | Self::Changed { task, .. }
            | Self::Unrecorded { task, .. } => task,
        }
    }

    /// Every reason that is not "a dependency changed", with the chain of tasks that leads
    /// to it (this task first): the root causes. A cause reached along several paths (a
    /// diamond in the graph) is listed once, with its shortest chain.
    pub fn root_causes(&self) -> Vec<(Vec<TaskId>, ChangeReason)> {
        let mut all = Vec::new();
        self.collect_causes(&mut Vec::new(), &mut all);
        let mut out: Vec<(Vec<TaskId>, ChangeReason)> = Vec::new();
        for (chain, reason) in all {
            let same = out
                .iter_mut()
                .find(|(c, r)| *r == reason && c.last() == chain.last());
            match same {
                Some(kept) if kept.0.len() > chain.len() => kept.0 = chain,
                Some(_) => {}
                None => out.push((chain, reason)),
            }
        }
        out
    }

    fn collect_causes(&self, chain: &mut Vec<TaskId>, out: &mut Vec<(Vec<TaskId>, ChangeReason)>) {
        chain.push(self.task().clone());
        if let Self::Changed {
            reasons, causes, ..
        } = self
        {
            for reason in reasons {
                if !matches!(reason, ChangeReason::DependencyChanged { .. }) {
                    out.push((chain.clone(), reason.clone()));
                }
            }
            for cause in causes {
                cause.collect_causes(chain, out);
            }
        }
        chain.pop();
    }
}

/// Explains tasks against the build state, given their manifests now.
pub struct Explainer<'a> {
    state: &'a BuildState,
    current: HashMap<&'a TaskId, &'a InputManifest>,
    global: &'a GlobalInputs,
    memo: std::cell::RefCell<HashMap<(TaskId, TaskKey), Explanation>>,
}

impl<'a> Explainer<'a> {
    /// `current`: the manifests of the tasks as they would run now (a task and every task
    /// it depends on, at least); `global`: the global inputs now.
    pub fn new(
        state: &'a BuildState,
        current: impl IntoIterator<Item = &'a InputManifest>,
        global: &'a GlobalInputs,
    ) -> Self {
        Explainer {
            state,
            current: current.into_iter().map(|m| (&m.task, m)).collect(),
            global,
            memo: Default::default(),
        }
    }

    /// `task` now against its last successful run.
    pub fn explain(&self, task: &TaskId) -> Option<Explanation> {
        let now = self.current.get(task)?;
        let Some(last) = self.state.task(task).and_then(|s| s.last().map(|r| r.key)) else {
            return Some(Explanation::NeverRun {
                task: task.clone(),
                key: now.key,
            });
        };
        Some(self.since(now, last))
    }

    /// The reasons only (no chain), `None` when the task never ran or its earlier inputs
    /// are not recorded: what a run prints for a miss.
    pub fn reasons(&self, task: &TaskId) -> Option<Vec<ChangeReason>> {
        let now = self.current.get(task)?;
        let last = self.state.last_manifest(task)?;
        Some(self.diff(&last, now))
    }

    fn since(&self, now: &InputManifest, then: TaskKey) -> Explanation {
        let task = now.task.clone();
        if now.key == then {
            return Explanation::Unchanged { task, key: then };
        }
        let memo_key = (task.clone(), then);
        if let Some(done) = self.memo.borrow().get(&memo_key) {
            return done.clone();
        }
        let explanation = match self.state.manifest(&then) {
            None => Explanation::Unrecorded {
                task,
                from: then,
                to: now.key,
            },
            Some(old) => {
                let reasons = self.diff(&old, now);
                let causes = reasons
                    .iter()
                    .filter_map(|r| match r {
                        ChangeReason::DependencyChanged { task: dep } => {
                            let was = old.dependencies.iter().find(|d| &d.task == dep)?.key;
                            let dep_now = self.current.get(dep)?;
                            Some(self.since(dep_now, was))
                        }
                        _ => None,
                    })
                    .collect();
                Explanation::Changed {
                    task,
                    from: then,
                    to: now.key,
                    reasons,
                    causes,
                }
            }
        };
        self.memo.borrow_mut().insert(memo_key, explanation.clone());
        explanation
    }

    /// The manifest diff, with "a global input changed" replaced by which one, when the
    /// earlier global inputs are recorded.
    fn diff(&self, old: &InputManifest, now: &InputManifest) -> Vec<ChangeReason> {
        let mut reasons = old.diff(now);
        if let Some(at) = reasons
            .iter()
            .position(|r| *r == ChangeReason::GlobalChanged)
            && now.global == self.global.digest()
            && let Some(then) = self.state.global(&old.global)
        {
            let detail = then.diff(self.global);
            if !detail.is_empty() {
                reasons.splice(at..=at, detail);
            }
        }
        reasons
    }
}

/// One line for a run's output: the task's own changes first (files grouped), then the
/// rest; at most a few names.
pub fn summarize(reasons: &[ChangeReason]) -> String {
    const NAMED: usize = 3;
    let mut files = Vec::new();
    let mut deps = Vec::new();
    let mut others = Vec::new();
    for reason in reasons {
        match reason {
            ChangeReason::FileAdded { path }
            | ChangeReason::FileRemoved { path }
            | ChangeReason::FileModified { path } => files.push(path.as_str()),
            ChangeReason::DependencyChanged { task } => deps.push(format!("`{task}`")),
            other => others.push(other.to_string()),
        }
    }
    match deps.len() {
        0 => {}
        1 => others.push(format!("dependency {} changed", deps[0])),
        n => {
            let mut named: Vec<String> = deps.iter().take(NAMED).cloned().collect();
            if n > NAMED {
                named.push(format!("+{} more", n - NAMED));
            }
            others.push(format!("{n} dependencies changed: {}", named.join(", ")));
        }
    }
    let mut parts = Vec::new();
    match files.len() {
        0 => {}
        1 => parts.push(reasons_for_one_file(reasons)),
        n => {
            let mut named: Vec<String> =
                files.iter().take(NAMED).map(|p| format!("`{p}`")).collect();
            if n > NAMED {
                named.push(format!("+{} more", n - NAMED));
            }
            parts.push(format!("{n} files changed: {}", named.join(", ")));
        }
    }
    let shown_others = others.len().min(if parts.is_empty() { 2 } else { 1 });
    parts.extend(others.iter().take(shown_others).cloned());
    let mut line = parts.join("; ");
    if others.len() > shown_others {
        line.push_str(&format!(" (+{} more)", others.len() - shown_others));
    }
    if line.is_empty() {
        line = "inputs unchanged".into();
    }
    line
}

fn reasons_for_one_file(reasons: &[ChangeReason]) -> String {
    reasons
        .iter()
        .find(|r| {
            matches!(
                r,
                ChangeReason::FileAdded { .. }
                    | ChangeReason::FileRemoved { .. }
                    | ChangeReason::FileModified { .. }
            )
        })
        .map(ToString::to_string)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::manifest;

    #[test]
    fn a_changed_dependency_is_followed_down_to_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let state = BuildState::new(dir.path());
        let global = GlobalInputs::default();
        let ui = manifest("ui#build", "v1", &[]);
        let web = manifest("web#build", "w", &[&ui]);
        let docs = manifest("docs#build", "d", &[]);
        for m in [&ui, &web, &docs] {
            state.record_success(m, 1, false).unwrap();
        }
        // ui changes and is rebuilt; web is not rebuilt yet.
        let ui2 = manifest("ui#build", "v2", &[]);
        state.record_success(&ui2, 1, false).unwrap();
        let web2 = manifest("web#build", "w", &[&ui2]);
        let now = [&ui2, &web2, &docs];
        let explainer = Explainer::new(&state, now, &global);

        let web_id = TaskId::new("web", "build");
        let why = explainer.explain(&web_id).unwrap();
        let Explanation::Changed {
            reasons, causes, ..
        } = &why
        else {
            panic!("{why:?}");
        };
        assert_eq!(
            reasons,
            &[ChangeReason::DependencyChanged {
                task: TaskId::new("ui", "build")
            }]
        );
        assert_eq!(causes.len(), 1);
        assert_eq!(
            why.root_causes(),
            [(
                vec![web_id.clone(), TaskId::new("ui", "build")],
                ChangeReason::FileModified {
                    path: "src/a.ts".into()
                }
            )]
        );
        // ui itself is up to date with its last run; docs too; a new task never ran.
        assert!(matches!(
            explainer.explain(&TaskId::new("ui", "build")),
            Some(Explanation::Unchanged { .. })
        ));
        let fresh = manifest("new#build", "n", &[]);
        let explainer = Explainer::new(&state, [&fresh], &global);
        assert!(matches!(
            explainer.explain(&fresh.task),
            Some(Explanation::NeverRun { .. })
        ));
    }

    #[test]
    fn a_pruned_earlier_manifest_is_said_to_be_unrecorded() {
        let dir = tempfile::tempdir().unwrap();
        let state = BuildState::new(dir.path());
        let global = GlobalInputs::default();
        let old = manifest("ui#build", "v1", &[]);
        state.record_success(&old, 1, false).unwrap();
        std::fs::remove_dir_all(dir.path().join("manifests")).unwrap();
        let now = manifest("ui#build", "v2", &[]);
        let explainer = Explainer::new(&state, [&now], &global);
        assert!(matches!(
            explainer.explain(&now.task),
            Some(Explanation::Unrecorded { .. })
        ));
        assert_eq!(explainer.reasons(&now.task), None);
    }

    #[test]
    fn summaries_group_files_and_count_the_rest() {
        let file = |p: &str| ChangeReason::FileModified { path: p.into() };
        assert_eq!(summarize(&[file("a")]), "`a` changed");
        assert_eq!(
            summarize(&[file("a"), file("b"), file("c"), file("d")]),
            "4 files changed: `a`, `b`, `c`, +1 more"
        );
        let env = ChangeReason::EnvChanged { name: "CI".into() };
        let dep = ChangeReason::DependencyChanged {
            task: TaskId::new("ui", "build"),
        };
        assert_eq!(
            summarize(&[env.clone(), dep.clone(), file("a"), file("b")]),
            "2 files changed: `a`, `b`; env var `CI` changed (+1 more)"
        );
        assert_eq!(summarize(&[dep]), "dependency `ui#build` changed");
        assert_eq!(summarize(&[]), "inputs unchanged");
    }
}
