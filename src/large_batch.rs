//! [`LargeBatch`]: an atomic batch of any size, staged on disk as sorted runs and committed
//! with one manifest edit (`ingest.rs`).
//!
//! Operations go into an in-memory buffer per keyspace the batch writes to (keys and values
//! in one byte arena, a 24-byte record per operation); together the buffers hold at most
//! [`LargeBatchOptions::buffer_size`] bytes. When they are full, the largest is sorted by key
//! (the later operation on a key wins, and a range deletion drops the buffered operations
//! before it that it covers) and written as one *run* of its keyspace: an SSTable
//! `NNNNNN.sst` in the database directory, each key once at sequence 0 (FORMAT.md 2 and 5),
//! uncompressed unless [`LargeBatchOptions::compress_runs`], fsynced. No manifest names a run
//! until the commit, so a crash before it leaves nothing visible, and the next open removes
//! the runs with every other unreferenced table (FORMAT.md 6.6). The commit writes the last
//! runs and hands all of them, per keyspace, to `ingest::commit_keyspace_tables`: one manifest
//! edit for every keyspace (tags 14 and 15, FORMAT.md 6.1), run `i` of the commit (counted
//! across keyspaces) read at its first sequence number plus `2i + 1` (its range deletions one
//! below), so a later run of a keyspace wins over an earlier one where they share keys, and a
//! range deletion of a run deletes what runs before it and the database held, never the run's
//! own entries (which come after it in the batch, since the buffer already dropped those
//! before it).
//!
//! Memory: the buffers (at most `buffer_size` plus one operation), while a run is written a
//! sort array of 24 bytes per buffered operation of its keyspace (the key's first 16 bytes
//! beside its index, so that the sort seldom reads the arena), and the open runs' index and
//! filter blocks.
//!
//! Not thread-safe by itself (`&mut self`); a batch may move between threads.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::engine::{Engine, KeyspaceShared, lock};
use crate::error::{Error, Result};
use crate::fs::table_path;
use crate::ingest::{IngestReport, PreparedTable, commit_keyspace_tables, remove_prepared};
use crate::key::{MAX_KEY_SIZE, MAX_VALUE_SIZE, ValueKind, check_key, check_value};
use crate::sstable::{Compression, Table, TableOptions, TableWriter};

/// The smallest [`LargeBatchOptions::buffer_size`] accepted.
const MIN_BUFFER_SIZE: usize = 4 << 10;

/// The error for a batch of keyspace `name`, dropped meanwhile (as `Keyspace` words it).
fn dropped(name: &str) -> Error {
    Error::InvalidArgument(format!(
        "keyspace {name:?} was dropped (Db::drop_keyspace) before the large batch committed"
    ))
}

/// How a [`LargeBatch`] stages its operations.
///
/// ```
/// use shaledb::LargeBatchOptions;
///
/// let options = LargeBatchOptions { buffer_size: 16 << 20, ..LargeBatchOptions::default() };
/// assert_eq!(LargeBatchOptions::default().buffer_size, 64 << 20);
/// assert!(!LargeBatchOptions::default().compress_runs);
/// assert!(options.buffer_size < LargeBatchOptions::default().buffer_size);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LargeBatchOptions {
    /// Bytes of operations (keys, values and 16 bytes each) buffered in memory before they
    /// are sorted and written as one run (default 64 MiB; at least 4 KiB). Larger: fewer,
    /// larger runs, which overlap less; smaller: less memory.
    pub buffer_size: usize,
    /// Compress the runs' blocks with the keyspace's table compression (default `false`: the
    /// runs are written uncompressed). Compression was a third of the CPU time a run took to
    /// write, and the batch is committed sooner without it; the cost is disk space (about
    /// twice the bytes for data LZ4 halves) until a compaction rewrites the runs with the
    /// keyspace's compression, which a run placed in an empty last level may not get until
    /// [`Db::compact_range`](crate::Db::compact_range). Reads right after the commit are no
    /// slower: an uncompressed block is read without being decompressed.
    pub compress_runs: bool,
}

impl Default for LargeBatchOptions {
    fn default() -> Self {
        LargeBatchOptions {
            buffer_size: 64 << 20,
            compress_runs: false,
        }
    }
}

/// One buffered operation: its key and value in the arena.
#[derive(Debug, Clone, Copy)]
struct BufferedOperation {
    offset: usize,
    key_length: u32,
    value_length: u32,
    kind: ValueKind,
}

/// A buffered operation in the sort of a run: the first 16 bytes of its key (zero-padded, as
/// two big-endian words) and its index. Prefixes order as their keys do wherever they differ
/// (a shorter key padded with zeros sorts before any longer key it starts); equal prefixes
/// need the whole keys compared.
#[derive(Debug, Clone, Copy)]
struct SortEntry {
    prefix: (u64, u64),
    index: u32,
}

impl SortEntry {
    fn new(key: &[u8], index: u32) -> SortEntry {
        let mut padded = [0u8; 16];
        let length = key.len().min(16);
        padded[..length].copy_from_slice(&key[..length]);
        let (high, low) = padded.split_at(8);
        let word = |bytes: &[u8]| u64::from_be_bytes(bytes.try_into().unwrap_or([0; 8]));
        SortEntry {
            prefix: (word(high), word(low)),
            index,
        }
    }
}

/// A range deletion buffered after `position` operations.
#[derive(Debug, Clone)]
struct BufferedRange {
    start: Vec<u8>,
    end: Vec<u8>,
    position: usize,
}

/// The operations of the run being gathered.
#[derive(Debug, Default)]
struct RunBuffer {
    arena: Vec<u8>,
    operations: Vec<BufferedOperation>,
    ranges: Vec<BufferedRange>,
    range_bytes: usize,
}

impl RunBuffer {
    fn size(&self) -> usize {
        self.arena.len()
            + self.operations.len() * std::mem::size_of::<BufferedOperation>()
            + self.range_bytes
    }

    fn is_empty(&self) -> bool {
        self.operations.is_empty() && self.ranges.is_empty()
    }

    fn push(&mut self, key: &[u8], kind: ValueKind, value: &[u8]) {
        self.operations.push(BufferedOperation {
            offset: self.arena.len(),
            // Both fit: keys and values were checked against MAX_KEY_SIZE and MAX_VALUE_SIZE.
            key_length: key.len() as u32,
            value_length: value.len() as u32,
            kind,
        });
        self.arena.extend_from_slice(key);
        self.arena.extend_from_slice(value);
    }

    fn key(&self, operation: &BufferedOperation) -> &[u8] {
        let end = operation.offset + operation.key_length as usize;
        self.arena.get(operation.offset..end).unwrap_or(&[])
    }

    fn value(&self, operation: &BufferedOperation) -> &[u8] {
        let start = operation.offset + operation.key_length as usize;
        let end = start + operation.value_length as usize;
        self.arena.get(start..end).unwrap_or(&[])
    }

    /// Whether a range deletion buffered after operation `index` covers `key`.
    fn deleted_later(&self, index: usize, key: &[u8]) -> bool {
        self.ranges.iter().any(|range| {
            range.position > index && range.start.as_slice() <= key && key < range.end.as_slice()
        })
    }

    /// The operations to write, in key order: the last one of each key, unless a later range
    /// deletion of the buffer covers it.
    ///
    /// The sort moves 24-byte entries holding the key's first 16 bytes beside the operation's
    /// index, so that most comparisons touch no arena byte (a sort of bare indexes into the
    /// arena missed the cache on every comparison); only keys sharing those 16 bytes are
    /// compared in full.
    fn sorted_survivors(&self) -> Vec<u32> {
        let mut order: Vec<SortEntry> = self
            .operations
            .iter()
            .enumerate()
            .map(|(index, operation)| SortEntry::new(self.key(operation), index as u32))
            .collect();
        let key_of = |index: u32| {
            self.operations
                .get(index as usize)
                .map_or(&[][..], |operation| self.key(operation))
        };
        order.sort_unstable_by(|a, b| {
            a.prefix
                .cmp(&b.prefix)
                .then_with(|| key_of(a.index).cmp(key_of(b.index)))
                .then(a.index.cmp(&b.index))
        });
        let same_key = |a: &SortEntry, b: &SortEntry| {
            a.prefix == b.prefix && key_of(a.index) == key_of(b.index)
        };
        let mut survivors = Vec::with_capacity(order.len());
        for (position, entry) in order.iter().enumerate() {
            let superseded = order
                .get(position + 1)
                .is_some_and(|next| same_key(entry, next));
            if superseded
                || (!self.ranges.is_empty()
                    && self.deleted_later(entry.index as usize, key_of(entry.index)))
            {
                continue;
            }
            survivors.push(entry.index);
        }
        survivors
    }

    fn clear(&mut self) {
        self.arena.clear();
        self.operations.clear();
        self.ranges.clear();
        self.range_bytes = 0;
    }
}

/// An atomic batch of any size (see the module documentation of `large_batch.rs` for how it is
/// staged): [`put`](Self::put), [`delete`](Self::delete) and
/// [`delete_range`](Self::delete_range) in any key order, the later operation on a key winning,
/// then [`commit`](Self::commit). Readers see none of it before the commit returns and all of it
/// after; a crash before the commit leaves nothing of it, and one after keeps it whole. A batch
/// dropped without `commit` is aborted: its staged files are removed.
///
/// The batch is committed above every write committed before [`commit`](Self::commit) is
/// called, including those made while it was staged; snapshots taken before the commit do not
/// see it.
///
/// ```
/// use shaledb::{Db, Options};
///
/// let dir = tempfile::tempdir()?;
/// let db = Db::open(dir.path(), Options::default())?;
/// db.put(b"counter", b"old")?;
/// let mut batch = db.large_batch()?;
/// for index in 0..10_000u32 {
///     batch.put(format!("key{index:05}").as_bytes(), b"value")?;
/// }
/// batch.put(b"counter", b"new")?;
/// assert_eq!(db.get(b"key00042")?, None); // nothing before the commit
/// let report = batch.commit()?;
/// assert_eq!(report.entries, 10_001);
/// assert_eq!(db.get(b"key00042")?.as_deref(), Some(&b"value"[..]));
/// assert_eq!(db.get(b"counter")?.as_deref(), Some(&b"new"[..]));
/// # Ok::<(), shaledb::Error>(())
/// ```
pub struct LargeBatch {
    engine: Arc<Engine>,
    /// One part per keyspace the batch writes to; the first is the keyspace it was made for.
    parts: Vec<Part>,
    buffer_size: usize,
    compress_runs: bool,
    operations: u64,
}

/// What a [`LargeBatch`] holds for one keyspace: its buffered operations and its runs.
struct Part {
    keyspace: Arc<KeyspaceShared>,
    table_options: TableOptions,
    buffer: RunBuffer,
    runs: Vec<PreparedTable>,
}

impl std::fmt::Debug for LargeBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keyspaces: Vec<&str> = self
            .parts
            .iter()
            .map(|part| part.keyspace.name.as_str())
            .collect();
        f.debug_struct("LargeBatch")
            .field("keyspaces", &keyspaces)
            .field("operations", &self.operations)
            .field("runs", &self.staged_runs())
            .finish_non_exhaustive()
    }
}

impl LargeBatch {
    /// A batch for keyspace `keyspace` of `engine` (`Keyspace::large_batch_with`).
    pub(crate) fn new(
        engine: Arc<Engine>,
        keyspace: Arc<KeyspaceShared>,
        options: &LargeBatchOptions,
    ) -> Result<LargeBatch> {
        if options.buffer_size < MIN_BUFFER_SIZE {
            return Err(Error::InvalidArgument(format!(
                "LargeBatchOptions::buffer_size is {}; it must be at least {MIN_BUFFER_SIZE}",
                options.buffer_size
            )));
        }
        let mut batch = LargeBatch {
            engine,
            parts: Vec::new(),
            buffer_size: options.buffer_size,
            compress_runs: options.compress_runs,
            operations: 0,
        };
        batch.part_of(&Arc::clone(&batch.engine), &keyspace)?;
        Ok(batch)
    }

    /// The index of the part of `keyspace` (of the database of `engine`), made if the batch
    /// has none yet (`LargeBatch::put_in` and the like, in `keyspace.rs`). A keyspace of
    /// another database is refused.
    pub(crate) fn part_of(
        &mut self,
        engine: &Arc<Engine>,
        keyspace: &Arc<KeyspaceShared>,
    ) -> Result<usize> {
        if !Arc::ptr_eq(engine, &self.engine) {
            return Err(Error::InvalidArgument(
                "a large batch holds keyspaces of two databases; a batch is committed to the \
                 database it was made from"
                    .into(),
            ));
        }
        if let Some(index) = self
            .parts
            .iter()
            .position(|part| part.keyspace.id == keyspace.id)
        {
            return Ok(index);
        }
        if keyspace.dropped.load(Ordering::Acquire) {
            return Err(dropped(&keyspace.name));
        }
        let mut table_options = lock(&self.engine.state)
            .keyspace_options(keyspace.id)
            .map(|options| options.table.clone())
            .ok_or_else(|| dropped(&keyspace.name))?;
        if !self.compress_runs {
            table_options.compression = Compression::None;
        }
        self.parts.push(Part {
            keyspace: Arc::clone(keyspace),
            table_options,
            buffer: RunBuffer::default(),
            runs: Vec::new(),
        });
        Ok(self.parts.len() - 1)
    }

    /// Sets `key` to `value` when the batch commits. Keys and values have the limits of
    /// [`Db::put`](crate::Db::put) (`Error::InvalidArgument` beyond them).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = shaledb::Db::open(dir.path(), shaledb::Options::default())?;
    /// let mut batch = db.large_batch()?;
    /// batch.put(b"b", b"2")?;
    /// batch.put(b"a", b"1")?; // any order
    /// batch.put(b"b", b"3")?; // the later one wins
    /// batch.commit()?;
    /// assert_eq!(db.get(b"b")?.as_deref(), Some(&b"3"[..]));
    /// # Ok::<(), shaledb::Error>(())
    /// ```
    pub fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.put_at(0, key, value)
    }

    /// A put into the keyspace of part `index`.
    pub(crate) fn put_at(&mut self, index: usize, key: &[u8], value: &[u8]) -> Result<()> {
        check_key(key)?;
        let Some(part) = self.parts.get(index) else {
            return Err(Error::InvalidArgument(
                "no such keyspace in the batch".into(),
            ));
        };
        if part.keyspace.expiring() {
            // A keyspace of expiring values: the value carries its expiry (FORMAT.md 7.3).
            crate::batch::check_expiring_value(value)?;
            let stored =
                crate::compaction_filter::with_expiry(part.keyspace.default_expiry(), value);
            return self.add(index, key, ValueKind::Value, &stored);
        }
        check_value(value)?;
        self.add(index, key, ValueKind::Value, value)
    }

    /// Deletes `key` when the batch commits.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = shaledb::Db::open(dir.path(), shaledb::Options::default())?;
    /// db.put(b"k", b"v")?;
    /// let mut batch = db.large_batch()?;
    /// batch.delete(b"k")?;
    /// batch.commit()?;
    /// assert_eq!(db.get(b"k")?, None);
    /// # Ok::<(), shaledb::Error>(())
    /// ```
    pub fn delete(&mut self, key: &[u8]) -> Result<()> {
        self.delete_at(0, key)
    }

    /// A delete in the keyspace of part `index`.
    pub(crate) fn delete_at(&mut self, index: usize, key: &[u8]) -> Result<()> {
        check_key(key)?;
        self.add(index, key, ValueKind::Tombstone, &[])
    }

    /// Deletes every key in `[start, end)` when the batch commits: what the database held and
    /// what the batch wrote before this call; the batch's later operations in the range stay.
    /// An empty range (`start >= end`) does nothing.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = shaledb::Db::open(dir.path(), shaledb::Options::default())?;
    /// db.put(b"log/1", b"old")?;
    /// let mut batch = db.large_batch()?;
    /// batch.put(b"log/2", b"written before the range deletion")?;
    /// batch.delete_range(b"log/", b"log0")?;
    /// batch.put(b"log/3", b"written after it")?;
    /// batch.commit()?;
    /// assert_eq!(db.get(b"log/1")?, None);
    /// assert_eq!(db.get(b"log/2")?, None);
    /// assert_eq!(db.get(b"log/3")?.as_deref(), Some(&b"written after it"[..]));
    /// # Ok::<(), shaledb::Error>(())
    /// ```
    pub fn delete_range(&mut self, start: &[u8], end: &[u8]) -> Result<()> {
        self.delete_range_at(0, start, end)
    }

    /// A range deletion in the keyspace of part `index`.
    pub(crate) fn delete_range_at(&mut self, index: usize, start: &[u8], end: &[u8]) -> Result<()> {
        check_key(start)?;
        check_key(end)?;
        if start >= end {
            return Ok(());
        }
        let Some(part) = self.parts.get_mut(index) else {
            return Err(Error::InvalidArgument(
                "no such keyspace in the batch".into(),
            ));
        };
        let buffer = &mut part.buffer;
        buffer.range_bytes += start.len() + end.len() + std::mem::size_of::<BufferedRange>();
        buffer.ranges.push(BufferedRange {
            start: start.to_vec(),
            end: end.to_vec(),
            position: buffer.operations.len(),
        });
        self.operations += 1;
        self.write_run_if_full()
    }

    fn add(&mut self, index: usize, key: &[u8], kind: ValueKind, value: &[u8]) -> Result<()> {
        debug_assert!(key.len() <= MAX_KEY_SIZE && value.len() <= MAX_VALUE_SIZE);
        let Some(part) = self.parts.get_mut(index) else {
            return Err(Error::InvalidArgument(
                "no such keyspace in the batch".into(),
            ));
        };
        part.buffer.push(key, kind, value);
        self.operations += 1;
        self.write_run_if_full()
    }

    /// When the buffers of all keyspaces hold `buffer_size` bytes or more, writes the largest
    /// one as a run (so the batch's memory stays bounded however many keyspaces it spans).
    fn write_run_if_full(&mut self) -> Result<()> {
        let buffered: usize = self.parts.iter().map(|part| part.buffer.size()).sum();
        if buffered < self.buffer_size {
            return Ok(());
        }
        let largest = (0..self.parts.len())
            .max_by_key(|&index| self.parts.get(index).map_or(0, |part| part.buffer.size()));
        match largest {
            Some(index) => self.write_run(index),
            None => Ok(()),
        }
    }

    /// Operations added so far (puts, deletes and range deletions), in every keyspace.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = shaledb::Db::open(dir.path(), shaledb::Options::default())?;
    /// let mut batch = db.large_batch()?;
    /// batch.put(b"a", b"1")?;
    /// batch.delete(b"a")?;
    /// assert_eq!(batch.len(), 2);
    /// assert!(!batch.is_empty());
    /// # Ok::<(), shaledb::Error>(())
    /// ```
    pub fn len(&self) -> u64 {
        self.operations
    }

    /// Whether no operation was added.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = shaledb::Db::open(dir.path(), shaledb::Options::default())?;
    /// assert!(db.large_batch()?.is_empty());
    /// # Ok::<(), shaledb::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.operations == 0
    }

    /// Runs written to disk so far, in every keyspace (each keyspace's buffer is written as one
    /// more at the commit).
    ///
    /// ```
    /// use shaledb::LargeBatchOptions;
    /// # let dir = tempfile::tempdir()?;
    /// # let db = shaledb::Db::open(dir.path(), shaledb::Options::default())?;
    /// let options = LargeBatchOptions { buffer_size: 4096, ..LargeBatchOptions::default() };
    /// let mut batch = db.large_batch_with(&options)?;
    /// for index in 0..1_000u32 {
    ///     batch.put(&index.to_be_bytes(), &[7; 100])?;
    /// }
    /// assert!(batch.staged_runs() > 1);
    /// # Ok::<(), shaledb::Error>(())
    /// ```
    pub fn staged_runs(&self) -> usize {
        self.parts.iter().map(|part| part.runs.len()).sum()
    }

    /// Sorts the buffer of part `index` and writes it as one run (see the module
    /// documentation).
    fn write_run(&mut self, index: usize) -> Result<()> {
        let engine = Arc::clone(&self.engine);
        let Some(part) = self.parts.get_mut(index) else {
            return Ok(());
        };
        if part.buffer.is_empty() {
            return Ok(());
        }
        if part.keyspace.dropped.load(Ordering::Acquire) {
            return Err(dropped(&part.keyspace.name));
        }
        engine.check_writable()?;
        let number = lock(&engine.state).versions.allocate_file_number();
        let path = table_path(&engine.dir, number);
        let written = part.write_run_file(&engine, &path);
        let opened = written.and_then(|()| {
            Table::open_on(
                engine.file_system(),
                &path,
                number,
                Some(Arc::clone(&engine.cache)),
            )
        });
        match opened {
            Ok(table) => {
                part.runs.push(PreparedTable { number, table });
                part.buffer.clear();
                Ok(())
            }
            Err(error) => {
                let _ = crate::fs::remove_file(engine.file_system(), &path);
                Err(error)
            }
        }
    }

    /// Writes the last runs and commits every run of every keyspace in one manifest edit, at
    /// one range of sequence numbers above every write committed before: see [`LargeBatch`].
    /// An empty batch commits nothing. On error nothing of the batch is visible, in any
    /// keyspace, and its runs are removed (after a failed manifest append, the next open keeps
    /// or removes them, whole, as the record did or did not reach the disk).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = shaledb::Db::open(dir.path(), shaledb::Options::default())?;
    /// let before = db.snapshot();
    /// let mut batch = db.large_batch()?;
    /// batch.put(b"k", b"v")?;
    /// let report = batch.commit()?;
    /// assert!(report.first_sequence > before.sequence());
    /// let at_before = shaledb::ReadOptions { snapshot: Some(&before), ..Default::default() };
    /// assert_eq!(db.get_with(b"k", &at_before)?, None);
    /// assert_eq!(db.get(b"k")?.as_deref(), Some(&b"v"[..]));
    /// # Ok::<(), shaledb::Error>(())
    /// ```
    pub fn commit(mut self) -> Result<IngestReport> {
        for index in 0..self.parts.len() {
            if let Err(error) = self.write_run(index) {
                self.abort_runs();
                return Err(error);
            }
        }
        if let Some(part) = self
            .parts
            .iter()
            .find(|part| part.keyspace.dropped.load(Ordering::Acquire))
        {
            let error = dropped(&part.keyspace.name);
            self.abort_runs();
            return Err(error);
        }
        let groups = self
            .parts
            .iter_mut()
            .map(|part| (part.keyspace.id, std::mem::take(&mut part.runs)))
            .collect();
        commit_keyspace_tables(&self.engine, groups)
    }

    /// Drops the batch and removes its staged runs (what dropping it does too).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let db = shaledb::Db::open(dir.path(), shaledb::Options::default())?;
    /// let mut batch = db.large_batch()?;
    /// batch.put(b"k", b"v")?;
    /// batch.abort();
    /// assert_eq!(db.get(b"k")?, None);
    /// # Ok::<(), shaledb::Error>(())
    /// ```
    pub fn abort(mut self) {
        self.abort_runs();
    }

    fn abort_runs(&mut self) {
        for part in &mut self.parts {
            let runs = std::mem::take(&mut part.runs);
            remove_prepared(&self.engine, &runs);
            part.buffer.clear();
        }
    }
}

impl Part {
    fn write_run_file(&self, engine: &Engine, path: &std::path::Path) -> Result<()> {
        let file_system = Arc::clone(&engine.options.file_system);
        let mut writer = TableWriter::create_on(file_system, path, &self.table_options)?;
        let buffer = &self.buffer;
        for index in buffer.sorted_survivors() {
            let Some(operation) = buffer.operations.get(index as usize) else {
                continue;
            };
            let key = buffer.key(operation);
            match operation.kind {
                ValueKind::Value => writer.put(key, buffer.value(operation))?,
                ValueKind::Tombstone => writer.delete(key)?,
                // `add` takes puts and deletes only.
                ValueKind::Merge => {
                    return Err(Error::InvalidArgument(
                        "a large batch holds no merge operands".into(),
                    ));
                }
            }
        }
        for range in &buffer.ranges {
            writer.delete_range(&range.start, &range.end)?;
        }
        writer.finish().map(|_| ())
    }
}

impl Drop for LargeBatch {
    fn drop(&mut self) {
        self.abort_runs();
    }
}
