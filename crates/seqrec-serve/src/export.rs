//! The retraining loop's two ends: `export` writes the event log (or the
//! part from an arrival number on, or one partition's users) as a table
//! the `data` and `train` commands read, with a manifest beside it that
//! records the log position the table ends at; a model trained on it
//! records that position and applies only the later events when served.
//! `import` appends such a table to another store (moving users when the
//! number of partitions changes).
//!
//! The table: CSV with a header, `user,item,timestamp,event_id,seq`
//! (fields with a comma, a quote or a line break quoted, quotes doubled).
//! An event sent without a timestamp gets its user's previous one in the
//! table, or 0: what the service applied.

use crate::error::ServiceError;
use crate::event::Event;
use crate::partition::Partition;
use crate::store::{EventLog, EventStore};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

/// The header of an exported table.
pub const HEADER: &str = "user,item,timestamp,event_id,seq";

/// What an export wrote (also its manifest, `<table>.export.json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub store_id: u64,
    /// The first arrival number exported.
    pub from: u64,
    /// The log position the export saw: every stored event numbered from
    /// `from` up to here (of the partition's users) is in the table.
    pub log_position: u64,
    pub events: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<String>,
}

/// The manifest's path for the table `table`.
pub fn manifest_path(table: &Path) -> PathBuf {
    let mut name = table.as_os_str().to_owned();
    name.push(".export.json");
    PathBuf::from(name)
}

/// The manifest beside `table`, if it was written by an export.
pub fn read_manifest(table: &Path) -> Result<Option<Manifest>, ServiceError> {
    let path = manifest_path(table);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(&path, e)),
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| ServiceError::Io {
            path,
            message: format!("not an export manifest: {e}"),
        })
}

fn io(path: &Path, e: impl std::fmt::Display) -> ServiceError {
    ServiceError::Io {
        path: path.to_owned(),
        message: e.to_string(),
    }
}

/// One CSV field, quoted where it must be.
fn field(out: &mut String, value: &str) {
    if value.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&value.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(value);
    }
}

/// Writes the events of `log` numbered `from` or later (of `partition`'s
/// users only, if given) to `out`; `table` names it in errors. Returns the
/// manifest, which the caller writes beside the table.
pub fn export(
    log: &EventLog,
    from: u64,
    partition: Option<Partition>,
    out: &mut impl Write,
    table: &Path,
) -> Result<Manifest, ServiceError> {
    writeln!(out, "{HEADER}").map_err(|e| io(table, e))?;
    let mut last_time: BTreeMap<String, i64> = BTreeMap::new();
    let mut events = 0u64;
    let mut line = String::new();
    let log_position = log.for_each_event(from, |seq, event| {
        if partition.is_some_and(|p| !p.owns(&event.user)) {
            return Ok(());
        }
        let previous = last_time.get(&event.user).copied().unwrap_or(0);
        let time = event.timestamp.unwrap_or(previous);
        last_time.insert(event.user.clone(), time);
        line.clear();
        field(&mut line, &event.user);
        line.push(',');
        field(&mut line, &event.item);
        line.push_str(&format!(",{time},"));
        field(&mut line, event.event_id.as_deref().unwrap_or(""));
        line.push_str(&format!(",{seq}\n"));
        events += 1;
        out.write_all(line.as_bytes())
            .map_err(|e| crate::error::StoreError::Database {
                path: table.to_owned(),
                message: e.to_string(),
            })
    })?;
    out.flush().map_err(|e| io(table, e))?;
    Ok(Manifest {
        store_id: log.store_id(),
        from,
        log_position,
        events,
        partition: partition.map(|p| p.to_string()),
    })
}

/// Splits one CSV line into fields (quotes as [`export`] writes them).
fn split(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        value.push('"');
                    }
                    Some('"') => break,
                    Some(c) => value.push(c),
                    None => return Err("a quoted field is not closed".to_owned()),
                }
            }
            match chars.next() {
                None => {
                    fields.push(value);
                    return Ok(fields);
                }
                Some(',') => {}
                Some(c) => return Err(format!("`{c}` after a closing quote")),
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        fields.push(value);
                        return Ok(fields);
                    }
                    Some(',') => break,
                    Some(c) => value.push(c),
                }
            }
        }
        fields.push(value);
    }
}

/// What an import did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Imported {
    /// Events read from the table.
    pub read: u64,
    /// Of those, stored (new to the store).
    pub stored: u64,
    /// Repeats of an event id the user already had in the store.
    pub duplicates: u64,
    /// Events of users of other partitions, left out.
    pub other_partitions: u64,
}

/// Appends the events of an exported `table` to `store` in table order,
/// in transactions of up to 10,000 events (those of `partition`'s users
/// only, if given). Event ids are kept, so importing a table twice stores
/// its events with ids once.
pub fn import(
    store: &mut EventStore,
    table: &Path,
    partition: Option<Partition>,
) -> Result<Imported, ServiceError> {
    let file = std::fs::File::open(table).map_err(|e| io(table, e))?;
    let mut lines = std::io::BufReader::new(file).lines();
    let bad = |line: usize, message: String| ServiceError::Table {
        path: table.to_owned(),
        line,
        message,
    };
    match lines.next() {
        Some(Ok(header)) if header.trim_end() == HEADER => {}
        Some(Ok(header)) => {
            return Err(bad(
                1,
                format!("the header is `{header}`; an export's is `{HEADER}`"),
            ));
        }
        Some(Err(e)) => return Err(io(table, e)),
        None => return Err(bad(1, "empty file: no header".to_owned())),
    }
    let mut done = Imported::default();
    let mut batch: Vec<Event> = Vec::new();
    let mut flush = |batch: &mut Vec<Event>, done: &mut Imported| -> Result<(), ServiceError> {
        for outcome in store.append(batch)? {
            match outcome.is_new() {
                true => done.stored += 1,
                false => done.duplicates += 1,
            }
        }
        batch.clear();
        Ok(())
    };
    for (n, line) in lines.enumerate() {
        let number = n + 2;
        let line = line.map_err(|e| io(table, e))?;
        if line.is_empty() {
            continue;
        }
        let fields = split(&line).map_err(|m| bad(number, m))?;
        let [user, item, time, id, _seq] = <[String; 5]>::try_from(fields)
            .map_err(|f| bad(number, format!("{} fields; an export has 5", f.len())))?;
        if user.is_empty() || item.is_empty() {
            return Err(bad(number, "an empty user or item".to_owned()));
        }
        let time: i64 = time
            .parse()
            .map_err(|_| bad(number, format!("timestamp `{time}` is not a whole number")))?;
        done.read += 1;
        if partition.is_some_and(|p| !p.owns(&user)) {
            done.other_partitions += 1;
            continue;
        }
        let mut event = Event::new(user, item, Some(time));
        if !id.is_empty() {
            event = event.with_id(id);
        }
        batch.push(event);
        if batch.len() == 10_000 {
            flush(&mut batch, &mut done)?;
        }
    }
    flush(&mut batch, &mut done)?;
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip_through_quotes() {
        let mut line = String::new();
        for (i, v) in ["plain", "a,b", "say \"hi\"", ""].iter().enumerate() {
            if i > 0 {
                line.push(',');
            }
            field(&mut line, v);
        }
        assert_eq!(line, "plain,\"a,b\",\"say \"\"hi\"\"\",");
        assert_eq!(
            split(&line),
            Ok(vec![
                "plain".into(),
                "a,b".into(),
                "say \"hi\"".into(),
                String::new()
            ])
        );
        assert!(split("\"open").is_err());
        assert!(split("\"a\"b").is_err());
    }
}
