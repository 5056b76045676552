//! The `shale` command-line program: a db_bench-style benchmark (the default command), reads
//! and writes of a database (`get`, `put`, `delete`, `delete-range`, `scan`, `stats`, `verify`,
//! `compact`, each with `--keyspace`), its keyspaces (`keyspaces`, `drop-keyspace`), checkpoints
//! (`checkpoint`) and readable dumps of its files (`dump sst|wal|manifest`). Built only with the
//! default-on `cli` feature, which carries its dependencies (clap, indicatif).
//!
//! Commands live in `src/cli/`; this file parses the command line and turns the outcome into
//! one line on standard error and an exit status: 0 for success (and `--help`, `--version`), 2
//! for a usage mistake, 1 for a failure. FORMAT.md is the source of truth for every byte the
//! dumps decode; they go through the library's checked readers and never panic on a damaged
//! or foreign file.

#![warn(clippy::unwrap_used)]
#![warn(clippy::expect_used)]

mod cli;

use std::process::ExitCode;

use clap::Parser as _;
use clap::error::ErrorKind;

fn main() -> ExitCode {
    let parsed = match cli::args::Cli::try_parse() {
        Ok(parsed) => parsed,
        Err(error) => return report_parse_error(&error),
    };
    match cli::run(parsed) {
        Ok(()) => ExitCode::SUCCESS,
        // A closed output pipe is how `shale dump sst FILE | head` ends; nothing to report.
        Err(cli::CliError::OutputClosed) => ExitCode::FAILURE,
        Err(error @ cli::CliError::Usage(_)) => {
            eprintln!("shale: {error} (see '{} --help')", command_path());
            ExitCode::from(error.exit_status())
        }
        Err(error) => {
            eprintln!("shale: {error}");
            ExitCode::from(error.exit_status())
        }
    }
}

/// Prints `--help` and `--version` in full; a usage mistake as one line (clap's message, which
/// names the problem) pointing to the command's `--help`, with exit status 2.
fn report_parse_error(error: &clap::Error) -> ExitCode {
    match error.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            return if error.print().is_ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            };
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let path = command_path();
            eprintln!("shale: '{path}' needs a subcommand (see '{path} --help')");
            return ExitCode::from(2);
        }
        _ => {}
    }
    let rendered = error.to_string();
    // clap's message runs to the first blank line (a missing argument is named on the line
    // after the problem); the usage and hints after it are left to --help.
    let message: Vec<&str> = rendered
        .lines()
        .take_while(|line| !line.trim().is_empty())
        .map(str::trim)
        .collect();
    let message = message.join(" ");
    let problem = message.strip_prefix("error: ").unwrap_or(&message);
    eprintln!("shale: {problem} (see '{} --help')", command_path());
    ExitCode::from(2)
}

/// The command the mistake was made in (`shale dump sst`): the leading arguments that name
/// subcommands.
fn command_path() -> String {
    use clap::CommandFactory as _;
    let mut command = cli::args::Cli::command();
    let mut path = vec![String::from("shale")];
    for argument in std::env::args().skip(1) {
        let Some(subcommand) = command.find_subcommand(&argument).cloned() else {
            break;
        };
        path.push(argument);
        command = subcommand;
    }
    path.join(" ")
}
