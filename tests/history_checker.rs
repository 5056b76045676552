//! The crash tests' history checker (`common/history.rs`) can fail: recovered states that lose an
//! acknowledged batch (or, under the power-loss contract, an acknowledged synced one), keep part
//! of a batch, run ahead by more than the batch in flight, hold a key nobody wrote, or disagree
//! between scan and point read are all reported; the states the contract allows are not. The
//! states are built here from the workload's batches, without a database, and the verdict each
//! should get is worked out independently of the checker.

mod common;

use std::collections::BTreeMap;

use common::history::{Acknowledged, Contract, History, Operation, Workload, key};
use common::{Pairs, test_seed};

const WORKLOAD: Workload = Workload {
    threads: 2,
    keys_per_thread: 8,
    operations_per_batch_max: 6,
    filler_length_min: 0,
    filler_length_max: 8,
    delete_percent: 25,
    range_delete_percent: 5,
    sync_percent: 50,
};

/// The database contents after batches `1..=prefixes[t]` of each writer `t`, plus the first
/// `partial` operations of the next batch of writer 0.
fn state(seed: u64, prefixes: &[u64], partial: usize) -> Pairs {
    let mut contents: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    for (thread, &prefix) in prefixes.iter().enumerate() {
        let extra = if thread == 0 { partial } else { 0 };
        for id in 1..=prefix + u64::from(extra > 0) {
            let batch = WORKLOAD.batch(seed, thread, id);
            let take = if id > prefix { extra } else { usize::MAX };
            for operation in batch.operations.iter().take(take) {
                match operation {
                    Operation::Put { key: index, value } => {
                        contents.insert(key(thread, *index), value.clone());
                    }
                    Operation::Delete { key: index } => {
                        contents.remove(&key(thread, *index));
                    }
                    Operation::DeleteRange { start, end } => {
                        for index in *start..*end {
                            contents.remove(&key(thread, index));
                        }
                    }
                }
            }
        }
    }
    contents.into_iter().collect()
}

/// Acknowledgements of batches `1..=last` of each writer.
fn acknowledged(seed: u64, last: u64) -> Acknowledged {
    let mut acknowledged = Acknowledged::default();
    for thread in 0..WORKLOAD.threads {
        for id in 1..=last {
            acknowledged.record(thread, id, WORKLOAD.batch(seed, thread, id).sync);
        }
    }
    acknowledged
}

/// Checks `recovered` against a fresh history, with point reads answered from the scan.
fn violations(seed: u64, last: u64, contract: Contract, recovered: &Pairs) -> Vec<String> {
    let mut history = History::new(WORKLOAD, seed);
    let lookup: BTreeMap<_, _> = recovered.iter().cloned().collect();
    let report = history.check(&acknowledged(seed, last), contract, recovered, |key| {
        lookup.get(key).cloned()
    });
    report.violations
}

/// Checks writer 0's recovered prefix `recovered_prefix` (plus `partial` operations of the next
/// batch) after batches `1..=last` were acknowledged, writer 1 kept whole: the checker must pass
/// it exactly when it equals the state after a prefix the contract allows, which is worked out
/// here independently. Returns whether it was a violation.
fn expect_verdict(
    seed: u64,
    last: u64,
    contract: Contract,
    recovered_prefix: u64,
    partial: usize,
) -> bool {
    let recovered = state(seed, &[recovered_prefix, last], partial);
    let protected = match contract {
        Contract::ProcessCrash => last,
        Contract::PowerLoss => (1..=last)
            .rev()
            .find(|&id| WORKLOAD.batch(seed, 0, id).sync)
            .unwrap_or(0),
    };
    let allowed = (protected..=last + 1).any(|prefix| state(seed, &[prefix, last], 0) == recovered);
    let found = violations(seed, last, contract, &recovered);
    assert_eq!(
        found.is_empty(),
        allowed,
        "seed {seed}: {contract:?}, last {last}, recovered prefix {recovered_prefix} + {partial} \
         operations: {found:?}"
    );
    !allowed
}

#[test]
fn allowed_states_pass_and_damaged_states_are_violations() {
    let seed = test_seed("allowed_states_pass_and_damaged_states_are_violations");
    let mut violations_found = [0; 2];
    for (slot, contract) in [Contract::ProcessCrash, Contract::PowerLoss]
        .into_iter()
        .enumerate()
    {
        for last in 1..60u64 {
            for recovered_prefix in last.saturating_sub(3)..=last + 2 {
                for partial in [0, 1, 2] {
                    let violation = expect_verdict(seed, last, contract, recovered_prefix, partial);
                    violations_found[slot] += usize::from(violation);
                }
            }
        }
    }
    // Lost batches, partial batches and states two batches ahead: most cases are violations.
    assert!(
        violations_found.iter().all(|&count| count > 200),
        "seed {seed}: {violations_found:?}"
    );
}

#[test]
fn a_key_nobody_wrote_is_a_violation() {
    let seed = test_seed("a_key_nobody_wrote_is_a_violation");
    let mut invented = state(seed, &[20, 20], 0);
    assert!(
        violations(seed, 20, Contract::ProcessCrash, &invented).is_empty(),
        "seed {seed}"
    );
    invented.push((b"zz-never-written".to_vec(), b"x".to_vec()));
    assert!(
        !violations(seed, 20, Contract::ProcessCrash, &invented).is_empty(),
        "seed {seed}"
    );
}

#[test]
fn point_reads_that_disagree_with_the_scan_are_violations() {
    let seed = test_seed("point_reads_that_disagree_with_the_scan_are_violations");
    let recovered = state(seed, &[10, 10], 0);
    let mut history = History::new(WORKLOAD, seed);
    let report = history.check(
        &acknowledged(seed, 10),
        Contract::ProcessCrash,
        &recovered,
        |_| Some(b"not what the scan saw".to_vec()),
    );
    assert!(!report.violations.is_empty(), "seed {seed}");
}

#[test]
fn the_base_moves_to_the_recovered_prefix() {
    let seed = test_seed("the_base_moves_to_the_recovered_prefix");
    // A batch in flight whose effect shows (one of deletes of absent keys would not).
    let last = (1..100)
        .find(|&last| state(seed, &[last + 1, last], 0) != state(seed, &[last, last], 0))
        .unwrap();
    let mut history = History::new(WORKLOAD, seed);
    let recovered = state(seed, &[last + 1, last], 0);
    let lookup: BTreeMap<_, _> = recovered.iter().cloned().collect();
    let report = history.check(
        &acknowledged(seed, last),
        Contract::ProcessCrash,
        &recovered,
        |key| lookup.get(key).cloned(),
    );
    assert!(
        report.violations.is_empty(),
        "seed {seed}: {:?}",
        report.violations
    );
    assert_eq!(report.in_flight_recovered, 1, "seed {seed}");
    assert_eq!(history.next_batch(0), last + 2, "seed {seed}");
    assert_eq!(history.next_batch(1), last + 1, "seed {seed}");
}
