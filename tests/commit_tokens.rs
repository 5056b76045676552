//! Commit tokens (`Db::write_with_token`, `Db::was_committed`): a write carrying a token is
//! applied at most once, its answer survives flushes, compactions and reopens, and the
//! retention window (by count and by age) forgets old tokens as unknown, never as "not
//! committed". The crash test is `commit_token_crash.rs`.

mod common;

use std::sync::{Arc, Barrier};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{temp_dir, tiny_options};
use shaledb::{
    CommitStatus, CommitToken, CommitTokenRetention, Db, Error, KeyspaceOptions, Options,
    TokenWrite, WriteBatch, WriteOptions,
};

fn batch_of(pairs: &[(&[u8], &[u8])]) -> WriteBatch {
    let mut batch = WriteBatch::new();
    for (key, value) in pairs {
        batch.put(key, value).unwrap();
    }
    batch
}

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64
}

fn applied(outcome: TokenWrite) -> u64 {
    match outcome {
        TokenWrite::Applied { sequence } => sequence.0,
        other => panic!("expected Applied, got {other:?}"),
    }
}

#[test]
fn a_token_is_applied_once_and_its_sequence_is_the_batch_end() {
    let dir = temp_dir();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    db.put(b"before", b"x").unwrap();
    let token = CommitToken::new();
    assert_eq!(
        db.was_committed(&token).unwrap(),
        CommitStatus::NotCommitted
    );
    let batch = batch_of(&[(b"a", b"1"), (b"b", b"2")]);
    let sequence = applied(
        db.write_with_token(batch.clone(), token, &WriteOptions::SYNC)
            .unwrap(),
    );
    // One operation for "before", two of the batch, and the token record last.
    assert_eq!(sequence, 4);
    // (The first token write also recorded the first cut, a day ago, in a batch of its own.)
    let before_retry = db.snapshot().sequence();
    let again = db
        .write_with_token(batch, token, &WriteOptions::SYNC)
        .unwrap();
    assert_eq!(
        again,
        TokenWrite::AlreadyCommitted {
            sequence: shaledb::SequenceNumber(4)
        }
    );
    assert_eq!(
        db.snapshot().sequence(),
        before_retry,
        "the retry wrote nothing"
    );
    assert_eq!(
        db.was_committed(&token).unwrap(),
        CommitStatus::Committed {
            sequence: shaledb::SequenceNumber(4)
        }
    );
    // The engine's keyspace is not the user's.
    assert_eq!(db.keyspaces(), ["default"]);
    assert_eq!(db.iter().count(), 3);
}

#[test]
fn an_empty_batch_with_a_token_still_records_it() {
    let dir = temp_dir();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let token = CommitToken::new();
    let sequence = applied(
        db.write_with_token(WriteBatch::new(), token, &WriteOptions::NO_SYNC)
            .unwrap(),
    );
    assert_eq!(sequence, 1);
    assert!(matches!(
        db.was_committed(&token).unwrap(),
        CommitStatus::Committed { .. }
    ));
}

#[test]
fn tokens_survive_flushes_compactions_and_reopens() {
    let dir = temp_dir();
    let options = tiny_options;
    let mut tokens = Vec::new();
    {
        let db = Db::open(dir.path(), options()).unwrap();
        for index in 0..3000u32 {
            let token = CommitToken::new();
            let key = format!("key-{index:05}");
            let batch = batch_of(&[(key.as_bytes(), &[7u8; 100])]);
            let sequence = applied(
                db.write_with_token(batch, token, &WriteOptions::NO_SYNC)
                    .unwrap(),
            );
            tokens.push((token, sequence));
        }
        db.flush().unwrap();
        db.compact_range(..).unwrap();
        db.wait_for_compaction().unwrap();
        db.close().unwrap();
    }
    let db = Db::open(dir.path(), options()).unwrap();
    for (token, sequence) in &tokens {
        assert_eq!(
            db.was_committed(token).unwrap(),
            CommitStatus::Committed {
                sequence: shaledb::SequenceNumber(*sequence)
            }
        );
        let retry = db
            .write_with_token(WriteBatch::new(), *token, &WriteOptions::NO_SYNC)
            .unwrap();
        assert!(
            matches!(retry, TokenWrite::AlreadyCommitted { .. }),
            "{retry:?}"
        );
    }
    assert_eq!(
        db.was_committed(&CommitToken::new()).unwrap(),
        CommitStatus::NotCommitted
    );
    // And read-only: the same answers, nothing written.
    db.close().unwrap();
    let reader = Db::open_read_only(dir.path(), options()).unwrap();
    let (token, sequence) = tokens[1234];
    assert_eq!(
        reader.was_committed(&token).unwrap(),
        CommitStatus::Committed {
            sequence: shaledb::SequenceNumber(sequence)
        }
    );
    assert!(matches!(
        reader.write_with_token(WriteBatch::new(), CommitToken::new(), &WriteOptions::SYNC),
        Err(Error::ReadOnly(_))
    ));
}

#[test]
fn concurrent_writes_of_one_token_apply_it_once() {
    let dir = temp_dir();
    let db = Arc::new(Db::open(dir.path(), Options::default()).unwrap());
    for round in 0..20u32 {
        let token = CommitToken::new();
        let threads = 8;
        let barrier = Arc::new(Barrier::new(threads));
        let handles: Vec<_> = (0..threads)
            .map(|thread| {
                let db = Arc::clone(&db);
                let barrier = Arc::clone(&barrier);
                std::thread::spawn(move || {
                    let key = format!("round-{round:02}/thread-{thread}");
                    let batch = batch_of(&[(key.as_bytes(), b"applied")]);
                    barrier.wait();
                    db.write_with_token(batch, token, &WriteOptions::NO_SYNC)
                })
            })
            .collect();
        let mut applied_count = 0;
        for handle in handles {
            match handle.join().unwrap() {
                Ok(TokenWrite::Applied { .. }) => applied_count += 1,
                Ok(TokenWrite::AlreadyCommitted { .. }) => {}
                Err(Error::InvalidArgument(message)) => {
                    assert!(message.contains("already running"), "{message}")
                }
                Err(other) => panic!("{other}"),
            }
        }
        assert_eq!(applied_count, 1, "round {round}");
        let prefix = format!("round-{round:02}/");
        assert_eq!(db.prefix(prefix.as_bytes()).count(), 1, "round {round}");
    }
}

#[test]
fn the_count_window_forgets_the_oldest_tokens_as_unknown() {
    let dir = temp_dir();
    let options = || Options {
        commit_token_retention: CommitTokenRetention {
            max_count: 100,
            ..CommitTokenRetention::default()
        },
        ..tiny_options()
    };
    let base = now_micros();
    // Stamps increase with the index, so the oldest are the first written.
    let token = |index: u64| CommitToken::from_parts(base + index, index);
    {
        let db = Db::open(dir.path(), options()).unwrap();
        for index in 0..1000 {
            db.write_with_token(WriteBatch::new(), token(index), &WriteOptions::NO_SYNC)
                .unwrap();
        }
        let mut committed = 0;
        let mut unknown = 0;
        for index in 0..1000 {
            match db.was_committed(&token(index)).unwrap() {
                CommitStatus::Committed { .. } => committed += 1,
                CommitStatus::Unknown => {
                    unknown += 1;
                    // Forgotten tokens are the oldest: no committed one before an unknown one.
                    assert_eq!(
                        committed, 0,
                        "token {index} forgotten after a remembered one"
                    );
                }
                CommitStatus::NotCommitted => panic!("token {index} written, said not committed"),
            }
        }
        // The window keeps at least max_count, and prunes once 1/16 past it.
        assert!(
            (100..=100 + 100 / 16 + 1).contains(&committed),
            "{committed}"
        );
        assert_eq!(unknown, 1000 - committed);
        // A never-written token stamped after the cut is not committed; one before it, unknown.
        assert_eq!(
            db.was_committed(&CommitToken::from_parts(base + 5000, 1))
                .unwrap(),
            CommitStatus::NotCommitted
        );
        assert_eq!(
            db.was_committed(&CommitToken::from_parts(base, 99_999))
                .unwrap(),
            CommitStatus::Unknown
        );
        // A write of a forgotten token is refused: it might be a retry of one that committed.
        let refused = db.write_with_token(WriteBatch::new(), token(0), &WriteOptions::NO_SYNC);
        assert!(
            matches!(&refused, Err(Error::InvalidArgument(message)) if message.contains("retention window")),
            "{refused:?}"
        );
        db.close().unwrap();
    }
    // The cut is durable.
    let db = Db::open(dir.path(), options()).unwrap();
    assert_eq!(db.was_committed(&token(0)).unwrap(), CommitStatus::Unknown);
    assert!(matches!(
        db.was_committed(&token(999)).unwrap(),
        CommitStatus::Committed { .. }
    ));
}

#[test]
fn the_age_window_forgets_tokens_older_than_it() {
    let dir = temp_dir();
    let options = || Options {
        commit_token_retention: CommitTokenRetention {
            max_age: Duration::from_secs(60),
            ..CommitTokenRetention::default()
        },
        ..Options::default()
    };
    let now = now_micros();
    let old = CommitToken::from_parts(now - 3_600_000_000, 1); // an hour old
    let recent = CommitToken::from_parts(now - 1_000_000, 2); // a second old
    {
        let db = Db::open(dir.path(), options()).unwrap();
        // Before any prune the cut is at 0: the old token is still accepted once...
        applied(
            db.write_with_token(WriteBatch::new(), old, &WriteOptions::NO_SYNC)
                .unwrap(),
        );
        // ...and its own write made a prune due: the cut is now a minute ago.
        applied(
            db.write_with_token(WriteBatch::new(), recent, &WriteOptions::NO_SYNC)
                .unwrap(),
        );
        assert_eq!(db.was_committed(&old).unwrap(), CommitStatus::Unknown);
        assert!(matches!(
            db.was_committed(&recent).unwrap(),
            CommitStatus::Committed { .. }
        ));
        db.close().unwrap();
    }
    let db = Db::open(dir.path(), options()).unwrap();
    assert_eq!(db.was_committed(&old).unwrap(), CommitStatus::Unknown);
    assert!(matches!(
        db.was_committed(&recent).unwrap(),
        CommitStatus::Committed { .. }
    ));
}

#[test]
fn the_engines_keyspace_names_are_refused() {
    let dir = temp_dir();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    db.write_with_token(
        WriteBatch::new(),
        CommitToken::new(),
        &WriteOptions::NO_SYNC,
    )
    .unwrap();
    for name in ["__shaledb_commit_tokens", "__shaledb_other"] {
        let opened = db.keyspace(name, KeyspaceOptions::default());
        assert!(
            matches!(opened, Err(Error::InvalidArgument(_))),
            "{opened:?}"
        );
        assert!(matches!(
            db.existing_keyspace(name),
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            db.drop_keyspace(name),
            Err(Error::InvalidArgument(_))
        ));
    }
    assert_eq!(db.keyspaces(), ["default"]);
}

#[test]
fn invalid_retention_is_refused_naming_the_field() {
    let dir = temp_dir();
    let options = Options {
        commit_token_retention: CommitTokenRetention {
            max_age: Duration::from_millis(10),
            ..CommitTokenRetention::default()
        },
        ..Options::default()
    };
    match Db::open(dir.path(), options) {
        Err(Error::InvalidArgument(message)) => {
            assert!(
                message.contains("commit_token_retention.max_age"),
                "{message}"
            )
        }
        other => panic!("{other:?}"),
    }
}
