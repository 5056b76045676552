//! [`ManifestWriter`]: starts a manifest from a snapshot of the state and appends version edits
//! to it, each durable when the call returns.
//!
//! FORMAT.md, "Manifest and CURRENT", is the source of truth. The writer keeps a copy of the
//! state it has written, and refuses (with `Error::InvalidArgument`, writing nothing) an edit
//! that a reader would refuse — one that does not decode, or is inconsistent with the state — so
//! that it never writes a manifest that cannot be recovered. A failed write or fsync poisons the
//! writer: the record may or may not be on disk, so every later call fails with
//! `Error::ReadOnly`, and the engine must start a new manifest from a recovered state. Not
//! thread-safe; the engine serialises manifest writes.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::fs::{manifest_path, sync_dir};
use crate::key::FileNumber;
use crate::log::{LogFileKind, LogWriter};
use crate::manifest::edit::VersionEdit;
use crate::manifest::state::ManifestState;
use crate::vfs::{FileSystem, OsFileSystem};

/// Appends version edits to one manifest file.
pub struct ManifestWriter {
    path: PathBuf,
    log: LogWriter,
    state: ManifestState,
    poisoned: Option<String>,
}

impl std::fmt::Debug for ManifestWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManifestWriter")
            .field("path", &self.path)
            .field("poisoned", &self.poisoned)
            .finish_non_exhaustive()
    }
}

impl ManifestWriter {
    /// Creates `dir/MANIFEST-<number>` holding the snapshot of `snapshot` (whose
    /// `manifest_number` is replaced by `number`), fsyncs the file and then `dir`. The manifest
    /// is not live until `write_current(dir, number)` names it.
    ///
    /// Fails with `Error::InvalidArgument` if the snapshot is inconsistent (for example a
    /// `next_file_number` not above `number`).
    pub fn create(dir: &Path, number: FileNumber, snapshot: &ManifestState) -> Result<Self> {
        Self::create_on(&OsFileSystem, dir, number, snapshot)
    }

    /// [`create`](Self::create) through `file_system`.
    pub fn create_on(
        file_system: &dyn FileSystem,
        dir: &Path,
        number: FileNumber,
        snapshot: &ManifestState,
    ) -> Result<Self> {
        let edits = snapshot.to_snapshot_edits();
        let state = check_snapshot(number, &edits)?;
        let path = manifest_path(dir, number);
        let mut log = LogWriter::create_on(file_system, &path, LogFileKind::Manifest)?;
        for edit in &edits {
            log.add_record(&edit.encode())?;
        }
        log.sync()?;
        sync_dir(file_system, dir)?;
        Ok(ManifestWriter {
            path,
            log,
            state,
            poisoned: None,
        })
    }

    /// Appends `edit` and fsyncs: the edit is durable when this returns `Ok`.
    ///
    /// Refuses an edit that is invalid or inconsistent with the state with
    /// `Error::InvalidArgument`, writing nothing. After a failed write or fsync every call
    /// fails with `Error::ReadOnly`.
    pub fn append(&mut self, edit: &VersionEdit) -> Result<()> {
        if let Some(cause) = &self.poisoned {
            return Err(Error::ReadOnly(cause.clone()));
        }
        let encoded = edit.encode();
        let mut next_state = self.state.clone();
        check_edit(&encoded, &mut next_state)?;
        let written = self.log.add_record(&encoded).and_then(|()| self.log.sync());
        if let Err(error) = written {
            self.poisoned = Some(format!(
                "writing manifest {} failed: {error}",
                self.path.display()
            ));
            return Err(error);
        }
        self.state = next_state;
        Ok(())
    }

    /// The state after every edit appended so far.
    pub fn state(&self) -> &ManifestState {
        &self.state
    }

    /// The manifest's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The manifest's size in bytes so far; the engine starts a new manifest when it grows.
    pub fn file_size(&self) -> u64 {
        self.log.offset()
    }

    /// Whether a failed write or fsync has disabled this writer.
    pub fn is_poisoned(&self) -> bool {
        self.poisoned.is_some()
    }
}

/// The state the records of a new manifest describe (a snapshot edit, then an edit per
/// keyspace), checked the way a reader will check them.
fn check_snapshot(number: FileNumber, edits: &[VersionEdit]) -> Result<ManifestState> {
    let Some((snapshot, rest)) = edits.split_first() else {
        return Err(Error::InvalidArgument("a manifest needs a snapshot".into()));
    };
    let decoded = VersionEdit::decode(&snapshot.encode())
        .map_err(|error| Error::InvalidArgument(format!("invalid manifest snapshot: {error}")))?;
    let mut state = ManifestState::from_snapshot(number, &decoded).map_err(|error| {
        Error::InvalidArgument(format!("inconsistent manifest snapshot: {error}"))
    })?;
    for edit in rest {
        check_edit(&edit.encode(), &mut state)?;
    }
    Ok(state)
}

/// Decodes `encoded` as a reader would and applies it to `state`.
fn check_edit(encoded: &[u8], state: &mut ManifestState) -> Result<()> {
    let decoded = VersionEdit::decode(encoded)
        .map_err(|error| Error::InvalidArgument(format!("invalid version edit: {error}")))?;
    if decoded.snapshot {
        return Err(Error::InvalidArgument(
            "a snapshot edit may only start a manifest; use ManifestWriter::create".into(),
        ));
    }
    state
        .apply(&decoded)
        .map_err(|error| Error::InvalidArgument(format!("inconsistent version edit: {error}")))
}
