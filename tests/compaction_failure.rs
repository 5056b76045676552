//! A compaction that keeps failing (here: its input table is damaged, so reading it fails its
//! checksum) is retried a bounded number of times, then the database refuses writes with the
//! cause, in every write's error and in `stats()`. Nothing is lost: the damaged input stays in
//! place (no input is deleted before its outputs are durable), and reads of undamaged keys
//! still work.

mod common;

use common::{files_ending_with, temp_dir, tiny_options};
use shaledb::{Db, Error, Options};

#[test]
fn a_compaction_that_keeps_failing_turns_the_database_read_only() {
    let dir = temp_dir();
    let options = Options {
        // Nothing compacts on its own: the test decides when.
        level0_compaction_trigger: 64,
        level0_size_percent_trigger: 0,
        level0_slowdown_trigger: 64,
        level0_stop_trigger: 64,
        ..tiny_options()
    };
    let db = Db::open(dir.path(), options.clone()).unwrap();
    for index in 0..2_000u32 {
        db.put(format!("key{index:05}").as_bytes(), &[b'v'; 100])
            .unwrap();
    }
    db.flush().unwrap();
    let tables = files_ending_with(dir.path(), ".sst");
    assert!(!tables.is_empty());
    // Flip a byte in the middle of the first data block of one table: its checksum now fails.
    let (name, _) = &tables[0];
    let path = dir.path().join(name);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[100] ^= 0x40;
    std::fs::write(&path, &bytes).unwrap();

    let error = db.compact_range(..).unwrap_err();
    assert!(error.is_corruption(), "compaction error: {error}");
    let stats = db.stats();
    let cause = stats.error.expect("stats name the cause");
    assert!(cause.contains("compaction failed"), "{cause}");
    match db.put(b"after", b"failure") {
        Err(Error::ReadOnly(message)) => {
            assert!(message.contains("compaction failed"), "{message}")
        }
        other => panic!("a write after the failure got {other:?}"),
    }
    // The damaged input is still live and on disk; a key in an undamaged table still reads.
    assert!(path.exists());
    assert_eq!(
        db.get(b"key01999").unwrap().as_deref(),
        Some(&[b'v'; 100][..])
    );
    db.close().unwrap();
}
