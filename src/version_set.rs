//! [`VersionSet`]: what LevelDB's `VersionSet` owns — the file numbers, the manifest writer and
//! its rolling, and the current [`Version`] of each keyspace. Flushes, compactions, memtable rotations and close
//! build a [`VersionEdit`] and hand it here: [`VersionSet::log_edit`] makes it durable in the
//! manifest, [`VersionSet::log_and_apply`] also installs the version it makes.
//!
//! Thread safety: none of its own. The engine keeps the set inside its `state` mutex
//! (`engine.rs`), so edits are logged and versions installed in one order, and a manifest append
//! and its fsync happen under that lock. Publishing a new version to readers is the engine's
//! job (`read_view.rs`); this module knows nothing of memtables, logs being written or readers.
//!
//! Invariants:
//! - The manifest on disk describes `current` (after a successful edit) or the version before
//!   it (after a failed one: the failed edit is not applied).
//! - Every file number handed out is below the `next_file_number` that the next edit records.
//! - After a failed append the manifest's tail is unknown; the next edit starts a new manifest
//!   from the last good state before it appends anything.
//! - A set opened read-only ([`VersionSet::read_only`]) has no manifest writer: it keeps the
//!   state it read, and every edit fails with `Error::ReadOnly`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::fs::remove_file;
use crate::key::{FileNumber, KeyspaceId};
use crate::manifest::{ManifestState, ManifestWriter, VersionEdit, write_current_on};
use crate::version::{TableHandle, Version};
use crate::vfs::FileSystem;

/// The live manifest: written by this process, or only read (a read-only open).
enum Manifest {
    Writer(ManifestWriter),
    /// The manifest a read-only open read, and the state it described then.
    Read {
        path: PathBuf,
        state: ManifestState,
    },
}

impl Manifest {
    fn path(&self) -> &Path {
        match self {
            Manifest::Writer(writer) => writer.path(),
            Manifest::Read { path, .. } => path,
        }
    }

    fn state(&self) -> &ManifestState {
        match self {
            Manifest::Writer(writer) => writer.state(),
            Manifest::Read { state, .. } => state,
        }
    }
}

/// The manifest, the file numbers and the current version of one database.
pub(crate) struct VersionSet {
    dir: PathBuf,
    file_system: Arc<dyn FileSystem>,
    /// A manifest larger than this is rewritten into a new file (`Options::max_manifest_size`).
    max_manifest_size: u64,
    manifest: Manifest,
    next_file_number: u64,
    /// The current version of each live keyspace.
    current: BTreeMap<KeyspaceId, Arc<Version>>,
    /// Times the manifest was rewritten into a new file, for `stats()`.
    manifest_rolls: u64,
}

impl VersionSet {
    /// The set of a database in `dir` whose live manifest is `manifest`, describing `current`
    /// (a version per keyspace); `next_file_number` is above every file number in use.
    pub fn new(
        dir: PathBuf,
        file_system: Arc<dyn FileSystem>,
        max_manifest_size: u64,
        manifest: ManifestWriter,
        next_file_number: u64,
        current: BTreeMap<KeyspaceId, Arc<Version>>,
    ) -> Self {
        VersionSet {
            dir,
            file_system,
            max_manifest_size,
            manifest: Manifest::Writer(manifest),
            next_file_number,
            current,
            manifest_rolls: 0,
        }
    }

    /// The set of a database opened read-only: `state`, read from the manifest at `path`,
    /// describes `current`. It never writes: every edit fails with `Error::ReadOnly`.
    pub fn read_only(
        dir: PathBuf,
        file_system: Arc<dyn FileSystem>,
        path: PathBuf,
        state: ManifestState,
        current: BTreeMap<KeyspaceId, Arc<Version>>,
    ) -> Self {
        VersionSet {
            dir,
            file_system,
            max_manifest_size: u64::MAX,
            next_file_number: state.next_file_number.0,
            manifest: Manifest::Read { path, state },
            current,
            manifest_rolls: 0,
        }
    }

    /// A new file number, never handed out before.
    pub fn allocate_file_number(&mut self) -> FileNumber {
        let number = FileNumber(self.next_file_number);
        self.next_file_number += 1;
        number
    }

    /// The version of keyspace `keyspace` that readers and compactions start from (`None`
    /// once the keyspace is dropped).
    pub fn current(&self, keyspace: KeyspaceId) -> Option<&Arc<Version>> {
        self.current.get(&keyspace)
    }

    /// The current version of every live keyspace.
    pub fn all_current(&self) -> impl Iterator<Item = (KeyspaceId, &Arc<Version>)> {
        self.current.iter().map(|(&id, version)| (id, version))
    }

    /// What the manifest records: files per level, logs, sequence numbers.
    pub fn manifest_state(&self) -> &ManifestState {
        self.manifest.state()
    }

    /// The live manifest file.
    pub fn manifest_path(&self) -> &Path {
        self.manifest.path()
    }

    /// Whether the last append failed, so that the manifest's tail is unknown: a failed edit
    /// may or may not have reached the disk.
    pub fn is_manifest_poisoned(&self) -> bool {
        match &self.manifest {
            Manifest::Writer(writer) => writer.is_poisoned(),
            Manifest::Read { .. } => false,
        }
    }

    /// The manifest writer, or `Error::ReadOnly` for a set opened read-only.
    fn writer(&mut self) -> Result<&mut ManifestWriter> {
        match &mut self.manifest {
            Manifest::Writer(writer) => Ok(writer),
            Manifest::Read { .. } => Err(Error::opened_read_only()),
        }
    }

    /// Times the manifest was rewritten into a new file since open.
    pub fn manifest_rolls(&self) -> u64 {
        self.manifest_rolls
    }

    /// Makes `edit` durable in the manifest (with the current next file number), starting a new
    /// manifest when this one has grown past the size limit. The current version is unchanged:
    /// for edits that only record logs.
    ///
    /// After a failed append the manifest's tail is unknown, so the next call first starts a
    /// new manifest from the state as of the last good edit (what the failed edit would have
    /// changed is not in it; the caller keeps that edit's new files for the next open to sort
    /// out, since the failed record may still have reached the disk).
    pub fn log_edit(&mut self, edit: &mut VersionEdit) -> Result<()> {
        if self.writer()?.is_poisoned() {
            self.roll_manifest()?;
        }
        edit.next_file_number = Some(FileNumber(self.next_file_number));
        let writer = self.writer()?;
        writer.append(edit)?;
        let manifest_size = writer.file_size();
        if manifest_size > self.max_manifest_size {
            // A failure here leaves the old manifest, which is complete, in charge.
            let _ = self.roll_manifest();
        }
        Ok(())
    }

    /// Logs `edit` and makes the versions it produces current: keyspaces it creates start
    /// empty, keyspaces it drops lose their version (their tables are deleted once no reader
    /// holds them), `edit.keyspace` gets the version with its file changes, and each keyspace
    /// of `edit.keyspace_new_files` one with its new files; `added` holds the open handles of
    /// `edit.new_files`, then of `edit.keyspace_new_files`, in order. On failure nothing is
    /// applied.
    pub fn log_and_apply(
        &mut self,
        mut edit: VersionEdit,
        mut added: Vec<Arc<TableHandle>>,
    ) -> Result<()> {
        self.log_edit(&mut edit)?;
        for keyspace in &edit.keyspaces {
            self.current.entry(keyspace.id).or_default();
        }
        for id in &edit.dropped_keyspaces {
            if let Some(version) = self.current.remove(id) {
                version
                    .all_tables()
                    .for_each(|(_, handle)| handle.mark_obsolete());
            }
        }
        let other_keyspaces = added.split_off(edit.new_files.len().min(added.len()));
        if !edit.new_files.is_empty() || !edit.deleted_files.is_empty() {
            let current = self.current.entry(edit.keyspace).or_default();
            *current = Arc::new(current.apply(&edit, added));
        }
        self.apply_keyspace_new_files(&edit, other_keyspaces);
        Ok(())
    }

    /// The versions of the keyspaces `edit.keyspace_new_files` adds files to, each with its
    /// files (`added`: their handles, in order).
    fn apply_keyspace_new_files(&mut self, edit: &VersionEdit, added: Vec<Arc<TableHandle>>) {
        let mut by_keyspace: Vec<(VersionEdit, Vec<Arc<TableHandle>>)> = Vec::new();
        for ((keyspace, level, file), handle) in edit.keyspace_new_files.iter().zip(added) {
            let position = match by_keyspace
                .iter()
                .position(|(part, _)| part.keyspace == *keyspace)
            {
                Some(position) => position,
                None => {
                    let part = VersionEdit {
                        keyspace: *keyspace,
                        ..VersionEdit::default()
                    };
                    by_keyspace.push((part, Vec::new()));
                    by_keyspace.len() - 1
                }
            };
            if let Some((part, handles)) = by_keyspace.get_mut(position) {
                part.add_file(*level, file.clone());
                handles.push(handle);
            }
        }
        for (part, handles) in by_keyspace {
            let current = self.current.entry(part.keyspace).or_default();
            *current = Arc::new(current.apply(&part, handles));
        }
    }

    /// Writes the current state as the snapshot that starts a new manifest, points CURRENT at
    /// it, and deletes the old manifest.
    fn roll_manifest(&mut self) -> Result<()> {
        self.writer()?; // A read-only set has nothing to roll.
        let number = self.allocate_file_number();
        let mut snapshot = self.manifest.state().clone();
        snapshot.next_file_number = FileNumber(self.next_file_number);
        let file_system = &*self.file_system;
        let manifest = ManifestWriter::create_on(file_system, &self.dir, number, &snapshot)?;
        write_current_on(file_system, &self.dir, number)?;
        let old = std::mem::replace(&mut self.manifest, Manifest::Writer(manifest));
        let _ = remove_file(file_system, old.path());
        self.manifest_rolls += 1;
        Ok(())
    }
}
