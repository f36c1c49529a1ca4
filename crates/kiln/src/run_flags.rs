//! Turborepo's `run` flags, read the way Turborepo reads them, into what the run does: the
//! cache tiers and their modes, what a failure stops, the env mode and framework inference
//! (which the pipeline carries into every task's definition), extra global inputs. Flags
//! kiln cannot honour are refused with exit code 2; deprecated ones that change nothing say
//! so once.

use kiln_run::CacheModes;
use kiln_scheduler::OnFailure;
use kiln_workspace::{EnvMode, OutputLogs, Workspace};

use crate::cli::{ContinueMode, EnvModeArg, OutputLogsArg, RunArgs};
use crate::exit::Exit;

/// Refuses the Turborepo flags kiln cannot honour, and says which accepted ones change
/// nothing.
pub(crate) fn check(args: &RunArgs) -> Result<(), Exit> {
    if let Some(flag) = args.refused.first() {
        return Err(Exit::Usage(format!(
            "`{flag}` is a Turborepo flag kiln does not support; run without it \
             (docs/migrating-from-turborepo.md lists what kiln does instead)"
        )));
    }
    if args.parallel {
        tracing::warn!(
            "--parallel changes nothing (tasks still wait for what they depend on), as in \
             Turborepo 2, which deprecated it; use `persistent` and `with` in the task definitions"
        );
    }
    if args.daemon || args.no_daemon {
        tracing::debug!("--daemon/--no-daemon: kiln has no daemon; nothing to do");
    }
    Ok(())
}

/// What the flags change in the pipeline before it is planned: the env mode (`--env-mode`,
/// else `TURBO_ENV_MODE` when it holds `strict` or `loose`, over the config's; a task's
/// own `envMode` still wins), framework inference, and `--global-deps`.
pub(crate) fn apply_to_pipeline(ws: &mut Workspace, args: &RunArgs) {
    let pipeline = &mut ws.pipeline;
    let from_env = std::env::var("TURBO_ENV_MODE")
        .ok()
        .and_then(|v| EnvMode::parse(&v));
    match args.env_mode {
        Some(EnvModeArg::Strict) => pipeline.env_mode = Some(EnvMode::Strict),
        Some(EnvModeArg::Loose) => pipeline.env_mode = Some(EnvMode::Loose),
        None => {
            if let Some(mode) = from_env {
                pipeline.env_mode = Some(mode);
            }
        }
    }
    if let Some(on) = args.framework_inference {
        pipeline.framework_inference = Some(on);
    }
    pipeline
        .global_dependencies
        .extend(args.global_deps.iter().filter(|g| !g.is_empty()).cloned());
}

/// The cache tiers' read/write modes: `--cache` (a tier it leaves out is off),
/// `--force` (write only), `--no-cache` (read only), `--remote-only`,
/// `--remote-cache-read-only`; all on by default.
pub(crate) fn cache_modes(args: &RunArgs) -> Result<CacheModes, Exit> {
    let mut modes = kiln_run::parse_cache_modes(args.cache_modes.as_deref().unwrap_or(""))
        .map_err(|e| Exit::user(format!("--cache: {e}")))?;
    if args.force == Some(true) {
        modes.local.0 = false;
        modes.remote.0 = false;
    }
    if args.no_cache {
        modes.local.1 = false;
        modes.remote.1 = false;
    }
    if args.remote_only {
        modes.local = (false, false);
    }
    if args.remote_cache_read_only {
        modes.remote.1 = false;
    }
    if modes.local == (false, false) && modes.remote == (false, false) {
        tracing::warn!("no caches are enabled: every task runs and nothing is stored");
    }
    Ok(modes)
}

/// `--continue[=MODE]`: bare is `always`, as in Turborepo 2.11.
pub(crate) fn on_failure(args: &RunArgs) -> OnFailure {
    match args.continue_mode {
        None | Some(ContinueMode::Never) => OnFailure::Stop,
        Some(ContinueMode::DependenciesSuccessful) => OnFailure::SkipDependents,
        Some(ContinueMode::Always) => OnFailure::RunDependents,
    }
}

/// `--output-logs` (over every task's `outputLogs`); `--hide-cached-logs` is `new-only`.
pub(crate) fn output_logs(args: &RunArgs) -> Option<OutputLogs> {
    match args.output_logs {
        Some(OutputLogsArg::Full) => Some(OutputLogs::Full),
        Some(OutputLogsArg::NewOnly) => Some(OutputLogs::NewOnly),
        Some(OutputLogsArg::ErrorsOnly) => Some(OutputLogs::ErrorsOnly),
        Some(OutputLogsArg::HashOnly) => Some(OutputLogs::HashOnly),
        Some(OutputLogsArg::None) => Some(OutputLogs::None),
        None if args.hide_cached_logs => Some(OutputLogs::NewOnly),
        None => None,
    }
}

/// Warns once per run about each config key read but not acted on, with where it is.
pub(crate) fn warn_ignored_keys(ws: &Workspace) {
    for key in &ws.pipeline.ignored_keys {
        tracing::warn!(
            "{}:{}: `{}` is read but ignored: {}",
            key.file.display(),
            key.line,
            key.key,
            key.why
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(f: impl FnOnce(&mut RunArgs)) -> RunArgs {
        let mut a = RunArgs::default();
        f(&mut a);
        a
    }

    #[test]
    fn cache_flags_read_as_turborepo_reads_them() {
        let m = cache_modes(&args(|_| {})).ok().unwrap();
        assert_eq!((m.local, m.remote), ((true, true), (true, true)));
        let m = cache_modes(&args(|a| a.force = Some(true))).ok().unwrap();
        assert_eq!((m.local, m.remote), ((false, true), (false, true)));
        let m = cache_modes(&args(|a| a.no_cache = true)).ok().unwrap();
        assert_eq!((m.local, m.remote), ((true, false), (true, false)));
        let m = cache_modes(&args(|a| a.cache_modes = Some("local:r".into())))
            .ok()
            .unwrap();
        assert_eq!((m.local, m.remote), ((true, false), (false, false)));
        let m = cache_modes(&args(|a| a.remote_cache_read_only = true))
            .ok()
            .unwrap();
        assert_eq!((m.local, m.remote), ((true, true), (true, false)));
        assert!(cache_modes(&args(|a| a.cache_modes = Some("local:x".into()))).is_err());
    }

    #[test]
    fn a_bare_continue_is_always() {
        assert_eq!(on_failure(&args(|_| {})), OnFailure::Stop);
        let always = args(|a| a.continue_mode = Some(ContinueMode::Always));
        assert_eq!(on_failure(&always), OnFailure::RunDependents);
    }
}
