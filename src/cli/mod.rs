//! Command dispatch: declares the modules of the `shale` program and runs the command of a
//! parsed command line. The command line is declared in [`args`] (clap); each command owns one
//! module: [`bench`](mod@bench), [`db_commands`] (get, put, delete, scan, stats, verify,
//! compact, checkpoint, keyspaces, drop-keyspace; `--keyspace` picks the keyspace) and
//! [`dump`]. Commands return [`CliError`] (in [`error`], with the
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
#[cfg(feature = "raft-cluster")]
pub mod raft;

use args::{Cli, Command, DumpCommand};
pub use error::CliError;

/// Runs the command of a parsed command line; no command runs the default benchmark.
pub fn run(cli: Cli) -> Result<(), CliError> {
    let Some(command) = cli.command else {
        return bench::run(&bench::default_args()?);
    };
    match command {
        Command::Bench(arguments) => bench::run(&arguments),
        #[cfg(feature = "raft-cluster")]
        Command::Raft(command) => raft::run(command),
        Command::Get { dir, key, keyspace } => db_commands::get(&dir, keyspace.name(), &key),
        Command::Put {
            dir,
            key,
            value,
            keyspace,
        } => db_commands::put(&dir, keyspace.name(), &key, &value),
        Command::Delete { dir, key, keyspace } => db_commands::delete(&dir, keyspace.name(), &key),
        Command::DeleteRange {
            dir,
            start,
            end,
            keyspace,
        } => db_commands::delete_range(&dir, keyspace.name(), &start, &end),
        Command::Scan {
            dir,
            keyspace,
            from,
            to,
            limit,
        } => db_commands::scan(&dir, keyspace.name(), from.as_deref(), to.as_deref(), limit),
        Command::Stats { dir, keyspace } => db_commands::stats(&dir, keyspace.as_deref()),
        Command::Verify { dir, keyspace } => db_commands::verify(&dir, keyspace.as_deref()),
        Command::Compact { dir, keyspace } => db_commands::compact(&dir, keyspace.name()),
        Command::Keyspaces { dir } => db_commands::keyspaces(&dir),
        Command::DropKeyspace { dir, name } => db_commands::drop_keyspace(&dir, &name),
        Command::Checkpoint { dir, dest } => db_commands::checkpoint(&dir, &dest),
        Command::Dump(DumpCommand::Sst { file, entries }) => dump::sst(&file, entries),
        Command::Dump(DumpCommand::Wal { file }) => dump::wal(&file),
        Command::Dump(DumpCommand::Manifest { dir }) => dump::manifest(&dir),
    }
}
