//! `BatchWriter`: single operations from many threads become atomic, durable batches; every
//! strategy commits; tickets deliver success or the commit's error, never nothing; dropping the
//! writer flushes; backpressure bounds memory without deadlock; options are validated.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::Rng;
use shaledb::{
    BatchStrategy, BatchWriter, BatchWriterOptions, Db, Error, Options, RetryPolicy, Ticket,
};

fn open(dir: &std::path::Path) -> Arc<Db> {
    Arc::new(Db::open(dir, Options::default()).unwrap())
}

fn writer(db: &Arc<Db>, strategy: BatchStrategy) -> BatchWriter {
    let options = BatchWriterOptions {
        strategy,
        ..BatchWriterOptions::default()
    };
    BatchWriter::new(Arc::clone(db), options).unwrap()
}

fn key(thread: usize, index: usize) -> Vec<u8> {
    format!("t{thread:02}-k{index:05}").into_bytes()
}

/// Waits until `condition` holds, for at most ten seconds.
fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn many_threads_wait_on_tickets_and_everything_survives_reopen() {
    let seed = 0x5eed_0001;
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let writer = writer(&db, BatchStrategy::LowLatency);
    let threads = 8;
    let per_thread = 400;
    let mut expected = Vec::new();
    let handles: Vec<_> = (0..threads)
        .map(|thread| {
            let writer = writer.clone();
            let mut rng = Rng::new(seed + thread as u64);
            std::thread::spawn(move || {
                let mut written = Vec::new();
                for index in 0..per_thread {
                    let length = rng.between(0, 200);
                    let value = rng.bytes(length);
                    writer
                        .put(&key(thread, index), &value)
                        .unwrap()
                        .wait()
                        .unwrap();
                    written.push((key(thread, index), value));
                }
                written
            })
        })
        .collect();
    for handle in handles {
        expected.extend(handle.join().unwrap());
    }
    let stats = writer.stats();
    assert_eq!(
        stats.operations_committed,
        (threads * per_thread) as u64,
        "seed {seed:#x}"
    );
    assert!(stats.mean_batch_size >= 1.0, "seed {seed:#x}: {stats:?}");
    drop(writer);
    db.close().unwrap();
    drop(db);
    let db = open(dir.path());
    for (key, value) in &expected {
        assert_eq!(
            db.get(key).unwrap().as_deref(),
            Some(value.as_slice()),
            "seed {seed:#x}: key {}",
            String::from_utf8_lossy(key)
        );
    }
}

fn all_strategies() -> Vec<BatchStrategy> {
    vec![
        BatchStrategy::FixedSize(16),
        BatchStrategy::TimeWindow(Duration::from_millis(2)),
        BatchStrategy::MemoryBound(4 << 10),
        BatchStrategy::Adaptive {
            min_operations: 4,
            max_operations: 256,
            target_latency: Duration::from_millis(5),
        },
        BatchStrategy::LowLatency,
    ]
}

#[test]
fn every_strategy_commits_puts_and_deletes_in_order() {
    let seed = 0x5eed_0002;
    for strategy in all_strategies() {
        let mut rng = Rng::new(seed);
        let dir = tempfile::tempdir().unwrap();
        let db = open(dir.path());
        let writer = writer(&db, strategy);
        let mut tickets: Vec<Ticket> = Vec::new();
        let mut model = std::collections::BTreeMap::new();
        for _ in 0..500 {
            let key = format!("k{:03}", rng.below(100)).into_bytes();
            if rng.chance(1, 4) {
                tickets.push(writer.delete(&key).unwrap());
                model.remove(&key);
            } else {
                let length = rng.between(1, 64);
                let value = rng.bytes(length);
                tickets.push(writer.put(&key, &value).unwrap());
                model.insert(key, value);
            }
        }
        writer.flush().unwrap();
        for ticket in tickets {
            assert!(
                ticket.is_done(),
                "{strategy:?}: flush returned before a ticket"
            );
            ticket.wait().unwrap();
        }
        let stats = writer.stats();
        assert_eq!(stats.operations_committed, 500, "{strategy:?}: {stats:?}");
        assert_eq!(stats.queued_operations, 0, "{strategy:?}");
        assert_eq!(stats.queued_bytes, 0, "{strategy:?}");
        let stored: std::collections::BTreeMap<_, _> = db
            .iter()
            .map(|item| item.map(|(key, value)| (key.to_vec(), value.to_vec())))
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(stored, model, "{strategy:?}, seed {seed:#x}");
    }
}

#[test]
fn time_bounded_strategies_commit_a_lone_waiter_without_flush() {
    for strategy in all_strategies() {
        if matches!(
            strategy,
            BatchStrategy::FixedSize(_) | BatchStrategy::MemoryBound(_)
        ) {
            continue;
        }
        let dir = tempfile::tempdir().unwrap();
        let db = open(dir.path());
        let writer = writer(&db, strategy);
        for index in 0..20 {
            writer.put(&key(0, index), b"v").unwrap().wait().unwrap();
            assert!(db.get(&key(0, index)).unwrap().is_some(), "{strategy:?}");
        }
        assert_eq!(writer.stats().commits, 20, "{strategy:?}");
    }
}

#[test]
fn fixed_size_commits_batches_of_exactly_that_size() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let writer = writer(&db, BatchStrategy::FixedSize(10));
    let tickets: Vec<_> = (0..95)
        .map(|index| writer.put(&key(0, index), b"v").unwrap())
        .collect();
    eventually("nine full batches", || {
        writer.stats().operations_committed == 90
    });
    // The five left over wait for a tenth operation or a flush.
    std::thread::sleep(Duration::from_millis(20));
    let stats = writer.stats();
    assert_eq!(stats.commits, 9, "{stats:?}");
    assert_eq!(stats.mean_batch_size, 10.0, "{stats:?}");
    assert_eq!(stats.queued_operations, 5, "{stats:?}");
    assert!(!tickets[94].is_done());
    writer.flush().unwrap();
    let stats = writer.stats();
    assert_eq!(
        (stats.commits, stats.operations_committed),
        (10, 95),
        "{stats:?}"
    );
    for ticket in tickets {
        ticket.wait().unwrap();
    }
}

#[test]
fn memory_bound_batches_stay_near_the_bound() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let bound = 1000;
    let writer = writer(&db, BatchStrategy::MemoryBound(bound));
    // Each operation counts 8 + 84 + 16 = 108 bytes: ten fill a batch.
    for index in 0..100 {
        drop(
            writer
                .put(&format!("key{index:05}").into_bytes(), &[7; 84])
                .unwrap(),
        );
    }
    writer.flush().unwrap();
    let stats = writer.stats();
    assert_eq!(stats.operations_committed, 100);
    assert_eq!(stats.commits, 10, "{stats:?}");
}

#[test]
fn dropped_tickets_and_a_dropped_writer_still_commit_everything() {
    for strategy in all_strategies() {
        let dir = tempfile::tempdir().unwrap();
        let db = open(dir.path());
        let writer = writer(&db, strategy);
        let clones: Vec<_> = (0..3).map(|_| writer.clone()).collect();
        for (thread, clone) in clones.iter().enumerate() {
            for index in 0..111 {
                drop(clone.put(&key(thread, index), b"value").unwrap());
            }
        }
        drop(clones);
        drop(writer);
        for thread in 0..3 {
            for index in 0..111 {
                assert!(
                    db.get(&key(thread, index)).unwrap().is_some(),
                    "{strategy:?}: thread {thread} index {index} lost"
                );
            }
        }
    }
}

#[test]
fn tiny_in_flight_bound_applies_backpressure_and_completes() {
    let seed = 0x5eed_0003;
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    for strategy in [BatchStrategy::FixedSize(1000), BatchStrategy::LowLatency] {
        let options = BatchWriterOptions {
            strategy,
            max_in_flight_bytes: 200,
            ..BatchWriterOptions::default()
        };
        let writer = BatchWriter::new(Arc::clone(&db), options).unwrap();
        let handles: Vec<_> = (0..4)
            .map(|thread| {
                let writer = writer.clone();
                let mut rng = Rng::new(seed + thread as u64);
                std::thread::spawn(move || {
                    let mut tickets = Vec::new();
                    for index in 0..200 {
                        // Some values are larger than the whole bound: they go alone.
                        let length = rng.between(0, 300);
                        let value = rng.bytes(length);
                        tickets.push(writer.put(&key(thread, index), &value).unwrap());
                        let stats = writer.stats();
                        assert!(
                            stats.queued_bytes <= 200 + 300 + 16 + 9,
                            "seed {seed:#x}: {stats:?}"
                        );
                    }
                    tickets
                })
            })
            .collect();
        let tickets: Vec<_> = handles
            .into_iter()
            .flat_map(|handle| handle.join().unwrap())
            .collect();
        // FixedSize holds its last partial batch until a flush: waiting does not force it.
        writer.flush().unwrap();
        {
            for ticket in tickets {
                ticket.wait().unwrap();
            }
        }
        assert_eq!(writer.stats().operations_committed, 800, "{strategy:?}");
    }
    for thread in 0..4 {
        for index in 0..200 {
            assert!(db.get(&key(thread, index)).unwrap().is_some());
        }
    }
}

#[test]
fn a_failed_commit_reaches_every_ticket() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let writer = writer(&db, BatchStrategy::FixedSize(50));
    writer.put(b"before", b"v").unwrap();
    writer.flush().unwrap();
    let queued: Vec<_> = (0..20)
        .map(|index| writer.put(&key(0, index), b"v").unwrap())
        .collect();
    db.close().unwrap();
    let error = writer.flush().unwrap_err();
    assert!(matches!(error, Error::Closed), "{error}");
    for ticket in queued {
        let error = ticket.wait().unwrap_err();
        assert!(matches!(error, Error::Closed), "{error}");
    }
    let stats = writer.stats();
    assert_eq!(stats.failed_commits, 1, "{stats:?}");
    assert_eq!(stats.operations_committed, 1, "{stats:?}");
}

#[test]
fn closing_the_database_mid_stream_resolves_every_ticket_honestly() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let writer = writer(&db, BatchStrategy::LowLatency);
    let handles: Vec<_> = (0..4)
        .map(|thread| {
            let writer = writer.clone();
            std::thread::spawn(move || {
                let mut outcomes = Vec::new();
                for index in 0..2000 {
                    let ticket = writer.put(&key(thread, index), b"v").unwrap();
                    outcomes.push((key(thread, index), ticket.wait()));
                }
                outcomes
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(30));
    db.close().unwrap();
    let outcomes: Vec<_> = handles
        .into_iter()
        .flat_map(|handle| handle.join().unwrap())
        .collect();
    drop(writer);
    drop(db);
    let failed = outcomes
        .iter()
        .filter(|(_, outcome)| outcome.is_err())
        .count();
    assert!(failed > 0, "the close came after every write");
    let db = open(dir.path());
    for (key, outcome) in outcomes {
        match outcome {
            Ok(()) => assert!(db.get(&key).unwrap().is_some(), "acknowledged write lost"),
            Err(error) => assert!(matches!(error, Error::Closed), "{error}"),
        }
    }
}

#[test]
fn oversized_keys_and_values_fail_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let writer = writer(&db, BatchStrategy::LowLatency);
    let long_key = vec![0; shaledb::MAX_KEY_SIZE + 1];
    assert!(matches!(
        writer.put(&long_key, b"v"),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        writer.delete(&long_key),
        Err(Error::InvalidArgument(_))
    ));
    assert_eq!(writer.stats().queued_operations, 0);
}

#[test]
fn invalid_options_are_refused_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let defaults = BatchWriterOptions::default();
    let adaptive = |min_operations, max_operations, target_latency| BatchStrategy::Adaptive {
        min_operations,
        max_operations,
        target_latency,
    };
    let millisecond = Duration::from_millis(1);
    let cases = [
        (
            BatchWriterOptions {
                strategy: BatchStrategy::FixedSize(0),
                ..defaults
            },
            "strategy",
        ),
        (
            BatchWriterOptions {
                strategy: BatchStrategy::TimeWindow(Duration::ZERO),
                ..defaults
            },
            "strategy",
        ),
        (
            BatchWriterOptions {
                strategy: BatchStrategy::MemoryBound(0),
                ..defaults
            },
            "strategy",
        ),
        (
            BatchWriterOptions {
                strategy: adaptive(0, 10, millisecond),
                ..defaults
            },
            "strategy.min_operations",
        ),
        (
            BatchWriterOptions {
                strategy: adaptive(10, 9, millisecond),
                ..defaults
            },
            "strategy.max_operations",
        ),
        (
            BatchWriterOptions {
                strategy: adaptive(1, 9, Duration::ZERO),
                ..defaults
            },
            "strategy.target_latency",
        ),
        (
            BatchWriterOptions {
                max_in_flight_bytes: 0,
                ..defaults
            },
            "max_in_flight_bytes",
        ),
        (
            BatchWriterOptions {
                retry: RetryPolicy {
                    max_attempts: 0,
                    ..RetryPolicy::default()
                },
                ..defaults
            },
            "retry.max_attempts",
        ),
        (
            BatchWriterOptions {
                retry: RetryPolicy {
                    max_attempts: 3,
                    initial_backoff: Duration::from_secs(1),
                    max_backoff: millisecond,
                    commit_tokens: true,
                },
                ..defaults
            },
            "retry.max_backoff",
        ),
    ];
    for (options, field) in cases {
        match BatchWriter::new(Arc::clone(&db), options) {
            Err(Error::InvalidArgument(message)) => assert!(
                message.contains(&format!("BatchWriterOptions::{field} ")),
                "{message} does not name {field}"
            ),
            other => panic!("{options:?} was not refused: {other:?}"),
        }
    }
    BatchWriter::new(Arc::clone(&db), defaults).unwrap();
}
