//! [`LogWriter`]: appends records to a log file, fragmenting them into 32 KiB blocks.
//! FORMAT.md, section 4 "Log format", is the source of truth for the bytes.
//!
//! Invariants:
//! - `offset` is the logical end of the data written so far; every byte before it has been handed
//!   to the operating system with `write` (it survives a process crash, not an OS crash until
//!   [`LogWriter::sync`] returns).
//! - One call to [`LogWriter::add_records`] is one `write` of the whole encoded group, so that
//!   group commit costs one system call per group.
//! - After a failed write or sync the writer is *poisoned*: the file may hold a partial record,
//!   or data the kernel dropped, so every later call fails with [`Error::ReadOnly`] instead of
//!   pretending the log is intact. It is never retried.
//!
//! Not thread-safe by itself: the engine serialises writers (one group-commit leader at a time).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::format::{
    BLOCK_SIZE, FILE_HEADER_SIZE, FRAGMENT_HEADER_SIZE, FragmentType, LogFileKind,
    encode_file_header, fragment_checksum,
};
use crate::error::{Error, Result};
use crate::vfs::{FileSync, FileSystem, OsFileSystem, WritableFile};

/// The encode buffer keeps at most this much capacity between calls, so that one huge record
/// does not pin its memory for the life of the writer.
const RETAINED_BUFFER_CAPACITY: usize = 1024 * 1024;

/// Appends records to a log file (a write-ahead log or a manifest).
#[derive(Debug)]
pub struct LogWriter {
    file: Box<dyn WritableFile>,
    path: PathBuf,
    kind: LogFileKind,
    offset: u64,
    /// The logical end of the data covered by the last successful sync.
    synced_offset: u64,
    buffer: Vec<u8>,
    poisoned: Option<String>,
}

impl LogWriter {
    /// Creates (or truncates) the log file at `path` and writes its file header.
    ///
    /// The header is written to the OS but not synced: it becomes durable with the first
    /// [`sync`](Self::sync). This does **not** sync the directory; the caller must call
    /// [`crate::fs::sync_dir`] on the parent directory before relying on the file's existence
    /// after a crash.
    pub fn create(path: &Path, kind: LogFileKind) -> Result<Self> {
        Self::create_on(&OsFileSystem, path, kind)
    }

    /// [`create`](Self::create) through `file_system`.
    pub fn create_on(file_system: &dyn FileSystem, path: &Path, kind: LogFileKind) -> Result<Self> {
        let file = open_for_writing(file_system, path)?;
        let mut writer = LogWriter::new(file, path, kind);
        writer.write_file_header()?;
        Ok(writer)
    }

    /// Creates (or truncates) the log file at `path`, preallocates it with zeros up to `bytes`
    /// (rounded up to a whole number of blocks, at least one; [`WritableFile::preallocate`]:
    /// the operating system's file system reserves the space without writing the zeros),
    /// writes the file header over the first of them and syncs it all; later records overwrite
    /// the zeros after the header.
    ///
    /// Overwriting preallocated bytes in place makes each later [`sync`](Self::sync) cheaper
    /// than syncing an append, because the file size and block map do not change. Readers treat
    /// the zeros after the last record as a clean end. Records that outgrow the preallocation
    /// simply extend the file. The reserved space also means that a full disk does not fail a
    /// write within the preallocation. As with [`create`](Self::create), the caller syncs the
    /// directory.
    pub fn create_preallocated(path: &Path, kind: LogFileKind, bytes: u64) -> Result<Self> {
        Self::create_preallocated_on(&OsFileSystem, path, kind, bytes)
    }

    /// [`create_preallocated`](Self::create_preallocated) through `file_system`.
    pub fn create_preallocated_on(
        file_system: &dyn FileSystem,
        path: &Path,
        kind: LogFileKind,
        bytes: u64,
    ) -> Result<Self> {
        let mut file = open_for_writing(file_system, path)?;
        let length = preallocated_length(bytes);
        file.preallocate(length)
            .map_err(|error| Error::io(path, error))?;
        let mut writer = LogWriter::new(file, path, kind);
        writer.write_file_header()?;
        // The header is synced with the zeros: after a power loss a preallocated log always has
        // its header, so a zeroed header is damage, never a log that was not used yet.
        writer
            .file
            .sync_all()
            .map_err(|error| Error::io(path, error))?;
        writer.synced_offset = writer.offset;
        Ok(writer)
    }

    fn new(file: Box<dyn WritableFile>, path: &Path, kind: LogFileKind) -> Self {
        LogWriter {
            file,
            path: path.to_path_buf(),
            kind,
            offset: 0,
            synced_offset: 0,
            buffer: Vec::new(),
            poisoned: None,
        }
    }

    fn write_file_header(&mut self) -> Result<()> {
        self.buffer.clear();
        self.buffer
            .extend_from_slice(&encode_file_header(self.kind));
        self.write_buffer(FILE_HEADER_SIZE as u64)
    }

    /// Appends one record and hands it to the OS in one `write`. An empty payload is a valid
    /// record. After this returns the record survives a process crash; call
    /// [`sync`](Self::sync) to make it survive an OS crash or power loss.
    pub fn add_record(&mut self, payload: &[u8]) -> Result<()> {
        self.add_records([payload])
    }

    /// Appends several records in order with a single `write` call (group commit). Either the
    /// call succeeds and all records were handed to the OS, or the writer is poisoned.
    pub fn add_records<I>(&mut self, payloads: I) -> Result<()>
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        self.check_usable()?;
        self.buffer.clear();
        let mut offset = self.offset;
        for payload in payloads {
            offset = encode_record(&mut self.buffer, offset, payload.as_ref());
        }
        self.write_buffer(offset)?;
        if self.buffer.capacity() > RETAINED_BUFFER_CAPACITY {
            self.buffer = Vec::new();
        }
        Ok(())
    }

    /// Makes everything written so far durable with `fdatasync` (`File::sync_data`).
    ///
    /// A failed sync poisons the writer: the kernel may have dropped the dirty pages, so a later
    /// successful sync would not mean the earlier records are on disk.
    pub fn sync(&mut self) -> Result<()> {
        self.check_usable()?;
        if let Err(error) = self.file.sync_data() {
            self.poisoned = Some(format!("sync failed: {error}"));
            return Err(Error::io(&self.path, error));
        }
        self.synced_offset = self.offset;
        Ok(())
    }

    /// A handle that syncs this log's file from another thread while records go on being
    /// appended here (`WritableFile::sync_handle`), or `None` if the file system has none.
    pub fn sync_handle(&self) -> Result<Option<Arc<dyn FileSync>>> {
        self.file
            .sync_handle()
            .map_err(|error| Error::io(&self.path, error))
    }

    /// The logical end of the data the last successful [`sync`](Self::sync) made durable (for a
    /// preallocated log, at least the file header).
    pub fn synced_offset(&self) -> u64 {
        self.synced_offset
    }

    /// The logical end of the data written so far, as a byte offset in the file. For a
    /// preallocated file this is less than the file's length.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The path of the log file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The kind of log this writer writes.
    pub fn kind(&self) -> LogFileKind {
        self.kind
    }

    /// Whether an earlier write or sync failed, so that the writer refuses further use.
    pub fn is_poisoned(&self) -> bool {
        self.poisoned.is_some()
    }

    fn check_usable(&self) -> Result<()> {
        match &self.poisoned {
            None => Ok(()),
            Some(cause) => Err(Error::ReadOnly(format!(
                "log writer for {} is unusable after an earlier failure ({cause})",
                self.path.display()
            ))),
        }
    }

    /// Writes the encode buffer and moves the logical end to `new_offset`, or poisons.
    fn write_buffer(&mut self, new_offset: u64) -> Result<()> {
        let written = self.file.write_all(&self.buffer);
        if let Err(error) = written {
            self.poisoned = Some(format!("write failed: {error}"));
            return Err(Error::io(&self.path, error));
        }
        self.offset = new_offset;
        Ok(())
    }
}

fn open_for_writing(file_system: &dyn FileSystem, path: &Path) -> Result<Box<dyn WritableFile>> {
    file_system
        .create(path)
        .map_err(|error| Error::io(path, error))
}

/// The length [`LogWriter::create_preallocated`] gives a file asked for `bytes`: `bytes` rounded
/// up to a whole number of blocks, and at least one block.
pub fn preallocated_length(bytes: u64) -> u64 {
    let block = BLOCK_SIZE as u64;
    bytes.div_ceil(block).max(1).saturating_mul(block)
}

/// Appends to `out` the bytes of one record written at file offset `offset` (the logical end of
/// the log before it), and returns the logical end after it.
///
/// When fewer than [`FRAGMENT_HEADER_SIZE`] bytes are left in the current block they are filled
/// with zeros and the record starts in the next block. Exactly seven bytes left hold a FIRST
/// fragment with an empty payload.
pub fn encode_record(out: &mut Vec<u8>, offset: u64, payload: &[u8]) -> u64 {
    let mut offset = offset;
    let mut remaining = payload;
    let mut is_first = true;
    loop {
        let block_offset = (offset % BLOCK_SIZE as u64) as usize;
        let left_in_block = BLOCK_SIZE - block_offset;
        if left_in_block < FRAGMENT_HEADER_SIZE {
            out.resize(out.len() + left_in_block, 0);
            offset += left_in_block as u64;
            continue;
        }
        let available = left_in_block - FRAGMENT_HEADER_SIZE;
        let (fragment, rest) = remaining.split_at(remaining.len().min(available));
        let is_last = rest.is_empty();
        let fragment_type = match (is_first, is_last) {
            (true, true) => FragmentType::Full,
            (true, false) => FragmentType::First,
            (false, false) => FragmentType::Middle,
            (false, true) => FragmentType::Last,
        };
        put_fragment(out, fragment_type, fragment);
        offset += (FRAGMENT_HEADER_SIZE + fragment.len()) as u64;
        remaining = rest;
        is_first = false;
        if is_last {
            return offset;
        }
    }
}

fn put_fragment(out: &mut Vec<u8>, fragment_type: FragmentType, payload: &[u8]) {
    let type_byte = fragment_type as u8;
    let length = u16::try_from(payload.len()).expect("a fragment is smaller than a block");
    out.extend_from_slice(&fragment_checksum(type_byte, payload).to_le_bytes());
    out.extend_from_slice(&length.to_le_bytes());
    out.push(type_byte);
    out.extend_from_slice(payload);
}

/// Encodes a whole log file in memory: the file header of `kind`, then `payloads` as records.
///
/// The bytes are identical to what [`LogWriter::create`] followed by
/// [`LogWriter::add_records`] writes; meant for tests, fuzzing and tools.
pub fn encode_log<I>(kind: LogFileKind, payloads: I) -> Vec<u8>
where
    I: IntoIterator,
    I::Item: AsRef<[u8]>,
{
    let mut out = encode_file_header(kind).to_vec();
    let mut offset = out.len() as u64;
    for payload in payloads {
        offset = encode_record(&mut out, offset, payload.as_ref());
    }
    debug_assert_eq!(offset, out.len() as u64);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_write_poisons_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("000001.wal");
        let file_system = crate::vfs::FaultFileSystem::new();
        let file = file_system.create(&path).unwrap();
        let mut writer = LogWriter::new(file, &path, LogFileKind::Wal);
        file_system.fail_write(1, crate::vfs::FileClass::Wal);
        let first = writer.add_record(b"lost").unwrap_err();
        assert!(matches!(first, Error::Io { .. }), "{first}");
        assert!(writer.is_poisoned());
        assert_eq!(
            writer.offset(),
            0,
            "a failed write must not advance the offset"
        );
        let second = writer.add_record(b"again").unwrap_err();
        assert!(matches!(second, Error::ReadOnly(_)), "{second}");
        assert!(matches!(writer.sync(), Err(Error::ReadOnly(_))));
    }

    #[test]
    fn preallocated_length_rounds_up_to_blocks() {
        let block = BLOCK_SIZE as u64;
        assert_eq!(preallocated_length(0), block);
        assert_eq!(preallocated_length(1), block);
        assert_eq!(preallocated_length(block), block);
        assert_eq!(preallocated_length(block + 1), 2 * block);
    }

    #[test]
    fn record_end_matches_what_the_writer_writes() {
        let block = crate::log::format::BLOCK_SIZE as u64;
        let offsets = [16, 100, block - 8, block - 7, block + 3, 3 * block - 20];
        let lengths = [
            0,
            1,
            6,
            7,
            500,
            crate::log::format::BLOCK_SIZE - 7,
            crate::log::format::BLOCK_SIZE,
            3 * crate::log::format::BLOCK_SIZE + 11,
        ];
        for offset in offsets {
            for length in lengths {
                let mut out = Vec::new();
                let end = encode_record(&mut out, offset, &vec![9u8; length]);
                assert_eq!(
                    crate::log::format::record_end(offset, length),
                    end,
                    "offset {offset}, length {length}"
                );
            }
        }
    }
}
