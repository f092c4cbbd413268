//! Snapshots of the users in memory, so a start (or a reload back to a
//! model served before) begins warm: the newest snapshot of the model is
//! loaded and only the log's tail after it is applied to those users.
//! Users not in the snapshot are rebuilt from the log when first used, as
//! always; a snapshot is a shortcut, never the truth.
//!
//! One file per model version, `snapshots/<version>.snap` in the store's
//! directory, written whole and renamed into place (a crash leaves the
//! old file or the new one). Layout, little-endian: a magic line, a JSON
//! header (its length first), the users, and an xxh3-64 of everything
//! before it. Per user: the id (u16 length + bytes), the data index
//! (u32, `u32::MAX`: none), the last stored event applied (u64,
//! `u64::MAX`: none), the history (u32 count, items as u32, times as
//! i64) and the GRU state (u32 count, f32 values).

use crate::online::{OnlineModel, Start};
use crate::residents::UserState;
use crate::store::EventLog;
use seqrec_core::ItemId;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 16] = b"seqrec snapshot\n";
/// The snapshot directory inside a store's directory.
pub const SNAPSHOT_DIR: &str = "snapshots";

/// What a snapshot covers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Header {
    /// [`seqrec_runner::model_dir::LoadedModel::version`].
    pub(crate) model_version: String,
    pub(crate) store_id: u64,
    pub(crate) start: String,
    /// The model's log position (events below it are in its data).
    pub(crate) log_position: u64,
    /// The log's next arrival number when the snapshot was taken: every
    /// stored event below it is in the users' states.
    pub(crate) position: u64,
    /// The log's commits then (deletions after them are applied on load).
    pub(crate) commits: u64,
    pub(crate) users: u64,
}

/// What loading a snapshot did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Loaded {
    pub(crate) users: usize,
    pub(crate) position: u64,
}

fn start_name(start: Start) -> &'static str {
    match start {
        Start::WholeHistory => "whole-history",
        Start::TrainingHistory => "training-history",
    }
}

/// The snapshot file of `version` under the store directory `store_dir`.
pub(crate) fn path_of(store_dir: &Path, version: &str) -> PathBuf {
    store_dir.join(SNAPSHOT_DIR).join(format!("{version}.snap"))
}

/// The users in memory of `online`, encoded, as of log position
/// `position` and `commits` commits (the caller holds the model, so the
/// states and the position agree).
pub(crate) fn encode(online: &OnlineModel, store_id: u64, position: u64, commits: u64) -> Vec<u8> {
    let header = Header {
        model_version: online.model().version.clone(),
        store_id,
        start: start_name(online.start()).to_owned(),
        log_position: online.log_position(),
        position,
        commits,
        users: online.users.len() as u64,
    };
    let header = serde_json::to_vec(&header).unwrap_or_default();
    let mut out = Vec::with_capacity(64 + header.len() + online.users.len() * 64);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(header.len() as u32).to_le_bytes());
    out.extend_from_slice(&header);
    for (user, state) in online.users.iter() {
        out.extend_from_slice(&(user.len() as u16).to_le_bytes());
        out.extend_from_slice(user.as_bytes());
        out.extend_from_slice(&state.index.unwrap_or(u32::MAX).to_le_bytes());
        out.extend_from_slice(&state.through.unwrap_or(u64::MAX).to_le_bytes());
        out.extend_from_slice(&(state.history.len() as u32).to_le_bytes());
        for item in &state.history {
            out.extend_from_slice(&item.0.to_le_bytes());
        }
        for time in &state.times {
            out.extend_from_slice(&time.to_le_bytes());
        }
        let hidden = state.hidden.as_deref().unwrap_or_default();
        out.extend_from_slice(&(hidden.len() as u32).to_le_bytes());
        for value in hidden {
            out.extend_from_slice(&value.to_le_bytes());
        }
    }
    let sum = xxhash_rust::xxh3::xxh3_64(&out);
    out.extend_from_slice(&sum.to_le_bytes());
    out
}

/// Writes `bytes` to `path` durably: a new file, synced, renamed over the
/// old one.
pub(crate) fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let partial = path.with_extension("snap.partial");
    let mut file = std::fs::File::create(&partial)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&partial, path)?;
    if let Some(dir) = path.parent() {
        // The rename itself is durable once the directory is synced.
        std::fs::File::open(dir).and_then(|d| d.sync_all())?;
    }
    Ok(())
}

/// Removes the snapshots of versions other than `version` (a model no
/// longer served; a reload back to it starts cold).
pub(crate) fn remove_others(store_dir: &Path, version: &str) {
    let keep = format!("{version}.snap");
    let Ok(entries) = std::fs::read_dir(store_dir.join(SNAPSHOT_DIR)) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.ends_with(".snap")
            && name != keep
            && let Err(e) = std::fs::remove_file(entry.path())
        {
            tracing::warn!(path = %entry.path().display(), error = %e, "could not remove an old snapshot");
        }
    }
}

/// Reads bytes in order, failing with what was being read.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let Some(end) = end else {
            return Err(format!("truncated at byte {}", self.at));
        };
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u16(&mut self) -> Result<u16, String> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(self.array()?))
    }
}

/// Decodes a snapshot: its header and users. Checks the magic and the
/// checksum first.
pub(crate) fn decode(bytes: &[u8]) -> Result<(Header, Vec<(String, UserState)>), String> {
    if bytes.len() < MAGIC.len() + 12 || &bytes[..MAGIC.len()] != MAGIC {
        return Err("not a seqrec snapshot".to_owned());
    }
    let (body, sum) = bytes.split_at(bytes.len() - 8);
    let mut sum_bytes = [0u8; 8];
    sum_bytes.copy_from_slice(sum);
    if xxhash_rust::xxh3::xxh3_64(body) != u64::from_le_bytes(sum_bytes) {
        return Err("checksum mismatch (damaged file)".to_owned());
    }
    let mut r = Reader {
        bytes: body,
        at: MAGIC.len(),
    };
    let header_len = r.u32()? as usize;
    let header: Header =
        serde_json::from_slice(r.take(header_len)?).map_err(|e| format!("header: {e}"))?;
    let mut users = Vec::with_capacity(header.users.min(1 << 24) as usize);
    for _ in 0..header.users {
        let id_len = r.u16()? as usize;
        let id = std::str::from_utf8(r.take(id_len)?)
            .map_err(|e| format!("user id: {e}"))?
            .to_owned();
        let index = Some(r.u32()?).filter(|&i| i != u32::MAX);
        let through = Some(r.u64()?).filter(|&t| t != u64::MAX);
        let n = r.u32()? as usize;
        let history = r
            .take(n * 4)?
            .chunks_exact(4)
            .map(|c| ItemId(u32::from_le_bytes([c[0], c[1], c[2], c[3]])))
            .collect();
        let times = r
            .take(n * 8)?
            .chunks_exact(8)
            .map(|c| {
                let mut b = [0u8; 8];
                b.copy_from_slice(c);
                i64::from_le_bytes(b)
            })
            .collect();
        let h = r.u32()? as usize;
        let hidden: Vec<f32> = r
            .take(h * 4)?
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let mut state = UserState::new(index, history, times);
        state.through = through;
        state.hidden = (h > 0).then_some(hidden);
        users.push((id, state));
    }
    if r.at != body.len() {
        return Err(format!("{} bytes after the last user", body.len() - r.at));
    }
    Ok((header, users))
}

/// Puts the users of the snapshot of `online`'s model in `store_dir` into
/// memory, when there is one that fits (same model, store, start and log
/// position, not ahead of the log), and forgets those deleted since. The
/// caller applies the log from the returned position on. A snapshot that
/// does not fit or does not read is skipped with a warning: users are
/// then rebuilt from the log, as without one.
pub(crate) fn load_into(
    online: &mut OnlineModel,
    store_dir: &Path,
    log: &EventLog,
) -> Option<Loaded> {
    let path = path_of(store_dir, &online.model().version);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "snapshot unreadable; users are rebuilt from the store");
            return None;
        }
    };
    let skip = |why: String| {
        tracing::warn!(path = %path.display(), %why, "snapshot skipped; users are rebuilt from the store");
        None
    };
    let (header, users) = match decode(&bytes) {
        Ok(decoded) => decoded,
        Err(e) => return skip(e),
    };
    let position = match log.position() {
        Ok(p) => p,
        Err(e) => return skip(e.to_string()),
    };
    if header.store_id != log.store_id() {
        return skip("taken from another store".to_owned());
    }
    if header.start != start_name(online.start()) || header.log_position != online.log_position() {
        return skip("taken with other settings".to_owned());
    }
    if header.position > position {
        return skip(format!(
            "it covers events up to {} and the store ends at {position}",
            header.position
        ));
    }
    let deleted = match log.deleted_after(header.commits) {
        Ok(deleted) => deleted,
        Err(e) => return skip(e.to_string()),
    };
    let count = users.len();
    for (user, state) in users {
        online.users.insert(&user, state);
    }
    for user in deleted {
        online.forget_state(&user);
    }
    online.users.evict_over_capacity();
    Some(Loaded {
        users: count,
        position: header.position,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_damaged_or_foreign_file_is_refused() {
        assert!(decode(b"hello").is_err());
        let mut bytes = MAGIC.to_vec();
        let header = serde_json::to_vec(&Header {
            model_version: "v".into(),
            store_id: 1,
            start: "whole-history".into(),
            log_position: 0,
            position: 5,
            commits: 2,
            users: 1,
        })
        .unwrap_or_default();
        bytes.extend_from_slice(&(header.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&header);
        bytes.extend_from_slice(&1u16.to_le_bytes());
        bytes.extend_from_slice(b"u");
        bytes.extend_from_slice(&7u32.to_le_bytes());
        bytes.extend_from_slice(&4u64.to_le_bytes());
        bytes.extend_from_slice(&1u32.to_le_bytes());
        bytes.extend_from_slice(&3u32.to_le_bytes());
        bytes.extend_from_slice(&9i64.to_le_bytes());
        bytes.extend_from_slice(&2u32.to_le_bytes());
        bytes.extend_from_slice(&0.5f32.to_le_bytes());
        bytes.extend_from_slice(&(-1.0f32).to_le_bytes());
        let sum = xxhash_rust::xxh3::xxh3_64(&bytes);
        bytes.extend_from_slice(&sum.to_le_bytes());
        let (h, users) = decode(&bytes).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((h.position, h.commits, users.len()), (5, 2, 1));
        let (id, s) = &users[0];
        assert_eq!(id, "u");
        assert_eq!((s.index, s.through), (Some(7), Some(4)));
        assert_eq!(
            (s.history.as_slice(), s.times.as_slice()),
            (&[ItemId(3)][..], &[9][..])
        );
        assert_eq!(s.hidden.as_deref(), Some(&[0.5, -1.0][..]));
        // One flipped bit anywhere: refused.
        let mut damaged = bytes.clone();
        damaged[MAGIC.len() + 10] ^= 1;
        assert!(decode(&damaged).unwrap_err().contains("checksum"));
        // Cut short: refused.
        assert!(decode(&bytes[..bytes.len() - 3]).is_err());
    }
}
