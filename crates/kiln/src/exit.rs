//! Errors at the edge: how each kind is shown and which exit code it gives.

use std::io::Write;

/// Why `kiln` stops before or outside its tasks.
pub(crate) enum Exit {
    /// Bad input the user can fix (config, cycle, unknown task): exit 1.
    User(miette::Report),
    /// Something kiln itself got wrong or could not do: exit 1 too, but said as such.
    Internal(String),
    /// Arguments kiln cannot act on (a Turborepo flag it does not support): exit 2, like
    /// any other usage error.
    Usage(String),
}

impl Exit {
    pub(crate) fn user(message: impl Into<String>) -> Self {
        Exit::User(miette::Report::msg(message.into()))
    }

    pub(crate) fn diagnostic(d: impl miette::Diagnostic + Send + Sync + 'static) -> Self {
        Exit::User(miette::Report::new(d))
    }

    /// Prints the error to stderr and returns the exit code.
    pub(crate) fn report(self) -> i32 {
        let mut err = std::io::stderr().lock();
        match self {
            Exit::User(report) => {
                let _ = writeln!(err, "{report:?}");
                1
            }
            Exit::Internal(message) => {
                let _ = writeln!(err, "kiln: internal error: {message}");
                let _ = writeln!(err, "kiln: this is a bug in kiln; please report it");
                1
            }
            Exit::Usage(message) => {
                let _ = writeln!(err, "error: {message}");
                2
            }
        }
    }
}

/// The one place a library error becomes an exit: a `RunError` kiln calls internal is a bug
/// report, every other error (bad input, a machine or server that refuses) is the user's to
/// fix. Library errors travel typed up to here (`?`), and are worded once: with their
/// sources, on one line.
impl<E: std::error::Error + 'static> From<E> for Exit {
    fn from(e: E) -> Self {
        let internal = (&e as &dyn std::any::Any)
            .downcast_ref::<kiln_run::RunError>()
            .is_some_and(kiln_run::RunError::is_internal);
        if internal {
            Exit::Internal(kiln_core::error_chain(&e))
        } else {
            Exit::user(kiln_core::error_chain(&e))
        }
    }
}
