//! `close` while writers are busy: once `close` returns, the directory is free (a new `Db` opens
//! it at once) and no late write can land in the old log after the new `Db` replayed it. Every
//! write that was acknowledged is in the reopened database; every write after the close fails
//! with `Error::Closed`. (The window this guards — a leader that passed the open check just
//! before `close` — is narrow; the test exercises it by chance, not deterministically.)

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use common::{Rng, small_options, temp_dir, test_seed};
use shaledb::{Db, Error, WriteOptions};

#[test]
fn acknowledged_writes_survive_a_close_racing_with_writers() {
    let seed = test_seed("close_while_writing");
    let mut rng = Rng::new(seed);
    for round in 0..5 {
        let dir = temp_dir();
        let db = Arc::new(Db::open(dir.path(), small_options()).unwrap());
        let acknowledged = Arc::new(Mutex::new(Vec::new()));
        let started = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = (0..6u64)
            .map(|thread| {
                let (db, acknowledged, started) =
                    (db.clone(), acknowledged.clone(), started.clone());
                std::thread::spawn(move || {
                    for index in 0u64.. {
                        let key = format!("{thread}-{index:08}").into_bytes();
                        let mut batch = shaledb::WriteBatch::new();
                        batch.put(&key, &[7; 64]).unwrap();
                        match db.write(
                            batch,
                            &WriteOptions {
                                sync: index % 3 == 0,
                            },
                        ) {
                            Ok(()) => acknowledged.lock().unwrap().push(key),
                            Err(Error::Closed) => return,
                            Err(other) => panic!("unexpected error {other}"),
                        }
                        started.store(true, Ordering::Release);
                    }
                })
            })
            .collect();
        while !started.load(Ordering::Acquire) {
            std::thread::yield_now();
        }
        std::thread::sleep(std::time::Duration::from_millis(rng.below(40)));
        db.close().unwrap();
        // The directory must be free now, while the writers may still be running.
        let reopened = Db::open(dir.path(), small_options())
            .unwrap_or_else(|error| panic!("seed {seed} round {round}: reopen failed: {error}"));
        for writer in writers {
            writer.join().unwrap();
        }
        let acknowledged = acknowledged.lock().unwrap();
        assert!(!acknowledged.is_empty());
        let keys: Vec<&[u8]> = acknowledged.iter().map(Vec::as_slice).collect();
        let found = reopened.multi_get(&keys).unwrap();
        let missing = found.iter().filter(|value| value.is_none()).count();
        assert_eq!(
            missing, 0,
            "seed {seed} round {round}: {missing} acknowledged writes lost"
        );
        assert!(matches!(db.put(b"late", b"write"), Err(Error::Closed)));
    }
}
