//! The manifest: the durable history of which SSTables are live in which level, plus the
//! database counters (log number, next file number, last sequence), and the `CURRENT` file that
//! names the live manifest.
//!
//! FORMAT.md, "Manifest and CURRENT", is the source of truth for every byte written here.
//!
//! - [`edit`]: [`VersionEdit`] and [`FileMetadata`], one edit per manifest record, tagged fields;
//! - [`state`]: [`ManifestState`], the state the edits describe, and consistency-checked apply;
//! - [`current`]: the `CURRENT` file, replaced atomically;
//! - [`writer`]: [`ManifestWriter`], which starts a manifest from a snapshot and appends edits
//!   durably;
//! - [`reader`]: [`recover`], which follows `CURRENT` and replays the manifest into a state.
//!
//! A manifest is a log file (FORMAT.md, "Log format", file kind `MANIFEST`) whose first record
//! is a snapshot of the whole state, so that a new manifest can always be started from the
//! current state and the old one deleted. Invariants: every manifest named by `CURRENT` was
//! fully written, with its snapshot, and fsynced (with its directory) before `CURRENT` was
//! switched to it; each edit is durable when `ManifestWriter::append` returns.
//!
//! Plain data structures and files, no threads: the engine serialises access.

// Without the `internals` feature, the entry points that only the tools reach through it are
// dead code (the default build, where they are `pub`, still flags everything else).
#![cfg_attr(
    not(feature = "internals"),
    allow(
        dead_code,
        unused_imports,
        reason = "manifest readers and writers only the shale program, fuzzing and tests use"
    )
)]

pub mod current;
pub mod edit;
pub mod reader;
pub mod state;
pub mod writer;

pub use current::{read_current, read_current_on, write_current, write_current_on};
pub use edit::{FileMetadata, KeyspaceRecord, NUM_LEVELS, VersionEdit, WalMetadata};
pub use reader::{RecoveredManifest, recover, recover_manifest, recover_manifest_on, recover_on};
pub use state::{InconsistentEdit, KeyspaceState, ManifestState};
pub use writer::ManifestWriter;
