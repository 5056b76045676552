//! Values and batches far larger than the write buffer, the log block and the write-group cap:
//! log records spanning many blocks, memtables frozen by one write, tables with huge blocks,
//! and writers stalled behind a single frozen memtable.

mod common;

use std::sync::Arc;

use common::{Model, Rng, assert_matches_model, small_options, temp_dir, test_seed};
use shaledb::{Db, Options, WriteBatch, WriteOptions};

#[test]
fn values_larger_than_the_write_buffer_survive_flushes_and_reopens() {
    let seed = test_seed("values_larger_than_the_write_buffer_survive_flushes_and_reopens");
    let mut rng = Rng::new(seed);
    let dir = temp_dir();
    let mut model = Model::new();
    for cycle in 0..3 {
        let db = Db::open(dir.path(), small_options()).unwrap();
        assert_matches_model(
            &db,
            &model,
            &format!("seed {seed}, cycle {cycle}, after open"),
        );
        for step in 0..30 {
            let key = format!("big-{:02}", rng.below(20)).into_bytes();
            let length = match rng.below(4) {
                0 => rng.between(100 << 10, 3 << 20),
                1 => rng.between(20 << 10, 70 << 10),
                _ => rng.between(0, 1_000),
            };
            let value = rng.bytes(length);
            if step % 7 == 0 {
                // A batch bigger than `max_write_group_bytes` (1 MiB).
                let mut batch = WriteBatch::new();
                let mut second_key = key.clone();
                second_key.push(b'+');
                batch.put(&key, &value).unwrap();
                batch.put(&second_key, &rng.bytes(1 << 20)).unwrap();
                db.write(batch, &WriteOptions::SYNC).unwrap();
                model.insert(
                    second_key.clone(),
                    db.get(&second_key).unwrap().unwrap().to_vec(),
                );
            } else {
                db.put(&key, &value).unwrap();
            }
            model.insert(key, value);
            if rng.chance(1, 8) {
                db.flush().unwrap();
            }
        }
        assert_matches_model(
            &db,
            &model,
            &format!("seed {seed}, cycle {cycle}, before drop"),
        );
    }
    let db = Db::open(dir.path(), small_options()).unwrap();
    assert_matches_model(&db, &model, &format!("seed {seed}, final"));
}

#[test]
fn writers_stall_behind_one_frozen_memtable_and_lose_nothing() {
    let seed = test_seed("writers_stall_behind_one_frozen_memtable_and_lose_nothing");
    let dir = temp_dir();
    let options = Options {
        max_immutable_memtables: 1,
        ..small_options()
    };
    let db = Arc::new(Db::open(dir.path(), options.clone()).unwrap());
    let threads: Vec<_> = (0..4u64)
        .map(|thread| {
            let db = Arc::clone(&db);
            std::thread::spawn(move || {
                let mut rng = Rng::new(seed ^ thread);
                let mut model = Model::new();
                for index in 0..1_500 {
                    let key = format!("t{thread}-{index:05}").into_bytes();
                    let length = rng.between(100, 1_500);
                    let value = rng.bytes(length);
                    db.put(&key, &value).unwrap();
                    model.insert(key, value);
                }
                model
            })
        })
        .collect();
    let mut model = Model::new();
    for thread in threads {
        model.extend(thread.join().expect("writer panicked"));
    }
    let stats = db.stats();
    assert!(stats.flushes >= 10, "seed {seed}: {stats}");
    assert_matches_model(&db, &model, &format!("seed {seed}, before reopen"));
    drop(db);
    let db = Db::open(dir.path(), options).unwrap();
    assert_matches_model(&db, &model, &format!("seed {seed}, after reopen"));
}
