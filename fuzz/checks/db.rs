//! Fuzz check for the whole database: the input is a program of operations (puts, deletes,
//! batches, gets, range scans, flushes, compactions, snapshots, reopens, and the same on
//! keyspaces) run against a `Db` with tiny options and against a model: one `BTreeMap` for the
//! default keyspace and one per other keyspace. Any difference is a broken promise.
//!
//! Range deletes take no bytes of their own either: a delete whose key byte is 192 or more
//! deletes the range from its key up to a key a few places on (an empty range at the end of
//! the alphabet), and a batch operation whose value length is 8 modulo 64 deletes the range
//! between its key and the key its fill byte names. (A value's length is its length byte times
//! 8; a length of 0 modulo 16 makes the operation a delete, any other a put. Until the keyspaces
//! came, 8 modulo 16 meant a range delete, which left batches without a single put.)
//!
//! A range scan's last byte picks its direction (bit 0) and its kind (bits 1 and 2): a plain
//! scan; the same scan with its two keys also as `ReadOptions` iterator bounds; a scan after a
//! seek of the end it reads from (to a key picked by the byte's upper bits); or a scan that
//! reads two entries, seeks that end back to the range's own key, and reads on. The kinds take
//! no bytes of their own, so every program of the corpus parses as it did before they were
//! added (a byte above 1 once meant a plain scan too).
//!
//! Keyspaces (FORMAT.md 6.1, 7): operation byte 255 is followed by a byte whose value modulo 16
//! picks a keyspace operation (see [`KeyspaceOperation`]) on the keyspaces `ks-a`, `ks-b` and
//! `ks-c`; below 255 a byte means what it always meant (255 was a put), so a program of the
//! corpus found before keyspaces existed keeps its meaning up to its first operation byte 255
//! (more than half of the operations of that corpus, and the whole of half its programs). The
//! next byte picks the keyspace: a live one; else, when the byte is 128 or more and the name's
//! last keyspace was dropped, that dropped keyspace's handle, through which everything must fail
//! (a batch naming it too, writing nothing); else the keyspace is created first (keyspaces come
//! into being as programs use them). Each keyspace has a small write buffer and options picked by
//! a byte, a batch may span every keyspace and the default one, a snapshot covers them all (a
//! keyspace dropped and created again after it reads empty at it), a reopen opens them again
//! (and forgets the dropped keyspaces' handles, which belong to the closed database), and a
//! checkpoint or a read-only handle opened beside the writer must hold exactly what the
//! model holds, in every keyspace.
//!
//! Merges: every keyspace has the merge operator [`Concat`] (operands appended to the value, a
//! missing value counting as empty), which the model applies itself. Three byte values that
//! meant something else before merges came now mean merges, so that the rest of the corpus
//! keeps its meaning: operation byte 254 (a put before) merges (key, value) into the default
//! keyspace; keyspace operation byte 241 (a put, as 241 is 1 modulo 16) merges into a
//! keyspace; and a batch whose count byte is 255 (in the default keyspace's batches and in
//! batches across keyspaces) makes each of its puts a merge.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::Path;

use std::sync::Arc;

use shaledb::{
    Compression, Db, DbIterator, Keyspace, KeyspaceOptions, MergeError, MergeOperator, Options,
    ReadOptions, Snapshot, TableOptions, WriteBatch, WriteOptions,
};

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

/// The operation byte of a merge into the default keyspace.
const MERGE_OPERATION: u8 = 254;

/// The keyspace operation byte of a merge into a keyspace.
const KEYSPACE_MERGE_OPERATION: u8 = 241;

/// The count byte of a batch whose puts are merges.
const MERGE_BATCH: u8 = 255;

/// The merge operator of every keyspace: the operands appended to the value, oldest first.
/// It never fails and combines operands without their base, so compactions merge partially.
pub struct Concat;

impl MergeOperator for Concat {
    fn name(&self) -> &str {
        "fuzz.concat"
    }

    fn full_merge(
        &self,
        _key: &[u8],
        existing: Option<&[u8]>,
        operands: &[&[u8]],
    ) -> Result<Vec<u8>, MergeError> {
        Ok(existing
            .into_iter()
            .chain(operands.iter().copied())
            .flatten()
            .copied()
            .collect())
    }

    fn partial_merge(&self, _key: &[u8], operands: &[&[u8]]) -> Option<Vec<u8>> {
        Some(operands.concat())
    }
}

fn model_merge(model: &mut Model, key: &[u8], operand: &[u8]) {
    model
        .entry(key.to_vec())
        .or_default()
        .extend_from_slice(operand);
}

/// The keyspaces a program may create besides the default one.
const NAMES: [&str; 3] = ["ks-a", "ks-b", "ks-c"];

/// The operation byte that a keyspace operation's byte follows.
const KEYSPACE_OPERATION: u8 = 255;

fn options() -> Options {
    Options {
        write_buffer_size: 64 << 10,
        level1_target_size: 64 << 10,
        target_file_size: 16 << 10,
        sync_writes: false,
        background_threads: 1,
        // Small, so that keyspaces make log switches flush the cold ones and the manifest is
        // often started again from a snapshot (with a record per keyspace).
        max_total_wal_size: 256 << 10,
        max_manifest_size: 8 << 10,
        merge_operator: Some(Arc::new(Concat)),
        ..Options::default()
    }
}

/// A keyspace's options, picked by the bits of `selector`: always a small write buffer and
/// small levels, so that a few operations flush and compact.
fn keyspace_options(selector: u8) -> KeyspaceOptions {
    let bit = |index: u8| selector & (1 << index) != 0;
    KeyspaceOptions {
        write_buffer_size: if bit(0) { 128 << 10 } else { 64 << 10 },
        level0_compaction_trigger: if bit(1) { 2 } else { 4 },
        level1_target_size: 64 << 10,
        target_file_size: 16 << 10,
        table: TableOptions {
            block_size: if bit(2) { 512 } else { 4 << 10 },
            compression: if bit(3) {
                Compression::None
            } else {
                Compression::Lz4
            },
            bloom_bits_per_key: if bit(4) { 0 } else { 10 },
            ..TableOptions::default()
        },
        merge_operator: Some(Arc::new(Concat)),
        ..KeyspaceOptions::default()
    }
}

/// Reads the program: one byte picks the operation, the next bytes its arguments.
struct Program<'a> {
    bytes: &'a [u8],
}

impl Program<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&first, rest) = self.bytes.split_first()?;
        self.bytes = rest;
        Some(first)
    }

    /// A key from a small alphabet, so that operations hit the same keys often.
    fn key(&mut self) -> Option<Vec<u8>> {
        let selector = self.byte()?;
        Some(format!("k{:02}", selector % 48).into_bytes())
    }

    fn value(&mut self) -> Option<Vec<u8>> {
        let length = usize::from(self.byte()?) * 8;
        let fill = self.byte()?;
        Some(vec![fill; length])
    }

    /// A delete's key, and the end of its range when the key byte makes it a range delete (see
    /// the module documentation).
    fn delete(&mut self) -> Option<(Vec<u8>, Option<Vec<u8>>)> {
        let &selector = self.bytes.first()?;
        let key = self.key()?;
        if selector < 192 {
            return Some((key, None));
        }
        let end = key_at(usize::from(selector % 48) + usize::from(selector % 7) + 1);
        let (start, end) = ordered(key, end);
        Some((start, Some(end)))
    }

    /// One operation of a batch: its key, and what it does (decided by the value's length; a
    /// put is a merge in a batch of merges).
    fn batch_operation(&mut self, merges: bool) -> Option<(Vec<u8>, Change)> {
        let (key, value) = (self.key()?, self.value()?);
        let change = if value.len() % 16 == 0 {
            Change::Delete
        } else if value.len() % 64 == 8 {
            let fill = value.first().copied().unwrap_or_default();
            let (start, end) = ordered(key, key_at(usize::from(fill % 48)));
            return Some((start, Change::DeleteRange(end)));
        } else if merges {
            Change::Merge(value)
        } else {
            Change::Put(value)
        };
        Some((key, change))
    }

    /// A range scan's arguments: its bounds, whether it reads from the back, its kind and the
    /// key a seek goes to.
    fn scan(&mut self) -> Option<ScanArguments> {
        let (low_selector, low, high_selector, high, direction) = (
            self.byte()?,
            self.key()?,
            self.byte()?,
            self.key()?,
            self.byte()?,
        );
        Some(ScanArguments {
            bounds: (bound(low_selector, low), bound(high_selector, high)),
            reverse: direction % 2 == 1,
            kind: ScanKind::of(direction),
            // One of the program's keys (k00..k46), from the byte's upper bits.
            target: format!("k{:02}", usize::from(direction / 8) * 3 / 2).into_bytes(),
        })
    }
}

/// What one operation of a batch does to its key.
enum Change {
    Put(Vec<u8>),
    Delete,
    /// Deletes `[key, end)`.
    DeleteRange(Vec<u8>),
    /// Merges this operand.
    Merge(Vec<u8>),
}

impl Change {
    fn apply(&self, model: &mut Model, key: &[u8]) {
        match self {
            Change::Put(value) => {
                model.insert(key.to_vec(), value.clone());
            }
            Change::Delete => {
                model.remove(key);
            }
            Change::DeleteRange(end) => delete_model_range(model, key, end),
            Change::Merge(operand) => model_merge(model, key, operand),
        }
    }
}

/// The program's key number `index` (the alphabet is `k00`..`k47`; past it, a key after them).
fn key_at(index: usize) -> Vec<u8> {
    format!("k{:02}", index.min(48)).into_bytes()
}

/// The two keys in order.
fn ordered(first: Vec<u8>, second: Vec<u8>) -> (Vec<u8>, Vec<u8>) {
    if first <= second {
        (first, second)
    } else {
        (second, first)
    }
}

/// Removes `[start, end)` from the model.
fn delete_model_range(model: &mut Model, start: &[u8], end: &[u8]) {
    model.retain(|key, _| key.as_slice() < start || key.as_slice() >= end);
}

fn bound(selector: u8, key: Vec<u8>) -> Bound<Vec<u8>> {
    match selector % 3 {
        0 => Bound::Included(key),
        1 => Bound::Excluded(key),
        _ => Bound::Unbounded,
    }
}

/// Whether `key` is within `lower` and `upper`.
fn within(key: &[u8], lower: &Bound<Vec<u8>>, upper: &Bound<Vec<u8>>) -> bool {
    let above = match lower {
        Bound::Included(low) => key >= low.as_slice(),
        Bound::Excluded(low) => key > low.as_slice(),
        Bound::Unbounded => true,
    };
    let below = match upper {
        Bound::Included(high) => key <= high.as_slice(),
        Bound::Excluded(high) => key < high.as_slice(),
        Bound::Unbounded => true,
    };
    above && below
}

/// A lower and an upper bound, borrowed.
type BoundPair<'a> = (&'a Bound<Vec<u8>>, &'a Bound<Vec<u8>>);

/// The model's pairs within every pair of bounds in `ranges`, ascending.
fn expected_range(model: &Model, ranges: &[BoundPair<'_>]) -> Vec<(Vec<u8>, Vec<u8>)> {
    model
        .iter()
        .filter(|(key, _)| {
            ranges
                .iter()
                .all(|(lower, upper)| within(key, lower, upper))
        })
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect()
}

/// The model's pairs, ascending.
fn pairs(model: &Model) -> Vec<(Vec<u8>, Vec<u8>)> {
    expected_range(model, &[])
}

/// What a range scan does besides reading its range (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ScanKind {
    Plain,
    /// The range's keys are also the options' iterator bounds (lower included, upper
    /// excluded).
    WithOptionBounds,
    /// The end read from is first sought to a key.
    Seek,
    /// Two entries are read, then the end is sought back to the range's own key.
    Reseek,
}

impl ScanKind {
    fn of(selector: u8) -> ScanKind {
        match (selector / 2) % 4 {
            0 => ScanKind::Plain,
            1 => ScanKind::WithOptionBounds,
            2 => ScanKind::Seek,
            _ => ScanKind::Reseek,
        }
    }
}

/// One range scan, as the program spells it.
struct ScanArguments {
    bounds: (Bound<Vec<u8>>, Bound<Vec<u8>>),
    reverse: bool,
    kind: ScanKind,
    target: Vec<u8>,
}

/// A pair of bounds, owned.
type Bounds = (Bound<Vec<u8>>, Bound<Vec<u8>>);

/// Opens an iterator over a range of one keyspace (`Db::range_with` or `Keyspace::range_with`).
type OpenRange<'a> = &'a dyn Fn(Bounds, &ReadOptions<'_>) -> DbIterator;

/// Up to `limit` items of `iterator`, from the back when `reverse`, as owned pairs.
fn drain(iterator: &mut DbIterator, reverse: bool, limit: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut pairs = Vec::new();
    while pairs.len() < limit {
        let item = if reverse {
            iterator.next_back()
        } else {
            iterator.next()
        };
        let Some(item) = item else { break };
        let (key, value) = item.expect("scan failed");
        pairs.push((key, value.to_vec()));
    }
    pairs
}

/// The key of a bound, if it has one.
fn bound_key(bound: &Bound<Vec<u8>>) -> Option<Vec<u8>> {
    match bound {
        Bound::Included(key) | Bound::Excluded(key) => Some(key.clone()),
        Bound::Unbounded => None,
    }
}

/// One range scan through `open`, checked against `model`.
fn check_scan(open: OpenRange<'_>, model: &Model, scan: ScanArguments) {
    let ScanArguments {
        bounds: (lower, upper),
        reverse,
        kind,
        target,
    } = scan;
    let (option_lower, option_upper) = match kind {
        ScanKind::WithOptionBounds => (bound_key(&lower), bound_key(&upper)),
        _ => (None, None),
    };
    let options = ReadOptions {
        iterate_lower_bound: option_lower.as_deref(),
        iterate_upper_bound: option_upper.as_deref(),
        ..ReadOptions::default()
    };
    let option_range = (
        option_lower
            .clone()
            .map_or(Bound::Unbounded, Bound::Included),
        option_upper
            .clone()
            .map_or(Bound::Unbounded, Bound::Excluded),
    );
    let mut iterator = open((lower.clone(), upper.clone()), &options);
    let range = (&lower, &upper);
    let mut expected = expected_range(model, &[range, (&option_range.0, &option_range.1)]);
    let seek_to = match kind {
        ScanKind::Plain | ScanKind::WithOptionBounds => None,
        ScanKind::Seek => Some(target),
        ScanKind::Reseek => {
            let first = drain(&mut iterator, reverse, 2);
            let want: Vec<_> = if reverse {
                expected.iter().rev().take(2).cloned().collect()
            } else {
                expected.iter().take(2).cloned().collect()
            };
            assert_eq!(
                first, want,
                "{kind:?} scan before its seek, reverse {reverse}"
            );
            // The empty key when the range's end is unbounded.
            let own = if reverse { &upper } else { &lower };
            Some(bound_key(own).unwrap_or_default())
        }
    };
    if let Some(key) = seek_to {
        // The end restarts at the target: the keys from there on, read again if they were.
        let from = if reverse {
            iterator.seek_back(&key);
            (Bound::Unbounded, Bound::Included(key))
        } else {
            iterator.seek(&key);
            (Bound::Included(key), Bound::Unbounded)
        };
        expected = expected_range(model, &[range, (&from.0, &from.1)]);
    }
    let mut got = drain(&mut iterator, reverse, usize::MAX);
    if reverse {
        got.reverse();
    }
    assert_eq!(got, expected, "{kind:?} range scan, reverse {reverse}");
}

/// Everything through `open`, read from the back when `reverse`, in ascending order.
fn scan_all(
    open: OpenRange<'_>,
    reverse: bool,
    snapshot: Option<&Snapshot>,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    let options = ReadOptions {
        snapshot,
        ..ReadOptions::default()
    };
    let mut iterator = open((Bound::Unbounded, Bound::Unbounded), &options);
    let mut pairs = drain(&mut iterator, reverse, usize::MAX);
    if reverse {
        pairs.reverse();
    }
    pairs
}

/// The first and last entries of a keyspace, checked against `model`.
fn check_ends(
    first: shaledb::Result<Option<(Vec<u8>, shaledb::Value)>>,
    last: shaledb::Result<Option<(Vec<u8>, shaledb::Value)>>,
    model: &Model,
    context: &str,
) {
    let owned = |entry: shaledb::Result<Option<(Vec<u8>, shaledb::Value)>>| {
        entry
            .expect("first or last entry")
            .map(|(key, value)| (key, value.to_vec()))
    };
    let expected_first = model.iter().next().map(|(k, v)| (k.clone(), v.clone()));
    let expected_last = model
        .iter()
        .next_back()
        .map(|(k, v)| (k.clone(), v.clone()));
    assert_eq!(owned(first), expected_first, "{context}: first_key_value");
    assert_eq!(owned(last), expected_last, "{context}: last_key_value");
}

/// Every operation through the handle of a dropped keyspace fails, and changes nothing.
fn assert_dropped(handle: &Keyspace, key: &[u8]) {
    let name = handle.name().to_string();
    assert!(handle.put(key, b"v").is_err(), "put into dropped {name}");
    assert!(handle.delete(key).is_err(), "delete in dropped {name}");
    assert!(
        handle.delete_range(key..key).is_err(),
        "delete_range in dropped {name}"
    );
    assert!(handle.get(key).is_err(), "get from dropped {name}");
    assert!(
        handle.multi_get(&[key]).is_err(),
        "multi_get from dropped {name}"
    );
    assert!(
        handle.iter().next().is_some_and(|item| item.is_err()),
        "iterator over dropped {name}"
    );
    assert!(
        handle.first_key_value().is_err(),
        "first_key_value of dropped {name}"
    );
    assert!(handle.flush().is_err(), "flush of dropped {name}");
    assert!(
        handle.compact_range(..).is_err(),
        "compact_range of dropped {name}"
    );
}

/// The keyspace operations: the byte after operation byte 255, modulo 16 (see the module
/// documentation). Each takes one byte next: the keyspace byte, except where said otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyspaceOperation {
    /// 0 and 1: a put (key, value).
    Put,
    /// 2: a delete (key; a range delete for key bytes of 192 or more).
    Delete,
    /// 3: a batch across keyspaces: a count byte (instead of the keyspace byte), then up to 7
    /// of (keyspace byte, key, value), where a keyspace byte of 0 modulo 4 is the default
    /// keyspace and 1 to 3 modulo 4 names a keyspace (of 128 or more, its dropped handle if it
    /// has one: the batch must fail), and the value's length decides as in the default
    /// keyspace's batches.
    Batch,
    /// 4: a point read and `contains_key` (key).
    Get,
    /// 5: a range scan (as operation 7 of the default keyspace).
    Scan,
    /// 6: a flush of the keyspace.
    Flush,
    /// 7: `compact_range(..)` of the keyspace.
    Compact,
    /// 8: creates keyspace `byte % 3`, or gives it new options: those `byte / 3` picks.
    Create,
    /// 9: drops keyspace `byte % 3` (or checks that dropping one that is not live fails).
    Drop,
    /// 10: `multi_get` (a count byte, then up to 6 keys).
    MultiGet,
    /// 11: reads at a held snapshot (a snapshot byte, then a key): a point read and a scan;
    /// keyspace byte 0 modulo 4 is the default keyspace.
    SnapshotRead,
    /// 12: `first_key_value` and `last_key_value`.
    Ends,
    /// 13: a checkpoint, opened and compared with the model in every keyspace (its byte is
    /// unused).
    Checkpoint,
    /// 14: a read-only handle opened beside the writer, compared in every keyspace (its byte is
    /// unused).
    ReadOnly,
    /// 15: `Db::verify`, then `wait_for_compaction` (its byte is unused).
    Verify,
    /// Byte 241 only (1 modulo 16, a put before merges): a merge (key, value).
    Merge,
}

impl KeyspaceOperation {
    fn of(operation: u8) -> KeyspaceOperation {
        use KeyspaceOperation::*;
        if operation == KEYSPACE_MERGE_OPERATION {
            return Merge;
        }
        const ALL: [KeyspaceOperation; 16] = [
            Put,
            Put,
            Delete,
            Batch,
            Get,
            Scan,
            Flush,
            Compact,
            Create,
            Drop,
            MultiGet,
            SnapshotRead,
            Ends,
            Checkpoint,
            ReadOnly,
            Verify,
        ];
        ALL[usize::from(operation) % ALL.len()]
    }
}

/// How many operations of each kind a program ran (the seed corpus's test checks that its
/// programs do what their names say).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Operations run.
    pub operations: usize,
    /// Keyspace operations run (after operation byte 255), by kind.
    pub keyspace_operations: BTreeMap<String, usize>,
    /// Keyspaces created (also implicitly, by their first use).
    pub keyspaces_created: usize,
    /// Keyspaces given new options.
    pub keyspaces_reconfigured: usize,
    /// Keyspaces dropped.
    pub keyspaces_dropped: usize,
    /// Operations that went through a dropped keyspace's handle, and failed as they must.
    pub dropped_handle_uses: usize,
    /// Batches written to more than one keyspace.
    pub cross_keyspace_batches: usize,
    /// Reopens.
    pub reopens: usize,
    /// Merge operations (alone or in batches).
    pub merges: usize,
}

/// A keyspace of the program while it is live.
struct Live {
    handle: Keyspace,
    options: KeyspaceOptions,
    model: Model,
    /// Which creation of its name this is: a keyspace dropped and created again is another.
    generation: u32,
}

/// A held snapshot and what every keyspace held when it was taken.
struct Held {
    snapshot: Snapshot,
    default: Model,
    /// Per name, the generation of the live keyspace and its model.
    keyspaces: [Option<(u32, Model)>; 3],
}

/// Which keyspace a keyspace operation goes to.
enum Target {
    /// A live keyspace, by index into [`NAMES`].
    Live(usize),
    /// The handle of a dropped keyspace.
    Dropped(Keyspace),
}

/// The database under test and everything the program knows about it.
struct World {
    dir: tempfile::TempDir,
    db: Db,
    /// The default keyspace.
    model: Model,
    live: [Option<Live>; 3],
    /// The handle of each name's last dropped keyspace.
    dropped: [Option<Keyspace>; 3],
    /// The live keyspaces in the order they were created (`Db::keyspaces` lists them so).
    created: Vec<usize>,
    generations: u32,
    snapshots: Vec<Held>,
    summary: Summary,
}

/// A temporary directory, on tmpfs when there is one (fsync costs nothing there, so a program
/// runs in milliseconds).
fn temporary_directory() -> tempfile::TempDir {
    let shared_memory = Path::new("/dev/shm");
    if shared_memory.is_dir() {
        tempfile::tempdir_in(shared_memory)
    } else {
        tempfile::tempdir()
    }
    .expect("temporary directory")
}

impl World {
    fn new() -> World {
        let dir = temporary_directory();
        let db = Db::open(dir.path(), options()).expect("open");
        World {
            dir,
            db,
            model: Model::new(),
            live: Default::default(),
            dropped: Default::default(),
            created: Vec::new(),
            generations: 0,
            snapshots: Vec::new(),
            summary: Summary::default(),
        }
    }

    /// Runs one operation of the default keyspace (an operation byte below 255); `None` when
    /// the program ended in its arguments.
    fn run_default_operation(&mut self, operation: u8, program: &mut Program<'_>) -> Option<()> {
        if operation == MERGE_OPERATION {
            let (key, operand) = (program.key()?, program.value()?);
            self.db.merge(&key, &operand).expect("merge");
            model_merge(&mut self.model, &key, &operand);
            self.summary.merges += 1;
            return Some(());
        }
        match operation % 12 {
            0..=3 => {
                let (key, value) = (program.key()?, program.value()?);
                self.db.put(&key, &value).expect("put");
                self.model.insert(key, value);
            }
            4 => match program.delete()? {
                (start, Some(end)) => {
                    self.db
                        .delete_range(start.as_slice()..end.as_slice())
                        .expect("delete_range");
                    delete_model_range(&mut self.model, &start, &end);
                }
                (key, None) => {
                    self.db.delete(&key).expect("delete");
                    self.model.remove(&key);
                }
            },
            5 => self.default_batch(program)?,
            6 => {
                let key = program.key()?;
                let found = self.db.get(&key).expect("get").map(|value| value.to_vec());
                assert_eq!(found.as_ref(), self.model.get(&key), "get {key:?}");
                let contains = self.db.contains_key(&key).expect("contains_key");
                assert_eq!(contains, self.model.contains_key(&key), "contains_key");
            }
            7 => {
                let scan = program.scan()?;
                let db = &self.db;
                check_scan(
                    &|range, options| db.range_with(range, options),
                    &self.model,
                    scan,
                );
            }
            8 => self.db.flush().expect("flush"),
            9 => self.db.compact_range(..).expect("compact_range"),
            10 => self.take_snapshot(),
            _ => self.reopen(),
        }
        Some(())
    }

    /// A batch of the default keyspace alone (operation 5).
    fn default_batch(&mut self, program: &mut Program<'_>) -> Option<()> {
        let count = program.byte()?;
        let mut batch = WriteBatch::new();
        let mut staged = self.model.clone();
        for _ in 0..count % 8 {
            let Some((key, change)) = program.batch_operation(count == MERGE_BATCH) else {
                break;
            };
            match &change {
                Change::Put(value) => batch.put(&key, value).expect("batch put"),
                Change::Delete => batch.delete(&key).expect("batch delete"),
                Change::DeleteRange(end) => {
                    batch.delete_range(&key, end).expect("batch delete_range");
                }
                Change::Merge(operand) => {
                    batch.merge(&key, operand).expect("batch merge");
                    self.summary.merges += 1;
                }
            }
            change.apply(&mut staged, &key);
        }
        self.db
            .write(batch, &WriteOptions { sync: false })
            .expect("write");
        self.model = staged;
        Some(())
    }

    fn take_snapshot(&mut self) {
        if self.snapshots.len() >= 4 {
            self.snapshots.remove(0);
            return;
        }
        let keyspaces = std::array::from_fn(|index| {
            self.live[index]
                .as_ref()
                .map(|live| (live.generation, live.model.clone()))
        });
        self.snapshots.push(Held {
            snapshot: self.db.snapshot(),
            default: self.model.clone(),
            keyspaces,
        });
    }

    /// Closes and opens the database again, and every live keyspace with it (snapshots do not
    /// survive a reopen).
    fn reopen(&mut self) {
        self.summary.reopens += 1;
        self.snapshots.clear();
        self.db.close().expect("close");
        self.db = Db::open(self.dir.path(), options()).expect("reopen");
        // The handles of dropped keyspaces belong to the closed database: a batch naming one
        // beside a keyspace of the new database is refused at once ("a write batch holds
        // keyspaces of two databases"), not at its write, which the program does not expect.
        // A dropped keyspace cannot be opened again, so its handle is forgotten; the live ones
        // are opened again below.
        self.dropped = Default::default();
        for index in self.created.clone() {
            let live = self.live[index]
                .as_mut()
                .expect("a created keyspace is live");
            let handle = self
                .db
                .keyspace(NAMES[index], live.options.clone())
                .expect("open a keyspace again");
            assert_eq!(
                handle.options(),
                live.options,
                "options of {}",
                NAMES[index]
            );
            live.handle = handle;
        }
        self.check_keyspace_names(&self.db, "after a reopen");
    }

    /// `Db::keyspaces` of `db` lists the default keyspace, then the live ones as created.
    fn check_keyspace_names(&self, db: &Db, context: &str) {
        let mut expected = vec!["default".to_string()];
        expected.extend(self.created.iter().map(|&index| NAMES[index].to_string()));
        assert_eq!(db.keyspaces(), expected, "{context}: Db::keyspaces");
    }

    /// Creates keyspace `index` with `options` (it is not live).
    fn create(&mut self, index: usize, options: KeyspaceOptions) {
        let handle = self
            .db
            .keyspace(NAMES[index], options.clone())
            .expect("create a keyspace");
        assert_eq!(handle.name(), NAMES[index]);
        assert!(
            handle.iter().next().is_none(),
            "a new keyspace {} is not empty",
            NAMES[index]
        );
        self.generations += 1;
        self.live[index] = Some(Live {
            handle,
            options,
            model: Model::new(),
            generation: self.generations,
        });
        self.created.push(index);
        self.summary.keyspaces_created += 1;
        self.check_keyspace_names(&self.db, "after a create");
    }

    /// The keyspace a keyspace byte names (see the module documentation): `selector % 3`, its
    /// options (if it is created) from `selector / 3`.
    fn target(&mut self, selector: u8) -> Target {
        let index = usize::from(selector) % NAMES.len();
        self.target_at(index, selector >= 128, selector / 3)
    }

    /// Keyspace `index` if it is live; else the handle of its dropped keyspace if
    /// `prefer_dropped` and there is one; else keyspace `index` created with the options
    /// `options_selector` picks.
    fn target_at(&mut self, index: usize, prefer_dropped: bool, options_selector: u8) -> Target {
        if self.live[index].is_some() {
            return Target::Live(index);
        }
        if let Some(dropped) = self.dropped[index].as_ref().filter(|_| prefer_dropped) {
            self.summary.dropped_handle_uses += 1;
            return Target::Dropped(dropped.clone());
        }
        self.create(index, keyspace_options(options_selector));
        Target::Live(index)
    }

    fn live_mut(&mut self, index: usize) -> &mut Live {
        self.live[index].as_mut().expect("a live keyspace")
    }

    /// Runs one keyspace operation (after operation byte 255); `None` when the program ended
    /// in its arguments.
    fn run_keyspace_operation(&mut self, program: &mut Program<'_>) -> Option<()> {
        let kind = KeyspaceOperation::of(program.byte()?);
        *self
            .summary
            .keyspace_operations
            .entry(format!("{kind:?}"))
            .or_default() += 1;
        let selector = program.byte()?;
        match kind {
            KeyspaceOperation::Batch => return self.cross_keyspace_batch(selector, program),
            KeyspaceOperation::Create => {
                self.create_or_reconfigure(selector);
                return Some(());
            }
            KeyspaceOperation::Drop => {
                self.drop_keyspace(selector);
                return Some(());
            }
            KeyspaceOperation::SnapshotRead => return self.snapshot_read(selector, program),
            KeyspaceOperation::Checkpoint => {
                self.check_checkpoint();
                return Some(());
            }
            KeyspaceOperation::ReadOnly => {
                let reader = Db::open_read_only(self.dir.path(), options()).expect("read-only");
                self.check_other(&reader, "a read-only handle beside the writer");
                return Some(());
            }
            KeyspaceOperation::Verify => {
                self.db.verify().expect("verify");
                self.db.wait_for_compaction().expect("wait_for_compaction");
                return Some(());
            }
            _ => {}
        }
        // Read the arguments first: whether the keyspace is live decides nothing about them.
        let arguments = Arguments::read(kind, program)?;
        match self.target(selector) {
            Target::Dropped(handle) => assert_dropped(&handle, &key_at(0)),
            Target::Live(index) => self.run_on_live(index, kind, arguments),
        }
        Some(())
    }

    /// One single-keyspace operation on live keyspace `index`.
    fn run_on_live(&mut self, index: usize, kind: KeyspaceOperation, arguments: Arguments) {
        let live = self.live_mut(index);
        let (handle, model) = (&live.handle, &mut live.model);
        let name = NAMES[index];
        match arguments {
            Arguments::Put(key, value) if kind == KeyspaceOperation::Merge => {
                handle.merge(&key, &value).expect("keyspace merge");
                model_merge(model, &key, &value);
            }
            Arguments::Put(key, value) => {
                handle.put(&key, &value).expect("keyspace put");
                model.insert(key, value);
            }
            Arguments::Delete(start, Some(end)) => {
                handle
                    .delete_range(start.as_slice()..end.as_slice())
                    .expect("keyspace delete_range");
                delete_model_range(model, &start, &end);
            }
            Arguments::Delete(key, None) => {
                handle.delete(&key).expect("keyspace delete");
                model.remove(&key);
            }
            Arguments::Key(key) => {
                let found = handle.get(&key).expect("keyspace get");
                let found = found.map(|value| value.to_vec());
                assert_eq!(found.as_ref(), model.get(&key), "{name}: get {key:?}");
                let contains = handle.contains_key(&key).expect("keyspace contains_key");
                assert_eq!(contains, model.contains_key(&key), "{name}: contains_key");
            }
            Arguments::Keys(keys) => {
                let found = handle.multi_get(&keys).expect("keyspace multi_get");
                let found: Vec<_> = found
                    .into_iter()
                    .map(|value| value.map(|value| value.to_vec()))
                    .collect();
                let expected: Vec<_> = keys.iter().map(|key| model.get(key).cloned()).collect();
                assert_eq!(found, expected, "{name}: multi_get {keys:?}");
            }
            Arguments::Scan(scan) => {
                check_scan(
                    &|range, options| handle.range_with(range, options),
                    model,
                    scan,
                );
            }
            Arguments::None => match kind {
                KeyspaceOperation::Flush => handle.flush().expect("keyspace flush"),
                KeyspaceOperation::Compact => {
                    handle.compact_range(..).expect("keyspace compact_range");
                }
                _ => check_ends(
                    handle.first_key_value(),
                    handle.last_key_value(),
                    model,
                    name,
                ),
            },
        }
    }

    /// Creates keyspace `selector % 3` with the options `selector / 3` picks, or gives the live
    /// one those options.
    fn create_or_reconfigure(&mut self, selector: u8) {
        let index = usize::from(selector) % NAMES.len();
        let options = keyspace_options(selector / 3);
        let Some(live) = self.live[index].as_mut() else {
            self.create(index, options);
            return;
        };
        let handle = self
            .db
            .keyspace(NAMES[index], options.clone())
            .expect("reconfigure a keyspace");
        assert_eq!(handle.options(), options, "new options of {}", NAMES[index]);
        assert_eq!(live.handle.options(), options, "an older handle's options");
        if live.options != options {
            self.summary.keyspaces_reconfigured += 1;
        }
        live.options = options;
        live.handle = handle;
        self.check_keyspace_names(&self.db, "after new options");
    }

    /// Drops keyspace `selector % 3`; dropping one that is not live (or the default one) fails.
    fn drop_keyspace(&mut self, selector: u8) {
        let index = usize::from(selector) % NAMES.len();
        let Some(live) = self.live[index].take() else {
            assert!(
                self.db.drop_keyspace(NAMES[index]).is_err(),
                "dropped {}, which is not live",
                NAMES[index]
            );
            assert!(self.db.drop_keyspace("default").is_err(), "dropped default");
            return;
        };
        self.db.drop_keyspace(NAMES[index]).expect("drop_keyspace");
        self.summary.keyspaces_dropped += 1;
        self.created.retain(|&created| created != index);
        assert_dropped(&live.handle, &key_at(usize::from(selector) % 48));
        self.dropped[index] = Some(live.handle);
        self.check_keyspace_names(&self.db, "after a drop");
    }

    /// A batch across keyspaces (keyspace operation 3); `selector` is its count byte.
    fn cross_keyspace_batch(&mut self, selector: u8, program: &mut Program<'_>) -> Option<()> {
        let mut batch = WriteBatch::new();
        // Per keyspace (0: the default, then NAMES), the model with the batch applied.
        let mut staged: [Option<Model>; 4] = Default::default();
        let mut doomed = false;
        for _ in 0..selector % 8 {
            let Some(keyspace_byte) = program.byte() else {
                break;
            };
            let Some((key, change)) = program.batch_operation(selector == MERGE_BATCH) else {
                break;
            };
            // Slot 0 is the default keyspace, slot 1 + i keyspace NAMES[i]; a dropped one has
            // no slot.
            let (handle, slot) = match usize::from(keyspace_byte % 4) {
                0 => (self.db.default_keyspace(), Some(0)),
                slot => match self.target_at(slot - 1, keyspace_byte >= 128, keyspace_byte / 4) {
                    Target::Dropped(handle) => {
                        doomed = true;
                        (handle, None)
                    }
                    Target::Live(index) => (self.live_mut(index).handle.clone(), Some(slot)),
                },
            };
            match &change {
                Change::Put(value) => batch.put_in(&handle, &key, value).expect("put_in"),
                Change::Delete => batch.delete_in(&handle, &key).expect("delete_in"),
                Change::DeleteRange(end) => {
                    batch
                        .delete_range_in(&handle, &key, end)
                        .expect("delete_range_in");
                }
                Change::Merge(operand) => {
                    batch.merge_in(&handle, &key, operand).expect("merge_in");
                    if slot.is_some() {
                        self.summary.merges += 1;
                    }
                }
            }
            if let Some(slot) = slot {
                let current = match slot {
                    0 => &self.model,
                    _ => &self.live[slot - 1].as_ref().expect("a live keyspace").model,
                };
                change.apply(staged[slot].get_or_insert_with(|| current.clone()), &key);
            }
        }
        let written = self.db.write(batch, &WriteOptions { sync: false });
        if doomed {
            assert!(
                written.is_err(),
                "a batch naming a dropped keyspace was written"
            );
            return Some(());
        }
        written.expect("cross-keyspace write");
        if staged.iter().flatten().count() > 1 {
            self.summary.cross_keyspace_batches += 1;
        }
        for (slot, model) in staged.into_iter().enumerate() {
            match (slot, model) {
                (_, None) => {}
                (0, Some(model)) => self.model = model,
                (slot, Some(model)) => self.live_mut(slot - 1).model = model,
            }
        }
        Some(())
    }

    /// Reads at a held snapshot (keyspace operation 11): a point read and a whole scan of one
    /// keyspace (`selector % 4`, 0 the default).
    fn snapshot_read(&mut self, selector: u8, program: &mut Program<'_>) -> Option<()> {
        let (which, key) = (program.byte()?, program.key()?);
        if self.snapshots.is_empty() {
            return Some(());
        }
        let held = &self.snapshots[usize::from(which) % self.snapshots.len()];
        let (handle, expected) = match selector % 4 {
            0 => (self.db.default_keyspace(), held.default.clone()),
            slot => {
                let index = usize::from(slot - 1);
                let Some(live) = self.live[index].as_ref() else {
                    return Some(());
                };
                (live.handle.clone(), expected_at(held, index, live))
            }
        };
        let at = ReadOptions {
            snapshot: Some(&held.snapshot),
            ..ReadOptions::default()
        };
        let found = handle.get_with(&key, &at).expect("get at a snapshot");
        let found = found.map(|value| value.to_vec());
        assert_eq!(
            found.as_ref(),
            expected.get(&key),
            "get {key:?} at a snapshot"
        );
        let open = |range: Bounds, options: &ReadOptions<'_>| handle.range_with(range, options);
        let reverse = which % 2 == 1;
        let scanned = scan_all(&open, reverse, Some(&held.snapshot));
        assert_eq!(scanned, pairs(&expected), "{} at a snapshot", handle.name());
        Some(())
    }

    /// A checkpoint, opened on its own, holds what the model holds (keyspace operation 13).
    fn check_checkpoint(&self) {
        let parent = temporary_directory();
        let dir = parent.path().join("checkpoint");
        self.db.checkpoint(&dir).expect("checkpoint");
        let copy = Db::open(&dir, options()).expect("open the checkpoint");
        self.check_other(&copy, "the checkpoint");
        copy.close().expect("close the checkpoint");
    }

    /// `other` (a checkpoint or a read-only handle) holds exactly what the model holds, in
    /// every keyspace, and records every keyspace's options.
    fn check_other(&self, other: &Db, context: &str) {
        self.check_keyspace_names(other, context);
        let open = |range: Bounds, options: &ReadOptions<'_>| other.range_with(range, options);
        assert_eq!(
            scan_all(&open, false, None),
            pairs(&self.model),
            "{context}: default"
        );
        for &index in &self.created {
            let live = self.live[index]
                .as_ref()
                .expect("a created keyspace is live");
            // A read-only handle keeps the recorded options whatever it is given; a checkpoint
            // is given the recorded ones.
            let handle = other
                .keyspace(NAMES[index], live.options.clone())
                .expect("a keyspace of the copy");
            assert_eq!(handle.options(), live.options, "{context}: options");
            let open = |range: Bounds, options: &ReadOptions<'_>| handle.range_with(range, options);
            assert_eq!(
                scan_all(&open, true, None),
                pairs(&live.model),
                "{context}: {}",
                NAMES[index]
            );
        }
    }

    /// The final checks: every held snapshot and every keyspace against the model.
    fn check_final(&self) {
        let db = &self.db;
        let open = |range: Bounds, options: &ReadOptions<'_>| db.range_with(range, options);
        for held in &self.snapshots {
            assert_eq!(
                scan_all(&open, false, Some(&held.snapshot)),
                pairs(&held.default),
                "snapshot view"
            );
            for (index, live) in self.live.iter().enumerate() {
                let Some(live) = live else { continue };
                let handle = &live.handle;
                let open =
                    |range: Bounds, options: &ReadOptions<'_>| handle.range_with(range, options);
                assert_eq!(
                    scan_all(&open, true, Some(&held.snapshot)),
                    pairs(&expected_at(held, index, live)),
                    "snapshot view of {}",
                    NAMES[index]
                );
            }
        }
        assert_eq!(
            scan_all(&open, true, None),
            pairs(&self.model),
            "final state"
        );
        check_ends(
            db.first_key_value(),
            db.last_key_value(),
            &self.model,
            "default",
        );
        for (index, live) in self.live.iter().enumerate() {
            let Some(live) = live else { continue };
            let handle = &live.handle;
            let open = |range: Bounds, options: &ReadOptions<'_>| handle.range_with(range, options);
            assert_eq!(
                scan_all(&open, false, None),
                pairs(&live.model),
                "final state of {}",
                NAMES[index]
            );
            let (first, last) = (handle.first_key_value(), handle.last_key_value());
            check_ends(first, last, &live.model, NAMES[index]);
        }
        self.check_keyspace_names(db, "at the end");
    }
}

/// What live keyspace `index` held at `held`: its model then, if it is the keyspace that was
/// live then; nothing if it was created after (its writes are all newer than the snapshot).
fn expected_at(held: &Held, index: usize, live: &Live) -> Model {
    match &held.keyspaces[index] {
        Some((generation, model)) if *generation == live.generation => model.clone(),
        _ => Model::new(),
    }
}

/// The arguments of a single-keyspace operation, read before its keyspace is picked.
enum Arguments {
    Put(Vec<u8>, Vec<u8>),
    /// A key, and the end of its range for a range delete.
    Delete(Vec<u8>, Option<Vec<u8>>),
    Key(Vec<u8>),
    Keys(Vec<Vec<u8>>),
    Scan(ScanArguments),
    None,
}

impl Arguments {
    fn read(kind: KeyspaceOperation, program: &mut Program<'_>) -> Option<Arguments> {
        Some(match kind {
            KeyspaceOperation::Put | KeyspaceOperation::Merge => {
                Arguments::Put(program.key()?, program.value()?)
            }
            KeyspaceOperation::Delete => {
                let (key, end) = program.delete()?;
                Arguments::Delete(key, end)
            }
            KeyspaceOperation::Get => Arguments::Key(program.key()?),
            KeyspaceOperation::MultiGet => {
                let count = program.byte()? % 7;
                let keys = (0..count).map(|_| program.key()).collect::<Option<_>>()?;
                Arguments::Keys(keys)
            }
            KeyspaceOperation::Scan => Arguments::Scan(program.scan()?),
            _ => Arguments::None,
        })
    }
}

/// Runs the program in `data`; panics on any difference from the model. Returns what it ran.
pub fn run_program(data: &[u8]) -> Summary {
    let mut world = World::new();
    let mut program = Program { bytes: data };
    while let Some(operation) = program.byte() {
        if world.summary.operations == 400 {
            break;
        }
        world.summary.operations += 1;
        let ran = if operation == KEYSPACE_OPERATION {
            world.run_keyspace_operation(&mut program)
        } else {
            world.run_default_operation(operation, &mut program)
        };
        if ran.is_none() {
            break;
        }
    }
    world.check_final();
    world.summary.clone()
}

/// Runs the program in `data`; panics on any difference from the model.
pub fn db_model(data: &[u8]) {
    run_program(data);
}

/// The fuzz targets of this module.
pub const TARGETS: &[super::Target] = &[("db_model", db_model)];
