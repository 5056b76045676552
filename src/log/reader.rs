//! [`LogReader`]: replays the records of a log file and classifies any damage it meets.
//! FORMAT.md, section 4 "Log format", is the source of truth for the bytes and for what a reader
//! does with each kind of damage.
//!
//! The reader holds the whole file in memory (a WAL is at most tens of MiB) and yields
//! [`LogEvent`]s in file order:
//! - `Record` for every intact record, with the offset of its first fragment header;
//! - `Corruption` for a damaged range after which a valid fragment is found again; reading
//!   resumes at the first record that starts after it;
//! - `TornTail` for damage that runs to the end of the written data (the typical result of a
//!   crash during the last write); always the last event.
//!
//! The iterator ending without a `TornTail` means the log ended cleanly: at the end of the file,
//! or at a zero-filled fragment header followed only by zeros (a preallocated file).
//!
//! Invariants: a returned record is byte-identical to one the writer wrote (every fragment's
//! checksum matched and fragments were joined FIRST, MIDDLE*, LAST with nothing lost between
//! them); after damage the reader only resumes at a block boundary, never inside a block, so the
//! bytes of a payload are never mistaken for a fragment header.

use std::collections::VecDeque;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::format::{
    BLOCK_SIZE, FILE_HEADER_SIZE, FRAGMENT_HEADER_SIZE, FragmentType, LOG_FORMAT_VERSION,
    LOG_MAGIC, LogFileKind, encode_file_header_version, format_version, fragment_checksum,
    next_block_start, readable_versions, reads_version,
};
use crate::coding::Cursor;
use crate::error::{Error, Result};
use crate::vfs::{FileBytes, FileSystem, OsFileSystem};

/// One thing a [`LogReader`] found, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogEvent {
    /// An intact record.
    Record {
        /// File offset of the record's first fragment header.
        offset: u64,
        /// The record's bytes, exactly as written.
        payload: Vec<u8>,
    },
    /// A damaged range in the middle of the log: a valid fragment follows it. Records that
    /// started in `start..end` are lost; reading continues at `end`.
    Corruption {
        /// File offset where the damage starts (the first fragment of the first lost record).
        start: u64,
        /// File offset where reading resumes (the next record, or the end of the data).
        end: u64,
        /// What was wrong at `start`, in words.
        reason: String,
    },
    /// Damage that runs to the end of the written data, such as a torn last write. Records that
    /// started at or after `offset` are lost. Always the last event.
    TornTail {
        /// File offset of the first fragment of the first lost record.
        offset: u64,
        /// What was wrong, in words.
        reason: String,
    },
}

impl LogEvent {
    /// The damage this event reports as an [`Error::Corruption`] naming `file`, or `None` for a
    /// record. Callers that refuse any damage (or a torn tail, for a manifest) use this.
    pub fn to_error(&self, file: &Path) -> Option<Error> {
        match self {
            LogEvent::Record { .. } => None,
            LogEvent::Corruption { start, end, reason } => Some(Error::corruption(
                file,
                *start,
                format!("{reason} (damaged log bytes {start}..{end})"),
            )),
            LogEvent::TornTail { offset, reason } => Some(Error::corruption(
                file,
                *offset,
                format!("torn log tail: {reason}"),
            )),
        }
    }
}

/// A record whose FIRST fragment has been read but not yet its LAST.
#[derive(Debug)]
struct PartialRecord {
    start: usize,
    payload: Vec<u8>,
}

/// A damaged range being tracked until the reader knows where it ends.
#[derive(Debug)]
struct Damage {
    /// Where the range starts: the first lost record, or the first bad fragment.
    start: usize,
    reason: String,
    /// The first fragment found bad; classification scans for valid fragments after it.
    first_bad_fragment: usize,
    /// Whether a valid fragment has been seen after the damage (so it is not a torn tail).
    valid_fragment_seen: bool,
}

/// What the bytes at a fragment offset hold.
enum Parsed {
    /// A fragment whose header is sane and whose checksum matches.
    Valid {
        fragment_type: FragmentType,
        payload: Range<usize>,
    },
    /// A zero-filled header followed only by zeros: the clean end of a preallocated log.
    ZeroTail,
    /// Damage, with the reason.
    Bad(String),
}

/// Reads the records of a log file. See the module documentation for the events.
pub struct LogReader {
    path: PathBuf,
    kind: LogFileKind,
    file: FileBytes,
    /// Offset of the next fragment header to read.
    position: usize,
    /// Bytes at or after this offset are all zero.
    zeros_from: usize,
    partial: Option<PartialRecord>,
    damage: Option<Damage>,
    pending: VecDeque<LogEvent>,
    finished: bool,
    /// The format version of the file header; 0 if it was never completely written.
    version: u16,
}

impl std::fmt::Debug for LogReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogReader")
            .field("path", &self.path)
            .field("kind", &self.kind)
            .field("file_size", &self.bytes().len())
            .field("position", &self.position)
            .finish_non_exhaustive()
    }
}

impl LogReader {
    /// Reads the log file at `path` and validates its file header against `kind`.
    ///
    /// Returns [`Error::Corruption`] for a header that is not a `kind` log header of a version
    /// this build reads (wrong magic, unknown version, wrong kind, checksum mismatch). A file whose header was
    /// never completely written (empty, all zeros, or a truncated header with only zeros
    /// after it) opens as a log whose only event is a `TornTail` at offset 0.
    pub fn open(path: &Path, kind: LogFileKind) -> Result<Self> {
        Self::open_on(&OsFileSystem, path, kind)
    }

    /// [`open`](Self::open) through `file_system`.
    pub fn open_on(file_system: &dyn FileSystem, path: &Path, kind: LogFileKind) -> Result<Self> {
        let bytes = file_system
            .read(path)
            .map_err(|error| Error::io(path, error))?;
        LogReader::from_bytes(path, bytes, kind)
    }

    /// [`open_on`](Self::open_on), mapping the file instead of reading it into memory: the
    /// pages are read as the reader reaches them, and the memory they take is the page cache's,
    /// not the heap's. The caller promises that nobody writes the file while the reader is
    /// alive (recovery holds the database's lock).
    pub fn open_mapped_on(
        file_system: &dyn FileSystem,
        path: &Path,
        kind: LogFileKind,
    ) -> Result<Self> {
        let bytes = file_system
            .map(path)
            .map_err(|error| Error::io(path, error))?;
        // Nobody writes the file (the caller's promise), so the file system's word on where
        // its zeros begin holds, and the unused tail of a preallocated log is never read.
        let zeros_from = file_system
            .zeros_from(path)
            .map_err(|error| Error::io(path, error))?;
        LogReader::from_shared_with(path, bytes, kind, zeros_from)
    }

    /// Like [`open`](Self::open), over the bytes of a file already in memory; `name` is used
    /// in events and errors. For tests, fuzzing and tools.
    pub fn from_bytes(name: impl Into<PathBuf>, bytes: Vec<u8>, kind: LogFileKind) -> Result<Self> {
        LogReader::from_shared(name, Arc::new(bytes), kind)
    }

    fn from_shared(name: impl Into<PathBuf>, bytes: FileBytes, kind: LogFileKind) -> Result<Self> {
        LogReader::from_shared_with(name, bytes, kind, None)
    }

    /// [`from_shared`](Self::from_shared), where every byte from `known_zeros_from` on (if
    /// given) is known to be zero, so that only the bytes before it are scanned.
    fn from_shared_with(
        name: impl Into<PathBuf>,
        bytes: FileBytes,
        kind: LogFileKind,
        known_zeros_from: Option<u64>,
    ) -> Result<Self> {
        let path = name.into();
        let all = (*bytes).as_ref();
        let scanned = known_zeros_from
            .and_then(|offset| usize::try_from(offset).ok())
            .map_or(all, |offset| all.get(..offset).unwrap_or(all));
        let zeros_from = nonzero_end(scanned);
        let mut reader = LogReader {
            path,
            kind,
            file: bytes,
            position: FILE_HEADER_SIZE,
            zeros_from,
            partial: None,
            damage: None,
            pending: VecDeque::new(),
            finished: false,
            version: 0,
        };
        match check_file_header(&reader.path, reader.bytes(), kind)? {
            Some(reason) => {
                reader
                    .pending
                    .push_back(LogEvent::TornTail { offset: 0, reason });
                reader.finished = true;
            }
            None => {
                let bytes = reader.bytes();
                reader.version = u16::from_le_bytes([bytes[8], bytes[9]]);
            }
        }
        Ok(reader)
    }

    /// The whole file.
    fn bytes(&self) -> &[u8] {
        (*self.file).as_ref()
    }

    /// The path (or name) of the log being read.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The kind of log being read.
    pub fn kind(&self) -> LogFileKind {
        self.kind
    }

    /// The format version in the file header (0 for a header that was never completely
    /// written).
    pub fn version(&self) -> u16 {
        self.version
    }

    /// The end of the file's non-zero bytes: everything from here on is zeros (the unused part
    /// of a preallocated log) or past the end of the file.
    pub fn data_end(&self) -> u64 {
        self.zeros_from as u64
    }

    /// The length of the file in bytes, zeros after the last record included.
    pub fn file_size(&self) -> u64 {
        self.bytes().len() as u64
    }

    /// Reads one fragment (or skips block padding) and updates the state.
    fn step(&mut self) {
        let offset = self.position;
        let left_in_block = BLOCK_SIZE - offset % BLOCK_SIZE;
        if left_in_block < FRAGMENT_HEADER_SIZE {
            // The writer zero-pads a block tail too short for a header; its contents are ignored.
            self.position += left_in_block;
            return;
        }
        if offset >= self.bytes().len() {
            self.finish(self.bytes().len());
            return;
        }
        match parse_fragment(self.bytes(), offset, self.zeros_from) {
            Parsed::ZeroTail => self.finish(offset),
            Parsed::Bad(reason) => self.on_bad_fragment(offset, reason),
            Parsed::Valid {
                fragment_type,
                payload,
            } => {
                self.position = payload.end;
                self.on_valid_fragment(offset, fragment_type, payload);
            }
        }
    }

    fn on_bad_fragment(&mut self, offset: usize, reason: String) {
        let start = self.partial.take().map_or(offset, |partial| partial.start);
        if self.damage.is_none() {
            self.damage = Some(Damage {
                start,
                reason,
                first_bad_fragment: offset,
                valid_fragment_seen: false,
            });
        }
        // The length field of a bad fragment cannot be trusted; only a block boundary is a
        // known fragment start.
        self.position = next_block_start(offset);
    }

    fn on_valid_fragment(
        &mut self,
        offset: usize,
        fragment_type: FragmentType,
        payload: Range<usize>,
    ) {
        if fragment_type.starts_record() {
            let payload = self.bytes().get(payload).unwrap_or_default().to_vec();
            if let Some(partial) = self.partial.take() {
                self.damage = Some(Damage {
                    start: partial.start,
                    reason: format!(
                        "record at offset {} has no LAST fragment: a {fragment_type} fragment \
                         at offset {offset} starts a new record",
                        partial.start
                    ),
                    first_bad_fragment: offset,
                    valid_fragment_seen: true,
                });
            }
            self.flush_damage(offset);
            if fragment_type == FragmentType::Full {
                self.push_record(offset, payload);
            } else {
                self.partial = Some(PartialRecord {
                    start: offset,
                    payload,
                });
            }
            return;
        }
        let Some(partial) = self.partial.as_mut() else {
            self.on_orphan_fragment(offset, fragment_type);
            return;
        };
        let bytes = (*self.file).as_ref();
        partial
            .payload
            .extend_from_slice(bytes.get(payload).unwrap_or_default());
        if fragment_type == FragmentType::Last
            && let Some(partial) = self.partial.take()
        {
            self.push_record(partial.start, partial.payload);
        }
    }

    /// A MIDDLE or LAST fragment with no record in progress: its FIRST was lost (skipped after
    /// damage) or never written. It is skipped as part of a damaged range.
    fn on_orphan_fragment(&mut self, offset: usize, fragment_type: FragmentType) {
        match self.damage.as_mut() {
            Some(damage) => damage.valid_fragment_seen = true,
            None => {
                self.damage = Some(Damage {
                    start: offset,
                    reason: format!("unexpected {fragment_type} fragment without a FIRST fragment"),
                    first_bad_fragment: offset,
                    valid_fragment_seen: true,
                });
            }
        }
    }

    fn push_record(&mut self, offset: usize, payload: Vec<u8>) {
        self.pending.push_back(LogEvent::Record {
            offset: offset as u64,
            payload,
        });
    }

    /// Reports the tracked damage as a corruption in the middle that ends at `end`.
    fn flush_damage(&mut self, end: usize) {
        if let Some(damage) = self.damage.take() {
            self.pending.push_back(LogEvent::Corruption {
                start: damage.start as u64,
                end: end as u64,
                reason: damage.reason,
            });
        }
    }

    /// The written data ends at `end`: report a record left incomplete, and classify any
    /// tracked damage as a torn tail (nothing valid after it) or a corruption in the middle.
    fn finish(&mut self, end: usize) {
        self.finished = true;
        if let Some(partial) = self.partial.take() {
            self.pending.push_back(LogEvent::TornTail {
                offset: partial.start as u64,
                reason: format!(
                    "record at offset {} has no LAST fragment: the log data ends at offset {end}",
                    partial.start
                ),
            });
            return;
        }
        let Some(damage) = self.damage.as_ref() else {
            return;
        };
        let valid_after = damage.valid_fragment_seen
            || any_valid_fragment(self.bytes(), damage.first_bad_fragment + 1, self.zeros_from);
        if valid_after {
            self.flush_damage(end);
        } else if let Some(damage) = self.damage.take() {
            self.pending.push_back(LogEvent::TornTail {
                offset: damage.start as u64,
                reason: damage.reason,
            });
        }
    }
}

impl Iterator for LogReader {
    type Item = LogEvent;

    fn next(&mut self) -> Option<LogEvent> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(event);
            }
            if self.finished {
                return None;
            }
            self.step();
        }
    }
}

/// Decodes the fragment whose header starts at `offset` (at least a header's size before the
/// end of its block). `zeros_from` is the offset from which the file holds only zeros.
fn parse_fragment(bytes: &[u8], offset: usize, zeros_from: usize) -> Parsed {
    let available = bytes.len().saturating_sub(offset);
    let Some(header) = bytes.get(offset..offset + FRAGMENT_HEADER_SIZE) else {
        return Parsed::Bad(format!(
            "fragment header truncated: {available} of {FRAGMENT_HEADER_SIZE} bytes before the end of the file"
        ));
    };
    let (checksum, length, type_byte) = match decode_fragment_header(header) {
        Some(fields) => fields,
        None => return Parsed::Bad("undecodable fragment header".to_string()),
    };
    if checksum == 0 && length == 0 && type_byte == 0 {
        if offset >= zeros_from {
            return Parsed::ZeroTail;
        }
        return Parsed::Bad(format!(
            "zero-filled fragment header, but non-zero bytes follow (up to offset {zeros_from})"
        ));
    }
    let Some(fragment_type) = FragmentType::from_byte(type_byte) else {
        return Parsed::Bad(format!("unknown fragment type {type_byte}"));
    };
    let payload_start = offset + FRAGMENT_HEADER_SIZE;
    let payload_end = payload_start + usize::from(length);
    let block_end = next_block_start(offset);
    if payload_end > block_end {
        return Parsed::Bad(format!(
            "fragment length {length} runs past the end of its block at offset {block_end}"
        ));
    }
    let Some(payload) = bytes.get(payload_start..payload_end) else {
        return Parsed::Bad(format!(
            "fragment payload truncated: {length} bytes declared, {} present before the end of the file",
            available - FRAGMENT_HEADER_SIZE
        ));
    };
    let computed = fragment_checksum(type_byte, payload);
    if computed != checksum {
        return Parsed::Bad(format!(
            "fragment checksum mismatch: stored {checksum:#010x}, computed {computed:#010x}"
        ));
    }
    Parsed::Valid {
        fragment_type,
        payload: payload_start..payload_end,
    }
}

/// The checksum, payload length and type byte of a 7-byte fragment header.
fn decode_fragment_header(header: &[u8]) -> Option<(u32, u16, u8)> {
    let mut cursor = Cursor::new(header);
    let checksum = cursor.u32().ok()?;
    let length = read_u16(&mut cursor)?;
    let type_byte = cursor.u8().ok()?;
    Some((checksum, length, type_byte))
}

/// The next two bytes as a little-endian `u16`.
fn read_u16(cursor: &mut Cursor<'_>) -> Option<u16> {
    let bytes: [u8; 2] = cursor.bytes(2).ok()?.try_into().ok()?;
    Some(u16::from_le_bytes(bytes))
}

/// Whether a valid fragment starts at any byte offset in `from..zeros_from`. Used only to
/// classify damage (torn tail or not), never to resume reading: a match inside a payload would
/// only make the classification more cautious.
fn any_valid_fragment(bytes: &[u8], from: usize, zeros_from: usize) -> bool {
    (from.max(FILE_HEADER_SIZE)..zeros_from).any(|offset| {
        let left_in_block = BLOCK_SIZE - offset % BLOCK_SIZE;
        let type_byte = bytes.get(offset + 6).copied().unwrap_or(0);
        left_in_block >= FRAGMENT_HEADER_SIZE
            && FragmentType::from_byte(type_byte).is_some()
            && matches!(
                parse_fragment(bytes, offset, zeros_from),
                Parsed::Valid { .. }
            )
    })
}

/// The payloads of every valid `FULL` fragment of exactly `payload_length` bytes that starts at
/// any byte offset in `from..` of the log file `bytes`, in file order. A scan of damaged bytes,
/// used only to look for evidence (a write-ahead log's sync markers after damage, whose records
/// a reader cannot resume at): never to replay, since a match may lie inside another record's
/// payload. Checks the header's length and type before the checksum, so it costs little more
/// than reading the bytes.
pub fn scan_full_fragments(
    bytes: &[u8],
    from: u64,
    payload_length: u16,
) -> impl Iterator<Item = (u64, &[u8])> {
    let zeros_from = nonzero_end(bytes);
    let from = usize::try_from(from).unwrap_or(usize::MAX).max(FILE_HEADER_SIZE);
    let wanted_length = payload_length.to_le_bytes();
    (from..zeros_from).filter_map(move |offset| {
        let header = bytes.get(offset + 4..offset + FRAGMENT_HEADER_SIZE)?;
        if header[..2] != wanted_length || header[2] != FragmentType::Full as u8 {
            return None;
        }
        match parse_fragment(bytes, offset, zeros_from) {
            Parsed::Valid { payload, .. } => Some((offset as u64, bytes.get(payload)?)),
            _ => None,
        }
    })
}

/// The size of the chunks [`nonzero_end`] tests at once.
const ZERO_SCAN_CHUNK: usize = 64;

/// The offset just past the last non-zero byte of `bytes` (0 if all are zero): where the zeros
/// that end a preallocated log begin. A preallocated log is mostly zeros until it fills, and
/// opening reads this for every log, so whole chunks are tested with an OR of their bytes (which
/// the compiler vectorises) rather than byte by byte.
fn nonzero_end(bytes: &[u8]) -> usize {
    let chunks = bytes.rchunks_exact(ZERO_SCAN_CHUNK);
    let head = chunks.remainder();
    for (index, chunk) in chunks.enumerate() {
        if chunk.iter().fold(0u8, |any, &byte| any | byte) != 0 {
            let chunk_start = bytes.len() - (index + 1) * ZERO_SCAN_CHUNK;
            let last = chunk.iter().rposition(|&byte| byte != 0).unwrap_or(0);
            return chunk_start + last + 1;
        }
    }
    head.iter().rposition(|&byte| byte != 0).map_or(0, |at| at + 1)
}

/// Validates the file header. `Ok(None)`: a valid header. `Ok(Some(reason))`: a header that was
/// never completely written (the log is empty with a torn tail at 0). `Err`: anything else.
fn check_file_header(path: &Path, bytes: &[u8], kind: LogFileKind) -> Result<Option<String>> {
    let headers: Vec<_> = readable_versions(kind)
        .iter()
        .map(|&version| encode_file_header_version(kind, version))
        .collect();
    if headers
        .iter()
        .any(|expected| bytes.get(..FILE_HEADER_SIZE) == Some(&expected[..]))
    {
        return Ok(None);
    }
    let matching_prefix = headers
        .iter()
        .map(|expected| {
            bytes
                .iter()
                .zip(expected.iter())
                .take_while(|(found, wanted)| found == wanted)
                .count()
        })
        .max()
        .unwrap_or(0);
    if bytes
        .get(matching_prefix..)
        .unwrap_or_default()
        .iter()
        .all(|&byte| byte == 0)
    {
        return Ok(Some(format!(
            "the file header was never completely written ({matching_prefix} of {FILE_HEADER_SIZE} \
             header bytes present, zeros or end of file after them); the log holds no records"
        )));
    }
    Err(describe_bad_header(path, bytes, kind))
}

/// The corruption error for a file header that is present but not a `kind` header of a version
/// this build reads.
fn describe_bad_header(path: &Path, bytes: &[u8], kind: LogFileKind) -> Error {
    let mut cursor = Cursor::new(bytes);
    let magic = cursor.bytes(LOG_MAGIC.len()).unwrap_or(bytes);
    if magic != LOG_MAGIC {
        return Error::corruption(
            path,
            0,
            format!(
                "bad magic number: found {}, expected {} (\"shaleLOG\"); not a shaledb log file",
                hex(magic),
                hex(&LOG_MAGIC)
            ),
        );
    }
    let Some(version) = read_u16(&mut cursor) else {
        return truncated_header(path, bytes, kind);
    };
    let known_kinds = [LogFileKind::Wal, LogFileKind::Manifest];
    if !known_kinds
        .iter()
        .any(|&known| reads_version(known, version))
    {
        return Error::corruption(
            path,
            8,
            format!(
                "unknown log format version {version} (this build reads versions {LOG_FORMAT_VERSION} to {}); a newer shaledb wrote it",
                format_version(LogFileKind::Wal)
            ),
        );
    }
    let (Ok(kind_byte), Ok(reserved), Ok(stored)) = (cursor.u8(), cursor.u8(), cursor.u32()) else {
        return truncated_header(path, bytes, kind);
    };
    let computed = crc32fast::hash(bytes.get(..12).unwrap_or_default());
    if stored != computed {
        return Error::corruption(
            path,
            12,
            format!(
                "file header checksum mismatch: stored {stored:#010x}, computed {computed:#010x}"
            ),
        );
    }
    let found_kind = match LogFileKind::from_byte(kind_byte) {
        Some(found) => found.to_string(),
        None => format!("unknown kind {}", kind_byte),
    };
    if kind_byte != kind.to_byte() {
        return Error::corruption(
            path,
            10,
            format!("log file kind is {found_kind}, expected {kind}"),
        );
    }
    if !reads_version(kind, version) {
        return Error::corruption(
            path,
            8,
            format!(
                "log format version {version} is not a version of {kind} logs (this build reads {kind} logs of versions {LOG_FORMAT_VERSION} to {})",
                format_version(kind)
            ),
        );
    }
    Error::corruption(
        path,
        11,
        format!("reserved file header byte is {:#04x}, expected 0", reserved),
    )
}

fn truncated_header(path: &Path, bytes: &[u8], kind: LogFileKind) -> Error {
    Error::corruption(
        path,
        bytes.len() as u64,
        format!(
            "file header truncated after {} bytes that do not match a {kind} log header",
            bytes.len()
        ),
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonzero_end_finds_the_last_non_zero_byte_at_every_place() {
        for length in [0, 1, 63, 64, 65, 127, 128, 129, 1000] {
            assert_eq!(nonzero_end(&vec![0u8; length]), 0, "all zeros, length {length}");
            for at in 0..length {
                let mut bytes = vec![0u8; length];
                bytes[at] = 0x80;
                if at > 0 {
                    bytes[at / 2] = 1;
                }
                assert_eq!(nonzero_end(&bytes), at + 1, "length {length}, last at {at}");
            }
        }
    }

    /// Reads `bytes` as a WAL, told that its zeros begin at `known_zeros_from` (or not told).
    fn events(bytes: &[u8], known_zeros_from: Option<u64>) -> Vec<LogEvent> {
        let shared: FileBytes = Arc::new(bytes.to_vec());
        match LogReader::from_shared_with("test.wal", shared, LogFileKind::Wal, known_zeros_from)
        {
            Ok(reader) => reader.collect(),
            Err(error) => vec![LogEvent::TornTail {
                offset: u64::MAX,
                reason: error.to_string(),
            }],
        }
    }

    #[test]
    fn a_file_system_that_knows_where_the_zeros_begin_changes_no_event() {
        let records: Vec<Vec<u8>> = (0..40u8).map(|i| vec![i + 1; 300 * usize::from(i)]).collect();
        let log = crate::log::encode_log(LogFileKind::Wal, &records);
        let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
        cases.push(("intact", log.clone()));
        let mut torn = log.clone();
        torn.truncate(log.len() - 100);
        cases.push(("torn at the end", torn));
        let mut flipped = log.clone();
        flipped[20_000] ^= 0x10;
        cases.push(("damaged in the middle", flipped));
        let mut hole = log.clone();
        hole[40_000..44_096].fill(0);
        cases.push(("a zeroed page in the middle", hole));
        cases.push(("header only", log[..FILE_HEADER_SIZE].to_vec()));
        for (name, mut bytes) in cases {
            // Preallocated: zeros up to a whole number of blocks past the data.
            let data_end = bytes.len();
            bytes.resize((data_end / BLOCK_SIZE + 4) * BLOCK_SIZE, 0);
            let unhinted = events(&bytes, None);
            let exact = nonzero_end(&bytes) as u64;
            for hint in [exact, exact + 1, exact.next_multiple_of(4096), bytes.len() as u64, u64::MAX] {
                assert_eq!(events(&bytes, Some(hint)), unhinted, "{name}, zeros from {hint}");
            }
        }
    }
}
