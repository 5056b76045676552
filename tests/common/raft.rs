//! What the raft tests share (the `raft` feature): a state machine's data as its reader shows
//! it, and pairs of strings as the same data.

use shaledb::raft::StateMachine;

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
