//! Command dispatch: declares the modules of the `shale` program and runs the command of a
//! parsed command line. The command line is declared in [`args`] (clap); each command owns one
//! module: [`bench`](mod@bench), [`db_commands`] (get, put, delete, scan, stats, verify,
//! compact, checkpoint) and [`dump`]. Commands return [`CliError`] (in [`error`], with the
//! `say!` macro they print with); `main` prints it on one line and exits with its status: 2 for
//! a usage mistake, 1 for a failure (I/O error, damaged file, missing key).

#[macro_use]
mod error;

pub mod args;
mod bench;
mod db_commands;
mod dump;
mod escape;
mod inspect_log;
mod inspect_table;

use args::{Cli, Command, DumpCommand};
pub use error::CliError;

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
        Command::DeleteRange { dir, start, end } => db_commands::delete_range(&dir, &start, &end),
        Command::Scan {
            dir,
            from,
            to,
            limit,
        } => db_commands::scan(&dir, from.as_deref(), to.as_deref(), limit),
        Command::Stats { dir } => db_commands::stats(&dir),
        Command::Verify { dir } => db_commands::verify(&dir),
        Command::Compact { dir } => db_commands::compact(&dir),
        Command::Checkpoint { dir, dest } => db_commands::checkpoint(&dir, &dest),
        Command::Dump(DumpCommand::Sst { file, entries }) => dump::sst(&file, entries),
        Command::Dump(DumpCommand::Wal { file }) => dump::wal(&file),
        Command::Dump(DumpCommand::Manifest { dir }) => dump::manifest(&dir),
    }
}
