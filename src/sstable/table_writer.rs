//! [`TableWriter`]: the public way to build an SSTable outside a database, for
//! [`Db::ingest`](crate::Db::ingest) to take in whole (what RocksDB users know as
//! `SstFileWriter`).
//!
//! The file is an ordinary SSTable (FORMAT.md 5) whose entries all carry sequence number 0 and
//! whose user keys strictly increase: each key once, so that a database can read every entry
//! at the one sequence number it gives the table when it takes it in (FORMAT.md 6.1, tag 14).
//! Range deletions go into the table's range-deletion block (FORMAT.md 5.10), also at sequence
//! 0; once ingested they delete what the database held before, never the table's own entries.
//!
//! A large batch (`large_batch.rs`) writes its sorted runs with the same rules through
//! [`TableWriter::create_on`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::key::{SequenceNumber, ValueKind, append_internal_key, check_key, check_value};
use crate::range_tombstone::{Fragments, RangeTombstone};
use crate::sstable::builder::TableBuilder;
use crate::sstable::options::TableOptions;
use crate::vfs::{FileSystem, OsFileSystem};

/// What a finished [`TableWriter`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TableInfo {
    /// The file written.
    pub path: PathBuf,
    /// Its size in bytes.
    pub file_size: u64,
    /// Entries written (puts and deletes).
    pub entry_count: u64,
    /// Range deletions written.
    pub range_deletion_count: u64,
    /// The first and last user key of the entries (`None` for a table of range deletions
    /// only).
    pub key_range: Option<(Vec<u8>, Vec<u8>)>,
}

/// Builds an SSTable file for [`Db::ingest`](crate::Db::ingest): `put` and `delete` in
/// strictly increasing key order (bytewise), any number of `delete_range`, then `finish`,
/// which fsyncs the file. A writer dropped without `finish` removes its partial file.
///
/// ```
/// use shaledb::{Db, Options, TableOptions, TableWriter};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("users.sst");
/// let mut writer = TableWriter::create(&path, &TableOptions::default())?;
/// writer.put(b"user/1", b"ada")?;
/// writer.put(b"user/2", b"grace")?;
/// writer.delete(b"user/3")?;
/// // Keys must strictly increase.
/// assert!(writer.put(b"user/0", b"late").is_err());
/// let info = writer.finish()?;
/// assert_eq!(info.entry_count, 3);
///
/// let db = Db::open(dir.path().join("db"), Options::default())?;
/// db.ingest(&[&path])?;
/// assert_eq!(db.get(b"user/2")?.as_deref(), Some(&b"grace"[..]));
/// # Ok::<(), shaledb::Error>(())
/// ```
pub struct TableWriter {
    builder: Option<TableBuilder>,
    path: PathBuf,
    last_key: Option<Vec<u8>>,
    range_tombstones: Vec<RangeTombstone>,
    /// The internal key of the entry being added, reused (no allocation per entry).
    internal_key: Vec<u8>,
}

impl std::fmt::Debug for TableWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableWriter")
            .field("path", &self.path)
            .field("entry_count", &self.entry_count())
            .finish()
    }
}

impl TableWriter {
    /// Creates (or truncates) the file at `path` and starts a table in it with `options`
    /// (block size, restart interval, bloom filter, compression: a database reads any).
    ///
    /// ```
    /// use shaledb::{Compression, TableOptions, TableWriter};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let options = TableOptions { compression: Compression::None, ..TableOptions::default() };
    /// let writer = TableWriter::create(dir.path().join("t.sst"), &options)?;
    /// assert_eq!(writer.entry_count(), 0);
    /// # Ok::<(), shaledb::Error>(())
    /// ```
    pub fn create(path: impl AsRef<Path>, options: &TableOptions) -> Result<TableWriter> {
        Self::create_on(Arc::new(OsFileSystem), path.as_ref(), options)
    }

    /// [`create`](Self::create) through `file_system`.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use shaledb::{TableOptions, TableWriter, vfs::OsFileSystem};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let path = dir.path().join("t.sst");
    /// let mut writer = TableWriter::create_on(Arc::new(OsFileSystem), &path, &TableOptions::default())?;
    /// writer.put(b"k", b"v")?;
    /// writer.finish()?;
    /// # Ok::<(), shaledb::Error>(())
    /// ```
    pub fn create_on(
        file_system: Arc<dyn FileSystem>,
        path: &Path,
        options: &TableOptions,
    ) -> Result<TableWriter> {
        let builder = TableBuilder::create_on(file_system, path, options.clone())?;
        Ok(TableWriter {
            builder: Some(builder),
            path: path.to_path_buf(),
            last_key: None,
            range_tombstones: Vec::new(),
            internal_key: Vec::new(),
        })
    }

    /// Sets `key` to `value`. `key` must sort after every key written before (bytewise);
    /// otherwise, or for a key or value over the size limits, `Error::InvalidArgument` and
    /// nothing is written.
    ///
    /// ```
    /// use shaledb::{TableOptions, TableWriter};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let mut writer = TableWriter::create(dir.path().join("t.sst"), &TableOptions::default())?;
    /// writer.put(b"a", b"1")?;
    /// assert!(writer.put(b"a", b"2").is_err()); // each key once
    /// # Ok::<(), shaledb::Error>(())
    /// ```
    pub fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.add(key, ValueKind::Value, value)
    }

    /// Deletes `key`: once the table is ingested, the database holds no value for it from
    /// before. Ordered with [`put`](Self::put) like a put.
    ///
    /// ```
    /// use shaledb::{TableOptions, TableWriter};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let mut writer = TableWriter::create(dir.path().join("t.sst"), &TableOptions::default())?;
    /// writer.delete(b"gone")?;
    /// assert_eq!(writer.finish()?.entry_count, 1);
    /// # Ok::<(), shaledb::Error>(())
    /// ```
    pub fn delete(&mut self, key: &[u8]) -> Result<()> {
        self.add(key, ValueKind::Tombstone, &[])
    }

    /// Deletes every key in `[start, end)` that the database held before the table is
    /// ingested; the table's own entries are not deleted by it. May be called at any point
    /// (range deletions are not ordered with the entries); an empty range (`start >= end`) is
    /// ignored.
    ///
    /// ```
    /// use shaledb::{Db, Options, TableOptions, TableWriter};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let db = Db::open(dir.path().join("db"), Options::default())?;
    /// db.put(b"old/1", b"x")?;
    /// let path = dir.path().join("t.sst");
    /// let mut writer = TableWriter::create(&path, &TableOptions::default())?;
    /// writer.put(b"old/2", b"new")?;
    /// writer.delete_range(b"old/", b"old0")?;
    /// writer.finish()?;
    /// db.ingest(&[&path])?;
    /// assert_eq!(db.get(b"old/1")?, None);
    /// assert_eq!(db.get(b"old/2")?.as_deref(), Some(&b"new"[..]));
    /// # Ok::<(), shaledb::Error>(())
    /// ```
    pub fn delete_range(&mut self, start: &[u8], end: &[u8]) -> Result<()> {
        check_key(start)?;
        check_key(end)?;
        if start < end {
            self.range_tombstones.push(RangeTombstone {
                start: start.to_vec(),
                end: end.to_vec(),
                sequence: SequenceNumber(0),
            });
        }
        Ok(())
    }

    /// Entries written so far (puts and deletes).
    ///
    /// ```
    /// use shaledb::{TableOptions, TableWriter};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let mut writer = TableWriter::create(dir.path().join("t.sst"), &TableOptions::default())?;
    /// writer.put(b"a", b"1")?;
    /// assert_eq!(writer.entry_count(), 1);
    /// # Ok::<(), shaledb::Error>(())
    /// ```
    pub fn entry_count(&self) -> u64 {
        self.builder.as_ref().map_or(0, TableBuilder::entry_count)
    }

    /// The bytes the file holds so far, about (for cutting a stream into tables).
    ///
    /// ```
    /// use shaledb::{TableOptions, TableWriter};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let writer = TableWriter::create(dir.path().join("t.sst"), &TableOptions::default())?;
    /// assert_eq!(writer.approximate_size(), 0);
    /// # Ok::<(), shaledb::Error>(())
    /// ```
    pub fn approximate_size(&self) -> u64 {
        self.builder.as_ref().map_or(0, TableBuilder::approximate_size)
    }

    fn add(&mut self, key: &[u8], kind: ValueKind, value: &[u8]) -> Result<()> {
        check_key(key)?;
        check_value(value)?;
        if let Some(last) = &self.last_key
            && key <= last.as_slice()
        {
            return Err(Error::InvalidArgument(format!(
                "TableWriter keys must strictly increase: {:?} after {:?}",
                String::from_utf8_lossy(key),
                String::from_utf8_lossy(last)
            )));
        }
        self.internal_key.clear();
        append_internal_key(&mut self.internal_key, key, SequenceNumber(0), kind);
        let Some(builder) = self.builder.as_mut() else {
            return Err(Error::InvalidArgument("the TableWriter failed before".into()));
        };
        if let Err(error) = builder.add(&self.internal_key, value) {
            // A failed write leaves the file in an unknown state: the writer stops.
            if !matches!(error, Error::InvalidArgument(_))
                && let Some(builder) = self.builder.take()
            {
                let _ = builder.abandon();
            }
            return Err(error);
        }
        match &mut self.last_key {
            Some(last) => {
                last.clear();
                last.extend_from_slice(key);
            }
            None => self.last_key = Some(key.to_vec()),
        }
        Ok(())
    }

    /// Writes the index, filter and footer and fsyncs the file. A table with no entry and no
    /// range deletion is refused (`Error::InvalidArgument`) and its file removed: ingesting it
    /// would change nothing. The caller fsyncs the directory if the file's name must survive
    /// a crash before it is ingested (ingesting links or copies it and syncs the database's
    /// directory either way).
    ///
    /// ```
    /// use shaledb::{TableOptions, TableWriter};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let empty = TableWriter::create(dir.path().join("empty.sst"), &TableOptions::default())?;
    /// assert!(empty.finish().is_err());
    /// # Ok::<(), shaledb::Error>(())
    /// ```
    pub fn finish(mut self) -> Result<TableInfo> {
        let Some(mut builder) = self.builder.take() else {
            return Err(Error::InvalidArgument("the TableWriter failed before".into()));
        };
        let tombstones = Fragments::new(std::mem::take(&mut self.range_tombstones));
        if builder.entry_count() == 0 && tombstones.is_empty() {
            builder.abandon()?;
            return Err(Error::InvalidArgument(format!(
                "{}: a table with no entries and no range deletions",
                self.path.display()
            )));
        }
        let range_deletion_count = tombstones.len() as u64;
        builder.set_range_tombstones(tombstones);
        let summary = builder.finish()?;
        let key_range = (summary.properties.entry_count > 0).then(|| {
            (
                crate::key::user_key(&summary.properties.smallest_key).to_vec(),
                crate::key::user_key(&summary.properties.largest_key).to_vec(),
            )
        });
        Ok(TableInfo {
            path: self.path.clone(),
            file_size: summary.file_size,
            entry_count: summary.properties.entry_count,
            range_deletion_count,
            key_range,
        })
    }
}

impl Drop for TableWriter {
    fn drop(&mut self) {
        if let Some(builder) = self.builder.take() {
            // A failure leaves a partial file that is no table (no footer): ingesting it fails.
            let _ = builder.abandon();
        }
    }
}
