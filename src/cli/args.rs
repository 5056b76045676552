//! The command line of `shale`, declared with clap's derive: every subcommand, flag and help
//! text. Parsing only; the commands live in their own modules and receive these structs.
//!
//! Invariant: every flag a command reads is declared here with its range, so that a wrong value
//! is a usage error (exit status 2) before any file is touched.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use super::escape::unescape;

/// `shale`: the command-line tool of shaledb.
#[derive(Debug, Parser)]
#[command(
    name = "shale",
    version,
    about = "shaledb's command-line tool: a db_bench-style benchmark, reads and writes of a \
             database, and readable dumps of its files",
    long_about = None,
    after_help = "Without a command, `shale` runs a short benchmark (`shale bench` with its \
                  defaults) in a temporary directory."
)]
pub struct Cli {
    /// The command; none runs `bench` with its defaults.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// A replicated key-value store on 127.0.0.1: shaledb as the storage of openraft nodes
    /// (`demo` runs a three-node cluster; `node`, `init`, `put`, `get`, `scan`, `status` and
    /// `bench` the parts). Built with the `raft-cluster` feature.
    #[cfg(feature = "raft-cluster")]
    #[command(subcommand)]
    Raft(crate::cli::raft::RaftCommand),
    /// Run db_bench-style workloads and print ops/s, MB/s, latency percentiles, amplification
    /// and the shape of the tree.
    Bench(BenchArgs),
    /// Print the value of KEY (exit status 1 if it is absent, or if the keyspace is).
    Get {
        /// The database directory.
        dir: PathBuf,
        /// The key; `\xNN` and `\\` escapes are decoded, as `scan` prints them.
        key: String,
        #[command(flatten)]
        keyspace: KeyspaceChoice,
    },
    /// Set KEY to VALUE (a synced write); creates the database if DIR holds none, and the
    /// keyspace (with default KeyspaceOptions) if the database has none of that name.
    Put {
        /// The database directory.
        dir: PathBuf,
        /// The key; `\xNN` and `\\` escapes are decoded.
        key: String,
        /// The value; `\xNN` and `\\` escapes are decoded.
        value: String,
        #[command(flatten)]
        keyspace: KeyspaceChoice,
    },
    /// Delete KEY (a synced write; no error if it is absent, exit status 1 if the keyspace is).
    Delete {
        /// The database directory.
        dir: PathBuf,
        /// The key; `\xNN` and `\\` escapes are decoded.
        key: String,
        #[command(flatten)]
        keyspace: KeyspaceChoice,
    },
    /// Delete every key from START up to but not including END (one synced range deletion).
    DeleteRange {
        /// The database directory.
        dir: PathBuf,
        /// The first key deleted; `\xNN` and `\\` escapes are decoded.
        start: String,
        /// The first key kept after the range; `\xNN` and `\\` escapes are decoded.
        end: String,
        #[command(flatten)]
        keyspace: KeyspaceChoice,
    },
    /// Print keys and values in key order, one `KEY<TAB>VALUE` line each, escaped.
    Scan {
        /// The database directory.
        dir: PathBuf,
        #[command(flatten)]
        keyspace: KeyspaceChoice,
        /// Start at this key (inclusive).
        #[arg(long, value_name = "KEY")]
        from: Option<String>,
        /// Stop before this key (exclusive).
        #[arg(long, value_name = "KEY")]
        to: Option<String>,
        /// Print at most this many entries.
        #[arg(long, value_name = "N")]
        limit: Option<u64>,
    },
    /// Print the database's statistics: files and bytes per level and memtables of every
    /// keyspace (the default one's with the database's counters), or of one keyspace alone.
    Stats {
        /// The database directory.
        dir: PathBuf,
        /// Print only this keyspace's levels and memtables; `\xNN` and `\\` escapes are
        /// decoded.
        #[arg(long, value_name = "NAME", value_parser = parse_keyspace_name)]
        keyspace: Option<String>,
    },
    /// Read every entry of the database, verifying every block checksum (exit status 1 on
    /// damage): the manifest, every keyspace's tables and entries, or one keyspace's.
    Verify {
        /// The database directory.
        dir: PathBuf,
        /// Check only the manifest and this keyspace (default: every keyspace); `\xNN` and `\\`
        /// escapes are decoded.
        #[arg(long, value_name = "NAME", value_parser = parse_keyspace_name)]
        keyspace: Option<String>,
    },
    /// Compact the whole key range of a keyspace down to the last level; print its tree before
    /// and after.
    Compact {
        /// The database directory.
        dir: PathBuf,
        #[command(flatten)]
        keyspace: KeyspaceChoice,
    },
    /// List the database's keyspaces, one name per line (escaped as keys are): `default`
    /// first, then the others in the order they were created.
    Keyspaces {
        /// The database directory.
        dir: PathBuf,
    },
    /// Drop a keyspace with all its data (durably; its tables are deleted unread). The default
    /// keyspace cannot be dropped.
    DropKeyspace {
        /// The database directory.
        dir: PathBuf,
        /// The keyspace; `\xNN` and `\\` escapes are decoded.
        #[arg(value_parser = parse_keyspace_name)]
        name: String,
    },
    /// Make a checkpoint of DIR in DEST: a consistent copy of the database that opens on its
    /// own, its tables hard-linked (copied where DEST is on another file system), synced when
    /// the command returns. DEST must be new or empty. Opens DIR for writing, so not while a
    /// program has it open.
    Checkpoint {
        /// The database directory.
        dir: PathBuf,
        /// The new (or empty) directory for the checkpoint.
        dest: PathBuf,
    },
    /// Print what a shaledb file holds, the way sst_dump and ldb do for RocksDB.
    #[command(subcommand)]
    Dump(DumpCommand),
}

/// The kinds of file `shale dump` reads.
#[derive(Debug, Subcommand)]
pub enum DumpCommand {
    /// An SSTable: footer, properties, blocks, and a scan verifying every checksum.
    Sst {
        /// The `.sst` file.
        file: PathBuf,
        /// List every entry (user key, sequence, kind, value length).
        #[arg(long)]
        entries: bool,
    },
    /// A write-ahead log: every record with its offset, size and batch (each operation with
    /// its sequence number, and its keyspace id when not the default one), and any damage.
    Wal {
        /// The `.wal` file.
        file: PathBuf,
    },
    /// The live manifest of a database (the one CURRENT names): every version edit and the
    /// state they replay to.
    Manifest {
        /// The database directory.
        dir: PathBuf,
    },
}

/// `--keyspace NAME`: the keyspace a command reads or writes.
#[derive(Debug, Clone, Args)]
pub struct KeyspaceChoice {
    /// The keyspace (default: the default keyspace, `default`); `\xNN` and `\\` escapes are
    /// decoded, as `shale keyspaces` prints names.
    #[arg(long, value_name = "NAME", value_parser = parse_keyspace_name)]
    pub keyspace: Option<String>,
}

impl KeyspaceChoice {
    /// The name given, if any.
    pub fn name(&self) -> Option<&str> {
        self.keyspace.as_deref()
    }
}

/// The workloads of `shale bench`, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub enum Workload {
    /// Unsynced puts in key order on a fresh database.
    Fillseq,
    /// Unsynced puts in random key order on a fresh database.
    Fillrandom,
    /// Unsynced puts overwriting every key once, in random order.
    Overwrite,
    /// Point reads of present keys (from --threads threads).
    Readrandom,
    /// Point reads of absent keys inside the key range.
    Readmissing,
    /// A seek to a random key and a scan of the next 100 entries, num/10 times.
    Seekrandom,
    /// multi_get of 100 random present keys, num/100 times.
    Multiget,
    /// Synced single puts from --threads threads under each --policy, on a fresh database.
    Fillsync,
    /// Synced 100-operation batches from --threads threads, on a fresh database.
    Fillbatch,
    /// Single puts through a BatchWriter under each --strategy, on a fresh database.
    Batchwriter,
    /// Seeks and 100-entry scans over keys 90% deleted by ten range deletes, beside a database
    /// that never had those keys and one where they were deleted one by one (shaledb only).
    Seekdeleted,
    /// num entries committed as one LargeBatch, as ordinary 1,000-entry WriteBatches, and as
    /// tables built with TableWriter and ingested, beside the disk's sequential write rate;
    /// entries/s, MB/s, peak heap (shaledb only).
    Largebatch,
    /// A full compact_range of the current database: exact space amplification.
    Compact,
    /// YCSB core workloads A-F on a fresh database loaded with num records: scrambled
    /// zipfian 0.99 (D: latest), from 1 and 4 client threads (or --threads), unsynced.
    Ycsb,
    /// Unsynced fillrandom of num entries from 4 threads into the default keyspace, then into
    /// 4 keyspaces (thread i writes keyspace i), each on a fresh database; ops/s and their ratio.
    Keyspaces,
    /// drop_keyspace of a keyspace filled with --drop-size bytes (default 1 GiB) and settled:
    /// its time, and the tables and bytes it deleted.
    Dropkeyspace,
    /// The SSTable format alone: build, point lookups, scans forward and backward.
    Sstable,
    /// The log format alone: appends with and without fdatasync, replay.
    Log,
    /// The disk's fdatasync rate: synced overwrites of a file of written zeros, and synced
    /// appends to a log preallocated as the engine preallocates its logs (space reserved).
    Fsync,
}

/// The workloads a bare `shale bench` runs.
pub const DEFAULT_WORKLOADS: &str = "fillseq,fillrandom,overwrite,readrandom,readmissing,seekrandom,multiget,fillsync,fillbatch,\
     batchwriter";

/// The commit policies `--policy` selects for fillsync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PolicyChoice {
    /// The default adaptive policy.
    Adaptive,
    /// Commit at once.
    Immediate,
    /// Wait up to 1 ms for more writers.
    Window,
    /// One row per policy.
    All,
}

/// The batch-writer strategies `--strategy` selects for batchwriter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StrategyChoice {
    /// Commit whatever is queued as soon as the previous commit ends (the default strategy).
    LowLatency,
    /// Batches of 1,000 puts.
    FixedSize,
    /// Batch sizes adapted to a 5 ms latency target.
    Adaptive,
    /// Batches gathered over 2 ms windows.
    TimeWindow,
    /// One row per strategy.
    All,
}

/// The flags of `shale bench`.
#[derive(Debug, Clone, Args)]
#[command(after_help = "\
Fill workloads (fillseq, fillrandom, overwrite, fillsync, fillbatch, batchwriter) are followed, \
untimed, by a flush and the compactions they caused; then write amplification, space \
amplification and the files and bytes per level are printed. Read workloads run on the \
database the last fill left (filled with fillseq first, untimed, if none ran). \
MB = 10^6 bytes of keys and values. Numbers may contain '_' (1_000_000).

--compare (build with `--features compare` for fjall, `--features compare-rocksdb` for RocksDB, or both) runs each workload on shaledb and on each peer of the build, each on a fresh or reopened database of its own, one engine at a time, rotating which goes first, with the same settings:
  write-ahead log   on in all (fjall: its journal)
  unsynced write    shaledb WriteOptions { sync: false }; fjall insert / batch commit; RocksDB WriteOptions with sync false (all reach the OS cache, no fsync)
  synced write      shaledb WriteOptions::SYNC (fdatasync, shared by a commit group); fjall batch with PersistMode::SyncData (one fdatasync per write: fjall has no group commit); RocksDB WriteOptions::set_sync(true) (fdatasync, shared by a write group)
  write buffer      --write-buffer-size: shaledb Options::write_buffer_size; fjall max_memtable_size; RocksDB write_buffer_size, max_write_buffer_number 3 (shaledb's active + 2 frozen)
  compression       LZ4 on every level's data blocks in all
  bloom filter      10 bits per key on every level in all (RocksDB: full filter)
  block size        4 KiB data blocks in all
  block cache       --cache-size: shaledb Options::block_cache_capacity; fjall cache_size; RocksDB LRU cache
  background        shaledb 2 compaction + 1 flush thread; fjall min(cores, 4) workers; RocksDB max_background_jobs 3 (1 flush + 2 compaction)
Each row shows ops/s and p50/p99 per engine and the ratio shaledb/peer for each peer; 'heap MiB' is the peak anonymous memory (RssAnon, sampled every 5 ms; a '!' marks a peak over the budget of write buffers + block cache + 64 MiB) and 'rss MiB' the peak resident size (VmHWM, which also counts table pages mapped from the page cache), both reset before each engine's turn. RocksDB needs libclang to build (Debian: apt-get install libclang-dev). Example: cargo run --release --features compare -- bench --compare --num 1000000")]
pub struct BenchArgs {
    /// Database directory, kept afterwards; it must be empty or new. Default: a temporary
    /// directory, removed afterwards.
    #[arg(long, value_name = "DIR")]
    pub db: Option<PathBuf>,
    /// Keys written by a fill, and reads of each read workload.
    #[arg(long, value_name = "N", default_value = "200000", value_parser = parse_count)]
    pub num: u64,
    /// Value size in bytes (values are about half compressible).
    #[arg(long, value_name = "B", default_value = "100", value_parser = parse_value_size)]
    pub value_size: u64,
    /// Key size in bytes (zero-padded decimal numbers).
    #[arg(long, value_name = "B", default_value = "16", value_parser = parse_key_size)]
    pub key_size: u64,
    /// Threads of fillsync, fillbatch, readrandom and ycsb; a comma-separated list gives one row
    /// per count (1,4,16,64). Default: 4; 1,4 for ycsb; with --compare, 16,64 for fillsync, 1,4
    /// for fillbatch and 1 for readrandom.
    #[arg(long, value_name = "T", value_delimiter = ',',
          value_parser = clap::value_parser!(u64).range(1..=256))]
    pub threads: Vec<u64>,
    /// Synced operations of fillsync, and a fiftieth of the puts of fillbatch and batchwriter.
    /// Default: num/100, at most 2000.
    #[arg(long, value_name = "N", value_parser = parse_count)]
    pub sync_num: Option<u64>,
    /// Comma-separated workloads to run, in any order; they run in the order listed below.
    /// Default: fillseq through batchwriter (the first ten).
    #[arg(long, value_name = "LIST", value_enum, value_delimiter = ',',
          default_value = DEFAULT_WORKLOADS, hide_default_value = true)]
    pub workloads: Vec<Workload>,
    /// Operations of each YCSB core workload (split over the client threads). Default: num.
    #[arg(long, value_name = "N", value_parser = parse_count)]
    pub ycsb_operations: Option<u64>,
    /// Comma-separated YCSB core workloads to run after the load (say, to profile one).
    #[arg(long, value_name = "LETTERS", value_delimiter = ',', default_value = "A,B,C,D,E,F",
          value_parser = parse_ycsb_letter)]
    pub ycsb_workloads: Vec<char>,
    /// Bytes of keys and values dropkeyspace writes into the keyspace it drops (default 1 GiB).
    #[arg(long, value_name = "B", default_value = "1073741824", value_parser = parse_drop_size)]
    pub drop_size: u64,
    /// Commit policy of fillsync.
    #[arg(long, value_enum, default_value = "adaptive")]
    pub policy: PolicyChoice,
    /// Batch-writer strategy of batchwriter.
    #[arg(long, value_enum, default_value = "low-latency")]
    pub strategy: StrategyChoice,
    /// Memtable size in bytes: smaller than the library's 64 MiB default so that short runs
    /// reach the levels.
    #[arg(long, value_name = "B", default_value = "4194304", value_parser = parse_buffer_size)]
    pub write_buffer_size: u64,
    /// Block cache size in bytes (shaledb's default, 64 MiB).
    #[arg(long, value_name = "B", default_value = "67108864", value_parser = parse_cache_size)]
    pub cache_size: u64,
    /// A shaledb option by its configuration key (`shale`'s config file keys, as
    /// `Options::set` takes them), applied after --write-buffer-size and --cache-size; may be
    /// given more than once. Only shaledb reads them: the peers of --compare keep the shared
    /// settings. Example: --set level0_compaction_trigger=8
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_setting)]
    pub settings: Vec<(String, String)>,
    /// Run the workloads on shaledb and on each peer engine of this build (fjall with the
    /// `compare` feature, RocksDB with `compare-rocksdb`), interleaved, with the same settings,
    /// and print the ratios and each engine's peak memory. Runs fillseq, fillrandom, overwrite, readrandom, readmissing,
    /// seekrandom, multiget, fillsync and fillbatch by default, and ycsb on request.
    #[arg(long)]
    pub compare: bool,
    /// Print one JSON object per workload instead of the table (no progress bars).
    #[arg(long)]
    pub json: bool,
}

/// A whole number, allowing `_` separators.
fn parse_number(text: &str, minimum: u64, maximum: u64) -> Result<u64, String> {
    let digits: String = text.chars().filter(|&c| c != '_').collect();
    let number: u64 = digits
        .parse()
        .map_err(|_| format!("'{text}' is not a whole number"))?;
    if !(minimum..=maximum).contains(&number) {
        return Err(format!("{number} is not between {minimum} and {maximum}"));
    }
    Ok(number)
}

fn parse_count(text: &str) -> Result<u64, String> {
    parse_number(text, 1, 1 << 32)
}

fn parse_value_size(text: &str) -> Result<u64, String> {
    parse_number(text, 0, shaledb::MAX_VALUE_SIZE as u64)
}

fn parse_key_size(text: &str) -> Result<u64, String> {
    parse_number(text, 1, shaledb::MAX_KEY_SIZE as u64)
}

fn parse_buffer_size(text: &str) -> Result<u64, String> {
    parse_number(text, 64 << 10, 4 << 30)
}

fn parse_cache_size(text: &str) -> Result<u64, String> {
    parse_number(text, 0, 64 << 30)
}

/// `KEY=VALUE` (the bench configuration applies it with `Options::set`, which checks both).
fn parse_setting(text: &str) -> Result<(String, String), String> {
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| format!("'{text}' is not KEY=VALUE"))?;
    Ok((key.trim().to_owned(), value.trim().to_owned()))
}

/// A keyspace name: escapes decoded, then UTF-8 of 1 to 255 bytes (FORMAT.md 6.1, tag 8).
fn parse_keyspace_name(text: &str) -> Result<String, String> {
    let name = String::from_utf8(unescape(text)?)
        .map_err(|_| format!("'{text}' is not UTF-8 once its escapes are decoded"))?;
    let maximum = shaledb::key::MAX_KEYSPACE_NAME;
    if name.is_empty() || name.len() > maximum {
        return Err(format!(
            "a keyspace name is 1 to {maximum} bytes; '{text}' is {}",
            name.len()
        ));
    }
    Ok(name)
}

fn parse_drop_size(text: &str) -> Result<u64, String> {
    parse_number(text, 1, 1 << 40)
}

fn parse_ycsb_letter(text: &str) -> Result<char, String> {
    match text.to_ascii_uppercase().as_str() {
        letter @ ("A" | "B" | "C" | "D" | "E" | "F") => Ok(letter.chars().next().unwrap_or('A')),
        _ => Err(format!("'{text}' is not a YCSB core workload (A to F)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_declaration_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn numbers_accept_separators_and_refuse_out_of_range() {
        assert_eq!(parse_count("1_000"), Ok(1000));
        assert!(parse_count("0").is_err());
        assert!(parse_count("lots").is_err());
    }

    #[test]
    fn keyspace_names_decode_escapes_and_refuse_empty_long_or_non_utf8_names() {
        assert_eq!(parse_keyspace_name("raft-log"), Ok("raft-log".to_string()));
        assert_eq!(parse_keyspace_name("a\\x20b"), Ok("a b".to_string()));
        assert_eq!(parse_keyspace_name("\\xc3\\xa9"), Ok("é".to_string()));
        assert_eq!(
            parse_keyspace_name(&"k".repeat(255)).map(|name| name.len()),
            Ok(255)
        );
        for text in ["", "\\xff", "bad\\escape", &"k".repeat(256)] {
            assert!(parse_keyspace_name(text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn ycsb_letters_are_a_to_f_in_either_case() {
        assert_eq!(parse_ycsb_letter("f"), Ok('F'));
        assert!(parse_ycsb_letter("G").is_err());
        assert!(parse_ycsb_letter("AB").is_err());
    }
}
