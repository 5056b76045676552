//! The `shaledb` command-line program: a built-in benchmark of the on-disk formats (the default
//! command) and an inspector that prints what a shaledb file holds.
//!
//! Commands live in `src/cli/`, one module per command; this file only hands the arguments to
//! `cli::run` and turns its outcome into an exit status. FORMAT.md is the source of truth for
//! every byte the inspector decodes; the inspector goes through the library's readers and never
//! panics on a damaged or foreign file.

#![warn(clippy::unwrap_used)]
#![warn(clippy::expect_used)]

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    match cli::run(&arguments) {
        Ok(()) => ExitCode::SUCCESS,
        // A closed output pipe is how `shaledb inspect FILE | head` ends; nothing to report.
        Err(cli::CliError::OutputClosed) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("shaledb: {error}");
            ExitCode::from(error.exit_status())
        }
    }
}
