//! The session table of the state machine (FORMAT.md 9.3): per client, the last serial applied
//! and its response, as the metadata keyspace holds them under `session/` + the client id, and
//! which of them to forget when there are more than the limit.
//!
//! Every decision here is a function of the table and of the entry being applied, so that
//! every node, applying the same log (or installing a snapshot of it, which carries the table),
//! decides alike: whether a [`Request::Session`](super::super::Request::Session) applies, and
//! which session expires. The table in memory is the table on disk plus the changes of the
//! `apply` under way; [`Undo`] takes them back when its batch fails to commit.
//!
//! Pure but for [`SessionTable::load`] and [`stored_sessions`], which read the metadata
//! keyspace: the state machine writes what the table decides.

use std::collections::{BTreeSet, HashMap};

use openraft::AnyError;
use serde::{Deserialize, Serialize};

use super::super::types::{Response, any, decode, meta_key};
use crate::keyspace::Keyspace;
use crate::options::ReadOptions;

/// What the state machine keeps of a client (FORMAT.md 9.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Session {
    /// The serial of the client's last applied request.
    pub serial: u64,
    /// The log index of the entry that applied it: how recent the session is.
    pub applied_index: u64,
    /// What applying it answered.
    pub response: Response,
}

/// The metadata key of `client`'s session.
pub(crate) fn session_key(client: u64) -> Vec<u8> {
    let mut key = meta_key::SESSION_PREFIX.to_vec();
    key.extend_from_slice(&client.to_be_bytes());
    key
}

/// The client a session key (without the prefix: as in a snapshot blob) names, or `None` for
/// a key that is not 8 bytes.
pub(crate) fn client_of(key: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(key.try_into().ok()?))
}

/// The decision about a session request.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    /// A new serial: apply the request and [`record`](SessionTable::record) it.
    Apply,
    /// A retry or an old request: answer this and change nothing.
    Answer(Response),
}

/// The sessions, by client and by age.
#[derive(Debug, Default)]
pub(crate) struct SessionTable {
    by_client: HashMap<u64, Session>,
    /// `(applied_index, client)` of every session: the first is the one to forget first.
    by_age: BTreeSet<(u64, u64)>,
}

/// The sessions as they were before the changes of one `apply`, to restore them if its batch
/// does not commit.
#[derive(Debug, Default)]
pub(crate) struct Undo {
    /// Each client changed, with its session before the first change (`None`: it had none).
    before: HashMap<u64, Option<Session>>,
}

impl SessionTable {
    /// The table the metadata keyspace holds (at `options`' snapshot, if any).
    pub fn load(meta: &Keyspace, options: &ReadOptions<'_>) -> Result<SessionTable, AnyError> {
        let mut table = SessionTable::default();
        for item in stored_sessions(meta, options) {
            let (client, value) = item?;
            table.insert(client, decode(&value, "session")?);
        }
        Ok(table)
    }

    /// The table of `sessions`, each `(key without the prefix, value)` as in a snapshot blob,
    /// checked: 8-byte keys, values that decode.
    pub fn from_blob<'a>(
        sessions: impl Iterator<Item = (&'a [u8], &'a [u8])>,
    ) -> Result<SessionTable, AnyError> {
        let mut table = SessionTable::default();
        for (key, value) in sessions {
            let client = client_of(key).ok_or_else(|| {
                AnyError::error(format!(
                    "damaged snapshot blob: a session key of {} bytes, not 8",
                    key.len()
                ))
            })?;
            table.insert(client, decode(value, "session in a snapshot blob")?);
        }
        Ok(table)
    }

    /// How many sessions the table holds.
    pub fn len(&self) -> usize {
        self.by_client.len()
    }

    /// Whether a request of `client` numbered `serial` applies.
    pub fn decide(&self, client: u64, serial: u64) -> Decision {
        match self.by_client.get(&client) {
            Some(last) if serial == last.serial => Decision::Answer(Response::Duplicate {
                serial,
                response: Box::new(last.response.clone()),
            }),
            Some(last) if serial < last.serial => Decision::Answer(Response::Stale {
                serial,
                last_serial: last.serial,
            }),
            _ => Decision::Apply,
        }
    }

    /// Records `session` as `client`'s, replacing the one it had, noting the change in `undo`.
    pub fn record(&mut self, client: u64, session: Session, undo: &mut Undo) {
        let before = self.insert(client, session);
        undo.before.entry(client).or_insert(before);
    }

    /// Forgets the oldest sessions while there are more than `limit`, noting the changes in
    /// `undo`; returns the clients forgotten, oldest first.
    pub fn expire_over(&mut self, limit: usize, undo: &mut Undo) -> Vec<u64> {
        let mut expired = Vec::new();
        while self.by_client.len() > limit {
            let Some((_, client)) = self.by_age.pop_first() else {
                break;
            };
            let before = self.by_client.remove(&client);
            undo.before.entry(client).or_insert(before);
            expired.push(client);
        }
        expired
    }

    /// Takes back the changes `undo` noted.
    pub fn undo(&mut self, undo: Undo) {
        for (client, before) in undo.before {
            if let Some(changed) = self.by_client.remove(&client) {
                self.by_age.remove(&(changed.applied_index, client));
            }
            if let Some(before) = before {
                self.insert(client, before);
            }
        }
    }

    /// Makes `session` `client`'s; returns the one it replaces.
    fn insert(&mut self, client: u64, session: Session) -> Option<Session> {
        self.by_age.insert((session.applied_index, client));
        let before = self.by_client.insert(client, session);
        if let Some(before) = &before {
            self.by_age.remove(&(before.applied_index, client));
        }
        before
    }
}

/// The sessions of the metadata keyspace, as `(client, value)`.
pub(crate) fn stored_sessions<'a>(
    meta: &Keyspace,
    options: &ReadOptions<'a>,
) -> impl Iterator<Item = Result<(u64, crate::value::Value), AnyError>> + use<'a> {
    meta.range_with(meta_key::SESSION_PREFIX..meta_key::SESSION_END, options)
        .map(|item| {
            let (key, value) = item.map_err(|error| any(&error))?;
            let client = key
                .strip_prefix(meta_key::SESSION_PREFIX)
                .and_then(client_of)
                .ok_or_else(|| {
                    AnyError::error(format!("a raft session key of {} bytes", key.len()))
                })?;
            Ok((client, value))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(serial: u64, applied_index: u64) -> Session {
        Session {
            serial,
            applied_index,
            response: Response::Applied,
        }
    }

    #[test]
    fn the_oldest_sessions_expire_first_and_undo_restores_them() {
        let mut table = SessionTable::default();
        let mut undo = Undo::default();
        table.record(1, session(5, 10), &mut undo);
        table.record(2, session(1, 11), &mut undo);
        table.record(3, session(9, 12), &mut undo);
        // Client 1 applies a new serial: it becomes the newest.
        table.record(1, session(6, 13), &mut undo);
        // The batch so far committed: a later undo takes back only what follows.
        undo = Undo::default();
        table.record(4, session(1, 14), &mut undo);
        assert_eq!(table.expire_over(2, &mut undo), [2, 3]);
        assert_eq!(table.decide(2, 1), Decision::Apply);
        assert_eq!(table.len(), 2);
        table.undo(undo);
        assert_eq!(table.len(), 3);
        assert_eq!(
            table.decide(3, 8),
            Decision::Answer(Response::Stale {
                serial: 8,
                last_serial: 9
            })
        );
        assert_eq!(table.decide(4, 1), Decision::Apply);
        let order: Vec<u64> = table.by_age.iter().map(|(_, client)| *client).collect();
        assert_eq!(order, [2, 3, 1]);
    }
}
