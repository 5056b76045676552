//! Version edits: one change to the set of live SSTables and to the counters of the database,
//! and their tagged-field encoding (one edit = one manifest record).
//!
//! FORMAT.md, "Manifest and CURRENT", is the source of truth for the bytes. Each field is a
//! `varint32` tag followed by its data; the tag values below are part of the on-disk format and
//! never change. Tags with [`TAG_IGNORABLE_BIT`] set carry length-prefixed data that an older
//! reader may skip, so that a later version can add optional information without breaking
//! readers of this one.
//!
//! Invariants of a decoded edit (checked by [`VersionEdit::decode`]): every level is below
//! [`NUM_LEVELS`]; every key is a valid internal key whose user key is at most `MAX_KEY_SIZE`
//! bytes; `smallest <= largest` for keys and for sequence numbers; sequence numbers fit in 56
//! bits; each scalar field and the snapshot marker appear at most once; a snapshot edit carries
//! the log number, next file number and last sequence and deletes nothing. Consistency with the
//! state the edit applies to is checked separately, by `ManifestState::apply`.

use std::cmp::Ordering;

use crate::coding::{Cursor, DecodeError, put_length_prefixed, put_varint32, put_varint64};
use crate::key::{
    DEFAULT_KEYSPACE_NAME, FileNumber, KeyspaceId, MAX_KEY_SIZE, MAX_KEYSPACE_NAME,
    SequenceNumber, TRAILER_SIZE, compare_internal_keys, parse_internal_key,
};

/// The number of levels, L0 to L3. Part of the on-disk format (levels are recorded in edits);
/// never change without a new format version.
pub const NUM_LEVELS: usize = 4;

/// Tag of the log number: `varint64`. Part of the on-disk format; never change.
pub const TAG_LOG_NUMBER: u32 = 1;
/// Tag of the next file number: `varint64`. Part of the on-disk format; never change.
pub const TAG_NEXT_FILE_NUMBER: u32 = 2;
/// Tag of the last sequence number: `varint64`. Part of the on-disk format; never change.
pub const TAG_LAST_SEQUENCE: u32 = 3;
/// Tag of a deleted file: `varint32` level, `varint64` file number. Part of the on-disk
/// format; never change.
pub const TAG_DELETED_FILE: u32 = 4;
/// Tag of a new file: level, number, size, smallest and largest internal key, smallest and
/// largest sequence number. Part of the on-disk format; never change.
pub const TAG_NEW_FILE: u32 = 5;
/// Tag of the snapshot marker (no data): the edit describes the whole state. Part of the
/// on-disk format; never change.
pub const TAG_SNAPSHOT: u32 = 6;
/// Tag of a write-ahead log record: `varint64` log number, `varint64` preallocated size,
/// `varint64` synced size (0 = not recorded yet). Part of the on-disk format; never change.
pub const TAG_WAL: u32 = 7;
/// Tag of a keyspace declaration: `varint32` keyspace id, length-prefixed UTF-8 name,
/// length-prefixed options. Part of the on-disk format; never change.
pub const TAG_KEYSPACE: u32 = 8;
/// Tag of a dropped keyspace: `varint32` keyspace id. Part of the on-disk format; never change.
pub const TAG_KEYSPACE_DROPPED: u32 = 9;
/// Tag of the keyspace an edit's file changes and keyspace log number belong to: `varint32`
/// keyspace id (absent: the default keyspace). Part of the on-disk format; never change.
pub const TAG_EDIT_KEYSPACE: u32 = 10;
/// Tag of the edit keyspace's log number: `varint64`. Part of the on-disk format; never change.
pub const TAG_KEYSPACE_LOG_NUMBER: u32 = 11;
/// Tag of the next keyspace id: `varint32`. Part of the on-disk format; never change.
pub const TAG_NEXT_KEYSPACE_ID: u32 = 12;
/// Tag of a keyspace's merge operator: `varint32` keyspace id, length-prefixed UTF-8 name of
/// the operator the keyspace's merge operands need. Part of the on-disk format; never change.
pub const TAG_MERGE_OPERATOR: u32 = 13;
/// Tag of a new file whose entries are all read at one sequence number (an ingested table or a
/// large batch's run): the data of [`TAG_NEW_FILE`] followed by that global sequence number,
/// `varint64`. Part of the on-disk format; never change.
pub const TAG_NEW_FILE_AT_GLOBAL_SEQUENCE: u32 = 14;
/// Tag of a new file of another keyspace than the edit's, read at a global sequence number (a
/// run of a large batch spanning keyspaces): `varint32` keyspace id, then the data of
/// [`TAG_NEW_FILE_AT_GLOBAL_SEQUENCE`]. Part of the on-disk format; never change.
pub const TAG_KEYSPACE_NEW_FILE_AT_GLOBAL_SEQUENCE: u32 = 15;
/// A tag with this bit set is followed by length-prefixed data, and a reader that does not know
/// the tag skips it. A tag without it that a reader does not know is corruption. Part of the
/// on-disk format; never change.
pub const TAG_IGNORABLE_BIT: u32 = 1 << 6;

/// An SSTable as the manifest records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMetadata {
    /// The table's file number (`NNNNNN.sst`).
    pub number: FileNumber,
    /// The table's size in bytes.
    pub file_size: u64,
    /// The smallest internal key in the table.
    pub smallest: Vec<u8>,
    /// The largest internal key in the table.
    pub largest: Vec<u8>,
    /// The smallest sequence number of any entry in the table.
    pub smallest_sequence: SequenceNumber,
    /// The largest sequence number of any entry in the table.
    pub largest_sequence: SequenceNumber,
    /// The sequence number every entry of the table is read at, whatever the file holds (its
    /// range tombstones are read one below it; tag 14, FORMAT.md 6.1): set for tables a large batch built or
    /// [`Db::ingest`](crate::Db::ingest) took in, whose files hold sequence number 0 and each
    /// user key once. `None` for the tables flushes and compactions write.
    pub global_sequence: Option<SequenceNumber>,
}

/// A write-ahead log as the manifest records it: that it exists, how large its preallocated
/// (and synced) zero-filled file was, and, once the log is finished, how far its records were
/// synced. Recovery uses it to tell lost synced writes from a torn unsynced tail (FORMAT.md,
/// "Manifest and CURRENT", tag 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalMetadata {
    /// The log's file number (`NNNNNN.wal`).
    pub number: FileNumber,
    /// The length of the file after preallocation, synced before any record was written: the
    /// file is never shorter than this.
    pub preallocated_size: u64,
    /// The logical end of the log's records when it was last synced and finished (rotated away
    /// from, or closed), or `None` while the log may still grow.
    pub synced_size: Option<u64>,
}

/// A keyspace as the manifest records it when it is created (or its options change).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyspaceRecord {
    /// The keyspace's number; never 0 (the default keyspace is never declared).
    pub id: KeyspaceId,
    /// Its name: 1 to 255 bytes of UTF-8, never `default`.
    pub name: String,
    /// Its options, encoded by the engine (FORMAT.md 6.1, "Keyspace options"); opaque here.
    pub options: Vec<u8>,
}

/// One change to the database's file set and counters. Every field is optional; an empty edit
/// is valid and changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VersionEdit {
    /// Whether this edit is a full snapshot of the state (the first record of every manifest).
    pub snapshot: bool,
    /// Write-ahead logs with numbers below this one are obsolete.
    pub log_number: Option<FileNumber>,
    /// The next file number to hand out; every existing file's number is below it.
    pub next_file_number: Option<FileNumber>,
    /// The largest sequence number used so far.
    pub last_sequence: Option<SequenceNumber>,
    /// Files removed, as (level, file number), applied before the additions.
    pub deleted_files: Vec<(usize, FileNumber)>,
    /// Files added, as (level, metadata).
    pub new_files: Vec<(usize, FileMetadata)>,
    /// Write-ahead logs started or finished, applied after the files.
    pub wals: Vec<WalMetadata>,
    /// The keyspace that `deleted_files`, `new_files` and `keyspace_log_number` belong to.
    pub keyspace: KeyspaceId,
    /// Write-ahead logs with numbers below this one hold nothing of `keyspace` that its tables
    /// lack (the log number that counts for the keyspace is the larger of this and
    /// `log_number`).
    pub keyspace_log_number: Option<FileNumber>,
    /// Keyspaces created (or whose options changed), applied before the files.
    pub keyspaces: Vec<KeyspaceRecord>,
    /// Keyspaces dropped, with every file they hold, applied after `keyspaces`.
    pub dropped_keyspaces: Vec<KeyspaceId>,
    /// The next keyspace id to hand out; every keyspace ever created has a smaller one.
    pub next_keyspace_id: Option<KeyspaceId>,
    /// Keyspaces that hold merge operands, with the name of the operator they need (FORMAT.md
    /// 6.1, tag 13), applied after `keyspaces`.
    pub merge_operators: Vec<(KeyspaceId, String)>,
    /// Files added to keyspaces other than `keyspace`, as (keyspace, level, metadata), each
    /// read at its global sequence number (FORMAT.md 6.1, tag 15): the runs of a large batch
    /// spanning keyspaces, so that one edit commits all of them. Applied after `new_files`.
    pub keyspace_new_files: Vec<(KeyspaceId, usize, FileMetadata)>,
}

impl VersionEdit {
    /// An edit that changes nothing.
    pub fn new() -> Self {
        VersionEdit::default()
    }

    /// Records that `file` was added to `level`.
    pub fn add_file(&mut self, level: usize, file: FileMetadata) {
        self.new_files.push((level, file));
    }

    /// Records that file `number` was removed from `level`.
    pub fn delete_file(&mut self, level: usize, number: FileNumber) {
        self.deleted_files.push((level, number));
    }

    /// Appends the encoding of this edit to `out` (FORMAT.md, "Manifest and CURRENT").
    ///
    /// # Panics
    /// If a key is longer than `u32::MAX` bytes. Writers validate edits by decoding the result
    /// (see `ManifestWriter::append`), which refuses anything a reader would refuse.
    pub fn encode_to(&self, out: &mut Vec<u8>) {
        if self.snapshot {
            put_varint32(out, TAG_SNAPSHOT);
        }
        if let Some(number) = self.log_number {
            put_varint32(out, TAG_LOG_NUMBER);
            put_varint64(out, number.0);
        }
        if let Some(number) = self.next_file_number {
            put_varint32(out, TAG_NEXT_FILE_NUMBER);
            put_varint64(out, number.0);
        }
        if let Some(sequence) = self.last_sequence {
            put_varint32(out, TAG_LAST_SEQUENCE);
            put_varint64(out, sequence.0);
        }
        for &(level, number) in &self.deleted_files {
            put_varint32(out, TAG_DELETED_FILE);
            put_varint64(out, level as u64);
            put_varint64(out, number.0);
        }
        for (level, file) in &self.new_files {
            let tag = match file.global_sequence {
                Some(_) => TAG_NEW_FILE_AT_GLOBAL_SEQUENCE,
                None => TAG_NEW_FILE,
            };
            put_varint32(out, tag);
            encode_new_file(out, *level, file);
        }
        for wal in &self.wals {
            put_varint32(out, TAG_WAL);
            put_varint64(out, wal.number.0);
            put_varint64(out, wal.preallocated_size);
            put_varint64(out, wal.synced_size.unwrap_or(0));
        }
        for keyspace in &self.keyspaces {
            put_varint32(out, TAG_KEYSPACE);
            put_varint32(out, keyspace.id.0);
            put_length_prefixed(out, keyspace.name.as_bytes());
            put_length_prefixed(out, &keyspace.options);
        }
        for id in &self.dropped_keyspaces {
            put_varint32(out, TAG_KEYSPACE_DROPPED);
            put_varint32(out, id.0);
        }
        if self.keyspace != KeyspaceId::DEFAULT {
            put_varint32(out, TAG_EDIT_KEYSPACE);
            put_varint32(out, self.keyspace.0);
        }
        if let Some(number) = self.keyspace_log_number {
            put_varint32(out, TAG_KEYSPACE_LOG_NUMBER);
            put_varint64(out, number.0);
        }
        if let Some(id) = self.next_keyspace_id {
            put_varint32(out, TAG_NEXT_KEYSPACE_ID);
            put_varint32(out, id.0);
        }
        for (id, name) in &self.merge_operators {
            put_varint32(out, TAG_MERGE_OPERATOR);
            put_varint32(out, id.0);
            put_length_prefixed(out, name.as_bytes());
        }
        for (id, level, file) in &self.keyspace_new_files {
            put_varint32(out, TAG_KEYSPACE_NEW_FILE_AT_GLOBAL_SEQUENCE);
            put_varint32(out, id.0);
            encode_new_file(out, *level, file);
        }
    }

    /// The encoding of this edit.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_to(&mut out);
        out
    }

    /// Decodes one edit from all of `bytes`, checking the invariants listed in the module
    /// documentation. The error's offset is relative to the start of `bytes`.
    pub fn decode(bytes: &[u8]) -> Result<VersionEdit, DecodeError> {
        let mut cursor = Cursor::new(bytes);
        let mut edit = VersionEdit::new();
        let mut edit_keyspace_seen = false;
        while !cursor.is_empty() {
            let field_start = cursor.position();
            let tag = cursor.varint32()?;
            if tag == TAG_EDIT_KEYSPACE {
                if std::mem::replace(&mut edit_keyspace_seen, true) {
                    return Err(at(field_start, "field appears twice in one edit"));
                }
                edit.keyspace = KeyspaceId(cursor.varint32()?);
                continue;
            }
            edit.decode_field(tag, field_start, &mut cursor)?;
        }
        edit.check_snapshot_fields()?;
        Ok(edit)
    }

    /// Decodes the data of one field with `tag`, which began at `field_start`.
    fn decode_field(
        &mut self,
        tag: u32,
        field_start: usize,
        cursor: &mut Cursor<'_>,
    ) -> Result<(), DecodeError> {
        match tag {
            TAG_SNAPSHOT => {
                if self.snapshot {
                    return Err(at(field_start, "snapshot marker appears twice in one edit"));
                }
                self.snapshot = true;
                Ok(())
            }
            TAG_LOG_NUMBER => {
                let value = FileNumber(cursor.varint64()?);
                set_once(&mut self.log_number, value, field_start)
            }
            TAG_NEXT_FILE_NUMBER => {
                let value = FileNumber(cursor.varint64()?);
                set_once(&mut self.next_file_number, value, field_start)
            }
            TAG_LAST_SEQUENCE => {
                let value = SequenceNumber(cursor.varint64()?);
                if value > SequenceNumber::MAX {
                    return Err(at(field_start, "last sequence does not fit in 56 bits"));
                }
                set_once(&mut self.last_sequence, value, field_start)
            }
            TAG_DELETED_FILE => {
                let level = decode_level(cursor)?;
                let number = FileNumber(cursor.varint64()?);
                self.deleted_files.push((level, number));
                Ok(())
            }
            TAG_NEW_FILE => {
                let level = decode_level(cursor)?;
                let file = decode_file_metadata(cursor)?;
                self.new_files.push((level, file));
                Ok(())
            }
            TAG_NEW_FILE_AT_GLOBAL_SEQUENCE => {
                let (level, file) = decode_file_at_global_sequence(cursor)?;
                self.new_files.push((level, file));
                Ok(())
            }
            TAG_KEYSPACE_NEW_FILE_AT_GLOBAL_SEQUENCE => {
                let id = KeyspaceId(cursor.varint32()?);
                let (level, file) = decode_file_at_global_sequence(cursor)?;
                self.keyspace_new_files.push((id, level, file));
                Ok(())
            }
            TAG_WAL => {
                let number = FileNumber(cursor.varint64()?);
                let preallocated_size = cursor.varint64()?;
                let synced_size = Some(cursor.varint64()?).filter(|&size| size != 0);
                self.wals.push(WalMetadata {
                    number,
                    preallocated_size,
                    synced_size,
                });
                Ok(())
            }
            TAG_KEYSPACE => {
                let id = KeyspaceId(cursor.varint32()?);
                if id == KeyspaceId::DEFAULT {
                    return Err(at(field_start, "declares keyspace 0, the default keyspace"));
                }
                let name_start = cursor.position();
                let name = cursor.length_prefixed()?;
                let name = std::str::from_utf8(name)
                    .map_err(|_| at(name_start, "keyspace name is not UTF-8"))?;
                if name.is_empty() || name.len() > MAX_KEYSPACE_NAME {
                    return Err(at(name_start, "keyspace name is empty or over 255 bytes"));
                }
                if name == DEFAULT_KEYSPACE_NAME {
                    return Err(at(name_start, "a keyspace other than 0 is named default"));
                }
                let options = cursor.length_prefixed()?.to_vec();
                self.keyspaces.push(KeyspaceRecord {
                    id,
                    name: name.to_string(),
                    options,
                });
                Ok(())
            }
            TAG_KEYSPACE_DROPPED => {
                let id = KeyspaceId(cursor.varint32()?);
                if id == KeyspaceId::DEFAULT {
                    return Err(at(field_start, "drops keyspace 0, the default keyspace"));
                }
                self.dropped_keyspaces.push(id);
                Ok(())
            }
            TAG_KEYSPACE_LOG_NUMBER => {
                let value = FileNumber(cursor.varint64()?);
                set_once(&mut self.keyspace_log_number, value, field_start)
            }
            TAG_NEXT_KEYSPACE_ID => {
                let value = KeyspaceId(cursor.varint32()?);
                set_once(&mut self.next_keyspace_id, value, field_start)
            }
            TAG_MERGE_OPERATOR => {
                let id = KeyspaceId(cursor.varint32()?);
                let name_start = cursor.position();
                let name = std::str::from_utf8(cursor.length_prefixed()?)
                    .map_err(|_| at(name_start, "merge operator name is not UTF-8"))?;
                if name.is_empty() || name.len() > MAX_KEYSPACE_NAME {
                    return Err(at(name_start, "merge operator name is empty or over 255 bytes"));
                }
                self.merge_operators.push((id, name.to_string()));
                Ok(())
            }
            _ if tag & TAG_IGNORABLE_BIT != 0 => cursor.length_prefixed().map(|_| ()),
            _ => Err(at(field_start, "unknown tag without the ignorable bit")),
        }
    }

    /// A snapshot must describe the whole state: all three counters, and no deletions.
    fn check_snapshot_fields(&self) -> Result<(), DecodeError> {
        if !self.snapshot {
            return Ok(());
        }
        if self.log_number.is_none()
            || self.next_file_number.is_none()
            || self.last_sequence.is_none()
        {
            return Err(at(
                0,
                "snapshot edit lacks the log number, next file number or last sequence",
            ));
        }
        if !self.deleted_files.is_empty() {
            return Err(at(0, "snapshot edit deletes files"));
        }
        if !self.dropped_keyspaces.is_empty() {
            return Err(at(0, "snapshot edit drops keyspaces"));
        }
        if !self.keyspace_new_files.is_empty() {
            return Err(at(0, "snapshot edit adds files of another keyspace (tag 15)"));
        }
        Ok(())
    }
}

/// Stores `value` in `slot` unless the field was already present in this edit: a second value
/// would be ambiguous, so it is corruption rather than "last one wins".
fn set_once<T>(slot: &mut Option<T>, value: T, field_start: usize) -> Result<(), DecodeError> {
    if slot.is_some() {
        return Err(at(field_start, "field appears twice in one edit"));
    }
    *slot = Some(value);
    Ok(())
}

fn at(offset: usize, reason: &'static str) -> DecodeError {
    DecodeError { offset, reason }
}

fn decode_level(cursor: &mut Cursor<'_>) -> Result<usize, DecodeError> {
    let start = cursor.position();
    let level = cursor.varint32()?;
    if level as usize >= NUM_LEVELS {
        return Err(at(start, "level is 4 or more (shaledb has levels 0 to 3)"));
    }
    Ok(level as usize)
}

fn decode_file_metadata(cursor: &mut Cursor<'_>) -> Result<FileMetadata, DecodeError> {
    let number = FileNumber(cursor.varint64()?);
    let file_size = cursor.varint64()?;
    let smallest_start = cursor.position();
    let smallest = decode_internal_key(cursor)?;
    let largest = decode_internal_key(cursor)?;
    if compare_internal_keys(&smallest, &largest) == Ordering::Greater {
        return Err(at(
            smallest_start,
            "smallest key is greater than largest key",
        ));
    }
    let sequence_start = cursor.position();
    let smallest_sequence = SequenceNumber(cursor.varint64()?);
    let largest_sequence = SequenceNumber(cursor.varint64()?);
    if largest_sequence > SequenceNumber::MAX {
        return Err(at(
            sequence_start,
            "sequence number does not fit in 56 bits",
        ));
    }
    if smallest_sequence > largest_sequence {
        return Err(at(
            sequence_start,
            "smallest sequence number is greater than largest",
        ));
    }
    Ok(FileMetadata {
        number,
        file_size,
        smallest,
        largest,
        smallest_sequence,
        largest_sequence,
        global_sequence: None,
    })
}

/// Appends the data of tag 5, and of tag 14 when `file` has a global sequence number.
fn encode_new_file(out: &mut Vec<u8>, level: usize, file: &FileMetadata) {
    put_varint64(out, level as u64);
    put_varint64(out, file.number.0);
    put_varint64(out, file.file_size);
    put_length_prefixed(out, &file.smallest);
    put_length_prefixed(out, &file.largest);
    put_varint64(out, file.smallest_sequence.0);
    put_varint64(out, file.largest_sequence.0);
    if let Some(global) = file.global_sequence {
        put_varint64(out, global.0);
    }
}

/// Decodes the data of tag 14 (that of tag 5, then the global sequence number, which must be
/// the file's largest sequence number, its smallest that or one below).
fn decode_file_at_global_sequence(
    cursor: &mut Cursor<'_>,
) -> Result<(usize, FileMetadata), DecodeError> {
    let level = decode_level(cursor)?;
    let mut file = decode_file_metadata(cursor)?;
    let global_start = cursor.position();
    let global = SequenceNumber(cursor.varint64()?);
    // Entries at the global sequence number, range tombstones one below it.
    let lowest = SequenceNumber(global.0.saturating_sub(1));
    if global != file.largest_sequence
        || (file.smallest_sequence != global && file.smallest_sequence != lowest)
    {
        return Err(at(
            global_start,
            "global sequence number does not match the file's sequence range",
        ));
    }
    file.global_sequence = Some(global);
    Ok((level, file))
}

fn decode_internal_key(cursor: &mut Cursor<'_>) -> Result<Vec<u8>, DecodeError> {
    let start = cursor.position();
    let key = cursor.length_prefixed()?;
    if key.len() > MAX_KEY_SIZE + TRAILER_SIZE {
        return Err(at(start, "key longer than the 64 KiB limit"));
    }
    parse_internal_key(key).map_err(|reason| at(start, reason))?;
    Ok(key.to_vec())
}
