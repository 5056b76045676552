//! Tests of the compaction picker: hand-built cases for each rule, then a seeded-random
//! simulation that picks several concurrent compactions from random file sets and checks every
//! invariant of the module documentation.

use super::*;
use crate::key::{SequenceNumber, ValueKind, internal_key};

/// A file over the user keys `smallest..=largest` (the smallest key's sequence number is the
/// higher one, so that a file over one user key is valid).
fn file(number: u64, smallest: &str, largest: &str, file_size: u64) -> FileMetadata {
    file_with_sequences(number, (smallest, 2), (largest, 1), file_size)
}

fn file_with_sequences(
    number: u64,
    (smallest, smallest_sequence): (&str, u64),
    (largest, largest_sequence): (&str, u64),
    file_size: u64,
) -> FileMetadata {
    let key = |user_key: &str, sequence: u64| {
        internal_key(
            user_key.as_bytes(),
            SequenceNumber(sequence),
            ValueKind::Value,
        )
    };
    FileMetadata {
        number: FileNumber(number),
        file_size,
        smallest: key(smallest, smallest_sequence),
        largest: key(largest, largest_sequence),
        smallest_sequence: SequenceNumber(smallest_sequence.min(largest_sequence)),
        largest_sequence: SequenceNumber(smallest_sequence.max(largest_sequence)),
        global_sequence: None,
    }
}

/// Tiny sizes: L0 triggers at 2 files, L1 targets 100 bytes, L2 1000, files 10 (so a trivial
/// move tolerates 100 bytes of grandparents).
fn options() -> PickerOptions {
    PickerOptions {
        level0_compaction_trigger: 2,
        level1_target_size: 100,
        level_size_multiplier: 10,
        target_file_size: 10,
        level0_size_percent_trigger: 0,
        dynamic_level_sizes: false,
    }
}

fn levels(
    level0: Vec<FileMetadata>,
    level1: Vec<FileMetadata>,
    level2: Vec<FileMetadata>,
    level3: Vec<FileMetadata>,
) -> Levels {
    [level0, level1, level2, level3]
}

fn numbers(files: &[FileMetadata]) -> Vec<u64> {
    files.iter().map(|file| file.number.0).collect()
}

fn busy(numbers: &[u64]) -> HashSet<FileNumber> {
    numbers.iter().map(|&number| FileNumber(number)).collect()
}

fn no_cursors() -> [Option<Vec<u8>>; NUM_LEVELS] {
    Default::default()
}

fn pick(levels: &Levels, busy_numbers: &[u64]) -> Option<Compaction> {
    pick_compaction(levels, &busy(busy_numbers), &no_cursors(), &options())
}

#[test]
fn scores_count_files_in_level0_and_bytes_below() {
    let levels = levels(
        vec![
            file(3, "x", "y", 1),
            file(2, "x", "y", 1),
            file(1, "x", "y", 1),
        ],
        vec![file(10, "a", "c", 90), file(11, "d", "f", 60)],
        vec![file(20, "a", "z", 500)],
        vec![file(30, "a", "z", 1_000_000)],
    );
    assert_eq!(level_scores(&levels, &options()), [1.5, 1.5, 0.5]);
    let targets = level_targets(&levels, &options());
    assert_eq!(targets.base_level, 1);
    assert_eq!(targets.size(0), None);
    assert_eq!(targets.size(1), Some(100));
    assert_eq!(targets.size(2), Some(1000));
    assert_eq!(targets.size(3), None);
    assert_eq!(max_grandparent_overlap_bytes(&options()), 100);
    // The picker's scores leave out busy files: with 10 busy L1 is at 0.6, so L0 goes first;
    // with 1 busy L0 is at 1.0 and L1 first; with 10 and 3 busy, L0 (at 1.0) cannot go.
    let compaction = pick(&levels, &[10]).unwrap();
    assert_eq!((compaction.level, compaction.score), (0, 1.5));
    assert_eq!(numbers(&compaction.inputs), [3, 2, 1]);
    assert_eq!(pick(&levels, &[1]).unwrap().level, 1);
    let compaction = pick(&levels, &[10, 3]);
    assert_eq!(compaction.map(|c| c.score), None, "busy 3 overlaps 2 and 1");
}

#[test]
fn highest_score_goes_first() {
    let level1 = vec![file(10, "a", "c", 150), file(11, "d", "f", 150)];
    // L1 at 3.0 beats L0 at 1.0.
    let two_level0 = vec![file(2, "a", "b", 1), file(1, "x", "y", 1)];
    let compaction = pick(&levels(two_level0, level1.clone(), vec![], vec![]), &[]).unwrap();
    assert_eq!((compaction.level, compaction.score), (1, 3.0));
    // L0 at 3.5 beats L1 at 3.0.
    let seven_level0 = (1..=7).rev().map(|n| file(n, "a", "b", 1)).collect();
    let compaction = pick(&levels(seven_level0, level1, vec![], vec![]), &[]).unwrap();
    assert_eq!((compaction.level, compaction.score), (0, 3.5));
    assert_eq!(numbers(&compaction.inputs), [7, 6, 5, 4, 3, 2, 1]);
    // Equal scores: the lower level first.
    let tied = levels(
        vec![file(2, "a", "b", 1), file(1, "a", "b", 1)],
        vec![file(10, "c", "d", 100)],
        vec![],
        vec![],
    );
    assert_eq!(pick(&tied, &[]).unwrap().level, 0);
}

#[test]
fn level0_waits_for_its_trigger() {
    let mut levels = levels(vec![file(1, "a", "b", 1)], vec![], vec![], vec![]);
    assert_eq!(pick(&levels, &[]), None);
    levels[0].insert(0, file(2, "c", "d", 1));
    let compaction = pick(&levels, &[]).unwrap();
    assert_eq!(compaction.level, 0);
    assert_eq!(compaction.output_level, 1);
}

#[test]
fn level0_takes_every_file_overlapping_transitively() {
    // Oldest is 1 [e..h]: it pulls in 3 [c..f], which pulls in 4 [a..c]. 5 and 2 stay.
    let levels = levels(
        vec![
            file(5, "m", "p", 1),
            file(4, "a", "c", 1),
            file(3, "c", "f", 1),
            file(2, "x", "z", 1),
            file(1, "e", "h", 1),
        ],
        vec![
            file(10, "0", "1", 1),
            file(11, "2", "a", 1),
            file(12, "g", "k", 1),
            file(13, "l", "n", 1),
        ],
        vec![
            file(20, "0", "0", 1),
            file(21, "i", "j", 1),
            file(22, "k", "z", 1),
        ],
        vec![],
    );
    let compaction = pick(&levels, &[]).unwrap();
    assert_eq!(numbers(&compaction.inputs), [4, 3, 1]);
    assert_eq!(numbers(&compaction.next_inputs), [11, 12]);
    // The grandparents overlap the whole range, L1 inputs included ("2".."k").
    assert_eq!(numbers(&compaction.grandparents), [21, 22]);
    assert_eq!(compaction.smallest_user_key(), b"2");
    assert_eq!(compaction.largest_user_key(), b"k");
    assert!(!compaction.trivial_move);
    assert_eq!(compaction.cursor, None);
    let mut all: Vec<u64> = compaction.input_numbers().map(|n| n.0).collect();
    all.sort_unstable();
    assert_eq!(all, [1, 3, 4, 11, 12]);
    let deleted: Vec<(usize, FileNumber)> = compaction.deleted_files().collect();
    assert_eq!(deleted[0], (0, FileNumber(4)));
    assert_eq!(deleted[3], (1, FileNumber(11)));
    assert_eq!(compaction.input_bytes(), 5);
}

#[test]
fn level0_busy_files_block_only_what_overlaps_them() {
    let level0 = vec![
        file(4, "a", "c", 1),
        file(3, "b", "d", 1),
        file(2, "m", "n", 1),
        file(1, "x", "z", 1),
    ];
    // 3 is busy: 4 overlaps it and cannot go, 1 (oldest free) can.
    let levels = levels(level0, vec![file(10, "m", "m", 1)], vec![], vec![]);
    let compaction = pick(&levels, &[3]).unwrap();
    assert_eq!(numbers(&compaction.inputs), [1]);
    assert!(compaction.trivial_move);
    // 1 busy as well: 2 is next, with its L1 overlap.
    let compaction = pick(&levels, &[3, 1]).unwrap();
    assert_eq!(numbers(&compaction.inputs), [2]);
    assert_eq!(numbers(&compaction.next_inputs), [10]);
    // 10 busy too: only 4 is free, and it overlaps busy 3.
    assert_eq!(pick(&levels, &[3, 1, 10]), None);
}

#[test]
fn level1_round_robin_follows_the_cursor_and_wraps() {
    let level1 = vec![
        file(10, "a", "b", 120),
        file(11, "c", "d", 120),
        file(12, "e", "f", 120),
    ];
    let levels = levels(vec![], level1, vec![], vec![]);
    let mut cursors = no_cursors();
    let mut picked = Vec::new();
    for _ in 0..4 {
        let compaction = pick_compaction(&levels, &HashSet::new(), &cursors, &options()).unwrap();
        assert_eq!(compaction.level, 1);
        assert_eq!(
            compaction.cursor.as_ref(),
            Some(&compaction.inputs[0].largest)
        );
        picked.extend(numbers(&compaction.inputs));
        cursors[1] = compaction.cursor;
    }
    assert_eq!(picked, [10, 11, 12, 10]);
    // A cursor between files (a key deleted since) picks the next file.
    cursors[1] = Some(internal_key(b"cc", SequenceNumber(9), ValueKind::Value));
    let compaction = pick_compaction(&levels, &HashSet::new(), &cursors, &options()).unwrap();
    assert_eq!(numbers(&compaction.inputs), [11]);
    // Busy seeds are skipped, wrapping around.
    let compaction = pick_compaction(&levels, &busy(&[11, 12]), &cursors, &options());
    assert_eq!(numbers(&compaction.unwrap().inputs), [10]);
}

#[test]
fn next_level_overlaps_are_taken_and_must_be_free() {
    let levels = levels(
        vec![],
        vec![file(10, "d", "k", 80), file(11, "q", "r", 80)],
        vec![
            file(20, "a", "e", 1),
            file(21, "f", "g", 1),
            file(22, "j", "m", 1),
            file(23, "n", "p", 1),
            file(24, "s", "t", 1),
        ],
        vec![
            file(30, "a", "b", 1),
            file(31, "l", "l", 1),
            file(32, "o", "z", 1),
        ],
    );
    let compaction = pick(&levels, &[]).unwrap();
    assert_eq!(numbers(&compaction.inputs), [10]);
    assert_eq!(numbers(&compaction.next_inputs), [20, 21, 22]);
    assert_eq!(numbers(&compaction.grandparents), [30, 31]);
    assert_eq!(
        (
            compaction.smallest_user_key(),
            compaction.largest_user_key()
        ),
        (&b"a"[..], &b"m"[..])
    );
    // 21 is busy: 10 must wait, 11 goes (a trivial move: nothing overlaps in L2).
    let compaction = pick(&levels, &[21]).unwrap();
    assert_eq!(numbers(&compaction.inputs), [11]);
    assert!(compaction.next_inputs.is_empty());
    assert_eq!(numbers(&compaction.grandparents), [32]);
    assert!(compaction.trivial_move);
}

#[test]
fn a_user_key_spanning_two_files_moves_with_both() {
    // 10 ends and 11 starts with versions of "c" (newer in 10): they go together.
    let levels = levels(
        vec![],
        vec![
            file(9, "a", "a", 40),
            file_with_sequences(10, ("b", 9), ("c", 5), 40),
            file_with_sequences(11, ("c", 4), ("e", 1), 40),
            file(12, "f", "g", 40),
        ],
        vec![file(20, "g", "h", 1)],
        vec![],
    );
    let mut cursors = no_cursors();
    cursors[1] = Some(levels[1][0].largest.clone());
    let compaction = pick_compaction(&levels, &HashSet::new(), &cursors, &options()).unwrap();
    assert_eq!(numbers(&compaction.inputs), [10, 11]);
    assert_eq!(compaction.cursor.as_ref(), Some(&levels[1][2].largest));
    assert!(!compaction.trivial_move);
    // One of them busy: neither goes.
    let compaction = pick_compaction(&levels, &busy(&[11]), &cursors, &options()).unwrap();
    assert_eq!(numbers(&compaction.inputs), [12]);
}

#[test]
fn trivial_moves_need_one_file_nothing_below_and_few_grandparents() {
    // One L0 file over the trigger's other file, no L1 overlap: still not trivial, because the
    // two L0 files overlap and must be merged together.
    let overlapping = levels(
        vec![file(2, "b", "d", 1), file(1, "a", "c", 1)],
        vec![],
        vec![],
        vec![],
    );
    let compaction = pick(&overlapping, &[]).unwrap();
    assert_eq!(numbers(&compaction.inputs), [2, 1]);
    assert!(!compaction.trivial_move);
    // Disjoint L0 files: the oldest moves alone.
    let disjoint = levels(
        vec![file(2, "x", "y", 1), file(1, "a", "c", 1)],
        vec![file(10, "d", "e", 1)],
        vec![file(20, "a", "a", 60), file(21, "c", "c", 40)],
        vec![],
    );
    let compaction = pick(&disjoint, &[]).unwrap();
    assert_eq!(numbers(&compaction.inputs), [1]);
    assert_eq!(numbers(&compaction.grandparents), [20, 21]);
    assert!(compaction.trivial_move);
    // More than 100 bytes of grandparents: rewritten instead.
    let mut heavy = disjoint.clone();
    heavy[2][1].file_size = 41;
    assert!(!pick(&heavy, &[]).unwrap().trivial_move);
    // An L1 overlap: rewritten.
    let mut below = disjoint;
    below[1].insert(0, file(9, "c", "c", 1));
    let compaction = pick(&below, &[]).unwrap();
    assert_eq!(numbers(&compaction.next_inputs), [9]);
    assert!(!compaction.trivial_move);
}

#[test]
fn level2_compactions_have_no_grandparents() {
    let levels = levels(
        vec![],
        vec![],
        vec![file(20, "a", "c", 2000)],
        vec![file(30, "b", "b", 1), file(31, "z", "z", 1)],
    );
    let compaction = pick(&levels, &[]).unwrap();
    assert_eq!((compaction.level, compaction.output_level), (2, 3));
    assert_eq!(numbers(&compaction.next_inputs), [30]);
    assert!(compaction.grandparents.is_empty());
}

#[test]
fn manual_ranges_take_the_overlapping_files() {
    let levels = levels(
        vec![
            file(4, "p", "q", 1),
            file(3, "a", "c", 1),
            file(2, "k", "m", 1),
            file(1, "c", "d", 1),
        ],
        vec![
            file(10, "a", "c", 1),
            file(11, "d", "f", 1),
            file(12, "g", "i", 1),
        ],
        vec![file(20, "e", "e", 1), file(21, "i", "z", 1)],
        vec![file(30, "a", "z", 1)],
    );
    let none = HashSet::new();
    let range = |level, start: Bound<&str>, end: Bound<&str>, busy: &HashSet<FileNumber>| {
        let start = start.map(str::as_bytes);
        let end = end.map(str::as_bytes);
        pick_range(level, start, end, &levels, busy, &options())
    };
    use Bound::{Excluded, Included, Unbounded};
    let compaction = range(1, Included("e"), Included("h"), &none).unwrap();
    assert_eq!(numbers(&compaction.inputs), [11, 12]);
    assert_eq!(numbers(&compaction.next_inputs), [20, 21]);
    assert_eq!(numbers(&compaction.grandparents), [30]);
    assert!(!compaction.trivial_move);
    assert_eq!(compaction.cursor, None);
    // Exclusive bounds leave out files that only touch them.
    assert_eq!(range(1, Excluded("f"), Excluded("g"), &none), None);
    let compaction = range(1, Excluded("f"), Unbounded, &none).unwrap();
    assert_eq!(numbers(&compaction.inputs), [12]);
    let compaction = range(1, Unbounded, Excluded("d"), &none).unwrap();
    assert_eq!(numbers(&compaction.inputs), [10]);
    // L0: "b" hits 3, which pulls in 1 (older, overlapping); a single file is not moved.
    let compaction = range(0, Included("b"), Included("b"), &none).unwrap();
    assert_eq!(numbers(&compaction.inputs), [3, 1]);
    assert_eq!(numbers(&compaction.next_inputs), [10, 11]);
    let compaction = range(0, Included("p"), Unbounded, &none).unwrap();
    assert_eq!(numbers(&compaction.inputs), [4]);
    assert!(!compaction.trivial_move);
    // Nothing overlapping, a busy file, or the last level: nothing.
    assert_eq!(range(0, Included("r"), Included("s"), &none), None);
    assert_eq!(range(1, Unbounded, Unbounded, &busy(&[21])), None);
    assert_eq!(range(0, Included("b"), Included("b"), &busy(&[1])), None);
    assert_eq!(range(3, Unbounded, Unbounded, &none), None);
}

#[test]
fn base_level_means_no_deeper_file_covers_the_key() {
    let levels = levels(
        vec![file(1, "a", "z", 1)],
        vec![file(10, "a", "z", 1)],
        vec![file(20, "c", "e", 1), file(21, "g", "g", 1)],
        vec![file(30, "m", "p", 1)],
    );
    let base = |key: &[u8], output_level| is_base_level_for_key(key, output_level, &levels);
    assert!(!base(b"c", 1));
    assert!(!base(b"e", 1));
    assert!(!base(b"g", 1));
    assert!(base(b"f", 1));
    assert!(base(b"b", 1));
    assert!(!base(b"n", 1));
    assert!(!base(b"p", 2));
    assert!(base(b"q", 2));
    assert!(base(b"n", 3));
    assert!(base(b"zz", 1));
    let compaction = pick(&levels, &[]);
    assert_eq!(compaction, None, "L0 has one file, below its trigger of 2");
    let all = |level| {
        pick_range(
            level,
            Bound::Unbounded,
            Bound::Unbounded,
            &levels,
            &HashSet::new(),
            &options(),
        )
    };
    let compaction = all(1).unwrap();
    assert_eq!(compaction.output_level, 2);
    assert!(!compaction.is_base_level_for_key(b"n", &levels));
    assert!(compaction.is_base_level_for_key(b"d", &levels));
}

/// SplitMix64, enough to drive the simulation.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound
    }

    fn chance(&mut self, numerator: u64, denominator: u64) -> bool {
        self.below(denominator) < numerator
    }
}

fn test_seed() -> u64 {
    let seed = match std::env::var("SHALEDB_TEST_SEED") {
        Ok(text) => text.parse().expect("SHALEDB_TEST_SEED must be a u64"),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_nanos() as u64),
    };
    eprintln!("picker simulation: seed {seed} (replay with SHALEDB_TEST_SEED={seed})");
    seed
}

fn random_key(index: u64) -> String {
    format!("k{index:04}")
}

/// Random valid levels: L0 files anywhere (newest first), deeper levels sorted and disjoint,
/// sometimes sharing a boundary user key between neighbours.
fn random_levels(rng: &mut Rng) -> Levels {
    let mut levels = Levels::default();
    let mut next_number = 1;
    for _ in 0..rng.below(9) {
        let start = rng.below(300);
        let end = start + rng.below(80);
        let (smallest, largest) = (random_key(start), random_key(end));
        levels[0].push(file(next_number, &smallest, &largest, 1 + rng.below(5)));
        next_number += 1;
    }
    levels[0].reverse();
    for files in &mut levels[1..] {
        // Sequence numbers fall from left to right, so a user key shared by two neighbours is
        // newer in the left one, as internal-key order requires.
        let mut sequence = 100_000;
        let mut position = rng.below(30);
        for _ in 0..rng.below(12) {
            let end = position + rng.below(40);
            let (smallest, largest) = (random_key(position), random_key(end));
            let size = 1 + rng.below(40);
            files.push(file_with_sequences(
                next_number,
                (&smallest, sequence),
                (&largest, sequence - 1),
                size,
            ));
            sequence -= 2;
            next_number += 1;
            position = if rng.chance(1, 4) {
                end
            } else {
                end + 1 + rng.below(40)
            };
        }
    }
    levels
}

fn random_bounds(rng: &mut Rng) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let bound = |rng: &mut Rng| {
        let key = random_key(rng.below(400)).into_bytes();
        match rng.below(3) {
            0 => Bound::Included(key),
            1 => Bound::Excluded(key),
            _ => Bound::Unbounded,
        }
    };
    (bound(rng), bound(rng))
}

fn full_range(compaction: &Compaction) -> KeyRange<'_> {
    compaction.range()
}

/// Every invariant of one compaction picked from `levels` while `busy` files were compacting.
fn check_compaction(
    compaction: &Compaction,
    levels: &Levels,
    busy: &HashSet<FileNumber>,
    manual: bool,
) {
    let (level, output_level) = (compaction.level, compaction.output_level);
    assert!(level < LAST_LEVEL && output_level > level, "{compaction:?}");
    if level == 0 && !manual {
        // Level 0 may skip levels, only empty ones, and compacts into the base level unless a
        // level above it holds files.
        assert!(
            (1..output_level).all(|skipped| levels[skipped].is_empty()),
            "{compaction:?}"
        );
        let targets = level_targets(levels, &simulation_options_in_use());
        assert!(output_level <= targets.base_level, "{compaction:?}");
    } else {
        assert_eq!(output_level, level + 1, "{compaction:?}");
    }
    assert!(!compaction.inputs.is_empty());
    for (files, from) in [
        (&compaction.inputs, level),
        (&compaction.next_inputs, output_level),
    ] {
        for file in files {
            assert!(
                levels[from].contains(file),
                "input {} not in L{from}",
                file.number
            );
            assert!(
                !busy.contains(&file.number),
                "input {} is busy",
                file.number
            );
        }
    }
    // No file left in the source level overlaps the inputs (L0: newer never below older;
    // deeper levels: a user key never split), and none left in the output level overlaps the
    // whole range (concurrent compactions write disjoint ranges).
    let input_range = KeyRange::of_files(&compaction.inputs).unwrap();
    let range = full_range(compaction);
    for file in levels[level]
        .iter()
        .filter(|f| !compaction.inputs.contains(f))
    {
        assert!(
            !input_range.overlaps(file),
            "L{level} file {} left behind",
            file.number
        );
    }
    for file in levels[output_level]
        .iter()
        .filter(|f| !compaction.next_inputs.contains(f))
    {
        assert!(
            !range.overlaps(file),
            "L{output_level} file {} left",
            file.number
        );
    }
    let expected_grandparents: Vec<FileMetadata> = levels
        .get(output_level + 1)
        .map(|files| {
            files
                .iter()
                .filter(|f| range.overlaps(f))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(compaction.grandparents, expected_grandparents);
    let grandparent_bytes: u64 = expected_grandparents.iter().map(|f| f.file_size).sum();
    let trivial = !manual
        && compaction.inputs.len() == 1
        && compaction.next_inputs.is_empty()
        && grandparent_bytes <= max_grandparent_overlap_bytes(&options_for_simulation(false));
    assert_eq!(compaction.trivial_move, trivial, "{compaction:?}");
    let cursor = (!manual && level > 0).then(|| compaction.inputs.last().unwrap().largest.clone());
    assert_eq!(compaction.cursor, cursor);
}

/// Running compactions never share files, never write overlapping ranges into one level, and
/// never write into a range of a level another one is emptying.
fn check_concurrent(running: &[Compaction]) {
    for (index, first) in running.iter().enumerate() {
        for second in &running[index + 1..] {
            let first_numbers: HashSet<FileNumber> = first.input_numbers().collect();
            assert!(second.input_numbers().all(|n| !first_numbers.contains(&n)));
            let conflict = |a: &Compaction, b: &Compaction| {
                let writes = full_range(a);
                (a.output_level == b.output_level && b.all_inputs().any(|f| writes.overlaps(f)))
                    || (a.output_level == b.level && b.inputs.iter().any(|f| writes.overlaps(f)))
            };
            assert!(
                !conflict(first, second) && !conflict(second, first),
                "conflicting compactions:\n{first:?}\n{second:?}"
            );
        }
    }
}

fn options_for_simulation(dynamic_level_sizes: bool) -> PickerOptions {
    PickerOptions {
        level0_compaction_trigger: 2,
        level1_target_size: 60,
        level_size_multiplier: 3,
        target_file_size: 8,
        level0_size_percent_trigger: 0,
        dynamic_level_sizes,
    }
}

thread_local! {
    /// Which sizing the running simulation uses, for `check_compaction`.
    static SIMULATION_DYNAMIC: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn simulation_options_in_use() -> PickerOptions {
    options_for_simulation(SIMULATION_DYNAMIC.get())
}

#[test]
fn simulation_of_concurrent_picks_keeps_every_invariant() {
    simulate_concurrent_picks(false);
}

#[test]
fn simulation_of_concurrent_picks_with_dynamic_level_sizes_keeps_every_invariant() {
    simulate_concurrent_picks(true);
}

fn simulate_concurrent_picks(dynamic_level_sizes: bool) {
    SIMULATION_DYNAMIC.set(dynamic_level_sizes);
    let seed = test_seed();
    let mut rng = Rng(seed);
    let options = options_for_simulation(dynamic_level_sizes);
    // Picks per source level, trivial moves, manual picks, and rounds with concurrent picks
    // into one output level: the generator must exercise every case.
    let mut counts = [0usize; LAST_LEVEL + 3];
    for round in 0..3000 {
        let levels = random_levels(&mut rng);
        let mut cursors = no_cursors();
        for cursor in &mut cursors[1..LAST_LEVEL] {
            if rng.chance(1, 2) {
                let key = random_key(rng.below(400));
                *cursor = Some(internal_key(
                    key.as_bytes(),
                    SequenceNumber(7),
                    ValueKind::Value,
                ));
            }
        }
        let mut busy = HashSet::new();
        let mut running: Vec<Compaction> = Vec::new();
        // The first pick, with nothing busy, is the level with the highest score, if any is 1.
        let scores = level_scores(&levels, &options);
        let best = (0..LAST_LEVEL)
            .filter(|&l| scores[l] >= 1.0)
            .max_by(|&a, &b| scores[a].total_cmp(&scores[b]).then(b.cmp(&a)));
        let first = pick_compaction(&levels, &busy, &cursors, &options);
        assert_eq!(
            first.as_ref().map(|c| c.level),
            best,
            "seed {seed} round {round}"
        );
        for _ in 0..8 {
            let manual = rng.chance(1, 4);
            let picked = if manual {
                let level = rng.below(NUM_LEVELS as u64) as usize;
                let (start, end) = random_bounds(&mut rng);
                let start = start.as_ref().map(Vec::as_slice);
                let end = end.as_ref().map(Vec::as_slice);
                let picked = pick_range(level, start, end, &levels, &busy, &options);
                if let Some(compaction) = &picked {
                    // Every file in the range is an input.
                    let inputs = &compaction.inputs;
                    let mut wanted = levels[level].iter().filter(|f| in_bounds(f, start, end));
                    assert!(wanted.all(|f| inputs.contains(f)), "seed {seed}");
                }
                picked
            } else {
                pick_compaction(&levels, &busy, &cursors, &options)
            };
            let Some(compaction) = picked else {
                continue;
            };
            check_compaction(&compaction, &levels, &busy, manual);
            if let Some(cursor) = &compaction.cursor {
                cursors[compaction.level] = Some(cursor.clone());
            }
            counts[compaction.level] += 1;
            counts[LAST_LEVEL] += usize::from(compaction.trivial_move);
            counts[LAST_LEVEL + 1] += usize::from(manual);
            let same_output = |c: &Compaction| c.output_level == compaction.output_level;
            counts[LAST_LEVEL + 2] += usize::from(running.iter().any(same_output));
            busy.extend(compaction.input_numbers());
            running.push(compaction);
        }
        check_concurrent(&running);
    }
    eprintln!("picks from L0, L1, L2, trivial, manual, concurrent: {counts:?}");
    assert!(
        counts.iter().all(|&count| count >= 100),
        "seed {seed}: {counts:?}"
    );
}

#[test]
fn level0_also_scores_its_size_against_the_deeper_levels() {
    let options = PickerOptions {
        level0_compaction_trigger: 4,
        level0_size_percent_trigger: 25,
        ..options()
    };
    // The deeper bytes sit in L3, which has no score of its own.
    let deeper = vec![file(10, "a", "m", 400), file(11, "n", "z", 400)];
    // One file is never enough, whatever its size.
    let one = levels(
        vec![file(1, "a", "z", 1000)],
        deeper.clone(),
        vec![],
        vec![],
    );
    assert_eq!(level_scores(&one, &options)[0], 0.25);
    // Two files of 150 bytes against 800 below: 300 / (25% of 800) = 1.5, above 2 / 4.
    let two = levels(
        vec![file(2, "a", "k", 150), file(1, "c", "z", 150)],
        vec![],
        vec![],
        deeper.clone(),
    );
    assert_eq!(level_scores(&two, &options)[0], 1.5);
    let compaction = pick_compaction(&two, &busy(&[]), &no_cursors(), &options).unwrap();
    assert_eq!(
        (compaction.level, numbers(&compaction.inputs)),
        (0, vec![2, 1])
    );
    // Small level-0 files against large deeper levels: the count decides.
    let small = levels(
        vec![file(2, "a", "k", 10), file(1, "c", "z", 10)],
        vec![],
        vec![],
        deeper,
    );
    assert_eq!(level_scores(&small, &options)[0], 0.5);
    // Disabled: only the count.
    let disabled = PickerOptions {
        level0_size_percent_trigger: 0,
        ..options
    };
    assert_eq!(level_scores(&two, &disabled)[0], 0.5);
}

fn dynamic() -> PickerOptions {
    PickerOptions {
        dynamic_level_sizes: true,
        ..options()
    }
}

/// Dynamic sizes: the base level is the last while the data is small, then moves up one level
/// each time the last level grows by the multiplier past `level1_target_size` (100 here), and
/// the targets above it are the last level's size divided down.
#[test]
fn dynamic_targets_follow_the_last_level() {
    let with_last = |bytes: u64| levels(vec![], vec![], vec![], vec![file(30, "a", "z", bytes)]);
    let empty = levels(vec![], vec![], vec![], vec![]);
    assert_eq!(level_targets(&empty, &dynamic()).base_level, LAST_LEVEL);
    let small = level_targets(&with_last(90), &dynamic());
    assert_eq!(small.base_level, 3);
    assert_eq!(
        (small.size(1), small.size(2), small.size(3)),
        (Some(90), Some(90), None)
    );
    let middle = level_targets(&with_last(500), &dynamic());
    assert_eq!(middle.base_level, 2);
    assert_eq!((middle.size(1), middle.size(2)), (Some(50), Some(50)));
    let large = level_targets(&with_last(50_000), &dynamic());
    assert_eq!(large.base_level, 1);
    assert_eq!((large.size(1), large.size(2)), (Some(500), Some(5_000)));
    // Static sizes ignore the data.
    let fixed = level_targets(&with_last(50_000), &options());
    assert_eq!(
        (fixed.base_level, fixed.size(1), fixed.size(2)),
        (1, Some(100), Some(1000))
    );
}

/// Level 0 compacts into the base level, skipping the empty levels above it, unless a level
/// above it holds files: then into the first such level, so that newer data never lands
/// below older.
#[test]
fn level0_compacts_into_the_base_level_over_empty_levels_only() {
    let level0 = || vec![file(2, "a", "m", 5), file(1, "c", "z", 5)];
    let into_last = levels(level0(), vec![], vec![], vec![file(30, "a", "z", 90)]);
    let compaction = pick_compaction(&into_last, &HashSet::new(), &no_cursors(), &dynamic())
        .expect("L0 is at its trigger");
    assert_eq!((compaction.level, compaction.output_level), (0, 3));
    assert_eq!(numbers(&compaction.next_inputs), [30]);
    assert!(compaction.grandparents.is_empty());
    // Base level 2: the last level's neighbours are the grandparents.
    let into_two = levels(level0(), vec![], vec![], vec![file(30, "a", "z", 500)]);
    let compaction = pick_compaction(&into_two, &HashSet::new(), &no_cursors(), &dynamic())
        .expect("L0 is at its trigger");
    assert_eq!(compaction.output_level, 2);
    assert_eq!(numbers(&compaction.grandparents), [30]);
    // A file left in L1 (say, from static sizes) keeps level 0 above it, and drains.
    let occupied = levels(
        level0(),
        vec![file(10, "x", "y", 1)],
        vec![],
        vec![file(30, "a", "z", 90)],
    );
    let compaction = pick_compaction(&occupied, &HashSet::new(), &no_cursors(), &dynamic())
        .expect("L0 is at its trigger");
    assert_eq!(compaction.output_level, 1);
    assert!(level_scores(&occupied, &dynamic())[1] >= 1.0);
    let only_l1 = levels(
        vec![],
        vec![file(10, "x", "y", 1)],
        vec![],
        vec![file(30, "a", "z", 90)],
    );
    let drain = pick_compaction(&only_l1, &HashSet::new(), &no_cursors(), &dynamic())
        .expect("a level above the base level drains");
    assert_eq!((drain.level, drain.output_level), (1, 2));
}
