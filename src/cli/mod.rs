//! Command dispatch and the program's error type. The command line is declared in [`args`]
//! (clap); each command owns one module: [`bench`](mod@bench), [`db_commands`] (get, put, delete, scan,
//! stats, verify, compact) and [`dump`]. Commands return [`CliError`]; `main` prints it on one
//! line and exits with its status: 2 for a usage mistake, 1 for a failure (I/O error, damaged
//! file, missing key).

/// Prints one line to standard output, or returns [`CliError::OutputClosed`] from the enclosing
/// function when it cannot (`shale dump sst FILE | head` closes the pipe early): `println!`
/// would panic there.
macro_rules! say {
    ($($argument:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($argument)*)
            .map_err(|_| $crate::cli::CliError::OutputClosed)?
    }};
}

pub mod args;
mod bench;
mod bench_amplification;
mod bench_batches;
mod bench_compare;
mod bench_compare_report;
mod bench_engine;
mod bench_memory;
mod bench_progress;
mod bench_report;
mod bench_workloads;
mod db_commands;
mod dump;
mod engine;
#[cfg(feature = "compare")]
mod engine_fjall;
#[cfg(feature = "compare-rocksdb")]
mod engine_rocksdb;
mod escape;
mod inspect_log;
mod inspect_table;
mod random;

use std::fmt;

use args::{Cli, Command, DumpCommand};

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

/// Runs the command of a parsed command line; no command runs the default benchmark.
pub fn run(cli: Cli) -> Result<(), CliError> {
    let Some(command) = cli.command else {
        return bench::run(&bench::default_args()?);
    };
    match command {
        Command::Bench(arguments) => bench::run(&arguments),
        Command::Get { dir, key } => db_commands::get(&dir, &key),
        Command::Put { dir, key, value } => db_commands::put(&dir, &key, &value),
        Command::Delete { dir, key } => db_commands::delete(&dir, &key),
        Command::Scan {
            dir,
            from,
            to,
            limit,
        } => db_commands::scan(&dir, from.as_deref(), to.as_deref(), limit),
        Command::Stats { dir } => db_commands::stats(&dir),
        Command::Verify { dir } => db_commands::verify(&dir),
        Command::Compact { dir } => db_commands::compact(&dir),
        Command::Dump(DumpCommand::Sst { file, entries }) => dump::sst(&file, entries),
        Command::Dump(DumpCommand::Wal { file }) => dump::wal(&file),
        Command::Dump(DumpCommand::Manifest { dir }) => dump::manifest(&dir),
    }
}
