//! An iterator's bounds limit what it reads: over many level-0 tables, and over one level of
//! many compacted tables, a scan bounded to a few keys reads exactly the data blocks holding
//! those keys — no block of a table wholly outside the bounds, and no block past either bound —
//! forward and backward, whether the bounds come from the range, from `ReadOptions`, or both;
//! and a seek reads only the block its target falls in.
//!
//! Blocks are counted as block-cache misses with `fill_cache: false` (every block read from a
//! table is then a miss). Each value is larger than a block, so that each entry is a block of
//! its own, and keys are even numbers, so that the index key between the blocks of `k00300`
//! and `k00302` is `k00301`: a bound at an odd number lies between two blocks, where the index
//! shows it. A bound (or seek target) that falls inside a block's range — at a key, or between
//! a key and the next index key — reads that block, whose keys the index does not list.

mod common;

use std::ops::Bound;

use common::{Pairs, collect, temp_dir};
use shaledb::{Compression, Db, DbIterator, Options, ReadOptions, TableOptions};

/// Level-0 tables written, and entries in each.
const TABLES: usize = 20;
const ENTRIES_PER_TABLE: usize = 20;
/// Larger than the 4 KiB block size: one entry per data block.
const VALUE_SIZE: usize = 5_000;

fn key(number: usize) -> Vec<u8> {
    format!("k{number:05}").into_bytes()
}

fn value(number: usize) -> Vec<u8> {
    vec![(number % 251) as u8; VALUE_SIZE]
}

/// Options under which nothing is compacted until asked (level 0 keeps every table), and
/// compactions write tables of about 13 entries.
fn options() -> Options {
    Options {
        write_buffer_size: 4 << 20,
        level0_compaction_trigger: 64,
        level0_slowdown_trigger: 64,
        level0_stop_trigger: 64,
        level0_size_percent_trigger: 0,
        target_file_size: 64 << 10,
        sync_writes: false,
        table: TableOptions {
            compression: Compression::None,
            ..TableOptions::default()
        },
        ..Options::default()
    }
}

/// A database of `TABLES` level-0 tables with disjoint key ranges: table `t` holds the keys
/// `2 * (t * ENTRIES_PER_TABLE + i)`; nothing in the memtable.
fn level0_tables() -> (tempfile::TempDir, Db) {
    let dir = temp_dir();
    let db = Db::open(dir.path(), options()).unwrap();
    for table in 0..TABLES {
        for entry in 0..ENTRIES_PER_TABLE {
            let number = 2 * (table * ENTRIES_PER_TABLE + entry);
            db.put(&key(number), &value(number)).unwrap();
        }
        db.flush().unwrap();
    }
    db.wait_for_compaction().unwrap();
    assert_eq!(
        db.stats().levels[0].files,
        TABLES,
        "every table is in level 0"
    );
    (dir, db)
}

/// The entries with even numbers in `first..=last`.
fn expected(first: usize, last: usize) -> Pairs {
    (first..=last)
        .step_by(2)
        .map(|number| (key(number), value(number)))
        .collect()
}

/// The keys of `pairs` as text, for failure messages (the values are large).
fn keys_of(pairs: &Pairs) -> Vec<String> {
    pairs
        .iter()
        .map(|(key, _)| String::from_utf8_lossy(key).into_owned())
        .collect()
}

/// Checks that `pairs` are `want`, printing only keys on failure.
fn assert_pairs(pairs: &Pairs, want: &Pairs, context: &str) {
    assert!(
        pairs == want,
        "{context}: got keys {:?}, want {:?}",
        keys_of(pairs),
        keys_of(want)
    );
}

/// Blocks read from tables while `scan` runs.
fn blocks_read(db: &Db, scan: impl FnOnce() -> Pairs) -> (Pairs, u64) {
    let before = db.stats().cache_misses;
    let pairs = scan();
    (pairs, db.stats().cache_misses - before)
}

fn uncached() -> ReadOptions<'static> {
    ReadOptions {
        fill_cache: false,
        ..ReadOptions::default()
    }
}

/// Scans the keys from `k00300` (included) to `k00311` (excluded) — six entries of one table
/// in the middle of the database — forward and backward, with the bounds in the range, in the
/// options, and split between them; each scan must read exactly the six blocks.
fn check_bounded_scans_read_only_their_blocks(db: &Db, context: &str) {
    let (lower, upper) = (key(300), key(311));
    let in_options = ReadOptions {
        iterate_lower_bound: Some(&lower),
        iterate_upper_bound: Some(&upper),
        ..uncached()
    };
    let lower_in_options = ReadOptions {
        iterate_lower_bound: Some(&lower),
        // Looser than the range's: the intersection is what counts.
        iterate_upper_bound: Some(b"k00500"),
        ..uncached()
    };
    type Scan<'a> = Box<dyn Fn() -> DbIterator + 'a>;
    // Each scan yields the six entries and reads their blocks (forward, backward); the last one
    // forward also reads the block of `k00298`, the key its lower bound excludes, where its seek
    // lands. (Backward, the index key between `k00298` and `k00300` is `k00298` itself, which
    // shows the block wholly outside the bounds.)
    let scans: Vec<(&str, Scan, (u64, u64))> = vec![
        (
            "bounds in the range",
            Box::new(|| db.range_with(lower.as_slice()..upper.as_slice(), &uncached())),
            (6, 6),
        ),
        (
            "bounds in the options",
            Box::new(|| db.range_with(.., &in_options)),
            (6, 6),
        ),
        (
            "bounds split between the range and the options",
            Box::new(|| db.range_with(..upper.as_slice(), &lower_in_options)),
            (6, 6),
        ),
        (
            "bounds at keys, a wider range in the options",
            Box::new(|| {
                db.range_with(
                    (Bound::Excluded(key(298)), Bound::Included(key(310))),
                    &ReadOptions {
                        iterate_lower_bound: Some(b"k00100"),
                        iterate_upper_bound: Some(&upper),
                        ..uncached()
                    },
                )
            }),
            (7, 6),
        ),
    ];
    let want = expected(300, 310);
    for (name, iterator, blocks) in &scans {
        let (forward, read) = blocks_read(db, || collect(iterator(), name));
        assert_pairs(&forward, &want, &format!("{context}, {name}: forward"));
        assert_eq!(
            read, blocks.0,
            "{context}, {name}: a forward scan read blocks outside its bounds"
        );
        let (mut backward, read) = blocks_read(db, || collect(iterator().rev(), name));
        backward.reverse();
        assert_pairs(&backward, &want, &format!("{context}, {name}: backward"));
        assert_eq!(
            read, blocks.1,
            "{context}, {name}: a backward scan read blocks outside its bounds"
        );
    }
    // first and last keep to the bounds; first reads one block, last two (a step backward
    // reads the entry before the key it yields, to know it has seen the key's newest version).
    let (first, read) = blocks_read(db, || {
        let (key, value) = db.first_key_value_with(&in_options).unwrap().unwrap();
        vec![(key, value.to_vec())]
    });
    assert_pairs(&first, &expected(300, 300), &format!("{context}: first"));
    assert_eq!(read, 1, "{context}: first");
    let (last, read) = blocks_read(db, || {
        let (key, value) = db.last_key_value_with(&in_options).unwrap().unwrap();
        vec![(key, value.to_vec())]
    });
    assert_pairs(&last, &expected(310, 310), &format!("{context}: last"));
    assert_eq!(read, 2, "{context}: last");
}

#[test]
fn a_bounded_scan_over_many_level0_tables_reads_only_the_blocks_in_its_bounds() {
    let (_dir, db) = level0_tables();
    check_bounded_scans_read_only_their_blocks(&db, "level 0");
    // The same scan unbounded reads a block of every other table too.
    let (_, read) = blocks_read(&db, || {
        collect(db.range_with(key(300).., &uncached()).take(6), "open-ended")
    });
    assert!(read > 6 + 10, "the unbounded scan read only {read} blocks");
}

#[test]
fn a_bounded_scan_of_a_compacted_level_reads_only_the_blocks_in_its_bounds() {
    let (_dir, db) = level0_tables();
    db.compact_range(..).unwrap();
    let stats = db.stats();
    assert_eq!(stats.levels[0].files, 0, "{stats}");
    let deeper = stats.levels.iter().map(|level| level.files).max().unwrap();
    assert!(
        deeper >= 20,
        "the entries fill many tables of one level: {stats}"
    );
    check_bounded_scans_read_only_their_blocks(&db, "a compacted level");
}

#[test]
fn seeks_within_bounds_read_only_the_blocks_they_yield() {
    let (_dir, db) = level0_tables();
    db.compact_range(..).unwrap();
    let (lower, upper) = (key(300), key(341));
    let options = ReadOptions {
        iterate_lower_bound: Some(&lower),
        iterate_upper_bound: Some(&upper),
        ..uncached()
    };
    let mut iterator = db.range_with(.., &options);
    let (pairs, read) = blocks_read(&db, || {
        let mut pairs = Pairs::new();
        // Below the lower bound: the bound wins.
        iterator.seek(&key(100));
        pairs.extend(collect(iterator.by_ref().take(1), "seek below"));
        // Between two keys (in the block of the second), then back to an earlier one.
        iterator.seek(b"k003215");
        pairs.extend(collect(iterator.by_ref().take(2), "seek between"));
        iterator.seek(&key(304));
        pairs.extend(collect(iterator.by_ref().take(1), "seek back"));
        // The back end, from above the upper bound.
        iterator.seek_back(&key(900));
        pairs.extend(collect(iterator.by_ref().rev().take(1), "seek_back above"));
        pairs
    });
    let want: Pairs = [300, 322, 324, 304, 340]
        .into_iter()
        .map(|number| (key(number), value(number)))
        .collect();
    assert_pairs(&pairs, &want, "seeks");
    // One block per key yielded, and one more for the back end: a step backward reads the
    // entry before the key it yields, to know it has seen the key's newest version (here the
    // block of `k00338`).
    assert_eq!(read, 6, "each seek reads only the block it yields");
}
