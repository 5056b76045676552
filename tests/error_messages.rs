//! One error of each kind, made the way a user meets it, printed so that a reader can judge the
//! messages (`cargo test --release --test error_messages -- --nocapture`), and checked to say
//! what happened, to which file, key or field, and what to do.

mod common;

use std::sync::Arc;

use common::temp_dir;
use shaledb::vfs::{FaultFileSystem, FileClass};
use shaledb::{Db, Error, Options, WriteOptions};

fn show(kind: &str, error: &Error) -> String {
    let message = error.to_string();
    eprintln!("{kind:>16}: {message}");
    message
}

#[test]
fn every_error_kind_says_what_happened_where_and_what_to_do() {
    let dir = temp_dir();

    // Io: the database path is a file.
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"not a directory").unwrap();
    let error = Db::open(file.join("db"), Options::default()).unwrap_err();
    assert!(matches!(error, Error::Io { .. }), "{error:?}");
    let message = show("Io", &error);
    assert!(
        message.contains("a-file") && message.contains("check"),
        "{message}"
    );

    // InvalidArgument: a key over the limit names the limit.
    let db_dir = dir.path().join("db");
    let db = Db::open(&db_dir, Options::default()).unwrap();
    let error = db
        .put(&vec![b'k'; shaledb::MAX_KEY_SIZE + 1], b"v")
        .unwrap_err();
    let message = show("InvalidArgument", &error);
    assert!(
        message.contains("key") && message.contains(&shaledb::MAX_KEY_SIZE.to_string()),
        "{message}"
    );

    // InvalidArgument: an option out of range names the field.
    let error = Db::open(
        dir.path().join("other"),
        Options {
            write_buffer_size: 1,
            ..Options::default()
        },
    )
    .unwrap_err();
    let message = show("InvalidArgument", &error);
    assert!(message.contains("write_buffer_size"), "{message}");

    // Locked: a second handle on an open database.
    let error = Db::open(&db_dir, Options::default()).unwrap_err();
    let message = show("Locked", &error);
    assert!(
        message.contains("db") && message.contains("close that handle"),
        "{message}"
    );

    // ReadOnly: a write to a read-only handle.
    db.put(b"k", b"v").unwrap();
    db.close().unwrap();
    drop(db);
    let reader = Db::open_read_only(&db_dir, Options::default()).unwrap();
    let error = reader.put(b"k", b"w").unwrap_err();
    let message = show("ReadOnly", &error);
    assert!(
        message.contains("read-only") && message.contains("Db::open"),
        "{message}"
    );

    // Closed: a call after close.
    reader.close().unwrap();
    let error = reader.get(b"k").unwrap_err();
    let message = show("Closed", &error);
    assert!(message.contains("open it again"), "{message}");
    drop(reader);

    // ReadOnly after a failed fsync: the cause and the way back.
    let file_system = FaultFileSystem::new();
    let options = Options {
        file_system: Arc::new(file_system.clone()),
        ..Options::default()
    };
    let db = Db::open(&db_dir, options).unwrap();
    file_system.fail_sync(1, FileClass::Wal);
    let failed = db.write(
        {
            let mut batch = shaledb::WriteBatch::new();
            batch.put(b"k", b"x").unwrap();
            batch
        },
        &WriteOptions::SYNC,
    );
    let first = show("Io (fsync)", &failed.unwrap_err());
    assert!(first.contains(".wal"), "{first}");
    let error = db.put(b"k", b"y").unwrap_err();
    let message = show("ReadOnly", &error);
    assert!(message.contains("reopen"), "{message}");
    drop(db);

    // Corruption: a damaged table names the file and the offset.
    let db = Db::open(&db_dir, Options::default()).unwrap();
    db.put(b"key", &vec![b'v'; 10_000]).unwrap();
    db.flush().unwrap();
    db.close().unwrap();
    drop(db);
    let table = std::fs::read_dir(&db_dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| path.extension().is_some_and(|extension| extension == "sst"))
        .expect("a table");
    let mut bytes = std::fs::read(&table).unwrap();
    bytes[20] ^= 0xff;
    std::fs::write(&table, bytes).unwrap();
    let db = Db::open(&db_dir, Options::default()).unwrap();
    let error = db.verify().unwrap_err();
    let message = show("Corruption", &error);
    assert!(
        message.contains(".sst") && message.contains("offset") && message.contains("backup"),
        "{message}"
    );
}
