//! `shaledb inspect FILE`: tells what kind of shaledb file FILE is — by its name first
//! (`NNNNNN.sst`, `NNNNNN.wal`, `MANIFEST-NNNNNN`, `CURRENT`), else by its magic number — and
//! hands it to the printer for that kind: [`inspect_table`](super::inspect_table) for SSTables,
//! [`inspect_log`](super::inspect_log) for write-ahead logs and manifests, and the `CURRENT`
//! printer here. FORMAT.md is the source of truth for the magic numbers.
//!
//! Everything is read through the library's checked readers; a damaged or foreign file gives an
//! error naming the file and byte offset, never a panic.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use shaledb::FileNumber;
use shaledb::fs::{FileKind, manifest_path, parse_file_name};
use shaledb::log::{FILE_HEADER_SIZE, LOG_MAGIC, LogFileKind};
use shaledb::manifest::current::{CURRENT_MAGIC, decode_current};
use shaledb::sstable::format::TABLE_MAGIC;

use super::{CliError, inspect_log, inspect_table, unknown_flag};

/// `CURRENT` files are tiny; a larger file is not read whole.
const CURRENT_SIZE_MAX: u64 = 4096;

/// What kind of shaledb file a path holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InspectedKind {
    Table(FileNumber),
    Log(LogFileKind, FileNumber),
    Current,
}

/// Runs `shaledb inspect` with `arguments`.
pub fn run(arguments: &[String]) -> Result<(), CliError> {
    let mut file: Option<PathBuf> = None;
    let mut list_entries = false;
    for argument in arguments {
        match argument.as_str() {
            "--entries" => list_entries = true,
            _ if argument.starts_with('-') => return Err(unknown_flag("inspect", argument)),
            _ if file.is_none() => file = Some(PathBuf::from(argument)),
            _ => return Err(unknown_flag("inspect", argument)),
        }
    }
    let file = file.ok_or_else(|| CliError::Usage("inspect needs a FILE to inspect".into()))?;
    let kind = identify(&file)?;
    if list_entries && !matches!(kind, InspectedKind::Table(_)) {
        return Err(CliError::Usage(format!(
            "--entries applies only to SSTables; {} is not one",
            file.display()
        )));
    }
    match kind {
        InspectedKind::Table(number) => inspect_table::run(&file, number, list_entries),
        InspectedKind::Log(log_kind, number) => inspect_log::run(&file, log_kind, number),
        InspectedKind::Current => inspect_current(&file),
    }
}

fn cannot_read(path: &Path, error: std::io::Error) -> CliError {
    CliError::Failed(format!("cannot read {}: {error}", path.display()))
}

/// Identifies `path` by its name, or by its contents when the name is not a shaledb name.
fn identify(path: &Path) -> Result<InspectedKind, CliError> {
    let metadata = std::fs::metadata(path).map_err(|error| cannot_read(path, error))?;
    if metadata.is_dir() {
        return Err(CliError::Failed(format!(
            "{} is a directory; inspect one file in it (a .sst, .wal, MANIFEST-NNNNNN or CURRENT)",
            path.display()
        )));
    }
    let by_name = path
        .file_name()
        .and_then(|name| name.to_str())
        .and_then(parse_file_name);
    match by_name {
        Some(FileKind::Table(number)) => Ok(InspectedKind::Table(number)),
        Some(FileKind::Wal(number)) => Ok(InspectedKind::Log(LogFileKind::Wal, number)),
        Some(FileKind::Manifest(number)) => Ok(InspectedKind::Log(LogFileKind::Manifest, number)),
        Some(FileKind::Current) => Ok(InspectedKind::Current),
        Some(FileKind::Temporary(_) | FileKind::Lock) | None => identify_by_contents(path),
    }
}

/// Identifies `path` by the magic number at its start (logs, `CURRENT`) or end (SSTables).
fn identify_by_contents(path: &Path) -> Result<InspectedKind, CliError> {
    let mut file = File::open(path).map_err(|error| cannot_read(path, error))?;
    let mut head = Vec::with_capacity(FILE_HEADER_SIZE);
    (&mut file)
        .take(FILE_HEADER_SIZE as u64)
        .read_to_end(&mut head)
        .map_err(|error| cannot_read(path, error))?;
    if head.starts_with(&LOG_MAGIC) {
        let kind_byte = head.get(10).copied().unwrap_or(0);
        return match LogFileKind::from_byte(kind_byte) {
            Some(kind) => Ok(InspectedKind::Log(kind, FileNumber(0))),
            None => Err(CliError::Failed(format!(
                "{} starts with the log magic number but has unknown file kind byte {kind_byte} \
                 at offset 10",
                path.display()
            ))),
        };
    }
    if head.starts_with(CURRENT_MAGIC.as_bytes()) {
        return Ok(InspectedKind::Current);
    }
    let mut tail = [0u8; TABLE_MAGIC.len()];
    let has_table_magic = file
        .seek(SeekFrom::End(-(TABLE_MAGIC.len() as i64)))
        .is_ok()
        && file.read_exact(&mut tail).is_ok()
        && tail == TABLE_MAGIC;
    if has_table_magic {
        return Ok(InspectedKind::Table(FileNumber(0)));
    }
    Err(CliError::Failed(format!(
        "{} is not a shaledb file: its name is not one shaledb gives its files, and it holds \
         no shaledb magic number (log, SSTable or CURRENT)",
        path.display()
    )))
}

/// Prints the manifest a `CURRENT` file names, and whether that manifest exists.
fn inspect_current(path: &Path) -> Result<(), CliError> {
    let file = File::open(path).map_err(|error| cannot_read(path, error))?;
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
    let number = decode_current(path, &bytes)?;
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let manifest = manifest_path(dir, number);
    say!(
        "{}: CURRENT, {} bytes, checksum ok",
        path.display(),
        bytes.len()
    );
    say!("names manifest: {}", manifest.display());
    match std::fs::metadata(&manifest) {
        Ok(metadata) => {
            say!("manifest exists: {} bytes", metadata.len());
            Ok(())
        }
        Err(error) => Err(CliError::Failed(format!(
            "CURRENT names {}, which cannot be read: {error}",
            manifest.display()
        ))),
    }
}
