//! The state a manifest describes — the live SSTables of each level and the database counters —
//! and the consistency-checked application of a [`VersionEdit`] to it.
//!
//! Invariants of a [`ManifestState`] built by [`ManifestState::from_snapshot`] and
//! [`ManifestState::apply`] (FORMAT.md, "Manifest and CURRENT", consistency rules):
//! - a file number is live in at most one level, and is below `next_file_number`;
//! - `log_number <= next_file_number`, and `log_number`, `next_file_number` and
//!   `last_sequence` never decrease from one edit to the next;
//! - every live file's `largest_sequence` is at most `last_sequence`;
//! - level 0 is ordered by file number, newest (largest number) first;
//! - levels 1 to 3 are ordered by smallest internal key, and their files do not overlap;
//! - keyspace 0 (the default) always exists; every keyspace id is below `next_keyspace_id`,
//!   names are unique, and a file number is live in at most one keyspace;
//! - a keyspace's own log number never decreases;
//! - the recorded write-ahead logs are the live ones (`log_number <= number <
//!   next_file_number`), ordered by number; a log's preallocated size never changes and its
//!   synced size, once recorded, never changes either.
//!
//! Plain data, no I/O: the manifest reader and writer drive it.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use crate::error::Error;
use crate::key::{
    DEFAULT_KEYSPACE_NAME, FileNumber, KeyspaceId, SequenceNumber, compare_internal_keys,
};
use crate::manifest::NUM_LEVELS;
use crate::manifest::edit::{FileMetadata, KeyspaceRecord, VersionEdit, WalMetadata};

/// Why an edit cannot be applied to a state. Read from disk it is corruption; offered to a
/// writer it is a programming error of the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InconsistentEdit {
    /// What is wrong, in words (naming the file number or counter).
    pub reason: String,
}

impl InconsistentEdit {
    fn new(reason: impl Into<String>) -> Self {
        InconsistentEdit {
            reason: reason.into(),
        }
    }

    /// A corruption error for an edit read from `file` at byte `offset`.
    pub fn into_corruption(self, file: &Path, offset: u64) -> Error {
        Error::corruption(file, offset, format!("inconsistent edit: {}", self.reason))
    }
}

impl fmt::Display for InconsistentEdit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

/// One keyspace's tree as the manifest describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyspaceState {
    /// Its name (`default` for keyspace 0).
    pub name: String,
    /// Its options as the engine encoded them (empty for the default keyspace, whose options
    /// are the database's).
    pub options: Vec<u8>,
    /// Write-ahead logs below this number hold nothing of this keyspace that its tables lack;
    /// the database's log number counts too (see [`ManifestState::keyspace_log_number`]).
    pub log_number: FileNumber,
    /// Live SSTables per level: level 0 newest (largest file number) first, levels 1 to 3 by
    /// smallest internal key.
    pub levels: [Vec<FileMetadata>; NUM_LEVELS],
    /// The name of the merge operator this keyspace's merge operands need, once a merge was
    /// written to it (FORMAT.md 6.1, tag 13).
    pub merge_operator: Option<String>,
}

impl KeyspaceState {
    fn new(name: String, options: Vec<u8>) -> Self {
        KeyspaceState {
            name,
            options,
            log_number: FileNumber(0),
            levels: Default::default(),
            merge_operator: None,
        }
    }

    /// All live files of this keyspace with their levels.
    pub fn files(&self) -> impl Iterator<Item = (usize, &FileMetadata)> {
        self.levels
            .iter()
            .enumerate()
            .flat_map(|(level, files)| files.iter().map(move |file| (level, file)))
    }
}

/// The database's file set and counters, as recovered from (or written to) a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestState {
    /// The number of the manifest this state lives in (`MANIFEST-NNNNNN`).
    pub manifest_number: FileNumber,
    /// The live keyspaces by id; keyspace 0, the default, is always there.
    pub keyspaces: BTreeMap<KeyspaceId, KeyspaceState>,
    /// The next keyspace id to hand out (1 until a keyspace is created).
    pub next_keyspace_id: KeyspaceId,
    /// Write-ahead logs with numbers below this one are obsolete.
    pub log_number: FileNumber,
    /// The next file number to hand out.
    pub next_file_number: FileNumber,
    /// The largest sequence number used so far.
    pub last_sequence: SequenceNumber,
    /// The live write-ahead logs the manifest knows of (numbers at or above `log_number`),
    /// ordered by number. Empty in manifests written before tag 7 existed.
    pub wals: Vec<WalMetadata>,
}

impl ManifestState {
    /// The state of a new, empty database living in manifest `manifest_number`: no files,
    /// log number 0, last sequence 0, and the next file number just after the manifest's.
    pub fn empty(manifest_number: FileNumber) -> Self {
        ManifestState {
            manifest_number,
            keyspaces: default_keyspace_only(),
            next_keyspace_id: KeyspaceId(1),
            log_number: FileNumber(0),
            next_file_number: FileNumber(manifest_number.0.saturating_add(1)),
            last_sequence: SequenceNumber(0),
            wals: Vec::new(),
        }
    }

    /// The default keyspace's levels.
    pub fn levels(&self) -> &[Vec<FileMetadata>; NUM_LEVELS] {
        &self.keyspace(KeyspaceId::DEFAULT).levels
    }

    /// Keyspace `id`'s state (the default keyspace's if `id` is not live).
    pub fn keyspace(&self, id: KeyspaceId) -> &KeyspaceState {
        self.keyspaces
            .get(&id)
            .or_else(|| self.keyspaces.get(&KeyspaceId::DEFAULT))
            .expect("the default keyspace is always in the state")
    }

    /// The log number that counts for keyspace `id`: logs below it hold nothing of the
    /// keyspace that its tables lack.
    pub fn keyspace_log_number(&self, id: KeyspaceId) -> FileNumber {
        let own = self.keyspaces.get(&id).map_or(FileNumber(0), |k| k.log_number);
        own.max(self.log_number)
    }

    /// The live keyspace named `name`, if any.
    pub fn keyspace_named(&self, name: &str) -> Option<KeyspaceId> {
        self.keyspaces
            .iter()
            .find(|(_, keyspace)| keyspace.name == name)
            .map(|(&id, _)| id)
    }

    /// The state a snapshot edit describes. Fails if `edit` is not a snapshot or its files are
    /// inconsistent.
    pub fn from_snapshot(
        manifest_number: FileNumber,
        edit: &VersionEdit,
    ) -> Result<Self, InconsistentEdit> {
        let (Some(log_number), Some(next_file_number), Some(last_sequence), true) = (
            edit.log_number,
            edit.next_file_number,
            edit.last_sequence,
            edit.snapshot,
        ) else {
            return Err(InconsistentEdit::new(
                "the first edit of a manifest must be a snapshot with all counters",
            ));
        };
        let mut state = ManifestState {
            manifest_number,
            keyspaces: default_keyspace_only(),
            next_keyspace_id: KeyspaceId(1),
            log_number,
            next_file_number,
            last_sequence,
            wals: Vec::new(),
        };
        state.apply(edit)?;
        Ok(state)
    }

    /// The snapshot edit alone: the first of [`to_snapshot_edits`](Self::to_snapshot_edits),
    /// the whole state when only the default keyspace holds files.
    pub fn to_snapshot_edit(&self) -> VersionEdit {
        let mut edits = self.to_snapshot_edits();
        edits.swap_remove(0)
    }

    /// The edits that recreate this state, the records of a new manifest: a snapshot edit
    /// (counters, keyspaces, logs and the default keyspace's files), then one edit per other
    /// keyspace that holds files or its own log number.
    pub fn to_snapshot_edits(&self) -> Vec<VersionEdit> {
        let mut snapshot = VersionEdit {
            snapshot: true,
            log_number: Some(self.log_number),
            next_file_number: Some(self.next_file_number),
            last_sequence: Some(self.last_sequence),
            ..VersionEdit::default()
        };
        if self.next_keyspace_id > KeyspaceId(1) {
            snapshot.next_keyspace_id = Some(self.next_keyspace_id);
        }
        snapshot.wals = self.wals.clone();
        let mut edits = vec![snapshot];
        for (&id, keyspace) in &self.keyspaces {
            if id != KeyspaceId::DEFAULT {
                edits[0].keyspaces.push(KeyspaceRecord {
                    id,
                    name: keyspace.name.clone(),
                    options: keyspace.options.clone(),
                });
            }
            if let Some(name) = &keyspace.merge_operator {
                edits[0].merge_operators.push((id, name.clone()));
            }
            let mut edit = VersionEdit {
                keyspace: id,
                ..VersionEdit::default()
            };
            if keyspace.log_number > self.log_number {
                edit.keyspace_log_number = Some(keyspace.log_number);
            }
            for (level, file) in keyspace.files() {
                edit.add_file(level, file.clone());
            }
            if id == KeyspaceId::DEFAULT {
                let snapshot = &mut edits[0];
                snapshot.keyspace_log_number = edit.keyspace_log_number;
                snapshot.new_files = edit.new_files;
            } else if edit.keyspace_log_number.is_some() || !edit.new_files.is_empty() {
                edits.push(edit);
            }
        }
        edits
    }

    /// The record of live write-ahead log `number`, if the manifest has one.
    pub fn wal(&self, number: FileNumber) -> Option<&WalMetadata> {
        self.wals.iter().find(|wal| wal.number == number)
    }

    /// All live files of every keyspace with their levels.
    pub fn files(&self) -> impl Iterator<Item = (usize, &FileMetadata)> {
        self.keyspaces.values().flat_map(KeyspaceState::files)
    }

    /// All live files of every keyspace with their keyspaces and levels.
    pub fn files_by_keyspace(&self) -> impl Iterator<Item = (KeyspaceId, usize, &FileMetadata)> {
        self.keyspaces.iter().flat_map(|(&id, keyspace)| {
            keyspace
                .files()
                .map(move |(level, file)| (id, level, file))
        })
    }

    /// The level file `number` is live in (in whichever keyspace), if it is live.
    pub fn level_of(&self, number: FileNumber) -> Option<usize> {
        self.files()
            .find(|(_, file)| file.number == number)
            .map(|(level, _)| level)
    }

    /// Applies `edit`: counters first, then deletions, then additions, checking the invariants
    /// in the module documentation. On error the state is partly updated and must be
    /// discarded (apply to a clone when the old state must survive).
    pub fn apply(&mut self, edit: &VersionEdit) -> Result<(), InconsistentEdit> {
        self.apply_counters(edit)?;
        for keyspace in &edit.keyspaces {
            self.declare_keyspace(keyspace)?;
        }
        for (id, name) in &edit.merge_operators {
            let keyspace = self.keyspace_mut(*id)?;
            if keyspace.merge_operator.as_ref().is_some_and(|known| known != name) {
                return Err(InconsistentEdit::new(format!(
                    "keyspace {id} holds merge operands of operator {:?}, and the edit names \
                     {name:?}",
                    keyspace.merge_operator.as_deref().unwrap_or_default()
                )));
            }
            keyspace.merge_operator = Some(name.clone());
        }
        for &id in &edit.dropped_keyspaces {
            if id == KeyspaceId::DEFAULT || self.keyspaces.remove(&id).is_none() {
                return Err(InconsistentEdit::new(format!(
                    "drops keyspace {id} which is not live"
                )));
            }
        }
        let changes_keyspace = !edit.deleted_files.is_empty()
            || !edit.new_files.is_empty()
            || edit.keyspace_log_number.is_some();
        if changes_keyspace && !self.keyspaces.contains_key(&edit.keyspace) {
            return Err(InconsistentEdit::new(format!(
                "changes keyspace {} which is not live",
                edit.keyspace
            )));
        }
        for &(level, number) in &edit.deleted_files {
            self.delete_file(edit.keyspace, level, number)?;
        }
        for (level, file) in &edit.new_files {
            self.add_file(edit.keyspace, *level, file)?;
        }
        for (keyspace, level, file) in &edit.keyspace_new_files {
            // `add_file` refuses a keyspace that is not live.
            self.add_file(*keyspace, *level, file)?;
        }
        if let Some(number) = edit.keyspace_log_number {
            let next_file_number = self.next_file_number;
            let keyspace = self.keyspace_mut(edit.keyspace)?;
            if number < keyspace.log_number || number > next_file_number {
                return Err(InconsistentEdit::new(format!(
                    "keyspace {} log number {} -> {number} goes backwards or past next file \
                     number {next_file_number}",
                    edit.keyspace, keyspace.log_number
                )));
            }
            keyspace.log_number = number;
        }
        for wal in &edit.wals {
            self.record_wal(wal)?;
        }
        let log_number = self.log_number;
        self.wals.retain(|wal| wal.number >= log_number);
        Ok(())
    }

    fn apply_counters(&mut self, edit: &VersionEdit) -> Result<(), InconsistentEdit> {
        let log_number = edit.log_number.unwrap_or(self.log_number);
        let next_file_number = edit.next_file_number.unwrap_or(self.next_file_number);
        let last_sequence = edit.last_sequence.unwrap_or(self.last_sequence);
        if log_number < self.log_number
            || next_file_number < self.next_file_number
            || last_sequence < self.last_sequence
        {
            return Err(InconsistentEdit::new(format!(
                "counters go backwards: log number {} -> {log_number}, next file number {} -> \
                 {next_file_number}, last sequence {} -> {last_sequence}",
                self.log_number, self.next_file_number, self.last_sequence
            )));
        }
        if log_number > next_file_number {
            return Err(InconsistentEdit::new(format!(
                "log number {log_number} is above next file number {next_file_number}"
            )));
        }
        if self.manifest_number >= next_file_number {
            return Err(InconsistentEdit::new(format!(
                "next file number {next_file_number} is not above the manifest's own number {}",
                self.manifest_number
            )));
        }
        let next_keyspace_id = edit.next_keyspace_id.unwrap_or(self.next_keyspace_id);
        if next_keyspace_id < self.next_keyspace_id || next_keyspace_id == KeyspaceId::DEFAULT {
            return Err(InconsistentEdit::new(format!(
                "next keyspace id {} -> {next_keyspace_id} goes backwards or is 0",
                self.next_keyspace_id
            )));
        }
        self.log_number = log_number;
        self.next_file_number = next_file_number;
        self.last_sequence = last_sequence;
        self.next_keyspace_id = next_keyspace_id;
        Ok(())
    }

    /// Creates keyspace `record.id`, or records new options for it.
    fn declare_keyspace(&mut self, record: &KeyspaceRecord) -> Result<(), InconsistentEdit> {
        let id = record.id;
        if id == KeyspaceId::DEFAULT || id >= self.next_keyspace_id {
            return Err(InconsistentEdit::new(format!(
                "declares keyspace {id}, which is 0 or not below next keyspace id {}",
                self.next_keyspace_id
            )));
        }
        if let Some(other) = self.keyspace_named(&record.name).filter(|&other| other != id) {
            return Err(InconsistentEdit::new(format!(
                "declares keyspace {id} named {:?}, the name of live keyspace {other}",
                record.name
            )));
        }
        match self.keyspaces.get_mut(&id) {
            Some(known) if known.name != record.name => Err(InconsistentEdit::new(format!(
                "renames keyspace {id} from {:?} to {:?}",
                known.name, record.name
            ))),
            Some(known) => {
                known.options = record.options.clone();
                Ok(())
            }
            None => {
                let keyspace = KeyspaceState::new(record.name.clone(), record.options.clone());
                self.keyspaces.insert(id, keyspace);
                Ok(())
            }
        }
    }

    fn keyspace_mut(&mut self, id: KeyspaceId) -> Result<&mut KeyspaceState, InconsistentEdit> {
        self.keyspaces
            .get_mut(&id)
            .ok_or_else(|| InconsistentEdit::new(format!("keyspace {id} is not live")))
    }

    fn delete_file(
        &mut self,
        keyspace: KeyspaceId,
        level: usize,
        number: FileNumber,
    ) -> Result<(), InconsistentEdit> {
        let files = self
            .keyspace_mut(keyspace)?
            .levels
            .get_mut(level)
            .ok_or_else(|| InconsistentEdit::new(format!("level {level} does not exist")))?;
        let Some(position) = files.iter().position(|file| file.number == number) else {
            return Err(InconsistentEdit::new(format!(
                "deletes file {number} which is not live in level {level}"
            )));
        };
        files.remove(position);
        Ok(())
    }

    fn add_file(
        &mut self,
        keyspace: KeyspaceId,
        level: usize,
        file: &FileMetadata,
    ) -> Result<(), InconsistentEdit> {
        let number = file.number;
        if number >= self.next_file_number {
            return Err(InconsistentEdit::new(format!(
                "adds file {number} which is not below next file number {}",
                self.next_file_number
            )));
        }
        if file.largest_sequence > self.last_sequence {
            return Err(InconsistentEdit::new(format!(
                "adds file {number} with sequence number {} above last sequence {}",
                file.largest_sequence, self.last_sequence
            )));
        }
        if let Some(live_level) = self.level_of(number) {
            return Err(InconsistentEdit::new(format!(
                "adds file {number} which is already live in level {live_level}"
            )));
        }
        let files = self
            .keyspace_mut(keyspace)?
            .levels
            .get_mut(level)
            .ok_or_else(|| InconsistentEdit::new(format!("level {level} does not exist")))?;
        if level == 0 {
            let position = files.partition_point(|other| other.number > number);
            files.insert(position, file.clone());
            return Ok(());
        }
        insert_without_overlap(files, level, file)
    }
}

impl ManifestState {
    /// Records that log `wal.number` was started, or finished at its synced size.
    fn record_wal(&mut self, wal: &WalMetadata) -> Result<(), InconsistentEdit> {
        let number = wal.number;
        if number < self.log_number || number >= self.next_file_number {
            return Err(InconsistentEdit::new(format!(
                "records write-ahead log {number} outside the live range {}..{}",
                self.log_number, self.next_file_number
            )));
        }
        let position = self.wals.partition_point(|other| other.number < number);
        let Some(known) = self
            .wals
            .get_mut(position)
            .filter(|known| known.number == number)
        else {
            self.wals.insert(position, *wal);
            return Ok(());
        };
        let synced_changes = known.synced_size.is_some() && known.synced_size != wal.synced_size;
        if known.preallocated_size != wal.preallocated_size || synced_changes {
            return Err(InconsistentEdit::new(format!(
                "changes the recorded sizes of write-ahead log {number}"
            )));
        }
        *known = *wal;
        Ok(())
    }
}

/// The keyspaces of a new database: the default one alone.
fn default_keyspace_only() -> BTreeMap<KeyspaceId, KeyspaceState> {
    let default = KeyspaceState::new(DEFAULT_KEYSPACE_NAME.to_string(), Vec::new());
    BTreeMap::from([(KeyspaceId::DEFAULT, default)])
}

/// Inserts `file` into a sorted level above 0, refusing it if it overlaps a neighbour.
fn insert_without_overlap(
    files: &mut Vec<FileMetadata>,
    level: usize,
    file: &FileMetadata,
) -> Result<(), InconsistentEdit> {
    let position = files.partition_point(|other| {
        compare_internal_keys(&other.smallest, &file.smallest) == Ordering::Less
    });
    let overlaps_previous = position
        .checked_sub(1)
        .and_then(|index| files.get(index))
        .is_some_and(|previous| {
            compare_internal_keys(&previous.largest, &file.smallest) != Ordering::Less
        });
    let overlaps_next = files
        .get(position)
        .is_some_and(|next| compare_internal_keys(&file.largest, &next.smallest) != Ordering::Less);
    if overlaps_previous || overlaps_next {
        return Err(InconsistentEdit::new(format!(
            "adds file {} whose key range overlaps another file of level {level}",
            file.number
        )));
    }
    files.insert(position, file.clone());
    Ok(())
}
