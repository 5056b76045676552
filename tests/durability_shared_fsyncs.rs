//! Writes through the durable handle (`Db::write_durable`, issue 16) share fsyncs: many threads
//! waiting on their tickets are made durable by far fewer fdatasyncs than writes, and one
//! thread appending without waiting is not held up by the fsync running (its appends overlap
//! it, as a replicated log's do). Through `shaledb::vfs::FaultFileSystem` with a slow sync, so
//! that the counts do not depend on the speed of the machine's disk; the machine running the
//! tests may be shared and noisy, so the bounds are loose.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use shaledb::vfs::FaultFileSystem;
use shaledb::{Db, Options, WriteBatch};

fn options(file_system: &FaultFileSystem) -> Options {
    Options {
        file_system: Arc::new(file_system.clone()),
        ..Options::default()
    }
}

fn batch(thread: usize, index: usize) -> WriteBatch {
    let mut batch = WriteBatch::new();
    batch
        .put(format!("{thread:02}-{index:04}").as_bytes(), &[7; 100])
        .unwrap();
    batch
}

fn after_power_loss(db: Arc<Db>, file_system: &FaultFileSystem, dir: &Path) -> Db {
    file_system.power_loss();
    drop(Arc::into_inner(db).expect("the test's threads are done"));
    file_system.restart();
    Db::open(dir, options(file_system)).expect("reopen after the power loss")
}

/// Waits until the flush thread has made its spare log (64 MiB of zeros, synced), whose writes
/// and syncs would otherwise mix with the ones a test times or counts.
fn wait_for_spare_log(dir: &Path, file_system: &FaultFileSystem) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let logs = common::files_ending_with(dir, ".wal");
        let durable = logs
            .iter()
            .all(|(name, _)| file_system.is_durable(&dir.join(name)));
        if logs.len() >= 2 && durable {
            return;
        }
        assert!(Instant::now() < deadline, "no spare log");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn many_threads_waiting_on_their_tickets_share_fsyncs() {
    const THREADS: usize = 8;
    const WRITES: usize = 40;
    let dir = common::temp_dir();
    let file_system = FaultFileSystem::new();
    let db = Arc::new(Db::open(dir.path(), options(&file_system)).unwrap());
    wait_for_spare_log(dir.path(), &file_system);
    file_system.set_sync_latency(Duration::from_millis(5));
    let wal_syncs = db.stats().fsync_latency.count;
    let file_syncs = file_system.stats().syncs;
    let writers: Vec<_> = (0..THREADS)
        .map(|thread| {
            let db = Arc::clone(&db);
            std::thread::spawn(move || {
                for index in 0..WRITES {
                    // Each waits for its write to be durable before the next, as a synced
                    // writer would.
                    db.write_durable(batch(thread, index))
                        .unwrap()
                        .wait()
                        .unwrap();
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
    let writes = (THREADS * WRITES) as u64;
    let wal_syncs = db.stats().fsync_latency.count - wal_syncs;
    let file_syncs = file_system.stats().syncs - file_syncs;
    eprintln!("{writes} durable writes, {wal_syncs} log fsyncs, {file_syncs} file syncs in all");
    assert!(wal_syncs > 0);
    assert!(
        wal_syncs * 2 <= writes,
        "{wal_syncs} log fsyncs for {writes} writes: they were not shared"
    );
    assert!(
        file_syncs * 2 <= writes,
        "{file_syncs} file syncs for {writes} writes"
    );
    assert_eq!(
        db.stats().synced_groups,
        0,
        "no write asked for a synced group"
    );
    // Every write whose ticket completed survives a power loss.
    let db = after_power_loss(db, &file_system, dir.path());
    for thread in 0..THREADS {
        for index in 0..WRITES {
            let key = format!("{thread:02}-{index:04}");
            assert!(db.get(key.as_bytes()).unwrap().is_some(), "{key} was lost");
        }
    }
}

#[test]
fn appends_that_do_not_wait_overlap_the_running_fsync() {
    const APPENDS: usize = 40;
    const SYNC_LATENCY: Duration = Duration::from_millis(200);
    let dir = common::temp_dir();
    let file_system = FaultFileSystem::new();
    let db = Arc::new(Db::open(dir.path(), options(&file_system)).unwrap());
    wait_for_spare_log(dir.path(), &file_system);
    file_system.set_sync_latency(SYNC_LATENCY);
    let wal_syncs = db.stats().fsync_latency.count;
    // The first append starts the sync thread's fsync; the others come while it runs.
    let mut tickets = vec![db.write_durable(batch(0, 0)).unwrap()];
    std::thread::sleep(SYNC_LATENCY / 10);
    let started = Instant::now();
    tickets.extend((1..APPENDS).map(|index| db.write_durable(batch(0, index)).unwrap()));
    let appending = started.elapsed();
    for ticket in tickets {
        ticket.wait().unwrap();
    }
    let wal_syncs = db.stats().fsync_latency.count - wal_syncs;
    eprintln!("{APPENDS} appends in {appending:?}, made durable by {wal_syncs} log fsyncs");
    // Waiting for the running fsync would take most of SYNC_LATENCY, and syncing under the
    // log lock before later appends more.
    assert!(
        appending < SYNC_LATENCY / 2,
        "the appends took {appending:?}: they waited for the fsync"
    );
    assert!(wal_syncs <= 5, "{wal_syncs} fsyncs for {APPENDS} appends");
    let db = after_power_loss(db, &file_system, dir.path());
    for index in 0..APPENDS {
        let key = format!("00-{index:04}");
        assert!(db.get(key.as_bytes()).unwrap().is_some(), "{key} was lost");
    }
}
