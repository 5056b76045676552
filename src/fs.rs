//! File names inside a database directory, and the few file-system operations whose ordering
//! durability depends on: syncing a directory after creating or renaming in it, and replacing a
//! small file atomically.
//!
//! Layout of a database directory (FORMAT.md, "Files in a database directory"):
//! `CURRENT`, `LOCK`, `MANIFEST-NNNNNN`, `NNNNNN.wal`, `NNNNNN.sst`, and `NNNNNN.tmp` while a
//! file is being replaced. `NNNNNN` is a file number, zero-padded to at least six digits.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::key::FileNumber;
use crate::vfs::{FileSystem, parent_dir};

/// Name of the file that names the live manifest.
pub const CURRENT_FILE_NAME: &str = "CURRENT";
/// Name of the lock file that keeps a second process out.
pub const LOCK_FILE_NAME: &str = "LOCK";

/// What a file in a database directory is, by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// `NNNNNN.wal`: a write-ahead log.
    Wal(FileNumber),
    /// `NNNNNN.sst`: a sorted string table.
    Table(FileNumber),
    /// `MANIFEST-NNNNNN`: a manifest.
    Manifest(FileNumber),
    /// `NNNNNN.tmp`: a file being written before a rename.
    Temporary(FileNumber),
    /// `CURRENT`.
    Current,
    /// `LOCK`.
    Lock,
}

/// The path of write-ahead log `number` in `dir`.
pub fn wal_path(dir: &Path, number: FileNumber) -> PathBuf {
    dir.join(format!("{:06}.wal", number.0))
}

/// The path of SSTable `number` in `dir`.
pub fn table_path(dir: &Path, number: FileNumber) -> PathBuf {
    dir.join(format!("{:06}.sst", number.0))
}

/// The path of manifest `number` in `dir`.
pub fn manifest_path(dir: &Path, number: FileNumber) -> PathBuf {
    dir.join(manifest_file_name(number))
}

/// The file name (no directory) of manifest `number`, as written into `CURRENT`.
pub fn manifest_file_name(number: FileNumber) -> String {
    format!("MANIFEST-{:06}", number.0)
}

/// The path of temporary file `number` in `dir`.
pub fn temporary_path(dir: &Path, number: FileNumber) -> PathBuf {
    dir.join(format!("{:06}.tmp", number.0))
}

/// Classifies a file name found in a database directory; `None` for names shaledb never writes.
pub fn parse_file_name(name: &str) -> Option<FileKind> {
    match name {
        CURRENT_FILE_NAME => return Some(FileKind::Current),
        LOCK_FILE_NAME => return Some(FileKind::Lock),
        _ => {}
    }
    if let Some(digits) = name.strip_prefix("MANIFEST-") {
        return parse_number(digits).map(FileKind::Manifest);
    }
    let (stem, extension) = name.split_once('.')?;
    let number = parse_number(stem)?;
    match extension {
        "wal" => Some(FileKind::Wal(number)),
        "sst" => Some(FileKind::Table(number)),
        "tmp" => Some(FileKind::Temporary(number)),
        _ => None,
    }
}

fn parse_number(digits: &str) -> Option<FileNumber> {
    if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().map(FileNumber)
}

/// Makes the entries of `dir` (files created, renamed or removed in it) durable.
pub fn sync_dir(file_system: &dyn FileSystem, dir: &Path) -> Result<()> {
    file_system
        .sync_dir(dir)
        .map_err(|error| Error::io(dir, error))
}

/// Removes the file at `path`, treating a file that is already gone as removed.
pub fn remove_file(file_system: &dyn FileSystem, path: &Path) -> Result<()> {
    match file_system.remove(path) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(Error::io(path, error)),
    }
}

/// Replaces `target` with `contents` so that a crash leaves either the old or the new file:
/// write `temporary`, fsync it, rename it over `target`, fsync the directory.
pub fn write_file_atomically(
    file_system: &dyn FileSystem,
    temporary: &Path,
    target: &Path,
    contents: &[u8],
) -> Result<()> {
    let mut file = file_system
        .create(temporary)
        .map_err(|error| Error::io(temporary, error))?;
    file.write_all(contents)
        .map_err(|error| Error::io(temporary, error))?;
    file.sync_all()
        .map_err(|error| Error::io(temporary, error))?;
    drop(file);
    file_system
        .rename(temporary, target)
        .map_err(|error| Error::io(target, error))?;
    sync_dir(file_system, &parent_dir(target))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let dir = Path::new("/db");
        let number = FileNumber(42);
        for (path, kind) in [
            (wal_path(dir, number), FileKind::Wal(number)),
            (table_path(dir, number), FileKind::Table(number)),
            (manifest_path(dir, number), FileKind::Manifest(number)),
            (temporary_path(dir, number), FileKind::Temporary(number)),
        ] {
            let name = path.file_name().unwrap().to_str().unwrap();
            assert_eq!(parse_file_name(name), Some(kind), "{name}");
        }
        assert_eq!(parse_file_name("CURRENT"), Some(FileKind::Current));
        assert_eq!(
            parse_file_name("1234567.sst"),
            Some(FileKind::Table(FileNumber(1_234_567)))
        );
        for foreign in [
            "",
            "x.sst",
            "+1.sst",
            "000001.log",
            "MANIFEST-",
            "notes.txt",
            "000001",
        ] {
            assert_eq!(parse_file_name(foreign), None, "{foreign}");
        }
    }

    #[test]
    fn atomic_write_replaces_the_target() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("CURRENT");
        let temporary = temporary_path(dir.path(), FileNumber(1));
        let file_system = crate::vfs::OsFileSystem;
        write_file_atomically(&file_system, &temporary, &target, b"one").unwrap();
        write_file_atomically(&file_system, &temporary, &target, b"two").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"two");
        assert!(!temporary.exists());
    }
}
