//! The durable event log: every accepted event in arrival order, in an
//! embedded ACID database (redb, one file `events.redb` in the store
//! directory). Each write transaction is committed with an fsync before it
//! returns; the service groups the events of all requests waiting at that
//! moment into one transaction (group commit).

pub use crate::error::StoreError;
use crate::online::Event;
use redb::{Database, MultimapTableDefinition, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Arrival number → event.
const EVENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("events");
/// (user, event id) → arrival number: the ids each user has sent, so a
/// repeat is recognised (kept while the event is).
const EVENT_IDS: TableDefinition<(&str, &str), u64> = TableDefinition::new("event_ids");
/// User → arrival numbers of their events (for deleting a user).
const BY_USER: MultimapTableDefinition<&str, u64> = MultimapTableDefinition::new("events_by_user");

/// One stored event (the record's encoding: JSON, so a store stays
/// readable by any tool).
#[derive(Debug, Serialize, Deserialize)]
struct Record {
    user: String,
    item: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    timestamp: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    event_id: Option<String>,
}

/// The event log of one service.
#[derive(Debug)]
pub struct EventStore {
    db: Database,
    path: PathBuf,
    next_seq: u64,
}

impl EventStore {
    /// Opens (or creates) the store in `dir`.
    pub fn open(dir: &Path) -> Result<EventStore, StoreError> {
        let path = dir.join("events.redb");
        let error = |e: &dyn std::fmt::Display| StoreError::Database {
            path: path.clone(),
            message: e.to_string(),
        };
        std::fs::create_dir_all(dir).map_err(|e| error(&e))?;
        let db = Database::create(&path).map_err(|e| error(&e))?;
        let txn = db.begin_write().map_err(|e| error(&e))?;
        let next_seq = {
            let events = txn.open_table(EVENTS).map_err(|e| error(&e))?;
            txn.open_multimap_table(BY_USER).map_err(|e| error(&e))?;
            txn.open_table(EVENT_IDS).map_err(|e| error(&e))?;
            let last = events.last().map_err(|e| error(&e))?;
            last.map_or(0, |(k, _)| k.value() + 1)
        };
        txn.commit().map_err(|e| error(&e))?;
        Ok(EventStore { db, path, next_seq })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn error(&self, e: impl std::fmt::Display) -> StoreError {
        StoreError::Database {
            path: self.path.clone(),
            message: e.to_string(),
        }
    }

    /// Appends `events` in order in one durable transaction, except
    /// repeats: an event whose (user, `event_id`) is stored already, or
    /// came earlier in `events`. Returns, per event, whether it was new.
    pub fn append(&mut self, events: &[Event]) -> Result<Vec<bool>, StoreError> {
        let txn = self.db.begin_write().map_err(|e| self.error(e))?;
        let mut seq = self.next_seq;
        let mut fresh = Vec::with_capacity(events.len());
        {
            let mut table = txn.open_table(EVENTS).map_err(|e| self.error(e))?;
            let mut by_user = txn
                .open_multimap_table(BY_USER)
                .map_err(|e| self.error(e))?;
            let mut ids = txn.open_table(EVENT_IDS).map_err(|e| self.error(e))?;
            for event in events {
                if let Some(id) = &event.event_id {
                    let key = (event.user.as_str(), id.as_str());
                    if ids.get(key).map_err(|e| self.error(e))?.is_some() {
                        fresh.push(false);
                        continue;
                    }
                    ids.insert(key, seq).map_err(|e| self.error(e))?;
                }
                fresh.push(true);
                let record = Record {
                    user: event.user.clone(),
                    item: event.item.clone(),
                    timestamp: event.timestamp,
                    event_id: event.event_id.clone(),
                };
                let bytes = serde_json::to_vec(&record).map_err(|e| self.error(e))?;
                table
                    .insert(seq, bytes.as_slice())
                    .map_err(|e| self.error(e))?;
                by_user
                    .insert(event.user.as_str(), seq)
                    .map_err(|e| self.error(e))?;
                seq += 1;
            }
        }
        txn.commit().map_err(|e| self.error(e))?;
        self.next_seq = seq;
        Ok(fresh)
    }

    /// Removes every event of `user` durably; returns how many there were.
    pub fn delete_user(&mut self, user: &str) -> Result<usize, StoreError> {
        let txn = self.db.begin_write().map_err(|e| self.error(e))?;
        let mut removed = 0;
        {
            let mut table = txn.open_table(EVENTS).map_err(|e| self.error(e))?;
            let mut by_user = txn
                .open_multimap_table(BY_USER)
                .map_err(|e| self.error(e))?;
            let seqs: Vec<u64> = by_user
                .remove_all(user)
                .map_err(|e| self.error(e))?
                .map(|v| v.map(|v| v.value()))
                .collect::<Result<_, _>>()
                .map_err(|e| self.error(e))?;
            let mut ids = txn.open_table(EVENT_IDS).map_err(|e| self.error(e))?;
            for seq in seqs {
                let Some(bytes) = table.remove(seq).map_err(|e| self.error(e))? else {
                    continue;
                };
                removed += 1;
                if let Some(id) = self.decode(seq, bytes.value())?.event_id {
                    ids.remove((user, id.as_str())).map_err(|e| self.error(e))?;
                }
            }
        }
        txn.commit().map_err(|e| self.error(e))?;
        Ok(removed)
    }

    /// Every stored event with its arrival number, in arrival order.
    pub fn events(&self) -> Result<Vec<(u64, Event)>, StoreError> {
        let txn = self.db.begin_read().map_err(|e| self.error(e))?;
        let table = txn.open_table(EVENTS).map_err(|e| self.error(e))?;
        let mut out = Vec::new();
        for entry in table.iter().map_err(|e| self.error(e))? {
            let (k, v) = entry.map_err(|e| self.error(e))?;
            let seq = k.value();
            out.push((seq, self.decode(seq, v.value())?));
        }
        Ok(out)
    }

    /// The stored events of `user` with their arrival numbers, in arrival
    /// order (through the per-user index: no scan of the log).
    pub fn events_of(&self, user: &str) -> Result<Vec<(u64, Event)>, StoreError> {
        let txn = self.db.begin_read().map_err(|e| self.error(e))?;
        let table = txn.open_table(EVENTS).map_err(|e| self.error(e))?;
        let by_user = txn
            .open_multimap_table(BY_USER)
            .map_err(|e| self.error(e))?;
        let mut out = Vec::new();
        for seq in by_user.get(user).map_err(|e| self.error(e))? {
            let seq = seq.map_err(|e| self.error(e))?.value();
            if let Some(v) = table.get(seq).map_err(|e| self.error(e))? {
                out.push((seq, self.decode(seq, v.value())?));
            }
        }
        Ok(out)
    }

    fn decode(&self, seq: u64, bytes: &[u8]) -> Result<Event, StoreError> {
        let record: Record = serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
            path: self.path.clone(),
            seq,
            message: e.to_string(),
        })?;
        Ok(Event {
            event_id: record.event_id,
            ..Event::new(record.user, record.item, record.timestamp)
        })
    }

    /// Events stored.
    pub fn len(&self) -> Result<u64, StoreError> {
        use redb::ReadableTableMetadata;
        let txn = self.db.begin_read().map_err(|e| self.error(e))?;
        let table = txn.open_table(EVENTS).map_err(|e| self.error(e))?;
        table.len().map_err(|e| self.error(e))
    }

    pub fn is_empty(&self) -> Result<bool, StoreError> {
        Ok(self.len()? == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_survive_reopening_in_order_and_deletes_are_durable() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        {
            let mut store = EventStore::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
            store
                .append(&[Event::new("a", "1", Some(5)), Event::new("b", "2", None)])
                .unwrap_or_else(|e| panic!("{e}"));
            store
                .append(&[Event::new("a", "3", None)])
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let mut store = EventStore::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let events = store.events().unwrap_or_else(|e| panic!("{e}"));
        let seen: Vec<(u64, &str, &str, Option<i64>)> = events
            .iter()
            .map(|(s, e)| (*s, e.user.as_str(), e.item.as_str(), e.timestamp))
            .collect();
        assert_eq!(
            seen,
            [
                (0, "a", "1", Some(5)),
                (1, "b", "2", None),
                (2, "a", "3", None)
            ]
        );
        let of_a: Vec<(u64, String)> = store
            .events_of("a")
            .unwrap_or_else(|e| panic!("{e}"))
            .into_iter()
            .map(|(s, e)| (s, e.item))
            .collect();
        assert_eq!(of_a, [(0, "1".to_owned()), (2, "3".to_owned())]);
        assert_eq!(store.delete_user("a").unwrap_or_else(|e| panic!("{e}")), 2);
        assert!(
            store
                .events_of("a")
                .unwrap_or_else(|e| panic!("{e}"))
                .is_empty()
        );
        assert_eq!(store.delete_user("a").unwrap_or_else(|e| panic!("{e}")), 0);
        store
            .append(&[Event::new("c", "4", None)])
            .unwrap_or_else(|e| panic!("{e}"));
        drop(store);
        let store = EventStore::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let users: Vec<(u64, String)> = store
            .events()
            .unwrap_or_else(|e| panic!("{e}"))
            .into_iter()
            .map(|(s, e)| (s, e.user))
            .collect();
        // Arrival numbers keep growing after a delete.
        assert_eq!(users, [(1, "b".to_owned()), (3, "c".to_owned())]);
        assert_eq!(store.len().unwrap_or_else(|e| panic!("{e}")), 2);
    }
}
