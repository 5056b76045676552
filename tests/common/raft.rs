//! What the raft tests share (the `raft` feature): the database options, opening the storage
//! of group "raft" in a directory, a runtime to run openraft's calls on, a state machine's
//! data as its reader shows it, and pairs of strings as the same data.

use std::sync::Arc;

use shaledb::raft::{LogStore, StateMachine};
use shaledb::{Db, Options};
use tempfile::TempDir;

/// Small write buffers, so that the tests flush and compact.
pub fn options() -> Options {
    Options {
        write_buffer_size: 1 << 20,
        ..Options::default()
    }
}

/// The database in `dir` and the storage of its raft group "raft".
pub fn open(dir: &TempDir) -> (Arc<Db>, LogStore, StateMachine) {
    let db = Arc::new(Db::open(dir.path(), options()).expect("the database"));
    let (log_store, state_machine) = shaledb::raft::open(&db, "raft").expect("the raft storage");
    (db, log_store, state_machine)
}

/// Runs `future` on a runtime of its own.
pub fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Runtime::new()
        .expect("a tokio runtime")
        .block_on(future)
}

/// The state machine's keys and values, in order, as its reader shows them.
pub fn state_of(state_machine: &StateMachine) -> Vec<(Vec<u8>, Vec<u8>)> {
    state_machine
        .reader()
        .range(..)
        .map(|item| item.map(|(key, value)| (key, value.to_vec())))
        .collect::<Result<_, _>>()
        .expect("the state")
}

/// `items` as keys and values of bytes.
pub fn pairs(items: &[(&str, &str)]) -> Vec<(Vec<u8>, Vec<u8>)> {
    items
        .iter()
        .map(|(key, value)| (key.as_bytes().to_vec(), value.as_bytes().to_vec()))
        .collect()
}
