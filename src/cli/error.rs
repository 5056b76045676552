//! The program's error type, [`CliError`], and the `say!` macro every command prints its
//! output with, which turns a closed standard output into that error. A leaf: the command
//! modules import it, and it imports nothing of theirs.

use std::fmt;

/// Prints one line to standard output, or returns [`CliError::OutputClosed`] from the enclosing
/// function when it cannot (`shale dump sst FILE | head` closes the pipe early): `println!`
/// would panic there.
macro_rules! say {
    ($($argument:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($argument)*)
            .map_err(|_| $crate::cli::error::CliError::OutputClosed)?
    }};
}

/// Why a command failed, and so which exit status the program returns.
#[derive(Debug)]
pub enum CliError {
    /// The command line is wrong; `--help` tells how to fix it. Exit status 2.
    Usage(String),
    /// The command ran and failed (I/O error, damaged file, a benchmark check). Exit status 1.
    Failed(String),
    /// Standard output was closed (a reader such as `head` exited); nothing more to say.
    /// Exit status 1, no message.
    OutputClosed,
}

impl CliError {
    /// The process exit status for this error.
    pub fn exit_status(&self) -> u8 {
        match self {
            CliError::Usage(_) => 2,
            CliError::Failed(_) | CliError::OutputClosed => 1,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Usage(message) | CliError::Failed(message) => f.write_str(message),
            CliError::OutputClosed => f.write_str("standard output was closed"),
        }
    }
}

impl From<shaledb::Error> for CliError {
    fn from(error: shaledb::Error) -> Self {
        CliError::Failed(error.to_string())
    }
}
