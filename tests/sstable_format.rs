//! SSTable format tests, one per edge case: round trips (random, large, many, versions and
//! tombstones, compressed and incompressible blocks), point lookups at snapshots, iteration in
//! both directions and seeks against a sorted model, block round trips at several restart
//! intervals, the bloom filter's false-positive rate, damage sweeps (flipped bytes, zeroed ranges,
//! truncation), and argument checking. Every random test prints its seed in failure messages.

mod common;

use std::sync::Arc;

use common::Rng;
use shaledb::key::{
    FileNumber, ValueKind, compare_internal_keys, internal_key, parse_internal_key, user_key,
};
use shaledb::sstable::{
    Block, BlockBuilder, BlockReadOptions, Compression, LookupResult, Table, TableBuilder,
    TableOptions,
};
use shaledb::{Error, MAX_KEY_SIZE, MAX_VALUE_SIZE, SequenceNumber};

type Entry = (Vec<u8>, Vec<u8>);

/// How values are drawn for a generated table.
#[derive(Clone, Copy)]
enum Values {
    Mixed,
    Compressible,
    Random,
}

fn random_value(rng: &mut Rng, values: Values) -> Vec<u8> {
    let length = match rng.below(10) {
        0 => 0,
        1..=3 => rng.between(1, 8),
        4..=8 => rng.between(9, 200),
        _ => rng.between(201, 3000),
    };
    let compressible = match values {
        Values::Mixed => rng.chance(1, 2),
        Values::Compressible => true,
        Values::Random => false,
    };
    if compressible {
        rng.compressible_bytes(length)
    } else {
        rng.bytes(length)
    }
}

/// `user_key_count` user keys (with shared prefixes), each with 1..=3 versions, about one in five
/// a tombstone; sorted in internal-key order without duplicates.
fn random_entries(rng: &mut Rng, user_key_count: usize, values: Values) -> Vec<Entry> {
    let mut entries = Vec::new();
    for _ in 0..user_key_count {
        let length = rng.between(1, 24);
        let user: Vec<u8> = (0..length).map(|_| b'a' + rng.below(6) as u8).collect();
        for _ in 0..rng.between(1, 3) {
            let sequence = SequenceNumber(rng.below(1 << 40) + 1);
            if rng.chance(1, 5) {
                entries.push((
                    internal_key(&user, sequence, ValueKind::Tombstone),
                    Vec::new(),
                ));
            } else {
                let value = random_value(rng, values);
                entries.push((internal_key(&user, sequence, ValueKind::Value), value));
            }
        }
    }
    sort_entries(&mut entries);
    entries
}

fn sort_entries(entries: &mut Vec<Entry>) {
    entries.sort_by(|a, b| compare_internal_keys(&a.0, &b.0));
    entries.dedup_by(|a, b| a.0 == b.0);
}

fn build(entries: &[Entry], options: &TableOptions) -> Vec<u8> {
    let mut builder = TableBuilder::in_memory(options.clone()).unwrap();
    for (key, value) in entries {
        builder.add(key, value).unwrap();
    }
    let (summary, bytes) = builder.finish_into_vec().unwrap();
    assert_eq!(summary.file_size, bytes.len() as u64);
    assert_eq!(summary.properties.entry_count, entries.len() as u64);
    bytes
}

fn scan_forward(table: &Table) -> Result<Vec<Entry>, Error> {
    let mut iterator = table.iter();
    let mut out = Vec::new();
    iterator.seek_to_first()?;
    while iterator.valid() {
        out.push((iterator.key().to_vec(), iterator.value().to_vec()));
        iterator.next()?;
    }
    Ok(out)
}

fn scan_backward(table: &Table) -> Result<Vec<Entry>, Error> {
    let mut iterator = table.iter();
    let mut out = Vec::new();
    iterator.seek_to_last()?;
    while iterator.valid() {
        out.push((iterator.key().to_vec(), iterator.value().to_vec()));
        iterator.prev()?;
    }
    out.reverse();
    Ok(out)
}

/// What `get(user, snapshot)` must return according to the sorted entries.
fn expected_get(entries: &[Entry], user: &[u8], snapshot: SequenceNumber) -> Option<LookupResult> {
    let target = internal_key(user, snapshot, ValueKind::Value);
    let index = entries.partition_point(|(key, _)| compare_internal_keys(key, &target).is_lt());
    let (key, value) = entries.get(index)?;
    let parsed = parse_internal_key(key).unwrap();
    (parsed.user_key == user).then(|| match parsed.kind {
        ValueKind::Value => LookupResult::Value(value.clone().into()),
        ValueKind::Tombstone => LookupResult::Deleted,
        ValueKind::Merge => LookupResult::Merge(value.clone().into()),
    })
}

/// The snapshots worth asking about for each entry: the latest, its own, and just before it.
fn lookups(entries: &[Entry]) -> Vec<(Vec<u8>, SequenceNumber)> {
    let mut out = Vec::new();
    for (key, _) in entries {
        let parsed = parse_internal_key(key).unwrap();
        let sequence = parsed.sequence.0;
        for snapshot in [SequenceNumber::MAX.0, sequence, sequence - 1] {
            out.push((parsed.user_key.to_vec(), SequenceNumber(snapshot)));
        }
    }
    out
}

fn check_table(table: &Table, entries: &[Entry], seed: u64) {
    assert!(
        scan_forward(table).unwrap() == entries,
        "forward scan differs, seed {seed}"
    );
    assert!(
        scan_backward(table).unwrap() == entries,
        "backward scan differs, seed {seed}"
    );
    for (user, snapshot) in lookups(entries) {
        let found = table.get(&user, snapshot).unwrap();
        assert_eq!(
            found,
            expected_get(entries, &user, snapshot),
            "get({user:?}, {snapshot}) seed {seed}"
        );
    }
}

fn small_blocks() -> TableOptions {
    TableOptions {
        block_size: 512,
        restart_interval: 4,
        ..TableOptions::default()
    }
}

#[test]
fn round_trip_random_keys_and_values() {
    for seed in [1, 2, 3] {
        let mut rng = Rng::new(seed);
        let entries = random_entries(&mut rng, 2000, Values::Mixed);
        for options in [TableOptions::default(), small_blocks()] {
            let table = Table::from_bytes("random.sst", build(&entries, &options)).unwrap();
            check_table(&table, &entries, seed);
        }
    }
}

#[test]
fn round_trip_through_a_file_with_mmap() {
    let seed = 11;
    let mut rng = Rng::new(seed);
    let entries = random_entries(&mut rng, 1000, Values::Mixed);
    let dir = tempfile::tempdir().unwrap();
    let path = shaledb::fs::table_path(dir.path(), FileNumber(7));
    let mut builder = TableBuilder::create(&path, TableOptions::default()).unwrap();
    for (key, value) in &entries {
        builder.add(key, value).unwrap();
    }
    assert!(builder.approximate_size() > 0);
    assert_eq!(builder.entry_count(), entries.len() as u64);
    let summary = builder.finish().unwrap();
    assert_eq!(summary.file_size, std::fs::metadata(&path).unwrap().len());
    let table = Table::open(&path, FileNumber(7)).unwrap();
    assert_eq!(table.file_number(), FileNumber(7));
    assert_eq!(table.properties(), &summary.properties);
    check_table(&table, &entries, seed);
}

#[test]
fn round_trip_many_entries() {
    let seed = 21;
    let mut rng = Rng::new(seed);
    let mut entries: Vec<Entry> = (0..50_000u64)
        .map(|index| {
            let user = format!("key{:08}", index * 7919 % 1_000_003);
            let value = random_value(&mut rng, Values::Mixed);
            let value = value[..value.len().min(40)].to_vec();
            (
                internal_key(user.as_bytes(), SequenceNumber(index + 1), ValueKind::Value),
                value,
            )
        })
        .collect();
    sort_entries(&mut entries);
    let table = Table::from_bytes("many.sst", build(&entries, &TableOptions::default())).unwrap();
    assert!(table.properties().data_block_count > 100, "seed {seed}");
    assert!(scan_forward(&table).unwrap() == entries, "seed {seed}");
    assert!(scan_backward(&table).unwrap() == entries, "seed {seed}");
    for (key, value) in entries.iter().step_by(7) {
        let found = table.get(user_key(key), SequenceNumber::MAX).unwrap();
        assert_eq!(
            found,
            Some(LookupResult::Value(value.clone().into())),
            "seed {seed}"
        );
    }
}

#[test]
fn largest_key_and_largest_value_round_trip() {
    let seed = 31;
    let mut rng = Rng::new(seed);
    let big_key = rng.bytes(MAX_KEY_SIZE);
    let mut entries = vec![
        (
            internal_key(b"a", SequenceNumber(1), ValueKind::Value),
            Vec::new(),
        ),
        (
            internal_key(&big_key, SequenceNumber(2), ValueKind::Value),
            rng.bytes(100),
        ),
        (
            internal_key(b"m", SequenceNumber(3), ValueKind::Value),
            rng.bytes(3 << 20),
        ),
        (
            internal_key(b"n", SequenceNumber(4), ValueKind::Value),
            rng.compressible_bytes(MAX_VALUE_SIZE),
        ),
        (
            internal_key(b"z", SequenceNumber(5), ValueKind::Tombstone),
            Vec::new(),
        ),
    ];
    sort_entries(&mut entries);
    let bytes = build(&entries, &TableOptions::default());
    let table = Table::from_bytes("big.sst", bytes).unwrap();
    check_table(&table, &entries, seed);
    assert!(
        table.properties().compressed_data_block_count >= 1,
        "seed {seed}"
    );

    let mut builder = TableBuilder::in_memory(TableOptions::default()).unwrap();
    let too_long_key = internal_key(
        &vec![0; MAX_KEY_SIZE + 1],
        SequenceNumber(1),
        ValueKind::Value,
    );
    assert!(matches!(
        builder.add(&too_long_key, b""),
        Err(Error::InvalidArgument(_))
    ));
    let key = internal_key(b"k", SequenceNumber(1), ValueKind::Value);
    let too_big_value = vec![0; MAX_VALUE_SIZE + 1];
    assert!(matches!(
        builder.add(&key, &too_big_value),
        Err(Error::InvalidArgument(_))
    ));
    builder.add(&key, b"still works").unwrap();
}

#[test]
fn versions_and_tombstones_respect_snapshots() {
    let mut entries = Vec::new();
    for (sequence, kind, value) in [
        (9, ValueKind::Value, &b"nine"[..]),
        (7, ValueKind::Tombstone, b""),
        (5, ValueKind::Value, b"five"),
        (3, ValueKind::Value, b"three"),
    ] {
        entries.push((
            internal_key(b"key", SequenceNumber(sequence), kind),
            value.to_vec(),
        ));
    }
    entries.push((
        internal_key(b"other", SequenceNumber(4), ValueKind::Value),
        b"o".to_vec(),
    ));
    sort_entries(&mut entries);
    let options = TableOptions {
        block_size: 64,
        restart_interval: 1,
        ..TableOptions::default()
    };
    let table = Table::from_bytes("versions.sst", build(&entries, &options)).unwrap();
    let get = |snapshot| table.get(b"key", SequenceNumber(snapshot)).unwrap();
    let value = |bytes: &[u8]| Some(LookupResult::Value(bytes.to_vec().into()));
    assert_eq!(get(100), value(b"nine"));
    assert_eq!(get(9), value(b"nine"));
    assert_eq!(get(8), Some(LookupResult::Deleted));
    assert_eq!(get(7), Some(LookupResult::Deleted));
    assert_eq!(get(6), value(b"five"));
    assert_eq!(get(4), value(b"three"));
    assert_eq!(get(2), None);
    assert_eq!(table.get(b"ke", SequenceNumber(100)).unwrap(), None);
    assert_eq!(table.get(b"other", SequenceNumber(3)).unwrap(), None);
    assert_eq!(table.properties().tombstone_count, 1);
    assert_eq!(table.properties().user_key_count, 2);
    assert_eq!(table.properties().smallest_sequence, SequenceNumber(3));
    assert_eq!(table.properties().largest_sequence, SequenceNumber(9));
    let mut rng = Rng::new(41);
    let entries = random_entries(&mut rng, 3000, Values::Mixed);
    check_table(
        &Table::from_bytes("v.sst", build(&entries, &small_blocks())).unwrap(),
        &entries,
        41,
    );
}

#[test]
fn blocks_that_compress_and_blocks_that_do_not() {
    let seed = 51;
    let mut rng = Rng::new(seed);
    let mut entries = random_entries(&mut rng, 400, Values::Compressible);
    let random_half: Vec<Entry> = random_entries(&mut rng, 400, Values::Random)
        .into_iter()
        .map(|(key, value)| {
            let mut shifted = vec![b'z'];
            shifted.extend_from_slice(&key);
            (shifted, value)
        })
        .collect();
    entries.extend(random_half);
    sort_entries(&mut entries);
    let table = Table::from_bytes("mixed.sst", build(&entries, &TableOptions::default())).unwrap();
    let properties = table.properties();
    assert!(properties.compressed_data_block_count > 0, "seed {seed}");
    assert!(
        properties.compressed_data_block_count < properties.data_block_count,
        "seed {seed}"
    );
    assert!(
        properties.data_size < properties.raw_data_size,
        "seed {seed}"
    );
    check_table(&table, &entries, seed);
    let uncompressed = TableOptions {
        compression: Compression::None,
        ..TableOptions::default()
    };
    let table = Table::from_bytes("raw.sst", build(&entries, &uncompressed)).unwrap();
    assert_eq!(table.properties().compressed_data_block_count, 0);
    check_table(&table, &entries, seed);
}

#[test]
fn seek_finds_the_first_entry_at_or_after_the_target() {
    let seed = 61;
    let mut rng = Rng::new(seed);
    let entries = random_entries(&mut rng, 2000, Values::Mixed);
    let table = Table::from_bytes("seek.sst", build(&entries, &small_blocks())).unwrap();
    let mut iterator = table.iter();
    for round in 0..3000 {
        let target = if round % 2 == 0 {
            entries[rng.below(entries.len() as u64) as usize].0.clone()
        } else {
            let length = rng.between(0, 25);
            let user: Vec<u8> = (0..length).map(|_| b'a' + rng.below(7) as u8).collect();
            internal_key(&user, SequenceNumber(rng.below(1 << 41)), ValueKind::Value)
        };
        iterator.seek(&target).unwrap();
        let index = entries.partition_point(|(key, _)| compare_internal_keys(key, &target).is_lt());
        match entries.get(index) {
            Some((key, value)) => {
                assert!(iterator.valid(), "seed {seed} round {round}");
                assert_eq!(
                    (iterator.key(), iterator.value()),
                    (&key[..], &value[..]),
                    "seed {seed}"
                );
            }
            None => assert!(!iterator.valid(), "seed {seed} round {round}"),
        }
    }
}

#[test]
fn seek_for_prev_finds_the_last_entry_at_or_before_the_target() {
    let seed = 67;
    let mut rng = Rng::new(seed);
    let entries = random_entries(&mut rng, 2000, Values::Mixed);
    let table = Table::from_bytes("seek_for_prev.sst", build(&entries, &small_blocks())).unwrap();
    let mut iterator = table.iter();
    for round in 0..3000 {
        let target = if round % 2 == 0 {
            entries[rng.below(entries.len() as u64) as usize].0.clone()
        } else {
            let length = rng.between(0, 25);
            let user: Vec<u8> = (0..length).map(|_| b'a' + rng.below(7) as u8).collect();
            internal_key(&user, SequenceNumber(rng.below(1 << 41)), ValueKind::Value)
        };
        iterator.seek_for_prev(&target).unwrap();
        let after = entries.partition_point(|(key, _)| compare_internal_keys(key, &target).is_le());
        match after.checked_sub(1).map(|index| &entries[index]) {
            Some((key, value)) => {
                assert!(iterator.valid(), "seed {seed} round {round}");
                assert_eq!(
                    (iterator.key(), iterator.value()),
                    (&key[..], &value[..]),
                    "seed {seed} round {round}"
                );
                // The walk goes on backward from there.
                if after >= 2 {
                    iterator.prev().unwrap();
                    assert_eq!(iterator.key(), &entries[after - 2].0[..], "seed {seed}");
                }
            }
            None => assert!(!iterator.valid(), "seed {seed} round {round}"),
        }
    }
}

#[test]
fn mixed_direction_walk_matches_the_model() {
    let seed = 71;
    let mut rng = Rng::new(seed);
    let entries = random_entries(&mut rng, 1500, Values::Mixed);
    let table = Table::from_bytes("walk.sst", build(&entries, &small_blocks())).unwrap();
    let mut iterator = table.iter();
    let mut position = rng.below(entries.len() as u64) as usize;
    iterator.seek(&entries[position].0).unwrap();
    for step in 0..20_000 {
        let forward = rng.chance(1, 2);
        if forward {
            iterator.next().unwrap();
            position += 1;
        } else if position == 0 {
            iterator.prev().unwrap();
            assert!(!iterator.valid(), "seed {seed} step {step}");
            position = rng.below(entries.len() as u64) as usize;
            iterator.seek(&entries[position].0).unwrap();
            continue;
        } else {
            iterator.prev().unwrap();
            position -= 1;
        }
        if position == entries.len() {
            assert!(!iterator.valid(), "seed {seed} step {step}");
            iterator.seek_to_last().unwrap();
            position -= 1;
        }
        assert_eq!(
            iterator.key(),
            &entries[position].0[..],
            "seed {seed} step {step}"
        );
        assert_eq!(
            iterator.value(),
            &entries[position].1[..],
            "seed {seed} step {step}"
        );
    }
}

#[test]
fn empty_table_round_trip() {
    let table = Table::from_bytes("empty.sst", build(&[], &TableOptions::default())).unwrap();
    assert!(scan_forward(&table).unwrap().is_empty());
    assert!(scan_backward(&table).unwrap().is_empty());
    assert_eq!(table.get(b"x", SequenceNumber::MAX).unwrap(), None);
    assert_eq!(table.properties().entry_count, 0);
    let mut iterator = table.iter();
    iterator
        .seek(&internal_key(b"a", SequenceNumber(1), ValueKind::Value))
        .unwrap();
    assert!(!iterator.valid());
}

fn check_block(entries: &[Entry], restart_interval: usize, seed: u64) {
    let mut builder = BlockBuilder::new(restart_interval);
    for (key, value) in entries {
        builder.add(key, value);
    }
    let block = Arc::new(Block::from_contents("block", builder.finish()).unwrap());
    let mut iterator = block.iter();
    iterator.seek_to_first().unwrap();
    for (key, value) in entries {
        assert_eq!(
            (iterator.key(), iterator.value()),
            (&key[..], &value[..]),
            "seed {seed}"
        );
        iterator.next().unwrap();
    }
    assert!(!iterator.valid(), "seed {seed}");
    iterator.seek_to_last().unwrap();
    for (key, value) in entries.iter().rev() {
        assert_eq!(
            (iterator.key(), iterator.value()),
            (&key[..], &value[..]),
            "seed {seed}"
        );
        iterator.prev().unwrap();
    }
    assert!(!iterator.valid(), "seed {seed}");
    for (key, _) in entries {
        iterator.seek(key).unwrap();
        assert_eq!(
            iterator.key(),
            &key[..],
            "seed {seed} interval {restart_interval}"
        );
        // The largest trailer sorts first: this seeks to the newest version of the user key.
        let mut newest = user_key(key).to_vec();
        newest.extend_from_slice(&u64::MAX.to_le_bytes());
        iterator.seek(&newest).unwrap();
        let first = entries.partition_point(|(other, _)| user_key(other) < user_key(key));
        assert_eq!(iterator.key(), &entries[first].0[..], "seed {seed}");
    }
    let mut past_end = entries[entries.len() - 1].0.clone();
    past_end.push(0);
    iterator.seek(&past_end).unwrap();
    assert!(!iterator.valid(), "seed {seed}");
}

#[test]
fn block_round_trip_at_restart_intervals_1_2_16() {
    for seed in [81, 82] {
        let mut rng = Rng::new(seed);
        let entries = random_entries(&mut rng, 300, Values::Mixed);
        for restart_interval in [1, 2, 16] {
            check_block(&entries, restart_interval, seed);
            check_block(&entries[..1], restart_interval, seed);
        }
    }
    let empty = Arc::new(Block::from_contents("empty", BlockBuilder::new(16).finish()).unwrap());
    let mut iterator = empty.iter();
    iterator.seek_to_first().unwrap();
    assert!(!iterator.valid());
    iterator.seek_to_last().unwrap();
    assert!(!iterator.valid());
}

#[test]
fn bloom_filter_false_positive_rate_at_10_bits_per_key() {
    let seed = 91;
    let mut rng = Rng::new(seed);
    let key_count = 100_000;
    let present: Vec<Vec<u8>> = (0..key_count)
        .map(|index| format!("present-{index}-{}", rng.next_u64()).into_bytes())
        .collect();
    let mut entries: Vec<Entry> = present
        .iter()
        .map(|user| {
            (
                internal_key(user, SequenceNumber(1), ValueKind::Value),
                Vec::new(),
            )
        })
        .collect();
    sort_entries(&mut entries);
    let table = Table::from_bytes("bloom.sst", build(&entries, &TableOptions::default())).unwrap();
    for user in &present {
        assert!(
            table.may_contain(user),
            "false negative for {user:?}, seed {seed}"
        );
    }
    let false_positives = (0..key_count)
        .filter(|index| table.may_contain(format!("absent-{index}-{}", rng.next_u64()).as_bytes()))
        .count();
    let rate = false_positives as f64 / key_count as f64;
    println!(
        "bloom false-positive rate at 10 bits per key: {:.3}%",
        rate * 100.0
    );
    assert!(rate <= 0.012, "false-positive rate {rate}, seed {seed}");
    assert!(
        rate > 0.0,
        "a 10-bit filter with no false positives is suspicious, seed {seed}"
    );
}

#[test]
fn no_filter_when_bits_per_key_is_zero() {
    let options = TableOptions {
        bloom_bits_per_key: 0,
        ..TableOptions::default()
    };
    let entries = vec![(
        internal_key(b"k", SequenceNumber(1), ValueKind::Value),
        b"v".to_vec(),
    )];
    let table = Table::from_bytes("nofilter.sst", build(&entries, &options)).unwrap();
    assert_eq!(table.properties().filter_size, 0);
    assert!(table.may_contain(b"anything"));
    assert_eq!(table.get(b"anything", SequenceNumber::MAX).unwrap(), None);
    assert_eq!(
        table.get(b"k", SequenceNumber::MAX).unwrap(),
        Some(LookupResult::Value(b"v".to_vec().into()))
    );
}

#[test]
fn invalid_options_are_refused_naming_the_field() {
    let cases = [
        (
            TableOptions {
                block_size: 10,
                ..TableOptions::default()
            },
            "block_size",
        ),
        (
            TableOptions {
                restart_interval: 0,
                ..TableOptions::default()
            },
            "restart_interval",
        ),
        (
            TableOptions {
                bloom_bits_per_key: 1000,
                ..TableOptions::default()
            },
            "bloom_bits_per_key",
        ),
    ];
    for (options, field) in cases {
        match TableBuilder::in_memory(options) {
            Err(Error::InvalidArgument(message)) => assert!(message.contains(field), "{message}"),
            other => panic!(
                "expected InvalidArgument naming {field}, got {:?}",
                other.err()
            ),
        }
    }
    assert!(TableOptions::default().validate().is_ok());
}

#[test]
fn out_of_order_add_is_invalid_argument() {
    let mut builder = TableBuilder::in_memory(TableOptions::default()).unwrap();
    let newer = internal_key(b"b", SequenceNumber(5), ValueKind::Value);
    let older = internal_key(b"b", SequenceNumber(4), ValueKind::Value);
    builder.add(&newer, b"1").unwrap();
    for bad in [
        &newer,
        &internal_key(b"b", SequenceNumber(6), ValueKind::Value),
        &internal_key(b"a", SequenceNumber(1), ValueKind::Value),
    ] {
        assert!(matches!(
            builder.add(bad, b"x"),
            Err(Error::InvalidArgument(_))
        ));
    }
    assert!(matches!(
        builder.add(b"short", b"x"),
        Err(Error::InvalidArgument(_))
    ));
    builder.add(&older, b"2").unwrap();
    let (_, bytes) = builder.finish_into_vec().unwrap();
    let table = Table::from_bytes("order.sst", bytes).unwrap();
    assert_eq!(scan_forward(&table).unwrap().len(), 2);
}

#[test]
fn abandon_removes_the_partial_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("000001.sst");
    let mut builder = TableBuilder::create(&path, TableOptions::default()).unwrap();
    builder
        .add(
            &internal_key(b"k", SequenceNumber(1), ValueKind::Value),
            b"v",
        )
        .unwrap();
    assert!(path.exists());
    builder.abandon().unwrap();
    assert!(!path.exists());
}

#[test]
fn unknown_version_and_bad_magic_are_refused() {
    let entries = vec![(
        internal_key(b"k", SequenceNumber(1), ValueKind::Value),
        b"v".to_vec(),
    )];
    let bytes = build(&entries, &TableOptions::default());
    let footer = bytes.len() - 64;
    let mut version_four = bytes.clone();
    version_four[footer + 48] = 4;
    let checksum = crc32fast::hash(&version_four[footer..footer + 52]);
    version_four[footer + 52..footer + 56].copy_from_slice(&checksum.to_le_bytes());
    let error = Table::from_bytes("v4.sst", version_four).unwrap_err();
    assert!(error.to_string().contains("version 4"), "{error}");
    // Version 3 (a table that may hold merge operands) may have no range-deletion block.
    let mut version_three = bytes.clone();
    version_three[footer + 48] = 3;
    let checksum = crc32fast::hash(&version_three[footer..footer + 52]);
    version_three[footer + 52..footer + 56].copy_from_slice(&checksum.to_le_bytes());
    Table::from_bytes("v3.sst", version_three).expect("a version-3 table without range deletions");
    // Version 2 is a table with range deletions: one without the block is refused.
    let mut version_two = bytes.clone();
    version_two[footer + 48] = 2;
    let checksum = crc32fast::hash(&version_two[footer..footer + 52]);
    version_two[footer + 52..footer + 56].copy_from_slice(&checksum.to_le_bytes());
    let error = Table::from_bytes("v2.sst", version_two).unwrap_err();
    assert!(
        error.to_string().contains("range-deletion block"),
        "{error}"
    );
    let mut bad_magic = bytes.clone();
    let last = bad_magic.len() - 1;
    bad_magic[last] ^= 0x20;
    let error = Table::from_bytes("magic.sst", bad_magic).unwrap_err();
    assert!(error.to_string().contains("magic"), "{error}");
    assert!(
        Table::from_bytes("tiny.sst", vec![0; 10])
            .unwrap_err()
            .is_corruption()
    );
}

#[test]
fn unverified_reads_return_the_same_data() {
    let seed = 101;
    let mut rng = Rng::new(seed);
    let entries = random_entries(&mut rng, 500, Values::Mixed);
    let table = Table::from_bytes("noverify.sst", build(&entries, &small_blocks())).unwrap();
    let mut iterator = table.iter_with(BlockReadOptions::UNVERIFIED);
    iterator.seek_to_first().unwrap();
    for (key, value) in &entries {
        assert_eq!(
            (iterator.key(), iterator.value()),
            (&key[..], &value[..]),
            "seed {seed}"
        );
        iterator.next().unwrap();
        let user = user_key(key);
        assert_eq!(
            table
                .get_with(user, SequenceNumber::MAX, BlockReadOptions::UNVERIFIED)
                .unwrap(),
            expected_get(&entries, user, SequenceNumber::MAX),
            "seed {seed}"
        );
    }
}

// ---- Damage sweeps ----

/// A table of a few KiB with several blocks, some compressed and some not, plus its entries.
fn small_table() -> (Vec<u8>, Vec<Entry>) {
    let mut rng = Rng::new(111);
    let mut entries = Vec::new();
    for index in 0..80u64 {
        let user_number = index * 37 % 1000;
        let user = format!("user{user_number:04}");
        let length = rng.between(0, 120);
        // Random values for the lower half of the key space make its blocks incompressible.
        let value = if user_number < 500 {
            rng.bytes(length / 2)
        } else {
            rng.compressible_bytes(length)
        };
        let kind = if index % 7 == 3 {
            ValueKind::Tombstone
        } else {
            ValueKind::Value
        };
        let value = if kind == ValueKind::Tombstone {
            Vec::new()
        } else {
            value
        };
        entries.push((
            internal_key(user.as_bytes(), SequenceNumber(index + 1), kind),
            value,
        ));
    }
    sort_entries(&mut entries);
    let options = TableOptions {
        block_size: 400,
        restart_interval: 3,
        ..TableOptions::default()
    };
    let bytes = build(&entries, &options);
    let table = Table::from_bytes("small.sst", bytes.clone()).unwrap();
    let properties = table.properties();
    assert!(properties.data_block_count >= 4, "{properties:?}");
    assert!(
        properties.compressed_data_block_count >= 1,
        "{properties:?}"
    );
    assert!(
        properties.compressed_data_block_count < properties.data_block_count,
        "{properties:?}"
    );
    assert!((2000..8000).contains(&bytes.len()), "{}", bytes.len());
    (bytes, entries)
}

fn assert_corruption(error: &Error, file_size: usize, what: &str) {
    match error {
        Error::Corruption { file, offset, .. } => {
            assert_eq!(file.to_str(), Some("damaged.sst"), "{what}: {error}");
            assert!(
                *offset <= file_size as u64,
                "{what}: offset past the file: {error}"
            );
        }
        other => panic!("{what}: expected corruption, got {other}"),
    }
}

/// Opening and reading `damaged` must give corruption errors or exactly `entries`. Returns
/// whether the damage was detected.
fn check_damaged(damaged: Vec<u8>, entries: &[Entry], original_size: usize, what: &str) -> bool {
    let table = match Table::from_bytes("damaged.sst", damaged) {
        Ok(table) => table,
        Err(error) => {
            assert_corruption(&error, original_size, what);
            return true;
        }
    };
    let mut detected = false;
    for scan in [scan_forward, scan_backward] {
        match scan(&table) {
            Ok(found) => assert!(found == entries, "{what}: a scan returned wrong entries"),
            Err(error) => {
                assert_corruption(&error, original_size, what);
                detected = true;
            }
        }
    }
    for (key, value) in entries {
        let parsed = parse_internal_key(key).unwrap();
        let expected = match parsed.kind {
            ValueKind::Value => LookupResult::Value(value.clone().into()),
            ValueKind::Tombstone => LookupResult::Deleted,
            ValueKind::Merge => LookupResult::Merge(value.clone().into()),
        };
        match table.get(parsed.user_key, parsed.sequence) {
            Ok(found) => assert_eq!(found, Some(expected), "{what}"),
            Err(error) => assert_corruption(&error, original_size, what),
        }
        // Without checksums, damage may go unnoticed, but it must never panic.
        let _ = table.get_with(
            parsed.user_key,
            parsed.sequence,
            BlockReadOptions::UNVERIFIED,
        );
    }
    let _ = unverified_scan(&table);
    detected
}

fn unverified_scan(table: &Table) -> Result<usize, Error> {
    let mut iterator = table.iter_with(BlockReadOptions::UNVERIFIED);
    let mut count = 0;
    iterator.seek_to_last()?;
    while iterator.valid() && count < 10_000 {
        count += 1;
        iterator.prev()?;
    }
    Ok(count)
}

#[test]
fn damage_sweep_flipping_every_byte() {
    let (bytes, entries) = small_table();
    for offset in 0..bytes.len() {
        for mask in [0x01, 0x80] {
            let mut damaged = bytes.clone();
            damaged[offset] ^= mask;
            let what = format!("flip {mask:#x} at {offset}");
            // Every byte is covered by a checksum, so every flip must be noticed.
            assert!(
                check_damaged(damaged, &entries, bytes.len(), &what),
                "{what} went unnoticed"
            );
        }
    }
}

#[test]
fn damage_sweep_zeroing_ranges() {
    let (bytes, entries) = small_table();
    for length in [1, 2, 3, 4, 5, 8, 13, 64, 300] {
        let step = if length <= 8 { 1 } else { 5 };
        for offset in (0..bytes.len()).step_by(step) {
            let end = (offset + length).min(bytes.len());
            let mut damaged = bytes.clone();
            if damaged[offset..end].iter().all(|&byte| byte == 0) {
                continue;
            }
            damaged[offset..end].fill(0);
            let what = format!("zero {offset}..{end}");
            assert!(
                check_damaged(damaged, &entries, bytes.len(), &what),
                "{what} went unnoticed"
            );
        }
    }
}

#[test]
fn damage_sweep_truncating_at_every_offset() {
    let (bytes, _) = small_table();
    for length in 0..bytes.len() {
        let damaged = bytes[..length].to_vec();
        // The footer moves with the end of the file, so a truncated table must not even open.
        match Table::from_bytes("damaged.sst", damaged) {
            Err(error) => assert_corruption(&error, bytes.len(), &format!("truncate to {length}")),
            Ok(_) => panic!("table truncated to {length} bytes opened"),
        }
    }
    let mut extended = bytes.clone();
    extended.extend_from_slice(&[0; 10]);
    assert_corruption(
        &Table::from_bytes("damaged.sst", extended).unwrap_err(),
        bytes.len() + 10,
        "appended zeros",
    );
}

#[test]
fn damaged_block_error_names_file_and_block_offset() {
    let (bytes, _) = small_table();
    let table = Table::from_bytes("damaged.sst", bytes.clone()).unwrap();
    let mut index = table.index_block().iter();
    index.seek_to_first().unwrap();
    index.next().unwrap();
    let mut cursor = shaledb::coding::Cursor::new(index.value());
    let second_block = cursor.varint64().unwrap();
    let mut damaged = bytes.clone();
    damaged[second_block as usize + 2] ^= 0x10;
    let table = Table::from_bytes("damaged.sst", damaged).unwrap();
    let error = scan_forward(&table).unwrap_err();
    match &error {
        Error::Corruption { offset, reason, .. } => {
            assert_eq!(*offset, second_block, "{error}");
            assert!(reason.contains("checksum"), "{error}");
        }
        other => panic!("expected corruption, got {other}"),
    }
}
