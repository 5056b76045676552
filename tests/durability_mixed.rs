//! Every way of syncing the log at once (issue 16): threads writing through tickets, through
//! callbacks, with synced and with unsynced single writes, one calling `sync_wal` and one
//! flushing (each flush rotates the log, and the small write buffer rotates it more), on a
//! slow-syncing `shaledb::vfs::FaultFileSystem`. Nothing may hang (each thread has a deadline),
//! every ticket and callback completes once and with `Ok`, and after a power loss every write a
//! ticket, a callback, a synced write or a `sync_wal` reported durable is there.

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use shaledb::vfs::FaultFileSystem;
use shaledb::{Db, Options, WriteBatch, WriteOptions};

const WRITES_PER_THREAD: usize = 300;
const DEADLINE: Duration = Duration::from_secs(60);

fn options(file_system: &FaultFileSystem) -> Options {
    Options {
        write_buffer_size: 64 << 10,
        sync_writes: false,
        file_system: Arc::new(file_system.clone()),
        ..Options::default()
    }
}

fn key(thread: usize, index: usize) -> Vec<u8> {
    format!("{thread}-{index:05}").into_bytes()
}

fn batch(thread: usize, index: usize) -> WriteBatch {
    let mut batch = WriteBatch::new();
    batch
        .put(&key(thread, index), &[thread as u8; 200])
        .unwrap();
    batch
}

#[test]
fn every_syncer_at_once_neither_hangs_nor_loses_a_durable_write() {
    let dir = common::temp_dir();
    let file_system = FaultFileSystem::new();
    let db = Arc::new(Db::open(dir.path(), options(&file_system)).unwrap());
    file_system.set_sync_latency(Duration::from_millis(1));
    let started = Instant::now();
    // Keys reported durable, by whichever means.
    let durable = Arc::new(Mutex::new(BTreeSet::new()));
    let done = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    for thread in 0..4 {
        let (db, durable) = (Arc::clone(&db), Arc::clone(&durable));
        threads.push(std::thread::spawn(move || {
            let mut tickets = Vec::new();
            for index in 0..WRITES_PER_THREAD {
                assert!(started.elapsed() < DEADLINE, "thread {thread} hangs");
                match thread {
                    0 => tickets.push((index, db.write_durable(batch(0, index)).unwrap())),
                    1 => {
                        let durable = Arc::clone(&durable);
                        db.write_durable_then(batch(1, index), move |result| {
                            result.unwrap();
                            assert!(
                                durable.lock().unwrap().insert(key(1, index)),
                                "a callback was called twice"
                            );
                        })
                        .unwrap();
                    }
                    2 => {
                        let batch = batch(2, index);
                        db.write(batch, &WriteOptions::SYNC).unwrap();
                        durable.lock().unwrap().insert(key(2, index));
                    }
                    _ => {
                        db.write(batch(3, index), &WriteOptions::NO_SYNC).unwrap();
                        if index % 50 == 49 {
                            db.sync_wal().unwrap();
                            let mut durable = durable.lock().unwrap();
                            durable.extend((0..=index).map(|earlier| key(3, earlier)));
                        }
                    }
                }
                if index % 8 == 0 {
                    std::thread::yield_now();
                }
            }
            for (index, ticket) in tickets {
                ticket.wait().unwrap();
                durable.lock().unwrap().insert(key(0, index));
            }
        }));
    }
    let flusher = {
        let (db, done) = (Arc::clone(&db), Arc::clone(&done));
        std::thread::spawn(move || {
            let mut flushes = 0;
            while !done.load(Ordering::Acquire) {
                assert!(started.elapsed() < DEADLINE, "the flushing thread hangs");
                db.flush().unwrap();
                flushes += 1;
                std::thread::sleep(Duration::from_millis(5));
            }
            flushes
        })
    };
    for thread in threads {
        thread.join().unwrap();
    }
    done.store(true, Ordering::Release);
    let flushes = flusher.join().unwrap();
    // Callbacks of the last writes may still be waiting for the sync thread.
    // (The sync_wal thread's last call covers its last write: WRITES_PER_THREAD is a multiple
    // of 50.)
    while durable.lock().unwrap().len() < 4 * WRITES_PER_THREAD {
        assert!(started.elapsed() < DEADLINE, "a callback never came");
        std::thread::sleep(Duration::from_millis(5));
    }
    let durable = durable.lock().unwrap().clone();
    eprintln!(
        "{} writes reported durable, {flushes} flushes, {} log fsyncs",
        durable.len(),
        db.stats().fsync_latency.count
    );

    file_system.power_loss();
    drop(Arc::into_inner(db).expect("every thread is done"));
    file_system.restart();
    let db = Db::open(dir.path(), options(&file_system)).unwrap();
    for key in &durable {
        assert!(
            db.get(key).unwrap().is_some(),
            "{} was reported durable and lost",
            String::from_utf8_lossy(key)
        );
    }
}
