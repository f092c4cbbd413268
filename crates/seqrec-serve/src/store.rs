//! The durable event log: every accepted event in arrival order, in an
//! embedded ACID database (redb, one file `events.redb` in the store
//! directory). Each write transaction is committed with an fsync before it
//! returns; the service groups the events of all requests waiting at that
//! moment into one transaction (group commit).
//!
//! The log is the truth about users: a user's state in memory is a cache
//! of their data state plus their stored events, which [`EventLog`] (a
//! read handle other threads share) gives back through a per-user index,
//! so a user evicted from memory, or not yet seen since a start, is
//! rebuilt exactly.

pub use crate::error::StoreError;
use crate::event::Event;
use redb::{
    Database, MultimapTableDefinition, ReadableMultimapTable, ReadableTable, TableDefinition,
};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Arrival number → event.
const EVENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("events");
/// (user, event id) → arrival number: the ids each user has sent, so a
/// repeat is recognised (kept while the event is).
const EVENT_IDS: TableDefinition<(&str, &str), u64> = TableDefinition::new("event_ids");
/// User → arrival numbers of their events (rebuilding or deleting a user).
const BY_USER: MultimapTableDefinition<&str, u64> = MultimapTableDefinition::new("events_by_user");
/// Facts about the store itself (its identity, the next arrival number).
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// Set once, when the store is created: snapshots name the store they
/// were taken from, so a store deleted and created again never loads the
/// former one's snapshot.
const STORE_ID: &str = "store_id";
/// The next arrival number (kept, not derived from the last event, so a
/// deleted last event's number is never given again).
const NEXT_SEQ: &str = "next_seq";
/// Write transactions committed: a reader that saw `n` of them knows the
/// changes numbered above `n` are new to it.
const COMMITS: &str = "commits";
/// Commit number → the user deleted by it (so a snapshot taken before a
/// deletion never brings the user back).
const DELETIONS: TableDefinition<u64, &str> = TableDefinition::new("deletions");

/// What became of one event offered to [`EventStore::append`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stored {
    /// A repeat of an event id the user has sent before: not stored.
    Repeat,
    /// Stored with arrival number `seq`; `previous`: the arrival number of
    /// the user's last stored event before it.
    New { seq: u64, previous: Option<u64> },
}

impl Stored {
    pub fn is_new(self) -> bool {
        matches!(self, Stored::New { .. })
    }
}

/// What [`EventStore::delete_user`] removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Deleted {
    pub events: usize,
    /// The arrival number of the user's last event.
    pub last_seq: Option<u64>,
}

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
    db: Arc<Database>,
    path: PathBuf,
    next_seq: u64,
    id: u64,
    commits: u64,
}

/// A read handle on a store's log, shared by the threads that rebuild
/// users (redb readers run beside the writer and see committed events).
#[derive(Clone, Debug)]
pub struct EventLog {
    db: Arc<Database>,
    path: Arc<Path>,
    id: u64,
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
        let commits;
        let (next_seq, id) = {
            let events = txn.open_table(EVENTS).map_err(|e| error(&e))?;
            txn.open_multimap_table(BY_USER).map_err(|e| error(&e))?;
            txn.open_table(EVENT_IDS).map_err(|e| error(&e))?;
            let mut meta = txn.open_table(META).map_err(|e| error(&e))?;
            let last = events.last().map_err(|e| error(&e))?;
            let after_last = last.map_or(0, |(k, _)| k.value() + 1);
            let kept = meta
                .get(NEXT_SEQ)
                .map_err(|e| error(&e))?
                .map(|v| v.value());
            let next_seq = kept.unwrap_or(0).max(after_last);
            commits = meta
                .get(COMMITS)
                .map_err(|e| error(&e))?
                .map_or(0, |v| v.value());
            txn.open_table(DELETIONS).map_err(|e| error(&e))?;
            let stored_id = meta
                .get(STORE_ID)
                .map_err(|e| error(&e))?
                .map(|v| v.value());
            let id = match stored_id {
                Some(id) => id,
                None => {
                    let id = new_store_id(&path);
                    meta.insert(STORE_ID, id).map_err(|e| error(&e))?;
                    id
                }
            };
            (next_seq, id)
        };
        txn.commit().map_err(|e| error(&e))?;
        Ok(EventStore {
            db: Arc::new(db),
            path,
            next_seq,
            id,
            commits,
        })
    }

    /// Write transactions committed so far (appends and deletions).
    pub fn commits(&self) -> u64 {
        self.commits
    }

    /// A read handle on this store's log.
    pub fn log(&self) -> EventLog {
        EventLog {
            db: Arc::clone(&self.db),
            path: Arc::from(self.path.as_path()),
            id: self.id,
        }
    }

    /// The arrival number the next stored event gets: every event stored
    /// so far has a smaller one.
    pub fn position(&self) -> u64 {
        self.next_seq
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    fn error(&self, e: impl std::fmt::Display) -> StoreError {
        database_error(&self.path, e)
    }

    /// Appends `events` in order in one durable transaction, except
    /// repeats: an event whose (user, `event_id`) is stored already, or
    /// came earlier in `events`. Returns, per event, what became of it.
    pub fn append(&mut self, events: &[Event]) -> Result<Vec<Stored>, StoreError> {
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
                        fresh.push(Stored::Repeat);
                        continue;
                    }
                    ids.insert(key, seq).map_err(|e| self.error(e))?;
                }
                let previous = by_user
                    .get(event.user.as_str())
                    .map_err(|e| self.error(e))?
                    .next_back()
                    .transpose()
                    .map_err(|e| self.error(e))?
                    .map(|v| v.value());
                fresh.push(Stored::New { seq, previous });
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
            let mut meta = txn.open_table(META).map_err(|e| self.error(e))?;
            meta.insert(NEXT_SEQ, seq).map_err(|e| self.error(e))?;
            meta.insert(COMMITS, self.commits + 1)
                .map_err(|e| self.error(e))?;
        }
        txn.commit().map_err(|e| self.error(e))?;
        self.next_seq = seq;
        self.commits += 1;
        Ok(fresh)
    }

    /// Removes every event of `user` durably.
    pub fn delete_user(&mut self, user: &str) -> Result<Deleted, StoreError> {
        let txn = self.db.begin_write().map_err(|e| self.error(e))?;
        let mut removed = Deleted::default();
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
                removed.events += 1;
                removed.last_seq = removed.last_seq.max(Some(seq));
                if let Some(id) = decode(&self.path, seq, bytes.value())?.event_id {
                    ids.remove((user, id.as_str())).map_err(|e| self.error(e))?;
                }
            }
            let commit = self.commits + 1;
            let mut meta = txn.open_table(META).map_err(|e| self.error(e))?;
            meta.insert(COMMITS, commit).map_err(|e| self.error(e))?;
            let mut deletions = txn.open_table(DELETIONS).map_err(|e| self.error(e))?;
            deletions.insert(commit, user).map_err(|e| self.error(e))?;
        }
        txn.commit().map_err(|e| self.error(e))?;
        self.commits += 1;
        Ok(removed)
    }

    /// Removes every event numbered below `before` durably (in
    /// transactions of up to 100,000 events), with their index entries and
    /// event ids: a retry of such an event would be stored again. Returns
    /// how many were removed. Arrival numbers are never given again.
    pub fn prune_before(&mut self, before: u64) -> Result<u64, StoreError> {
        let mut removed = 0;
        loop {
            let txn = self.db.begin_write().map_err(|e| self.error(e))?;
            let done = {
                let mut table = txn.open_table(EVENTS).map_err(|e| self.error(e))?;
                let mut by_user = txn
                    .open_multimap_table(BY_USER)
                    .map_err(|e| self.error(e))?;
                let mut ids = txn.open_table(EVENT_IDS).map_err(|e| self.error(e))?;
                let mut batch = Vec::new();
                for entry in table
                    .range(..before)
                    .map_err(|e| self.error(e))?
                    .take(100_000)
                {
                    let (k, v) = entry.map_err(|e| self.error(e))?;
                    batch.push((k.value(), decode(&self.path, k.value(), v.value())?));
                }
                for (seq, event) in &batch {
                    table.remove(*seq).map_err(|e| self.error(e))?;
                    by_user
                        .remove(event.user.as_str(), *seq)
                        .map_err(|e| self.error(e))?;
                    if let Some(id) = &event.event_id {
                        ids.remove((event.user.as_str(), id.as_str()))
                            .map_err(|e| self.error(e))?;
                    }
                }
                removed += batch.len() as u64;
                let mut meta = txn.open_table(META).map_err(|e| self.error(e))?;
                meta.insert(COMMITS, self.commits + 1)
                    .map_err(|e| self.error(e))?;
                batch.len() < 100_000
            };
            txn.commit().map_err(|e| self.error(e))?;
            self.commits += 1;
            if done {
                return Ok(removed);
            }
        }
    }

    /// Every stored event with its arrival number, in arrival order.
    pub fn events(&self) -> Result<Vec<(u64, Event)>, StoreError> {
        self.log().events_from(0)
    }

    /// The stored events of `user` with their arrival numbers, in arrival
    /// order (through the per-user index: no scan of the log).
    pub fn events_of(&self, user: &str) -> Result<Vec<(u64, Event)>, StoreError> {
        self.log().events_of(user, 0)
    }

    /// Events stored.
    pub fn len(&self) -> Result<u64, StoreError> {
        self.log().len()
    }

    pub fn is_empty(&self) -> Result<bool, StoreError> {
        Ok(self.len()? == 0)
    }
}

impl EventLog {
    fn error(&self, e: impl std::fmt::Display) -> StoreError {
        database_error(&self.path, e)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The store's identity (set when it was created).
    pub fn store_id(&self) -> u64 {
        self.id
    }

    /// The stored events of `user` numbered `from` or later, in arrival
    /// order, through the per-user index.
    pub fn events_of(&self, user: &str, from: u64) -> Result<Vec<(u64, Event)>, StoreError> {
        let txn = self.db.begin_read().map_err(|e| self.error(e))?;
        let table = txn.open_table(EVENTS).map_err(|e| self.error(e))?;
        let by_user = txn
            .open_multimap_table(BY_USER)
            .map_err(|e| self.error(e))?;
        let mut out = Vec::new();
        for seq in by_user.get(user).map_err(|e| self.error(e))? {
            let seq = seq.map_err(|e| self.error(e))?.value();
            if seq < from {
                continue;
            }
            if let Some(v) = table.get(seq).map_err(|e| self.error(e))? {
                out.push((seq, decode(&self.path, seq, v.value())?));
            }
        }
        Ok(out)
    }

    /// Every stored event numbered `from` or later, in arrival order.
    pub fn events_from(&self, from: u64) -> Result<Vec<(u64, Event)>, StoreError> {
        self.events_in(from, usize::MAX)
    }

    /// At most `limit` stored events numbered `from` or later, in arrival
    /// order (a log read in pieces).
    pub fn events_in(&self, from: u64, limit: usize) -> Result<Vec<(u64, Event)>, StoreError> {
        let txn = self.db.begin_read().map_err(|e| self.error(e))?;
        let table = txn.open_table(EVENTS).map_err(|e| self.error(e))?;
        let mut out = Vec::new();
        for entry in table.range(from..).map_err(|e| self.error(e))?.take(limit) {
            let (k, v) = entry.map_err(|e| self.error(e))?;
            out.push((k.value(), decode(&self.path, k.value(), v.value())?));
        }
        Ok(out)
    }

    /// Calls `f` on every stored event numbered `from` or later, in
    /// arrival order, without holding them all in memory; returns the log
    /// position the pass saw (every event below it was offered).
    pub fn for_each_event(
        &self,
        from: u64,
        mut f: impl FnMut(u64, Event) -> Result<(), StoreError>,
    ) -> Result<u64, StoreError> {
        let txn = self.db.begin_read().map_err(|e| self.error(e))?;
        let position = read_meta(&txn, NEXT_SEQ).map_err(|e| self.error(e))?;
        let table = txn.open_table(EVENTS).map_err(|e| self.error(e))?;
        for entry in table.range(from..).map_err(|e| self.error(e))? {
            let (k, v) = entry.map_err(|e| self.error(e))?;
            let seq = k.value();
            f(seq, decode(&self.path, seq, v.value())?)?;
        }
        Ok(position)
    }

    /// Calls `f` with every user that has stored events and the arrival
    /// number of their last one, in user order; returns the number of
    /// commits the pass saw (see [`EventStore::commits`]).
    pub fn for_each_user(&self, mut f: impl FnMut(&str, u64)) -> Result<u64, StoreError> {
        let txn = self.db.begin_read().map_err(|e| self.error(e))?;
        let commits = read_meta(&txn, COMMITS).map_err(|e| self.error(e))?;
        let by_user = txn
            .open_multimap_table(BY_USER)
            .map_err(|e| self.error(e))?;
        for entry in by_user.iter().map_err(|e| self.error(e))? {
            let (user, mut seqs) = entry.map_err(|e| self.error(e))?;
            if let Some(last) = seqs.next_back() {
                f(user.value(), last.map_err(|e| self.error(e))?.value());
            }
        }
        Ok(commits)
    }

    /// The users deleted by commits numbered above `commits`.
    pub fn deleted_after(&self, commits: u64) -> Result<Vec<String>, StoreError> {
        let txn = self.db.begin_read().map_err(|e| self.error(e))?;
        let table = txn.open_table(DELETIONS).map_err(|e| self.error(e))?;
        let mut out = Vec::new();
        for entry in table.range(commits + 1..).map_err(|e| self.error(e))? {
            let (_, user) = entry.map_err(|e| self.error(e))?;
            out.push(user.value().to_owned());
        }
        Ok(out)
    }

    /// Events stored.
    pub fn len(&self) -> Result<u64, StoreError> {
        use redb::ReadableTableMetadata;
        let txn = self.db.begin_read().map_err(|e| self.error(e))?;
        let table = txn.open_table(EVENTS).map_err(|e| self.error(e))?;
        table.len().map_err(|e| self.error(e))
    }

    /// The arrival number the next stored event will get, as committed now.
    pub fn position(&self) -> Result<u64, StoreError> {
        let txn = self.db.begin_read().map_err(|e| self.error(e))?;
        read_meta(&txn, NEXT_SEQ).map_err(|e| self.error(e))
    }
}

fn read_meta(txn: &redb::ReadTransaction, key: &str) -> Result<u64, String> {
    let meta = txn.open_table(META).map_err(|e| e.to_string())?;
    let value = meta.get(key).map_err(|e| e.to_string())?;
    Ok(value.map_or(0, |v| v.value()))
}

fn database_error(path: &Path, e: impl std::fmt::Display) -> StoreError {
    StoreError::Database {
        path: path.to_owned(),
        message: e.to_string(),
    }
}

fn decode(path: &Path, seq: u64, bytes: &[u8]) -> Result<Event, StoreError> {
    let record: Record = serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        path: path.to_owned(),
        seq,
        message: e.to_string(),
    })?;
    Ok(Event {
        event_id: record.event_id,
        ..Event::new(record.user, record.item, record.timestamp)
    })
}

/// A store's identity: the creation time and the path hashed, unlikely to
/// repeat for a store created again in the same place.
fn new_store_id(path: &Path) -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut bytes = nanos.to_le_bytes().to_vec();
    bytes.extend_from_slice(path.to_string_lossy().as_bytes());
    bytes.extend_from_slice(&std::process::id().to_le_bytes());
    xxhash_rust::xxh3::xxh3_64(&bytes)
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
        assert_eq!(
            store.delete_user("a").unwrap_or_else(|e| panic!("{e}")),
            Deleted {
                events: 2,
                last_seq: Some(2)
            }
        );
        assert!(
            store
                .events_of("a")
                .unwrap_or_else(|e| panic!("{e}"))
                .is_empty()
        );
        assert_eq!(
            store.delete_user("a").unwrap_or_else(|e| panic!("{e}")),
            Deleted::default()
        );
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
        // Pruning below 2 removes b's event, its index entry and its id.
        let mut store = store;
        store
            .append(&[Event::new("b", "5", None).with_id("x")])
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(store.prune_before(2).unwrap_or_else(|e| panic!("{e}")), 1);
        let left: Vec<u64> = store
            .events()
            .unwrap_or_else(|e| panic!("{e}"))
            .into_iter()
            .map(|(s, _)| s)
            .collect();
        assert_eq!(left, [3, 4]);
        assert_eq!(
            store.events_of("b").unwrap_or_else(|e| panic!("{e}")).len(),
            1
        );
        assert_eq!(store.prune_before(5).unwrap_or_else(|e| panic!("{e}")), 2);
        assert!(
            store
                .events_of("b")
                .unwrap_or_else(|e| panic!("{e}"))
                .is_empty()
        );
        // The id went with its event: the same id is new again.
        let again = store
            .append(&[Event::new("b", "5", None).with_id("x")])
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            again,
            [Stored::New {
                seq: 5,
                previous: None
            }]
        );
    }
}
