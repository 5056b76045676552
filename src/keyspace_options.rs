//! [`KeyspaceOptions`]: what each keyspace tunes for itself (its write buffer, table layout,
//! level-0 triggers and level sizes), their validation, and their encoding in the manifest
//! (FORMAT.md 6.1, "Keyspace options"), so that a database reopens with every keyspace as it was
//! configured.
//!
//! The default keyspace takes these fields from the database's `Options` (and `options.rs`
//! builds a `KeyspaceOptions` from them, [`KeyspaceOptions::from_options`], which is also the
//! default); every other keyspace
//! records its own when it is created and whenever [`Db::keyspace`](crate::Db::keyspace) is
//! given different ones.

use crate::coding::{Cursor, DecodeError, put_varint32, put_varint64};
use crate::error::{Error, Result};
use crate::sstable::{Compression, TableOptions};

/// How one keyspace is tuned: the per-tree fields of [`Options`](crate::Options), for a keyspace
/// of its own.
///
/// ```
/// use shaledb::{Db, KeyspaceOptions, Options};
///
/// let dir = tempfile::tempdir()?;
/// let db = Db::open(dir.path(), Options::default())?;
/// // A small, rarely written keyspace: a small write buffer, no bloom filters.
/// let mut options = KeyspaceOptions { write_buffer_size: 1 << 20, ..KeyspaceOptions::default() };
/// options.table.bloom_bits_per_key = 0;
/// let settings = db.keyspace("settings", options.clone())?;
/// assert_eq!(settings.options(), options);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyspaceOptions {
    /// Bytes of writes this keyspace's memtable takes before it is frozen and flushed.
    /// Default 64 MiB.
    pub write_buffer_size: usize,
    /// Frozen memtables of this keyspace allowed to wait for their flush before its writers
    /// wait too. Default 2.
    pub max_immutable_memtables: usize,
    /// How this keyspace's SSTables are laid out.
    pub table: TableOptions,
    /// Level-0 files at which a compaction out of level 0 is due. Default 4.
    pub level0_compaction_trigger: usize,
    /// Level-0 bytes, in percent of the bytes in levels 1 to 3, at which a compaction out of
    /// level 0 is due once it holds two files (0, the default, disables).
    pub level0_size_percent_trigger: u64,
    /// Level-0 files from which writes to this keyspace are delayed. Default 20.
    pub level0_slowdown_trigger: usize,
    /// Level-0 files at which writes to this keyspace wait for compaction. Default 36.
    pub level0_stop_trigger: usize,
    /// Target size of level 1 in bytes, or with `dynamic_level_sizes` the largest target of
    /// the base level (the level that level 0 compacts into). Default 256 MiB.
    pub level1_target_size: u64,
    /// Size ratio between consecutive levels. Default 10.
    pub level_size_multiplier: u64,
    /// Target size of one SSTable written by compaction. Default 64 MiB.
    pub target_file_size: u64,
    /// Whether level targets follow the size of the last level, as
    /// [`Options::dynamic_level_sizes`](crate::Options::dynamic_level_sizes) describes.
    /// Default true.
    pub dynamic_level_sizes: bool,
    /// How this keyspace combines merge operands ([`Keyspace::merge`](crate::Keyspace::merge));
    /// `None` (the default) refuses merges. Not encoded with the other options: the manifest
    /// records the operator's name once a merge is written to the keyspace (FORMAT.md 6.1,
    /// tag 13), and from then on the keyspace opens only with an operator of that name.
    /// Compares by name.
    pub merge_operator: Option<crate::merge_operator::SharedMergeOperator>,
    /// How long values written to this keyspace live: `Some` makes it a keyspace of expiring
    /// values, where each put expires this long after it was written (or when
    /// [`Keyspace::put_with_ttl`](crate::Keyspace::put_with_ttl) says; `Duration::MAX`: only
    /// when that says). Expired values are absent to every read at once, and compactions drop
    /// them. Set when the keyspace is created: the values of such a keyspace carry their
    /// expiry (FORMAT.md 7.3), so a keyspace cannot gain or lose it later (the duration may
    /// change, for later writes). Not with a merge operator. Not settable for the default
    /// keyspace. Default `None`.
    pub time_to_live: Option<std::time::Duration>,
    /// The rule compactions of this keyspace apply to its entries
    /// ([`CompactionFilter`](crate::CompactionFilter)): keep, remove or rewrite. Not recorded: give it at each open.
    /// Compares by name. Default `None`.
    pub compaction_filter: Option<crate::compaction_filter::SharedCompactionFilter>,
}

/// A time to live as the encoding holds it: microseconds, `u64::MAX` for `Duration::MAX`.
fn ttl_micros(ttl: std::time::Duration) -> u64 {
    if ttl == std::time::Duration::MAX {
        u64::MAX
    } else {
        u64::try_from(ttl.as_micros()).unwrap_or(u64::MAX - 1)
    }
}

/// Field tags of the encoding (FORMAT.md 6.1, "Keyspace options"). Part of the on-disk format;
/// never change.
mod tag {
    pub const WRITE_BUFFER_SIZE: u32 = 1;
    pub const MAX_IMMUTABLE_MEMTABLES: u32 = 2;
    pub const BLOCK_SIZE: u32 = 3;
    pub const RESTART_INTERVAL: u32 = 4;
    pub const BLOOM_BITS_PER_KEY: u32 = 5;
    pub const COMPRESSION: u32 = 6;
    pub const LEVEL0_COMPACTION_TRIGGER: u32 = 7;
    pub const LEVEL0_SIZE_PERCENT_TRIGGER: u32 = 8;
    pub const LEVEL0_SLOWDOWN_TRIGGER: u32 = 9;
    pub const LEVEL0_STOP_TRIGGER: u32 = 10;
    pub const LEVEL1_TARGET_SIZE: u32 = 11;
    pub const LEVEL_SIZE_MULTIPLIER: u32 = 12;
    pub const TARGET_FILE_SIZE: u32 = 13;
    /// Present only for a keyspace of expiring values: microseconds (`u64::MAX`:
    /// `Duration::MAX`).
    pub const TIME_TO_LIVE: u32 = 14;
    /// 1: level targets follow the last level; 0: fixed targets. Absent (manifests before it):
    /// the default, 1.
    pub const DYNAMIC_LEVEL_SIZES: u32 = 15;
}

impl KeyspaceOptions {
    /// Checks every field; the error names the first field out of range.
    ///
    /// ```
    /// use shaledb::{Error, KeyspaceOptions};
    ///
    /// let tiny = KeyspaceOptions { write_buffer_size: 10, ..KeyspaceOptions::default() };
    /// let Err(Error::InvalidArgument(message)) = tiny.validate() else { panic!("accepted") };
    /// assert!(message.contains("KeyspaceOptions::write_buffer_size"), "{message}");
    /// ```
    pub fn validate(&self) -> Result<()> {
        self.validate_as("KeyspaceOptions")
    }

    /// [`validate`](Self::validate), naming fields as members of `owner` (`Options` when the
    /// database's options are checked).
    pub(crate) fn validate_as(&self, owner: &str) -> Result<()> {
        let check = |field: &str, value: u64, minimum: u64, maximum: u64| {
            if value < minimum || value > maximum {
                return Err(Error::InvalidArgument(format!(
                    "{owner}::{field} is {value}; it must be between {minimum} and {maximum}"
                )));
            }
            Ok(())
        };
        check(
            "write_buffer_size",
            self.write_buffer_size as u64,
            64 << 10,
            4 << 30,
        )?;
        let immutables = self.max_immutable_memtables as u64;
        check("max_immutable_memtables", immutables, 1, 64)?;
        self.table.validate()?;
        let compaction_trigger = self.level0_compaction_trigger as u64;
        let slowdown_trigger = self.level0_slowdown_trigger as u64;
        check("level0_compaction_trigger", compaction_trigger, 1, 1 << 10)?;
        let size_percent = self.level0_size_percent_trigger;
        check("level0_size_percent_trigger", size_percent, 0, 10_000)?;
        check(
            "level0_slowdown_trigger",
            slowdown_trigger,
            compaction_trigger,
            1 << 10,
        )?;
        check(
            "level0_stop_trigger",
            self.level0_stop_trigger as u64,
            slowdown_trigger,
            1 << 10,
        )?;
        check(
            "level1_target_size",
            self.level1_target_size,
            1 << 10,
            u64::MAX,
        )?;
        check("level_size_multiplier", self.level_size_multiplier, 2, 1000)?;
        check("target_file_size", self.target_file_size, 1 << 10, u64::MAX)?;
        if let Some(operator) = &self.merge_operator {
            crate::merge_operator::check_name(operator.as_ref()).map_err(|error| {
                Error::InvalidArgument(format!("{owner}::merge_operator: {error}"))
            })?;
        }
        if let Some(ttl) = self.time_to_live {
            if ttl.is_zero() {
                return Err(Error::InvalidArgument(format!(
                    "{owner}::time_to_live must be more than zero"
                )));
            }
            if self.merge_operator.is_some() {
                return Err(Error::InvalidArgument(format!(
                    "{owner}::time_to_live and {owner}::merge_operator: a keyspace of expiring \
                     values takes no merge operands"
                )));
            }
        }
        Ok(())
    }

    /// The encoding the manifest keeps (FORMAT.md 6.1, "Keyspace options"): each field as a
    /// `varint32` tag and a `varint64` value.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let compression = match self.table.compression {
            Compression::None => 0,
            Compression::Lz4 => 1,
        };
        let fields = [
            (tag::WRITE_BUFFER_SIZE, self.write_buffer_size as u64),
            (
                tag::MAX_IMMUTABLE_MEMTABLES,
                self.max_immutable_memtables as u64,
            ),
            (tag::BLOCK_SIZE, self.table.block_size as u64),
            (tag::RESTART_INTERVAL, self.table.restart_interval as u64),
            (
                tag::BLOOM_BITS_PER_KEY,
                u64::from(self.table.bloom_bits_per_key),
            ),
            (tag::COMPRESSION, compression),
            (
                tag::LEVEL0_COMPACTION_TRIGGER,
                self.level0_compaction_trigger as u64,
            ),
            (
                tag::LEVEL0_SIZE_PERCENT_TRIGGER,
                self.level0_size_percent_trigger,
            ),
            (
                tag::LEVEL0_SLOWDOWN_TRIGGER,
                self.level0_slowdown_trigger as u64,
            ),
            (tag::LEVEL0_STOP_TRIGGER, self.level0_stop_trigger as u64),
            (tag::LEVEL1_TARGET_SIZE, self.level1_target_size),
            (tag::LEVEL_SIZE_MULTIPLIER, self.level_size_multiplier),
            (tag::TARGET_FILE_SIZE, self.target_file_size),
            (
                tag::DYNAMIC_LEVEL_SIZES,
                u64::from(self.dynamic_level_sizes),
            ),
        ];
        let mut out = Vec::new();
        let ttl = self
            .time_to_live
            .map(|ttl| (tag::TIME_TO_LIVE, ttl_micros(ttl)));
        for (tag, value) in fields.into_iter().chain(ttl) {
            put_varint32(&mut out, tag);
            put_varint64(&mut out, value);
        }
        out
    }

    /// Decodes [`encode`](Self::encode)'s bytes: a field it lacks keeps its default, a tag it
    /// does not know (from a later version) is skipped, and the result must validate.
    pub(crate) fn decode(bytes: &[u8]) -> std::result::Result<KeyspaceOptions, DecodeError> {
        let mut options = KeyspaceOptions::default();
        let mut cursor = Cursor::new(bytes);
        while !cursor.is_empty() {
            let start = cursor.position();
            let tag = cursor.varint32()?;
            let value = cursor.varint64()?;
            let as_usize = || {
                usize::try_from(value).map_err(|_| DecodeError {
                    offset: start,
                    reason: "keyspace option does not fit in usize",
                })
            };
            match tag {
                tag::WRITE_BUFFER_SIZE => options.write_buffer_size = as_usize()?,
                tag::MAX_IMMUTABLE_MEMTABLES => options.max_immutable_memtables = as_usize()?,
                tag::BLOCK_SIZE => options.table.block_size = as_usize()?,
                tag::RESTART_INTERVAL => options.table.restart_interval = as_usize()?,
                tag::BLOOM_BITS_PER_KEY => {
                    options.table.bloom_bits_per_key =
                        u32::try_from(value).map_err(|_| DecodeError {
                            offset: start,
                            reason: "bloom bits per key does not fit in 32 bits",
                        })?;
                }
                tag::COMPRESSION => {
                    options.table.compression = match value {
                        0 => Compression::None,
                        1 => Compression::Lz4,
                        _ => {
                            return Err(DecodeError {
                                offset: start,
                                reason: "unknown compression in keyspace options",
                            });
                        }
                    };
                }
                tag::LEVEL0_COMPACTION_TRIGGER => {
                    options.level0_compaction_trigger = as_usize()?;
                }
                tag::LEVEL0_SIZE_PERCENT_TRIGGER => options.level0_size_percent_trigger = value,
                tag::LEVEL0_SLOWDOWN_TRIGGER => options.level0_slowdown_trigger = as_usize()?,
                tag::LEVEL0_STOP_TRIGGER => options.level0_stop_trigger = as_usize()?,
                tag::LEVEL1_TARGET_SIZE => options.level1_target_size = value,
                tag::LEVEL_SIZE_MULTIPLIER => options.level_size_multiplier = value,
                tag::TARGET_FILE_SIZE => options.target_file_size = value,
                tag::DYNAMIC_LEVEL_SIZES => {
                    options.dynamic_level_sizes = match value {
                        0 => false,
                        1 => true,
                        _ => {
                            return Err(DecodeError {
                                offset: start,
                                reason: "dynamic level sizes is neither 0 nor 1",
                            });
                        }
                    };
                }
                tag::TIME_TO_LIVE => {
                    options.time_to_live = Some(if value == u64::MAX {
                        std::time::Duration::MAX
                    } else {
                        std::time::Duration::from_micros(value)
                    });
                }
                _ => {}
            }
        }
        if options.validate().is_err() {
            return Err(DecodeError {
                offset: 0,
                reason: "keyspace options out of range",
            });
        }
        Ok(options)
    }

    /// [`decode`](Self::decode) for the tools that read a manifest themselves (`shale dump
    /// manifest` prints a keyspace's recorded options; `shale` opens an existing keyspace with
    /// them, since [`Db::keyspace`](crate::Db::keyspace) records the options it is given). The
    /// `internals` feature only: not API.
    #[cfg(feature = "internals")]
    #[doc(hidden)]
    pub fn decode_recorded(bytes: &[u8]) -> std::result::Result<KeyspaceOptions, DecodeError> {
        KeyspaceOptions::decode(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_round_trip_and_refuse_out_of_range_values() {
        let options = KeyspaceOptions {
            write_buffer_size: 1 << 20,
            level0_stop_trigger: 40,
            table: TableOptions {
                compression: Compression::None,
                bloom_bits_per_key: 0,
                ..TableOptions::default()
            },
            ..KeyspaceOptions::default()
        };
        assert_eq!(KeyspaceOptions::decode(&options.encode()), Ok(options));
        assert_eq!(KeyspaceOptions::decode(&[]), Ok(KeyspaceOptions::default()));
        let mut bytes = Vec::new();
        put_varint32(&mut bytes, tag::WRITE_BUFFER_SIZE);
        put_varint64(&mut bytes, 10);
        assert!(KeyspaceOptions::decode(&bytes).is_err());
        // A tag from a later version is skipped.
        let mut bytes = Vec::new();
        put_varint32(&mut bytes, 99);
        put_varint64(&mut bytes, 7);
        assert_eq!(
            KeyspaceOptions::decode(&bytes),
            Ok(KeyspaceOptions::default())
        );
    }
}
