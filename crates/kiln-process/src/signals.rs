//! Turning Ctrl-C into an orderly shutdown, so the CLI's handler is one call.
//!
//! Signal handlers may not take locks, so the real work happens on a watcher thread fed by
//! `signal-hook`. The first `SIGINT`/`SIGTERM`/`SIGHUP` runs `on_signal` (the CLI cancels its
//! scheduler there, so nothing new is scheduled) and starts
//! [`ProcessRegistry::terminate_all`] on its own thread; a second signal means "now" and
//! `SIGKILL`s every group at once, like a second Ctrl-C in most build tools.

use std::io;
use std::thread;
use std::time::Duration;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::registry::ProcessRegistry;

/// Watches `SIGINT`, `SIGTERM` and `SIGHUP` for the rest of the process's life: the first one
/// calls `on_signal(signal)` then stops all of `registry`'s processes with a `grace` period;
/// any later one kills them immediately. Call once, early in `main`.
pub fn stop_on_signals(
    registry: ProcessRegistry,
    grace: Duration,
    on_signal: impl Fn(i32) + Send + 'static,
) -> io::Result<()> {
    let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    thread::Builder::new().name("kiln-signals".into()).spawn(move || {
        let mut received = 0usize;
        for signal in signals.forever() {
            received += 1;
            if received == 1 {
                tracing::info!(signal, "stop requested; stopping running tasks");
                on_signal(signal);
                let stopping = registry.clone();
                let stopper = thread::Builder::new()
                    .name("kiln-terminate".into())
                    .spawn(move || stopping.terminate_all(grace));
                if let Err(err) = stopper {
                    tracing::error!(%err, "cannot start the shutdown thread; killing tasks now");
                    registry.kill_all();
                }
            } else {
                tracing::warn!(signal, "second stop request; killing running tasks now");
                registry.kill_all();
            }
        }
    })?;
    Ok(())
}
