//! `shale raft` (the `raft-cluster` feature): shaledb's raft storage in a runnable cluster on
//! loopback. Layers, top first: `commands` (the subcommands) and `bench`; `cluster` (node
//! processes) and `node` (one node: raft, its storage and its server); `client`, `network`
//! (openraft's `RaftNetwork`) and `mem_store` (the in-memory store of the benchmark's upper
//! bound); `wire` (the messages and their frames) and `setup` (the runtime, work directories), the leaves.

mod bench;
pub mod client;
pub mod cluster;
mod commands;
mod mem_store;
mod network;
mod node;
mod setup;
pub mod wire;

pub use commands::{RaftCommand, run};
