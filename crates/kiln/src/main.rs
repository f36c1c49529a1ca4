//! The `kiln` command: parses arguments, wires the flow (discover → plan → hash → schedule →
//! execute-or-restore → record) and its subscribers, and turns errors into exit codes:
//! 0 success, 1 user error (bad config, cycle, unknown task), 2 usage error, a failed task's
//! own exit code, 130 when interrupted.

mod affected_cmd;
mod cache_cmd;
mod cli;
mod console;
mod dry_run;
mod exit;
mod graph_out;
mod lockfile_diff;
mod ls_cmd;
mod profile;
mod remote_cache;
mod run_cmd;
mod run_flags;
mod run_summary;
mod selection;
mod state_cmd;
mod subscribers;
mod suggest;
mod why_cmd;
mod words;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::exit::Exit;

fn main() {
    let cli = parse_cli();
    init_tracing(cli.verbose);
    let code = match run(cli) {
        Ok(code) => code,
        Err(exit) => exit.report(),
    };
    std::process::exit(code);
}

fn run(cli: Cli) -> Result<i32, Exit> {
    let cwd = match &cli.cwd {
        Some(dir) => dir.clone(),
        None => std::env::current_dir()
            .map_err(|e| Exit::user(format!("cannot read the current directory: {e}")))?,
    };
    match cli.command {
        Command::Run(args) => run_cmd::run(&cwd, &args, cli.verbose),
        Command::Why { task, json } => why_cmd::run(&cwd, &task, json),
        Command::Affected { tasks, range, json } => {
            affected_cmd::run(&cwd, &tasks, &range.into(), json)
        }
        Command::State { command } => state_cmd::run(&cwd, &command),
        Command::Cache { command } => cache_cmd::run(&cwd, &command),
        Command::Ls(args) => ls_cmd::run(&cwd, &args),
        Command::Completion { shell } => {
            use clap::CommandFactory;
            let mut out = std::io::stdout().lock();
            clap_complete::generate(shell, &mut Cli::command(), "kiln", &mut out);
            Ok(0)
        }
        Command::External(_) => unreachable!("re-read as `kiln run` by parse_cli"),
    }
}

/// `kiln build lint …` is `kiln run build lint …`, as `turbo build` is `turbo run build`:
/// a word that is no subcommand is read again as the first task of `kiln run`, with what
/// came before it (`--cwd`, `-v`) kept.
fn parse_cli() -> Cli {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let cli = Cli::parse_from(&argv);
    let Command::External(tail) = &cli.command else {
        return cli;
    };
    let at = argv.len() - tail.len();
    let mut with_run = argv[..at].to_vec();
    with_run.push("run".into());
    with_run.extend_from_slice(&argv[at..]);
    Cli::parse_from(with_run)
}

/// Diagnostics go to stderr: warnings by default, more with `-v`, or as `RUST_LOG` says.
fn init_tracing(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let level = match verbose {
        0 | 1 => "warn",
        2 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    // At -vv and above, every instrumented phase (discover, hash, exec, restore…) reports
    // its duration when it closes.
    let spans = if verbose >= 2 {
        tracing_subscriber::fmt::format::FmtSpan::CLOSE
    } else {
        tracing_subscriber::fmt::format::FmtSpan::NONE
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_span_events(spans)
        .with_writer(std::io::stderr)
        .with_target(verbose >= 2)
        .without_time()
        .with_ansi(console::color_enabled(&std::io::stderr()))
        .init();
}
