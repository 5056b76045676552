//! `shale dump sst FILE`, `shale dump wal FILE` and `shale dump manifest DIR`: readable output
//! of what a shaledb file holds, the way RocksDB's sst_dump and ldb are used. This module finds
//! the file (for a manifest: the one the directory's `CURRENT` names) and its number, and hands
//! it to the printer for its kind: [`inspect_table`] for SSTables and
//! [`inspect_log`] for write-ahead logs and manifests. FORMAT.md is the
//! source of truth for every field printed.
//!
//! Everything is read through the library's checked readers; a damaged or foreign file gives an
//! error naming the file and byte offset and exit status 1, never a panic.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use shaledb::fs::{CURRENT_FILE_NAME, FileKind, manifest_path, parse_file_name};
use shaledb::key::FileNumber;
use shaledb::log::LogFileKind;
use shaledb::manifest::current::decode_current;

use super::error::CliError;
use super::{inspect_log, inspect_table};

/// `CURRENT` files are tiny; a larger file is not read whole.
const CURRENT_SIZE_MAX: u64 = 4096;

/// Prints the SSTable at `path`; `list_entries` lists every entry.
pub fn sst(path: &Path, list_entries: bool) -> Result<(), CliError> {
    let number = file_number(path, |kind| match kind {
        FileKind::Table(number) => Some(number),
        _ => None,
    })?;
    inspect_table::run(path, number, list_entries)
}

/// Prints the write-ahead log at `path`.
pub fn wal(path: &Path) -> Result<(), CliError> {
    let number = file_number(path, |kind| match kind {
        FileKind::Wal(number) => Some(number),
        _ => None,
    })?;
    inspect_log::run(path, LogFileKind::Wal, number)
}

/// Prints the live manifest of the database in `dir`, or the manifest file `dir` names.
pub fn manifest(dir: &Path) -> Result<(), CliError> {
    let manifest_number = |kind| match kind {
        FileKind::Manifest(number) => Some(number),
        _ => None,
    };
    if !std::fs::metadata(dir).is_ok_and(|metadata| metadata.is_dir()) {
        let number = file_number(dir, manifest_number)?;
        return inspect_log::run(dir, LogFileKind::Manifest, number);
    }
    let current = dir.join(CURRENT_FILE_NAME);
    let number = read_current(&current)?;
    let manifest = manifest_path(dir, number);
    say!("{}: names {}", current.display(), manifest.display());
    inspect_log::run(&manifest, LogFileKind::Manifest, number)
}

fn cannot_read(path: &Path, error: std::io::Error) -> CliError {
    CliError::Failed(format!("cannot read {}: {error}", path.display()))
}

/// Checks that `path` is a file, and returns the number in its name when the name is one
/// shaledb gives files of the kind dumped (`number_of` picks it out), else 0: the printers
/// read any file, whatever its name, and only show the number.
fn file_number(
    path: &Path,
    number_of: impl Fn(FileKind) -> Option<FileNumber>,
) -> Result<FileNumber, CliError> {
    let metadata = std::fs::metadata(path).map_err(|error| cannot_read(path, error))?;
    if metadata.is_dir() {
        return Err(CliError::Failed(format!(
            "{} is a directory, not a file",
            path.display()
        )));
    }
    Ok(path
        .file_name()
        .and_then(|name| name.to_str())
        .and_then(parse_file_name)
        .and_then(number_of)
        .unwrap_or(FileNumber(0)))
}

/// The manifest number a `CURRENT` file names.
fn read_current(path: &Path) -> Result<FileNumber, CliError> {
    let file = File::open(path).map_err(|error| {
        CliError::Failed(format!(
            "cannot read {}: {error} (is {} a shaledb database?)",
            path.display(),
            path.parent().unwrap_or(Path::new(".")).display()
        ))
    })?;
    let mut bytes = Vec::new();
    file.take(CURRENT_SIZE_MAX + 1)
        .read_to_end(&mut bytes)
        .map_err(|error| cannot_read(path, error))?;
    if bytes.len() as u64 > CURRENT_SIZE_MAX {
        return Err(CliError::Failed(format!(
            "{} is larger than {CURRENT_SIZE_MAX} bytes: not a CURRENT file",
            path.display()
        )));
    }
    Ok(decode_current(path, &bytes)?)
}
