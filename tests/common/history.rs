//! A history checker for crash tests: a deterministic workload of batches (puts that overwrite,
//! deletes, a mix of synced and unsynced writes), and the check that a recovered database holds,
//! for every writer, exactly the state after some prefix of that writer's batches that the
//! durability contract allows.
//!
//! The workload: writer `t` owns the keys `t{t:02}-k{index:03}` (`keys_per_thread` of them) and
//! writes batches `1, 2, 3, …` in order, one at a time. A batch's operations, values and sync
//! flag are a pure function of `(seed, t, batch id)` ([`Workload::batch`]), so whoever checks the
//! outcome regenerates them instead of receiving them, and a batch written again after a crash
//! lost it is the same batch. Values name their writer, batch and operation, so data that was
//! never written cannot pass for data that was.
//!
//! The check ([`History::check`]): for each writer, let `low` be the last acknowledged batch the
//! contract protects and `high` the last acknowledged batch plus one (a batch may have been
//! written but not yet acknowledged when the crash came). The recovered keys of the writer must
//! equal the model after batches `1..=p` for some `p` in `low..=high`. Anything else is a
//! violation: a lost batch, part of a batch, a resurrected or invented value. Keys that no writer
//! owns are violations too. On success the writer's recovered prefix `p` becomes the base that
//! the next run continues from ([`History::next_batch`]).
//!
//! Nothing here starts processes or opens databases: the caller passes the acknowledgements and
//! the recovered state, so the same checker serves the kill tests and in-process power-loss
//! tests.

use std::collections::BTreeMap;

use super::{Pairs, Rng};

/// One operation of a workload batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    /// Set key number `key` of the writer to `value`.
    Put {
        /// The key's index in the writer's key space.
        key: usize,
        /// The new value.
        value: Vec<u8>,
    },
    /// Delete key number `key` of the writer.
    Delete {
        /// The key's index in the writer's key space.
        key: usize,
    },
    /// Delete the writer's keys `start..end` with one range deletion.
    DeleteRange {
        /// The first key index deleted.
        start: usize,
        /// The first key index after the range.
        end: usize,
    },
}

/// One batch of the workload: its operations in order, and whether it is written synced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// The operations, applied in order (a later one on the same key wins).
    pub operations: Vec<Operation>,
    /// Whether the batch is written with `WriteOptions::SYNC`.
    pub sync: bool,
}

impl Batch {
    /// The batch as writer `thread` writes it to the database.
    pub fn to_write_batch(&self, thread: usize) -> shaledb::WriteBatch {
        let mut batch = shaledb::WriteBatch::new();
        for operation in &self.operations {
            match operation {
                Operation::Put { key: index, value } => batch.put(&key(thread, *index), value),
                Operation::Delete { key: index } => batch.delete(&key(thread, *index)),
                Operation::DeleteRange { start, end } => {
                    batch.delete_range(&key(thread, *start), &key(thread, *end))
                }
            }
            .expect("workload keys and values are within the limits");
        }
        batch
    }
}

/// The shape of the workload; the batches themselves come from [`Workload::batch`].
#[derive(Debug, Clone, Copy)]
pub struct Workload {
    /// How many writers (threads) write at once.
    pub threads: usize,
    /// How many keys each writer owns.
    pub keys_per_thread: usize,
    /// Operations per batch, at most (at least one).
    pub operations_per_batch_max: usize,
    /// Bytes of random filler after a value's name, at least and at most.
    pub filler_length_min: usize,
    /// Bytes of random filler after a value's name, at most.
    pub filler_length_max: usize,
    /// Out of 100, how many operations are deletes.
    pub delete_percent: u64,
    /// Out of 100, how many operations are range deletes (of 1 to 8 of the writer's keys).
    pub range_delete_percent: u64,
    /// Out of 100, how many batches are synced.
    pub sync_percent: u64,
}

/// The key `index` of writer `thread`.
pub fn key(thread: usize, index: usize) -> Vec<u8> {
    format!("t{thread:02}-k{index:03}").into_bytes()
}

/// The writer and key index of a workload key, `None` for a key no writer owns.
fn parse_key(key: &[u8]) -> Option<(usize, usize)> {
    let text = std::str::from_utf8(key).ok()?;
    let (thread, index) = text.strip_prefix('t')?.split_once("-k")?;
    let parsed = (thread.parse().ok()?, index.parse().ok()?);
    // Only the canonical spelling is a workload key ("t1-k7" is not "t01-k007").
    (self::key(parsed.0, parsed.1) == key).then_some(parsed)
}

impl Workload {
    /// Batch `id` (from 1) of writer `thread`: the same for the same `(seed, thread, id)`.
    pub fn batch(&self, seed: u64, thread: usize, id: u64) -> Batch {
        assert!(id > 0, "batch ids start at 1");
        let mut rng = Rng::new(seed ^ (thread as u64).rotate_left(48) ^ id.wrapping_mul(0x9e37));
        // Discard one draw so that nearby seeds do not start alike.
        rng.next_u64();
        let sync = rng.chance(self.sync_percent, 100);
        let count = rng.between(1, self.operations_per_batch_max);
        let operations = (0..count)
            .map(|index| {
                let key = rng.below(self.keys_per_thread as u64) as usize;
                if rng.chance(self.delete_percent, 100) {
                    return Operation::Delete { key };
                }
                if rng.chance(self.range_delete_percent, 100) {
                    let end = (key + rng.between(1, 8)).min(self.keys_per_thread);
                    return Operation::DeleteRange { start: key, end };
                }
                let mut value = format!("t{thread} b{id} i{index} ").into_bytes();
                let filler = rng.between(self.filler_length_min, self.filler_length_max);
                value.extend(rng.bytes(filler));
                Operation::Put { key, value }
            })
            .collect();
        Batch { operations, sync }
    }
}

/// What survives a crash, by the durability contract being tested.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contract {
    /// The process died (SIGKILL) but the machine did not: every acknowledged batch, synced or
    /// not, was handed to the operating system and must survive.
    ProcessCrash,
    /// The machine lost power: only acknowledged synced batches must survive (with everything
    /// before them, since the log is replayed in order).
    PowerLoss,
}

/// The acknowledgements of one run, per writer: the last acknowledged batch and the last
/// acknowledged synced batch (0 for none in this run).
#[derive(Debug, Clone, Default)]
pub struct Acknowledged {
    last: BTreeMap<usize, u64>,
    last_synced: BTreeMap<usize, u64>,
    count: u64,
}

impl Acknowledged {
    /// Records that writer `thread`'s batch `id` was acknowledged (ids arrive in order per
    /// writer).
    pub fn record(&mut self, thread: usize, id: u64, synced: bool) {
        let last = self.last.entry(thread).or_default();
        assert!(id > *last, "writer {thread} acknowledged {id} after {last}");
        *last = id;
        if synced {
            self.last_synced.insert(thread, id);
        }
        self.count += 1;
    }

    /// How many batches were acknowledged.
    pub fn count(&self) -> u64 {
        self.count
    }
}

/// One writer's recovered state: the prefix of its batches it reflects, and its keys then.
#[derive(Debug, Clone, Default)]
struct WriterState {
    prefix: u64,
    model: BTreeMap<usize, Vec<u8>>,
}

impl WriterState {
    fn apply(&mut self, batch: &Batch) {
        for operation in &batch.operations {
            match operation {
                Operation::Put { key, value } => {
                    self.model.insert(*key, value.clone());
                }
                Operation::Delete { key } => {
                    self.model.remove(key);
                }
                Operation::DeleteRange { start, end } => {
                    self.model.retain(|key, _| !(start..end).contains(&key));
                }
            }
        }
        self.prefix += 1;
    }
}

/// The outcome of one check.
#[derive(Debug, Clone, Default)]
pub struct CheckReport {
    /// Acknowledged batches whose survival was checked.
    pub acknowledged_checked: u64,
    /// Batches recovered beyond the last acknowledged one (written, not yet acknowledged).
    pub in_flight_recovered: u64,
    /// Every violation found, as a sentence; empty when the recovery kept the contract.
    pub violations: Vec<String>,
}

/// The workload's expected state across crashes: the prefix every writer has reached.
#[derive(Debug, Clone)]
pub struct History {
    workload: Workload,
    seed: u64,
    writers: Vec<WriterState>,
}

impl History {
    /// A history of nothing written yet.
    pub fn new(workload: Workload, seed: u64) -> Self {
        History {
            workload,
            seed,
            writers: vec![WriterState::default(); workload.threads],
        }
    }

    /// The workload this history follows.
    pub fn workload(&self) -> &Workload {
        &self.workload
    }

    /// The seed of the workload's batches.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The batch writer `thread` writes next: one past its recovered prefix.
    pub fn next_batch(&self, thread: usize) -> u64 {
        self.writers[thread].prefix + 1
    }

    /// Checks the `recovered` pairs (a full scan of the reopened database, ascending) against
    /// the model after the run acknowledged in `acknowledged`, under `contract`; `get` reads one
    /// key of the reopened database, and must agree with the scan. When there is no violation,
    /// every writer's base moves to the prefix it recovered.
    pub fn check(
        &mut self,
        acknowledged: &Acknowledged,
        contract: Contract,
        recovered: &Pairs,
        mut get: impl FnMut(&[u8]) -> Option<Vec<u8>>,
    ) -> CheckReport {
        let mut report = CheckReport {
            acknowledged_checked: acknowledged.count,
            ..CheckReport::default()
        };
        let mut per_writer: Vec<BTreeMap<usize, Vec<u8>>> =
            vec![BTreeMap::new(); self.writers.len()];
        for (key, value) in recovered {
            match parse_key(key).filter(|&(thread, index)| {
                thread < self.workload.threads && index < self.workload.keys_per_thread
            }) {
                Some((thread, index)) => {
                    per_writer[thread].insert(index, value.clone());
                }
                None => report.violations.push(format!(
                    "key {:?} was never written",
                    String::from_utf8_lossy(key)
                )),
            }
        }
        let mut new_states = Vec::with_capacity(self.writers.len());
        for (thread, state) in per_writer.iter().enumerate() {
            check_point_reads(
                thread,
                state,
                self.workload.keys_per_thread,
                &mut get,
                &mut report,
            );
            let last = acknowledged.last.get(&thread).copied().unwrap_or(0);
            let last_synced = acknowledged.last_synced.get(&thread).copied().unwrap_or(0);
            let protected = match contract {
                Contract::ProcessCrash => last,
                Contract::PowerLoss => last_synced,
            };
            let acknowledged_end = last.max(self.writers[thread].prefix);
            match self.find_prefix(thread, protected, last, state) {
                Ok(found) => {
                    report.in_flight_recovered += found.prefix.saturating_sub(acknowledged_end);
                    new_states.push(found);
                }
                Err(violation) => report.violations.push(violation),
            }
        }
        if report.violations.is_empty() {
            self.writers = new_states;
        }
        report
    }

    /// The writer's state after the prefix `p` with `protected ≤ p ≤ last + 1` (and never below
    /// its base) that equals `recovered`, or a sentence saying why none does.
    fn find_prefix(
        &self,
        thread: usize,
        protected: u64,
        last: u64,
        recovered: &BTreeMap<usize, Vec<u8>>,
    ) -> Result<WriterState, String> {
        let base = &self.writers[thread];
        let low = protected.max(base.prefix);
        let high = last.max(base.prefix) + 1;
        let mut state = base.clone();
        while state.prefix < low {
            state.apply(&self.workload.batch(self.seed, thread, state.prefix + 1));
        }
        let at_low = state.clone();
        loop {
            if &state.model == recovered {
                return Ok(state);
            }
            if state.prefix == high {
                break;
            }
            state.apply(&self.workload.batch(self.seed, thread, state.prefix + 1));
        }
        Err(format!(
            "writer {thread}: the recovered keys match no prefix of its batches from {low} \
             (the last protected acknowledged batch; base {base}) to {high} (one past the last \
             acknowledged, {last}); against prefix {low}: {at_low}; against prefix {high}: \
             {at_high}; {beyond}",
            base = base.prefix,
            at_low = describe_difference(&at_low.model, recovered),
            at_high = describe_difference(&state.model, recovered),
            beyond = self.describe_beyond(thread, state, recovered),
        ))
    }

    /// For a violation's message: whether `recovered` is part of the batch after `state`, or
    /// the state after a later prefix (a batch acknowledged but not seen as such).
    fn describe_beyond(
        &self,
        thread: usize,
        mut state: WriterState,
        recovered: &BTreeMap<usize, Vec<u8>>,
    ) -> String {
        let next = self.workload.batch(self.seed, thread, state.prefix + 1);
        for taken in 1..next.operations.len() {
            let mut partial = state.clone();
            let part = Batch {
                operations: next.operations[..taken].to_vec(),
                sync: next.sync,
            };
            partial.apply(&part);
            if &partial.model == recovered {
                return format!(
                    "it is the first {taken} of {} operations of batch {}",
                    next.operations.len(),
                    state.prefix + 1
                );
            }
        }
        for _ in 0..64 {
            state.apply(&self.workload.batch(self.seed, thread, state.prefix + 1));
            if &state.model == recovered {
                return format!("it is the state after prefix {}", state.prefix);
            }
        }
        "it is neither part of the next batch nor a prefix up to 64 further".into()
    }
}

/// Checks that `get` on every key of writer `thread` agrees with the scan's state.
fn check_point_reads(
    thread: usize,
    scanned: &BTreeMap<usize, Vec<u8>>,
    keys_per_thread: usize,
    get: &mut impl FnMut(&[u8]) -> Option<Vec<u8>>,
    report: &mut CheckReport,
) {
    for index in 0..keys_per_thread {
        let read = get(&key(thread, index));
        if read.as_ref() != scanned.get(&index) {
            report.violations.push(format!(
                "writer {thread}: get of key {index} disagrees with the scan ({} vs {})",
                describe_value(read.as_deref()),
                describe_value(scanned.get(&index).map(Vec::as_slice)),
            ));
        }
    }
}

/// The first key where `expected` and `recovered` differ, as a sentence.
fn describe_difference(
    expected: &BTreeMap<usize, Vec<u8>>,
    recovered: &BTreeMap<usize, Vec<u8>>,
) -> String {
    let keys = expected.keys().chain(recovered.keys());
    let Some(first) = keys
        .filter(|key| expected.get(key) != recovered.get(key))
        .min()
    else {
        return "no difference".into();
    };
    format!(
        "key {first} expected {}, recovered {}",
        describe_value(expected.get(first).map(Vec::as_slice)),
        describe_value(recovered.get(first).map(Vec::as_slice)),
    )
}

/// A value by its name (`t{thread} b{batch} i{index}`), or "absent".
fn describe_value(value: Option<&[u8]>) -> String {
    match value {
        None => "absent".into(),
        Some(value) => {
            let words: Vec<_> = value.splitn(4, |&byte| byte == b' ').take(3).collect();
            format!("{:?}", String::from_utf8_lossy(&words.join(&b' ')))
        }
    }
}
