//! Command dispatch, the usage text, the program's error type and the hand-written argument
//! helpers shared by the commands (no argument-parsing crate, to keep the dependency tree small).
//!
//! Each command owns one module: [`bench`] (the default) and [`inspect`]. Commands return
//! [`CliError`]; `main` prints it and exits with its status: 2 for a usage mistake, 1 for a
//! failure (I/O error, damaged file).

/// Prints one line to standard output, or returns [`CliError::OutputClosed`] from the enclosing
/// function when it cannot (`shaledb inspect FILE | head` closes the pipe early): `println!`
/// would panic there.
macro_rules! say {
    ($($argument:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($argument)*)
            .map_err(|_| $crate::cli::CliError::OutputClosed)?
    }};
}

mod bench;
mod bench_amplification;
mod bench_batches;
mod bench_engine;
mod bench_workloads;
mod escape;
mod inspect;
mod inspect_log;
mod inspect_table;
mod random;

use std::fmt;

/// The usage text printed by `shaledb help`.
const USAGE: &str = "\
usage: shaledb [COMMAND] [OPTIONS]

commands:
  bench [OPTIONS]            run the built-in benchmark (the default command)
      --entries N            SSTable entries, log records and lookups (default 1000000)
      --key-size N           user key size in bytes (default 16)
      --value-size N         value and log record size in bytes (default 100)
      --sync-records N       records of the fdatasync workload (default entries/10, at most 2000)
      --dir PATH             where to write (default: a fresh directory under the system temp
                             directory, removed afterwards; PATH is kept)
      --workloads LIST       comma-separated groups to run (default all): formats, fillrandom
                             (with readrandom), fillsync (synced single puts, 1-64 threads, per
                             commit policy), fillbatch (synced 1,000-put batches), batchwriter
                             (single puts through a BatchWriter), amplification, fsync (the
                             disk's fdatasync rate)
  inspect FILE [--entries]   print what a shaledb file holds: an SSTable (footer, properties,
                             blocks; --entries lists every entry), a write-ahead log or manifest
                             (records, decoded version edits, damage), or CURRENT; exits with
                             status 1 if the file is damaged
  help                       print this text

Numbers may contain '_' separators (1_000_000).";

/// Why a command failed, and so which exit status the program returns.
#[derive(Debug)]
pub enum CliError {
    /// The command line is wrong; the usage text tells how to fix it. Exit status 2.
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
            CliError::Usage(message) => {
                write!(f, "{message}\nrun 'shaledb help' for usage")
            }
            CliError::Failed(message) => f.write_str(message),
            CliError::OutputClosed => f.write_str("standard output was closed"),
        }
    }
}

impl From<shaledb::Error> for CliError {
    fn from(error: shaledb::Error) -> Self {
        CliError::Failed(error.to_string())
    }
}

/// Runs the command named by `arguments` (the program's arguments without its name).
pub fn run(arguments: &[String]) -> Result<(), CliError> {
    let Some((command, rest)) = arguments.split_first() else {
        return bench::run(&[]);
    };
    match command.as_str() {
        "bench" => bench::run(rest),
        "inspect" => inspect::run(rest),
        "help" | "--help" | "-h" => {
            say!("{USAGE}");
            Ok(())
        }
        "--version" | "version" => {
            say!("shaledb {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        // Flags without a command are the default command's flags.
        flag if flag.starts_with("--") => bench::run(arguments),
        unknown => Err(CliError::Usage(format!("unknown command '{unknown}'"))),
    }
}

/// Splits `--flag=value` into the flag and its inline value; other arguments come back whole.
pub fn split_flag(argument: &str) -> (&str, Option<&str>) {
    match argument.split_once('=') {
        Some((flag, value)) if flag.starts_with("--") => (flag, Some(value)),
        _ => (argument, None),
    }
}

/// The value of `flag`: its inline `--flag=value`, or the next argument.
pub fn flag_value<'a>(
    flag: &str,
    inline: Option<&'a str>,
    rest: &mut impl Iterator<Item = &'a String>,
) -> Result<&'a str, CliError> {
    if let Some(value) = inline {
        return Ok(value);
    }
    rest.next()
        .map(String::as_str)
        .ok_or_else(|| CliError::Usage(format!("{flag} needs a value")))
}

/// Parses `text` as the whole number for `flag`, which must lie in `minimum..=maximum`.
pub fn parse_number(flag: &str, text: &str, minimum: u64, maximum: u64) -> Result<u64, CliError> {
    let digits: String = text.chars().filter(|&c| c != '_').collect();
    let number: u64 = digits
        .parse()
        .map_err(|_| CliError::Usage(format!("{flag} expects a whole number, not '{text}'")))?;
    if !(minimum..=maximum).contains(&number) {
        return Err(CliError::Usage(format!(
            "{flag} is {number}; it must be between {minimum} and {maximum}"
        )));
    }
    Ok(number)
}

/// Refuses a flag the command does not know.
pub fn unknown_flag(command: &str, argument: &str) -> CliError {
    if argument.starts_with('-') {
        CliError::Usage(format!("unknown option '{argument}' for '{command}'"))
    } else {
        CliError::Usage(format!("unexpected argument '{argument}' for '{command}'"))
    }
}
