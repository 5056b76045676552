//! [`TableOptions`] and [`Compression`]: how a table builder lays out a table.
//!
//! The options are recorded in the table's properties, but a reader never needs them: every
//! layout decision can be read back from the file itself (FORMAT.md, section 5).

use crate::error::{Error, Result};

/// Smallest accepted target data block size.
pub const MIN_BLOCK_SIZE: usize = 64;
/// Largest accepted target data block size (16 MiB).
pub const MAX_TARGET_BLOCK_SIZE: usize = 16 << 20;
/// Largest accepted restart interval.
pub const MAX_RESTART_INTERVAL: usize = 1024;
/// Largest accepted bloom filter bits per key.
pub const MAX_BLOOM_BITS_PER_KEY: u32 = 64;

/// How data and index blocks are compressed.
///
/// ```
/// use shaledb::{Compression, Db, Options, TableOptions};
///
/// let dir = tempfile::tempdir()?;
/// // Values that are already compressed (images, encrypted data) gain nothing from LZ4.
/// let table = TableOptions { compression: Compression::None, ..TableOptions::default() };
/// let db = Db::open(dir.path(), Options { table, ..Options::default() })?;
/// db.put(b"k", &[b'x'; 1000])?;
/// db.flush()?;
/// assert!(db.stats().levels[0].bytes > 1000); // stored as it is
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// Blocks are stored as they are.
    None,
    /// Blocks are LZ4-compressed (block format) when that saves at least 12.5%.
    #[default]
    Lz4,
}

/// How the SSTables of a database are laid out: the table options of
/// [`Options::table`](crate::Options::table).
///
/// ```
/// use shaledb::{Db, Options, TableOptions};
///
/// let dir = tempfile::tempdir()?;
/// // Larger blocks and no bloom filter: for scans rather than point reads of absent keys.
/// let table = TableOptions { block_size: 16 << 10, bloom_bits_per_key: 0, ..TableOptions::default() };
/// let db = Db::open(dir.path(), Options { table, ..Options::default() })?;
/// db.put(b"k", b"v")?;
/// db.flush()?;
/// assert_eq!(db.get(b"k")?.as_deref(), Some(&b"v"[..]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableOptions {
    /// Target uncompressed size of a data block, in bytes (default 4096). A block is closed once
    /// it reaches this size, so blocks exceed it by at most one entry.
    pub block_size: usize,
    /// Every this many entries, a data block stores a whole key that reads can binary-search to
    /// (default 16). Smaller: faster seeks, larger blocks.
    pub restart_interval: usize,
    /// Bloom filter bits per user key (default 10, about 1% false positives); 0 writes no filter.
    pub bloom_bits_per_key: u32,
    /// Block compression (default LZ4).
    pub compression: Compression,
}

impl Default for TableOptions {
    fn default() -> Self {
        TableOptions {
            block_size: 4096,
            restart_interval: 16,
            bloom_bits_per_key: 10,
            compression: Compression::Lz4,
        }
    }
}

impl TableOptions {
    /// Checks every field, naming the first one out of range (`Db::open` runs it through
    /// `Options::validate`).
    ///
    /// ```
    /// use shaledb::{Compression, TableOptions};
    ///
    /// let options = TableOptions {
    ///     block_size: 16 << 10,
    ///     compression: Compression::None,
    ///     ..TableOptions::default()
    /// };
    /// assert!(options.validate().is_ok());
    /// let tiny = TableOptions { block_size: 1, ..TableOptions::default() };
    /// assert!(tiny.validate().unwrap_err().to_string().contains("block_size"));
    /// ```
    pub fn validate(&self) -> Result<()> {
        if !(MIN_BLOCK_SIZE..=MAX_TARGET_BLOCK_SIZE).contains(&self.block_size) {
            return Err(Error::InvalidArgument(format!(
                "TableOptions::block_size is {}; it must be in {MIN_BLOCK_SIZE}..={MAX_TARGET_BLOCK_SIZE}",
                self.block_size
            )));
        }
        if !(1..=MAX_RESTART_INTERVAL).contains(&self.restart_interval) {
            return Err(Error::InvalidArgument(format!(
                "TableOptions::restart_interval is {}; it must be in 1..={MAX_RESTART_INTERVAL}",
                self.restart_interval
            )));
        }
        if self.bloom_bits_per_key > MAX_BLOOM_BITS_PER_KEY {
            return Err(Error::InvalidArgument(format!(
                "TableOptions::bloom_bits_per_key is {}; it must be in 0..={MAX_BLOOM_BITS_PER_KEY}",
                self.bloom_bits_per_key
            )));
        }
        Ok(())
    }
}
