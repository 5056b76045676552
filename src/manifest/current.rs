//! The `CURRENT` file: a tiny text file naming the live manifest.
//!
//! FORMAT.md, "Manifest and CURRENT", is the source of truth. The file is exactly three lines:
//!
//! ```text
//! shaledb-current v1
//! MANIFEST-000005
//! crc32 1a2b3c4d
//! ```
//!
//! The first line is the magic text and the format version, the second names the manifest, the
//! third holds the CRC32 of the bytes of the first two lines (newlines included) as eight
//! lowercase hex digits. `CURRENT` is only ever replaced whole, atomically: written to
//! `NNNNNN.tmp` (`NNNNNN` = the new manifest's number), fsynced, renamed over `CURRENT`, and the
//! directory fsynced. A reader that finds anything else reports corruption naming `CURRENT`;
//! a missing `CURRENT` is not corruption but the sign of a directory without a database.

use std::io::ErrorKind;
use std::path::Path;

use crate::error::{Error, Result};
use crate::fs::{
    CURRENT_FILE_NAME, FileKind, manifest_file_name, parse_file_name, temporary_path,
    write_file_atomically,
};
use crate::key::FileNumber;
use crate::vfs::{FileSystem, OsFileSystem};

/// The magic text that starts `CURRENT`, followed by the version digits. Part of the on-disk
/// format; never change.
pub const CURRENT_MAGIC: &str = "shaledb-current v";
/// The `CURRENT` format version this code writes and reads.
pub const CURRENT_VERSION: u32 = 1;
/// The prefix of the checksum line. Part of the on-disk format; never change.
const CHECKSUM_PREFIX: &str = "crc32 ";
/// `CURRENT` files are tiny; a larger one is not ours.
const CURRENT_SIZE_MAX: u64 = 4096;

/// The bytes of a `CURRENT` file naming manifest `number`.
pub fn encode_current(number: FileNumber) -> Vec<u8> {
    let body = format!(
        "{CURRENT_MAGIC}{CURRENT_VERSION}\n{}\n",
        manifest_file_name(number)
    );
    let checksum = crc32fast::hash(body.as_bytes());
    format!("{body}{CHECKSUM_PREFIX}{checksum:08x}\n").into_bytes()
}

/// Decodes the bytes of a `CURRENT` file; errors name `file`.
pub fn decode_current(file: &Path, bytes: &[u8]) -> Result<FileNumber> {
    let corrupt = |offset: usize, reason: String| Error::corruption(file, offset as u64, reason);
    let (version_line, rest) =
        split_line(bytes).ok_or_else(|| corrupt(0, "CURRENT has no complete first line".into()))?;
    let version_digits = version_line
        .strip_prefix(CURRENT_MAGIC.as_bytes())
        .ok_or_else(|| corrupt(0, "not a shaledb CURRENT file (bad magic)".into()))?;
    if version_digits != CURRENT_VERSION.to_string().as_bytes() {
        return Err(corrupt(
            CURRENT_MAGIC.len(),
            format!(
                "unknown CURRENT format version {:?} (this build reads version {CURRENT_VERSION})",
                String::from_utf8_lossy(version_digits)
            ),
        ));
    }
    let name_start = version_line.len() + 1;
    let (name_line, rest) = split_line(rest)
        .ok_or_else(|| corrupt(name_start, "CURRENT has no complete second line".into()))?;
    let checksum_start = name_start + name_line.len() + 1;
    check_checksum_line(rest, bytes.get(..checksum_start).unwrap_or_default())
        .map_err(|reason| corrupt(checksum_start, reason))?;
    parse_manifest_name(name_line)
        .ok_or_else(|| corrupt(name_start, "CURRENT does not name a manifest file".into()))
}

/// Splits off the first line (without its `\n`); `None` if there is no `\n`.
fn split_line(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let end = bytes.iter().position(|&byte| byte == b'\n')?;
    Some((bytes.get(..end)?, bytes.get(end + 1..)?))
}

/// Checks that `line_and_rest` is exactly the checksum line for `covered`.
fn check_checksum_line(line_and_rest: &[u8], covered: &[u8]) -> std::result::Result<(), String> {
    let expected = format!("{CHECKSUM_PREFIX}{:08x}\n", crc32fast::hash(covered));
    if line_and_rest == expected.as_bytes() {
        return Ok(());
    }
    Err(format!(
        "CURRENT checksum line is {:?}, expected {:?}",
        String::from_utf8_lossy(line_and_rest),
        expected
    ))
}

/// The manifest number of a canonical `MANIFEST-NNNNNN` name.
fn parse_manifest_name(name: &[u8]) -> Option<FileNumber> {
    let name = std::str::from_utf8(name).ok()?;
    match parse_file_name(name)? {
        FileKind::Manifest(number) if manifest_file_name(number) == name => Some(number),
        _ => None,
    }
}

/// Reads `dir/CURRENT`: the live manifest's number, `None` if there is no `CURRENT` (no
/// database in `dir` yet), or corruption naming `CURRENT` if it is damaged or of an unknown
/// version.
pub fn read_current(dir: &Path) -> Result<Option<FileNumber>> {
    read_current_on(&OsFileSystem, dir)
}

/// [`read_current`] through `file_system`.
pub fn read_current_on(file_system: &dyn FileSystem, dir: &Path) -> Result<Option<FileNumber>> {
    let path = dir.join(CURRENT_FILE_NAME);
    let bytes = match file_system.read(&path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(Error::io(&path, error)),
    };
    if bytes.len() as u64 > CURRENT_SIZE_MAX {
        return Err(Error::corruption(
            &path,
            CURRENT_SIZE_MAX,
            format!("CURRENT is larger than {CURRENT_SIZE_MAX} bytes"),
        ));
    }
    decode_current(&path, &bytes).map(Some)
}

/// Makes `dir/CURRENT` name manifest `number`, atomically and durably: write `NNNNNN.tmp`,
/// fsync it, rename it over `CURRENT`, fsync `dir`. A crash leaves the old or the new `CURRENT`
/// (and perhaps a stray `NNNNNN.tmp`, which the engine may delete).
pub fn write_current(dir: &Path, number: FileNumber) -> Result<()> {
    write_current_on(&OsFileSystem, dir, number)
}

/// [`write_current`] through `file_system`.
pub fn write_current_on(
    file_system: &dyn FileSystem,
    dir: &Path,
    number: FileNumber,
) -> Result<()> {
    write_file_atomically(
        file_system,
        &temporary_path(dir, number),
        &dir.join(CURRENT_FILE_NAME),
        &encode_current(number),
    )
}
