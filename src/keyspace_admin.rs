//! Creating, reconfiguring and dropping keyspaces: each is one manifest edit (FORMAT.md 6.1,
//! tags 8, 9 and 12) made with the log lock and `state` held, so that no commit group runs
//! between the edit and the change to the memtables it feeds, and no flush or compaction between
//! the edit and the change to the versions.
//!
//! A dropped keyspace leaves the manifest, its memtables and its views in one step; its tables
//! are deleted unread, by a thread of their own, as soon as no reader holds them (so the drop
//! returns once the manifest records it, however large the keyspace), and recovery skips its operations in the
//! logs. A batch admitted before the drop and committed after it loses its part in the dropped
//! keyspace, which comes before the drop in the order of events.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::engine::{ActiveMemtable, Engine, KeyspaceEntry, lock};
use crate::error::{Error, Result};
use crate::key::{DEFAULT_KEYSPACE_NAME, KeyspaceId, MAX_KEYSPACE_NAME};
use crate::keyspace_options::KeyspaceOptions;
use crate::manifest::{KeyspaceRecord, VersionEdit};
use crate::memtable::Memtable;

/// Keyspace names starting with this are the engine's own (the commit tokens'
/// [`COMMIT_TOKEN_KEYSPACE`]): a user cannot create, open or drop one, and
/// [`Db::keyspaces`](crate::Db::keyspaces) does not list them.
pub(crate) const RESERVED_KEYSPACE_PREFIX: &str = "__shaledb";

/// The keyspace holding the commit tokens (`commit_token.rs`, FORMAT.md 7.2).
pub(crate) const COMMIT_TOKEN_KEYSPACE: &str = "__shaledb_commit_tokens";

/// Whether `name` is reserved for the engine's own keyspaces.
pub(crate) fn is_reserved(name: &str) -> bool {
    name.starts_with(RESERVED_KEYSPACE_PREFIX)
}

/// The keyspace named `name` of `engine` (created with `options` if it does not exist, its
/// options changed to `options` if they differ), as what its handles share. Refuses the
/// engine's reserved names.
pub(crate) fn open_keyspace(
    engine: &Engine,
    name: &str,
    options: &KeyspaceOptions,
) -> Result<Arc<crate::engine::KeyspaceShared>> {
    check_name(name)?;
    refuse_reserved(name)?;
    open_any_keyspace(engine, name, options)
}

/// Refuses a name reserved for the engine's own keyspaces.
pub(crate) fn refuse_reserved(name: &str) -> Result<()> {
    if is_reserved(name) {
        return Err(Error::InvalidArgument(format!(
            "keyspace names starting with {RESERVED_KEYSPACE_PREFIX:?} are the engine's own; \
             {name:?} is one"
        )));
    }
    Ok(())
}

/// [`open_keyspace`], for reserved names too (the engine's own keyspaces).
pub(crate) fn open_any_keyspace(
    engine: &Engine,
    name: &str,
    options: &KeyspaceOptions,
) -> Result<Arc<crate::engine::KeyspaceShared>> {
    engine.check_open()?;
    check_name(name)?;
    options.validate()?;
    let mut wal = lock(&engine.wal);
    let mut state = lock(&engine.state);
    let encoded = options.encode();
    if let Some(id) = state.versions.manifest_state().keyspace_named(name) {
        let Some(entry) = state.keyspaces.get(&id) else {
            return Err(Error::InvalidArgument(format!(
                "keyspace {name:?} is in the manifest but not open"
            )));
        };
        let shared = Arc::clone(&entry.shared);
        let recorded = state.versions.manifest_state().keyspace(id);
        crate::merge_operator::check_recorded(
            name,
            recorded.merge_operator.as_deref(),
            options.merge_operator.as_ref(),
            "KeyspaceOptions::merge_operator",
        )?;
        if entry.options.time_to_live.is_some() != options.time_to_live.is_some() {
            let (was, asked) = if entry.options.time_to_live.is_some() {
                ("with", "None")
            } else {
                ("without", "Some")
            };
            return Err(Error::InvalidArgument(format!(
                "keyspace {name:?} was created {was} a time to live, and \
                 KeyspaceOptions::time_to_live is {asked}: its values {} an expiry (FORMAT.md \
                 7.3), which cannot change; open it with time_to_live {}",
                if was == "with" { "carry" } else { "carry no" },
                if was == "with" { "Some(..)" } else { "None" },
            )));
        }
        if *entry.options == *options {
            return Ok(shared);
        }
        // The merge operator is not among the encoded options: a change of it alone needs no
        // manifest edit, and a read-only handle takes it (and keeps the other options).
        let encoded_differs = entry.options.encode() != encoded;
        let mut options = options.clone();
        if encoded_differs && engine.read_only {
            let merge_operator = options.merge_operator.take();
            options = KeyspaceOptions {
                merge_operator,
                ..KeyspaceOptions::clone(&entry.options)
            };
        } else if encoded_differs {
            let mut edit = VersionEdit::new();
            edit.keyspaces.push(KeyspaceRecord {
                id,
                name: name.to_string(),
                options: encoded,
            });
            state.versions.log_and_apply(edit, Vec::new())?;
        }
        if let Some(entry) = state.keyspaces.get_mut(&id) {
            entry.options = Arc::new(options.clone());
            entry.shared.time_to_live_micros.store(
                crate::engine::time_to_live_micros(&options),
                Ordering::Release,
            );
        }
        if let Some(active) = wal.as_mut().and_then(|wal| wal.memtables.get_mut(&id)) {
            active.write_buffer_size = options.write_buffer_size;
        }
        if engine.read_only {
            // Its view holds the replayed memtables, which `state` does not: keep them.
            if let Some(view) = engine.visibility.view(id) {
                engine.visibility.install(
                    id,
                    crate::read_view::ReadView {
                        memtable: Arc::clone(&view.memtable),
                        immutables: view.immutables.clone(),
                        version: Arc::clone(&view.version),
                        level0_triggers: view.level0_triggers,
                        merge_operator: options.merge_operator.clone(),
                    },
                );
            }
        } else {
            engine.install_view(&state, id);
        }
        engine.state_changed.notify_all();
        return Ok(shared);
    }
    let Some(wal) = wal.as_mut() else {
        return Err(Error::InvalidArgument(format!(
            "no keyspace named {name:?}, and a database opened read-only cannot create one"
        )));
    };
    engine.check_writable()?;
    let id = state.versions.manifest_state().next_keyspace_id;
    let next = id.0.checked_add(1).ok_or_else(|| {
        Error::InvalidArgument("keyspace ids are exhausted (2^32 keyspaces created)".into())
    })?;
    let mut edit = VersionEdit::new();
    edit.keyspaces.push(KeyspaceRecord {
        id,
        name: name.to_string(),
        options: encoded,
    });
    edit.next_keyspace_id = Some(KeyspaceId(next));
    state.versions.log_and_apply(edit, Vec::new())?;
    let entry = KeyspaceEntry::new(id, name.to_string(), options.clone());
    let shared = Arc::clone(&entry.shared);
    state.keyspaces.insert(id, entry);
    let memtable = Arc::new(Memtable::new());
    wal.memtables.insert(
        id,
        ActiveMemtable {
            memtable: Arc::clone(&memtable),
            write_buffer_size: options.write_buffer_size,
        },
    );
    engine.install_view_with(&state, id, memtable);
    engine.state_changed.notify_all();
    Ok(shared)
}

/// Drops the keyspace named `name`: durably in the manifest, then from memory; its tables are
/// deleted once no reader holds them.
pub(crate) fn drop_keyspace(engine: &Engine, name: &str) -> Result<()> {
    engine.check_writable()?;
    refuse_reserved(name)?;
    if name == DEFAULT_KEYSPACE_NAME {
        return Err(Error::InvalidArgument(
            "the default keyspace cannot be dropped".into(),
        ));
    }
    let mut wal = lock(&engine.wal);
    let Some(wal) = wal.as_mut() else {
        return Err(Error::opened_read_only());
    };
    let mut state = lock(&engine.state);
    let Some(id) = state.versions.manifest_state().keyspace_named(name) else {
        return Err(Error::InvalidArgument(format!(
            "no keyspace named {name:?}"
        )));
    };
    // Held past the locks, so that the last references to the keyspace's tables (whose drop
    // deletes the files) are let go of by a thread of its own, not under the locks every reader
    // and writer needs: unlinking a large file costs the kernel hundreds of milliseconds per
    // gigabyte (freeing its cached pages, discarding its blocks).
    let version = state.versions.current(id).cloned();
    let view = engine.visibility.view(id);
    let mut edit = VersionEdit::new();
    edit.dropped_keyspaces.push(id);
    state.versions.log_and_apply(edit, Vec::new())?;
    if let Some(entry) = state.keyspaces.remove(&id) {
        entry.shared.dropped.store(true, Ordering::Release);
    }
    let memtable = wal.memtables.remove(&id);
    state.immutables.retain(|frozen| frozen.keyspace != id);
    engine.visibility.remove(id);
    engine.state_changed.notify_all();
    drop(state);
    let deleting = std::thread::Builder::new()
        .name("shaledb-drop".into())
        .spawn(move || drop((version, view, memtable)));
    // Without a thread, the references are let go of here, and the caller deletes the files.
    if let Ok(handle) = deleting {
        engine.workers.add_deleter(handle);
    }
    Ok(())
}

/// Refuses a name the manifest could not hold.
fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > MAX_KEYSPACE_NAME {
        return Err(Error::InvalidArgument(format!(
            "a keyspace name is 1 to {MAX_KEYSPACE_NAME} bytes; {:?} is {}",
            name,
            name.len()
        )));
    }
    Ok(())
}
