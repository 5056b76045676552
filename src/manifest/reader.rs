//! Recovery: follow `CURRENT` to the live manifest and replay its edits into a
//! [`ManifestState`].
//!
//! FORMAT.md, "Manifest and CURRENT", is the source of truth. The first record must be a
//! snapshot; every later record is an edit applied with the consistency checks of
//! `ManifestState::apply`. Damage handling: a torn tail (a crash in the middle of appending an
//! edit that was therefore never acknowledged) ends the replay cleanly; damage anywhere else,
//! an edit that does not decode, or an inconsistent edit is `Error::Corruption` naming the
//! manifest and the byte offset: the record's offset (its first log fragment header) plus the
//! offset within the record's payload.

use std::cell::Cell;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::fs::{CURRENT_FILE_NAME, manifest_path};
use crate::key::FileNumber;
use crate::log::format::record_end;
use crate::log::{FILE_HEADER_SIZE, LogEvent, LogFileKind, LogReader};
use crate::manifest::current::read_current_on;
use crate::manifest::edit::VersionEdit;
use crate::manifest::state::ManifestState;
use crate::vfs::{FileSystem, OsFileSystem};

/// Reads `dir/CURRENT`, opens the manifest it names and replays it.
///
/// A missing `CURRENT` (no database in `dir`) is `Error::Io` with kind `NotFound` and the
/// `CURRENT` path; use [`read_current`](crate::manifest::read_current) to tell that case apart
/// before calling. A manifest named by `CURRENT` that does not exist is corruption naming the
/// missing manifest.
pub fn recover(dir: &Path) -> Result<ManifestState> {
    recover_on(&OsFileSystem, dir)
}

/// [`recover`] through `file_system`.
pub fn recover_on(file_system: &dyn FileSystem, dir: &Path) -> Result<ManifestState> {
    recover_manifest_on(file_system, dir).map(|recovered| recovered.state)
}

/// A manifest replayed by [`recover_manifest`].
#[derive(Debug)]
pub struct RecoveredManifest {
    /// The state its intact records describe.
    pub state: ManifestState,
    /// The manifest's path.
    pub path: PathBuf,
    /// Where its intact records end, when bytes that are not a record follow them: a torn
    /// last edit (a crash while it was appended, so never acknowledged) or damage that looks
    /// like one. `None` when the file ends right after its last record.
    pub torn_at: Option<u64>,
}

/// Like [`recover`], and also tells whether the manifest ended in a torn record, so that the
/// engine can name the manifest when the state before the tear does not match the directory
/// (the manifest then lost edits that had been acknowledged).
pub fn recover_manifest(dir: &Path) -> Result<RecoveredManifest> {
    recover_manifest_on(&OsFileSystem, dir)
}

/// [`recover_manifest`] through `file_system`.
pub fn recover_manifest_on(file_system: &dyn FileSystem, dir: &Path) -> Result<RecoveredManifest> {
    let current_path = dir.join(CURRENT_FILE_NAME);
    let Some(number) = read_current_on(file_system, dir)? else {
        return Err(Error::io(
            current_path,
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no CURRENT file: the directory holds no database",
            ),
        ));
    };
    let path = manifest_path(dir, number);
    let exists = file_system
        .exists(&path)
        .map_err(|error| Error::io(&path, error))?;
    if !exists {
        return Err(Error::corruption(
            &path,
            0,
            format!(
                "manifest {} is missing: {} names it as the live manifest",
                path.display(),
                current_path.display()
            ),
        ));
    }
    let reader = LogReader::open_on(file_system, &path, LogFileKind::Manifest)?;
    let file_size = reader.file_size();
    let records_end = Cell::new(FILE_HEADER_SIZE as u64);
    let torn_tail = Cell::new(None);
    let events = reader.inspect(|event| match event {
        LogEvent::Record { offset, payload } => {
            records_end.set(record_end(*offset, payload.len()));
        }
        LogEvent::TornTail { offset, .. } => torn_tail.set(Some(*offset)),
        LogEvent::Corruption { .. } => {}
    });
    let state = replay(&path, number, events)?;
    let records_end = records_end.get();
    // A manifest is never preallocated: bytes after its last record are a torn append.
    let torn_at = torn_tail
        .get()
        .or((file_size > records_end).then_some(records_end));
    Ok(RecoveredManifest {
        state,
        path,
        torn_at,
    })
}

/// Replays the records of manifest `number` (read from `file`, named in errors) into a state.
pub fn replay(
    file: &Path,
    number: FileNumber,
    events: impl IntoIterator<Item = LogEvent>,
) -> Result<ManifestState> {
    let mut state: Option<ManifestState> = None;
    let mut last_offset = 0;
    for event in events {
        let (offset, payload) = match event {
            LogEvent::Record { offset, payload } => (offset, payload),
            LogEvent::TornTail { .. } => break,
            corruption @ LogEvent::Corruption { .. } => {
                return Err(corruption
                    .to_error(file)
                    .unwrap_or_else(|| Error::corruption(file, last_offset, "log corruption")));
            }
        };
        last_offset = offset;
        state = Some(apply_record(file, number, state, offset, &payload)?);
    }
    state.ok_or_else(|| {
        Error::corruption(
            file,
            last_offset,
            "manifest holds no complete snapshot record",
        )
    })
}

/// Decodes one record and applies it: the first one as the snapshot, the others as edits.
fn apply_record(
    file: &Path,
    number: FileNumber,
    state: Option<ManifestState>,
    offset: u64,
    payload: &[u8],
) -> Result<ManifestState> {
    let edit = VersionEdit::decode(payload).map_err(|error| error.into_corruption(file, offset))?;
    let Some(mut state) = state else {
        return ManifestState::from_snapshot(number, &edit)
            .map_err(|error| error.into_corruption(file, offset));
    };
    if edit.snapshot {
        return Err(Error::corruption(
            file,
            offset,
            "snapshot record after the first record of the manifest",
        ));
    }
    state
        .apply(&edit)
        .map_err(|error| error.into_corruption(file, offset))?;
    Ok(state)
}
