//! The `ycsb` workload of `shale bench`: the six YCSB core workloads, A to F, as the YCSB paper
//! and its reference client (`workloads/workloada` .. `workloadf`, `CoreWorkload`) define
//! them, on any [`Engine`]:
//!
//! | | operations | request distribution |
//! |---|---|---|
//! | A | 50% read, 50% update | scrambled zipfian |
//! | B | 95% read, 5% update | scrambled zipfian |
//! | C | 100% read | scrambled zipfian |
//! | D | 95% read, 5% insert | latest |
//! | E | 95% scan of 1–100 entries (uniform), 5% insert | scrambled zipfian |
//! | F | 50% read, 50% read-modify-write of one key | scrambled zipfian |
//!
//! The distributions are in [`distributions`](super::distributions). The load phase puts
//! records `0..num` with unsynced single puts from one thread; then each workload runs
//! `--ycsb-operations` operations (default `num`) split over the client threads, with unsynced
//! writes, on what the load and the workloads before it left (D and E add records).
//!
//! Keys are the reference client's (its default `insertorder=hashed`): record `n` is `user`
//! followed by [`fnv_hash64`]`(n)` in decimal, here zero-padded to 19 digits (the reference
//! client pads to one digit by default, so its keys run from 5 to 23 bytes) so that every key
//! has 23 bytes and key order is the hashes' order; loading records in number order therefore
//! writes keys in a random order, and inserts land all over the key space. (The benchmark's
//! `KeyMaker` keys would make the load a sequential fill and every insert an append, which is
//! not the workload YCSB measures.) A record's value is one field of `--value-size` bytes
//! (YCSB's records have ten fields of 100 bytes; these engines store opaque values); an update,
//! an insert and the write of a read-modify-write put a whole new value.
//!
//! Checks: every read (and the read of a read-modify-write) picks a record known to be present
//! and must find a value of `--value-size` bytes; a scan must return its length, or, near the
//! end of the key space, at least the records present when the workload began that follow its
//! key; the inserts must be as many as the operation mix drew. The operation mix of each thread
//! comes from its own seeded generator, apart from the keys' generator, so every engine runs
//! the same number of each operation whatever the timing. Latency is per operation; a
//! read-modify-write (a `get`, then a `put` of the same key) is one, as YCSB counts it.

use shaledb::stats::Histogram;

use super::config::BenchConfig;
use super::distributions::{InsertSequence, ScrambledZipfian, SkewedLatest, fnv_hash64};
use super::engine::Engine;
use super::keys::ValuePool;
use super::measurement::{Latency, Measurement, time, timed};
use super::progress::Progress;
use super::random::SplitMix64;
use super::workloads::on_threads;
use crate::cli::error::CliError;

/// The name of the load phase's row.
pub const LOAD_NAME: &str = "ycsb load";
/// Bytes of a key: `user` and 19 digits.
pub const KEY_BYTES: usize = 4 + HASH_DIGITS;
const HASH_DIGITS: usize = 19;
/// The longest scan of workload E; lengths are uniform in `1..=MAX_SCAN_LENGTH`.
pub const MAX_SCAN_LENGTH: u64 = 100;
/// Client threads without `--threads`.
pub const DEFAULT_THREADS: [u64; 2] = [1, 4];
const OPERATION_SEED: u64 = 0x5eed_0100;
const KEY_SEED: u64 = 0x5eed_0200;
/// Draws of the scrambled zipfian before a thread gives up on finding a present record (each
/// draw lands on one with probability above a half) and takes the draw modulo the records.
const MAX_KEY_DRAWS: u32 = 64;

/// One operation of a core workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operation {
    Read,
    Update,
    Insert,
    Scan,
    ReadModifyWrite,
}

/// How a workload picks the record an operation reads or writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RequestDistribution {
    Zipfian,
    Latest,
}

/// One core workload: its letter and its operation mix.
#[derive(Debug, Clone, Copy)]
pub struct CoreWorkload {
    /// The workload's letter, A to F.
    pub letter: char,
    /// What it models, as the YCSB paper describes it.
    pub description: &'static str,
    /// Each operation and its proportion; they sum to one.
    mix: &'static [(Operation, f64)],
    distribution: RequestDistribution,
}

/// The six core workloads, in the order they run.
pub const CORE_WORKLOADS: [CoreWorkload; 6] = [
    CoreWorkload {
        letter: 'A',
        description: "update heavy: 50% read, 50% update",
        mix: &[(Operation::Read, 0.5), (Operation::Update, 0.5)],
        distribution: RequestDistribution::Zipfian,
    },
    CoreWorkload {
        letter: 'B',
        description: "read mostly: 95% read, 5% update",
        mix: &[(Operation::Read, 0.95), (Operation::Update, 0.05)],
        distribution: RequestDistribution::Zipfian,
    },
    CoreWorkload {
        letter: 'C',
        description: "read only",
        mix: &[(Operation::Read, 1.0)],
        distribution: RequestDistribution::Zipfian,
    },
    CoreWorkload {
        letter: 'D',
        description: "read latest: 95% read, 5% insert",
        mix: &[(Operation::Read, 0.95), (Operation::Insert, 0.05)],
        distribution: RequestDistribution::Latest,
    },
    CoreWorkload {
        letter: 'E',
        description: "short ranges: 95% scan of 1-100, 5% insert",
        mix: &[(Operation::Scan, 0.95), (Operation::Insert, 0.05)],
        distribution: RequestDistribution::Zipfian,
    },
    CoreWorkload {
        letter: 'F',
        description: "read-modify-write: 50% read, 50% read-modify-write",
        mix: &[(Operation::Read, 0.5), (Operation::ReadModifyWrite, 0.5)],
        distribution: RequestDistribution::Zipfian,
    },
];

impl CoreWorkload {
    fn proportion(&self, wanted: Operation) -> f64 {
        self.mix
            .iter()
            .filter(|(operation, _)| *operation == wanted)
            .map(|(_, proportion)| proportion)
            .sum()
    }

    /// Whether a run leaves writes behind for the engine to flush and compact.
    pub fn has_writes(&self) -> bool {
        self.mix
            .iter()
            .any(|(operation, _)| !matches!(operation, Operation::Read | Operation::Scan))
    }

    /// The operation generator of client thread `thread`.
    fn operations(&self, thread: u64) -> OperationMix {
        OperationMix {
            mix: self.mix,
            random: SplitMix64::new(OPERATION_SEED ^ (u64::from(self.letter) << 32) ^ thread),
        }
    }
}

/// The operations of one client thread, drawn by their proportions.
struct OperationMix {
    mix: &'static [(Operation, f64)],
    random: SplitMix64,
}

impl Iterator for OperationMix {
    type Item = Operation;

    fn next(&mut self) -> Option<Operation> {
        let mut point = (self.random.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        for &(operation, proportion) in self.mix {
            if point < proportion {
                return Some(operation);
            }
            point -= proportion;
        }
        self.mix.last().map(|&(operation, _)| operation)
    }
}

/// The core workloads `--ycsb-workloads` selects, in the order A to F.
pub fn selected(config: &BenchConfig) -> impl Iterator<Item = &'static CoreWorkload> + '_ {
    CORE_WORKLOADS
        .iter()
        .filter(|workload| config.ycsb_workloads.contains(&workload.letter))
}

/// The client threads a run uses: `--threads` if given, else 1 and 4.
pub fn thread_counts(config: &BenchConfig) -> Vec<u64> {
    if config.threads_given {
        config.threads.clone()
    } else {
        DEFAULT_THREADS.to_vec()
    }
}

/// Operations per client thread of a run with `threads` threads.
fn per_thread(config: &BenchConfig, threads: u64) -> u64 {
    config.ycsb_operations.div_ceil(threads)
}

/// Writes record `number`'s key into `buffer`.
pub fn key(number: u64, buffer: &mut [u8; KEY_BYTES]) -> &[u8] {
    buffer[..4].copy_from_slice(b"user");
    let mut hash = fnv_hash64(number);
    for digit in buffer[4..].iter_mut().rev() {
        *digit = b'0' + (hash % 10) as u8;
        hash /= 10;
    }
    &buffer[..]
}

/// The load phase: records `0..num` with unsynced single puts from one thread.
pub fn load(config: &BenchConfig, engine: &dyn Engine) -> Result<Measurement, CliError> {
    let values = ValuePool::new(config.value_size);
    let histogram = Histogram::default();
    let progress = Progress::bar(config, LOAD_NAME, config.num);
    let mut buffer = [0u8; KEY_BYTES];
    let (result, elapsed) = time(|| -> Result<(), CliError> {
        for number in 0..config.num {
            let key = key(number, &mut buffer);
            timed(&histogram, || engine.put(key, values.value(number)))?;
            progress.step(number + 1);
        }
        Ok(())
    });
    progress.finish();
    result?;
    Ok(Measurement {
        name: LOAD_NAME.into(),
        operations: config.num,
        bytes: config.num * (KEY_BYTES + config.value_size) as u64,
        elapsed,
        latency: Latency::from_histogram(&histogram),
        note: format!("{} records, {KEY_BYTES}-byte keys, no sync", config.num),
    })
}

/// What one run of a core workload did.
#[derive(Debug)]
pub struct Run {
    /// The timed loop.
    pub measurement: Measurement,
    /// Records present afterwards: those before and the run's inserts.
    pub records: u64,
}

/// The inserts `workload` draws with `threads` threads: a function of the seeds alone.
fn planned_inserts(config: &BenchConfig, workload: &CoreWorkload, threads: u64) -> u64 {
    (0..threads)
        .map(|thread| {
            workload
                .operations(thread)
                .take(per_thread(config, threads) as usize)
                .filter(|operation| *operation == Operation::Insert)
                .count() as u64
        })
        .sum()
}

/// What a client thread counts.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    reads: u64,
    writes: u64,
    inserts: u64,
    scans: u64,
    scanned: u64,
    bytes: u64,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.reads += other.reads;
        self.writes += other.writes;
        self.inserts += other.inserts;
        self.scans += other.scans;
        self.scanned += other.scanned;
        self.bytes += other.bytes;
    }
}

/// What every client thread of one run shares.
struct Client<'a> {
    config: &'a BenchConfig,
    engine: &'a dyn Engine,
    workload: &'a CoreWorkload,
    values: ValuePool,
    sequence: InsertSequence,
    /// The request distribution every thread starts from a copy of (built before the timed
    /// loop: the latest distribution sums ζ over every record).
    chooser: Chooser,
    /// The hashes of the records present when the run began, sorted: how many follow a key.
    sorted_hashes: Vec<u64>,
}

/// Runs core workload `workload` on `engine`, which holds records `0..records`, from `threads`
/// client threads.
pub fn run(
    config: &BenchConfig,
    engine: &dyn Engine,
    workload: &CoreWorkload,
    records: u64,
    threads: u64,
) -> Result<Run, CliError> {
    let per_thread = per_thread(config, threads);
    let operations = per_thread * threads;
    let planned = planned_inserts(config, workload, threads);
    let expected_inserts =
        (operations as f64 * workload.proportion(Operation::Insert) * 2.0) as u64;
    let mut sorted_hashes = Vec::new();
    if workload.proportion(Operation::Scan) > 0.0 {
        sorted_hashes = (0..records).map(fnv_hash64).collect();
        sorted_hashes.sort_unstable();
    }
    let client = Client {
        config,
        engine,
        workload,
        values: ValuePool::new(config.value_size),
        sequence: InsertSequence::new(records),
        // The zipfian's items: the records, plus twice the inserts expected (as the reference
        // client sizes it), so that inserted records can be drawn too.
        chooser: match workload.distribution {
            RequestDistribution::Zipfian => {
                Chooser::Zipfian(ScrambledZipfian::new(records + expected_inserts))
            }
            RequestDistribution::Latest => Chooser::Latest(SkewedLatest::new(records)),
        },
        sorted_hashes,
    };
    let name = format!("ycsb {}, {threads} threads", workload.letter);
    let histogram = Histogram::default();
    let progress = Progress::bar(config, &name, operations);
    let tallies = std::sync::Mutex::new(Tally::default());
    let (_, elapsed) = on_threads(
        threads,
        &histogram,
        &progress,
        |thread, histogram, progress| {
            let tally = client.thread(thread, per_thread, histogram, progress)?;
            tallies
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .add(tally);
            Ok(0)
        },
    )?;
    progress.finish();
    let tally = tallies
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if tally.inserts != planned || client.sequence.records() != records + planned {
        return Err(CliError::Failed(format!(
            "ycsb {}: {} inserts acknowledged up to record {}, expected {planned} after {records}",
            workload.letter,
            tally.inserts,
            client.sequence.records()
        )));
    }
    Ok(Run {
        measurement: Measurement {
            name,
            operations,
            bytes: tally.bytes,
            elapsed,
            latency: Latency::from_histogram(&histogram),
            note: note(workload, &tally),
        },
        records: records + planned,
    })
}

/// The row's note: the mix as run, and what the checks saw.
fn note(workload: &CoreWorkload, tally: &Tally) -> String {
    let mut parts = vec![workload.description.to_string()];
    if tally.reads > 0 {
        parts.push(format!("{} reads all found", tally.reads));
    }
    if tally.writes > 0 {
        parts.push(format!("{} writes", tally.writes));
    }
    if tally.scans > 0 {
        parts.push(format!(
            "{} scans, {:.1} entries each",
            tally.scans,
            tally.scanned as f64 / tally.scans as f64
        ));
    }
    if tally.inserts > 0 {
        parts.push(format!("{} inserts", tally.inserts));
    }
    parts.join("; ")
}

/// Chooses the records of one client thread's operations.
#[derive(Debug, Clone)]
enum Chooser {
    Zipfian(ScrambledZipfian),
    Latest(SkewedLatest),
}

impl Client<'_> {
    /// A present record, by the workload's request distribution.
    fn choose(&self, chooser: &mut Chooser, random: &mut SplitMix64) -> u64 {
        let records = self.sequence.records();
        match chooser {
            Chooser::Latest(latest) => latest.next(records, random),
            Chooser::Zipfian(zipfian) => {
                let mut draw = zipfian.next(random);
                for _ in 1..MAX_KEY_DRAWS {
                    if draw < records {
                        return draw;
                    }
                    draw = zipfian.next(random);
                }
                draw % records.max(1)
            }
        }
    }

    /// Reads `number` and checks that it holds a value of the configured size.
    fn read(&self, number: u64, buffer: &mut [u8; KEY_BYTES]) -> Result<(), CliError> {
        let length = self.engine.get(key(number, buffer))?;
        if length != Some(self.config.value_size) {
            return Err(CliError::Failed(format!(
                "ycsb {}: record {number} read as {length:?}, expected a {}-byte value",
                self.workload.letter, self.config.value_size
            )));
        }
        Ok(())
    }

    /// Scans `length` entries from record `number`'s key and checks how many came back.
    fn scan(
        &self,
        number: u64,
        length: u64,
        buffer: &mut [u8; KEY_BYTES],
    ) -> Result<(u64, u64), CliError> {
        let (seen, bytes) = self.engine.scan(key(number, buffer), length as usize)?;
        let hash = fnv_hash64(number);
        let following = (self.sorted_hashes.len()
            - self.sorted_hashes.partition_point(|&other| other < hash))
            as u64;
        let at_least = length.min(following);
        if seen < at_least || seen > length {
            return Err(CliError::Failed(format!(
                "ycsb {}: a scan of {length} from record {number} read {seen} entries, \
                 expected {at_least} to {length}",
                self.workload.letter
            )));
        }
        Ok((seen, bytes))
    }

    /// One client thread: `operations` operations of the workload.
    fn thread(
        &self,
        thread: u64,
        operations: u64,
        histogram: &Histogram,
        progress: &Progress,
    ) -> Result<Tally, CliError> {
        let mut random =
            SplitMix64::new(KEY_SEED ^ (u64::from(self.workload.letter) << 32) ^ thread);
        let mut chooser = self.chooser.clone();
        let mut buffer = [0u8; KEY_BYTES];
        let mut tally = Tally::default();
        let entry_bytes = (KEY_BYTES + self.config.value_size) as u64;
        for (done, operation) in self
            .workload
            .operations(thread)
            .take(operations as usize)
            .enumerate()
        {
            tally.bytes += match operation {
                Operation::Read => {
                    let number = self.choose(&mut chooser, &mut random);
                    timed(histogram, || self.read(number, &mut buffer))?;
                    tally.reads += 1;
                    entry_bytes
                }
                Operation::Update => {
                    let number = self.choose(&mut chooser, &mut random);
                    let value = self.values.value(random.next_u64());
                    timed(histogram, || {
                        self.engine.put(key(number, &mut buffer), value)
                    })?;
                    tally.writes += 1;
                    entry_bytes
                }
                Operation::Insert => {
                    let number = self.sequence.claim();
                    let value = self.values.value(number);
                    timed(histogram, || {
                        self.engine.put(key(number, &mut buffer), value)
                    })?;
                    self.sequence.acknowledge(number);
                    tally.inserts += 1;
                    entry_bytes
                }
                Operation::Scan => {
                    let number = self.choose(&mut chooser, &mut random);
                    let length = 1 + random.below(MAX_SCAN_LENGTH);
                    let (seen, bytes) =
                        timed(histogram, || self.scan(number, length, &mut buffer))?;
                    tally.scans += 1;
                    tally.scanned += seen;
                    bytes
                }
                Operation::ReadModifyWrite => {
                    let number = self.choose(&mut chooser, &mut random);
                    let value = self.values.value(random.next_u64());
                    timed(histogram, || -> Result<(), CliError> {
                        self.read(number, &mut buffer)?;
                        self.engine.put(key(number, &mut buffer), value)
                    })?;
                    tally.reads += 1;
                    tally.writes += 1;
                    2 * entry_bytes
                }
            };
            progress.step(done as u64 + 1);
        }
        Ok(tally)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_user_and_the_padded_hash_of_the_record_number() {
        let mut buffer = [0u8; KEY_BYTES];
        let key = key(7, &mut buffer).to_vec();
        assert_eq!(&key[..4], b"user");
        let digits = std::str::from_utf8(&key[4..]).map(str::to_string);
        assert_eq!(digits, Ok(format!("{:019}", fnv_hash64(7))));
        // Key order is hash order, so that counting the hashes above one counts the keys.
        let mut other = [0u8; KEY_BYTES];
        let (a, b) = (fnv_hash64(1), fnv_hash64(2));
        assert_eq!(
            a < b,
            super::key(1, &mut other).to_vec() < super::key(2, &mut buffer).to_vec()
        );
    }

    #[test]
    fn every_mix_sums_to_one_and_draws_its_proportions() {
        for workload in &CORE_WORKLOADS {
            let total: f64 = workload.mix.iter().map(|(_, proportion)| proportion).sum();
            assert!((total - 1.0).abs() < 1e-12, "{}", workload.letter);
            let draws = 100_000;
            for &(operation, proportion) in workload.mix {
                let count = workload
                    .operations(3)
                    .take(draws)
                    .filter(|drawn| *drawn == operation)
                    .count();
                let share = count as f64 / draws as f64;
                assert!(
                    (share - proportion).abs() < 0.01,
                    "{} {operation:?}: {share}",
                    workload.letter
                );
            }
        }
    }

    #[test]
    fn the_operation_mix_does_not_depend_on_the_keys_drawn() {
        let workload = &CORE_WORKLOADS[3];
        let first: Vec<Operation> = workload.operations(1).take(1_000).collect();
        let again: Vec<Operation> = workload.operations(1).take(1_000).collect();
        assert_eq!(first, again);
        let other: Vec<Operation> = workload.operations(2).take(1_000).collect();
        assert_ne!(first, other);
    }
}
