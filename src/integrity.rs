//! Checks at open that the files the manifest names are there as it recorded them, before
//! recovery changes anything in the directory: every live table exists with its recorded size,
//! and a directory without `CURRENT` holds no database files. (Write-ahead logs the manifest
//! records are checked while they are replayed, in `recovery.rs`, because what their damage
//! means depends on the recovery mode.)
//!
//! Why: a missing or damaged `CURRENT`, manifest, table or log next to other data must be an
//! error, never a fresh empty database or a silently older state (FORMAT.md, section 6.6). The
//! checks only read directory entries and file sizes; the bytes are checked by the readers.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::fs::{CURRENT_FILE_NAME, FileKind, parse_file_name, table_path, wal_path};
use crate::key::FileNumber;
use crate::manifest::ManifestState;
use crate::options::WalRecoveryMode;
use crate::vfs::FileSystem;

/// Fails with corruption naming the first table of `state` that is missing from `found` (the
/// directory listing) or whose size differs from the size the manifest records, or the first
/// write-ahead log the manifest records as live that is missing (except in `mode`
/// `SkipAnyCorruptedRecords`, which salvages what is left).
pub(crate) fn check_files_at_open(
    file_system: &dyn FileSystem,
    dir: &Path,
    state: &ManifestState,
    found: &[(FileKind, FileNumber)],
    mode: WalRecoveryMode,
) -> Result<()> {
    for wal in &state.wals {
        let present = found.contains(&(FileKind::Wal(wal.number), wal.number));
        if !present && mode != WalRecoveryMode::SkipAnyCorruptedRecords {
            return Err(Error::corruption(
                wal_path(dir, wal.number),
                0,
                format!(
                    "write-ahead log {} is missing: the manifest records it as live, so it held \
                     writes that are in no table; open with WalRecoveryMode::SkipAnyCorruptedRecords \
                     to salvage the rest",
                    wal.number
                ),
            ));
        }
    }
    for (level, file) in state.files() {
        let path = table_path(dir, file.number);
        if !found.contains(&(FileKind::Table(file.number), file.number)) {
            return Err(Error::corruption(
                &path,
                0,
                format!(
                    "table {} of level {level} is missing: the manifest records it as live",
                    file.number
                ),
            ));
        }
        let size = file_system
            .file_size(&path)
            .map_err(|error| Error::io(&path, error))?;
        if size != file.file_size {
            return Err(Error::corruption(
                &path,
                size.min(file.file_size),
                format!(
                    "table {} is {size} bytes, but the manifest records {} bytes",
                    file.number, file.file_size
                ),
            ));
        }
    }
    Ok(())
}

/// Called when `dir` has no `CURRENT`: fails with corruption naming `CURRENT` if the directory
/// holds database files, so that a lost `CURRENT` never opens as a new, empty database.
///
/// The one file that may exist without `CURRENT` is `MANIFEST-000001`, the first manifest of a
/// new database, written just before the first `CURRENT` (a crash in between leaves it alone);
/// a database that was ever opened has a later manifest, a write-ahead log, or tables.
pub(crate) fn check_no_database_without_current(
    file_system: &dyn FileSystem,
    dir: &Path,
) -> Result<()> {
    let names = file_system
        .list(dir)
        .map_err(|error| Error::io(dir, error))?;
    for name in names {
        let Some(kind) = parse_file_name(&name) else {
            continue;
        };
        let is_data = match kind {
            FileKind::Wal(_) | FileKind::Table(_) => true,
            FileKind::Manifest(number) => number != FileNumber(1),
            FileKind::Current | FileKind::Lock | FileKind::Temporary(_) => false,
        };
        if is_data {
            return Err(Error::corruption(
                dir.join(CURRENT_FILE_NAME),
                0,
                format!(
                    "CURRENT is missing, but the directory holds database files (such as {}): \
                     refusing to start a new, empty database over them",
                    name
                ),
            ));
        }
    }
    Ok(())
}

/// When the manifest ended in a torn record (`torn` = its path and the offset of the tear) and
/// the state before the tear does not match the files (`error`, from
/// [`check_files_at_open`]), the likely cause is the manifest losing acknowledged edits (a
/// crash during an append leaves a state that matches): the error then names the manifest.
pub(crate) fn blame_torn_manifest(error: Error, torn: Option<&(PathBuf, u64)>) -> Error {
    match (error, torn) {
        (
            Error::Corruption {
                file,
                offset,
                reason,
            },
            Some((manifest, torn_at)),
        ) if file != *manifest => Error::corruption(
            manifest,
            *torn_at,
            format!(
                "the manifest ends in a torn record at offset {torn_at}, and the state before \
                 it does not match the directory, so the manifest lost edits: {} at offset \
                 {offset}: {reason}",
                file.display()
            ),
        ),
        (error, _) => error,
    }
}
