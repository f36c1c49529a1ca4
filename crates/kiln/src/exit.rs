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
