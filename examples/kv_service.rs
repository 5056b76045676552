//! A small key-value service that embeds shaledb: client threads send puts and gets to it;
//! puts go through a `BatchWriter`, which gathers the writes of all clients into batches and
//! commits each with one synced log write, and every client waits only for its own write. At
//! the end the service prints what the engine did.
//!
//! `cargo run --release --example kv_service [SECONDS] [CLIENTS]` (defaults: 5 seconds, 8
//! clients). The database lives in a temporary directory, removed at the end.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use shaledb::{BatchWriter, BatchWriterOptions, Db, Options};

/// The service: a database and the batch writer in front of it. Cheap to share between the
/// threads that serve requests.
struct KeyValueService {
    db: Arc<Db>,
    writer: BatchWriter,
}

impl KeyValueService {
    fn open(dir: &std::path::Path) -> shaledb::Result<KeyValueService> {
        let db = Arc::new(Db::open(dir, Options::default())?);
        // Low-latency batching (the default): a batch is committed as soon as the previous
        // commit ends, so batches grow with the load instead of waiting for a timer.
        let writer = BatchWriter::new(Arc::clone(&db), BatchWriterOptions::default())?;
        Ok(KeyValueService { db, writer })
    }

    /// Stores `value` under `key`; returns once it is durable (synced with its batch).
    fn put(&self, key: &[u8], value: &[u8]) -> shaledb::Result<()> {
        self.writer.put(key, value)?.wait()
    }

    fn get(&self, key: &[u8]) -> shaledb::Result<Option<Vec<u8>>> {
        Ok(self.db.get(key)?.map(|value| value.to_vec()))
    }
}

/// One client: puts of its own keys and gets of keys it wrote, until `stop`. Returns (puts,
/// gets); checks every get against what it wrote.
fn client(service: &KeyValueService, id: u64, stop: &AtomicBool) -> shaledb::Result<(u64, u64)> {
    let (mut puts, mut gets) = (0u64, 0u64);
    while !stop.load(Ordering::Relaxed) {
        let key = format!("client{id:02}-key{:06}", puts % 10_000);
        let value = format!("value {puts} of client {id}");
        service.put(key.as_bytes(), value.as_bytes())?;
        puts += 1;
        if puts % 4 == 0 {
            let found = service.get(key.as_bytes())?;
            assert_eq!(
                found.as_deref(),
                Some(value.as_bytes()),
                "read your own write"
            );
            gets += 1;
        }
    }
    Ok((puts, gets))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut arguments = std::env::args().skip(1);
    let seconds: u64 = arguments.next().map_or(Ok(5), |text| text.parse())?;
    let clients: u64 = arguments.next().map_or(Ok(8), |text| text.parse())?;
    let dir = tempfile::tempdir()?;
    let service = Arc::new(KeyValueService::open(dir.path())?);
    println!(
        "serving {clients} clients for {seconds} s from {}",
        dir.path().display()
    );

    let stop = Arc::new(AtomicBool::new(false));
    let total_puts = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|id| {
            let (service, stop, total_puts) = (
                Arc::clone(&service),
                Arc::clone(&stop),
                Arc::clone(&total_puts),
            );
            std::thread::spawn(move || {
                let counts = client(&service, id, &stop);
                if let Ok((puts, _)) = &counts {
                    total_puts.fetch_add(*puts, Ordering::Relaxed);
                }
                counts
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(seconds));
    stop.store(true, Ordering::Relaxed);
    let mut gets = 0;
    for thread in threads {
        let (_, client_gets) = thread.join().map_err(|_| "a client panicked")??;
        gets += client_gets;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let puts = total_puts.load(Ordering::Relaxed);

    println!(
        "{puts} durable puts ({:.0}/s) and {gets} gets in {elapsed:.1} s",
        puts as f64 / elapsed
    );
    let batching = service.writer.stats();
    println!("batch writer: {batching:?}");
    let stats = service.db.stats();
    println!(
        "{} synced log writes for {puts} puts: {:.1} puts share each fdatasync",
        stats.synced_groups,
        puts as f64 / stats.synced_groups.max(1) as f64
    );
    println!("engine:\n{stats}");
    service.writer.flush()?;
    service.db.close()?;
    Ok(())
}
