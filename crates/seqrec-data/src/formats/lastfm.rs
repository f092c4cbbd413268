//! LastFM 1K: `userid-timestamp-artid-artname-traid-traname.tsv`, six
//! tab-separated fields, no header, each user's plays newest first (specification §2.2).
//! Known malformed lines are skipped and counted, never fatal; a file with no
//! valid line at all is an error.

use crate::raw::{Interner, Keys, PAIR_SEPARATOR, RawEvents};
use crate::report::{SkippedLine, Skips};
use crate::time::iso8601_seconds;
use crate::{DataError, ItemKey, Result};
use std::io::{BufRead, BufReader};
use std::path::Path;

/// How many skipped lines are kept as examples for the report.
const EXAMPLES: usize = 5;

/// Parses a LastFM 1K file.
pub(crate) fn read(path: &Path, item_key: ItemKey) -> Result<(RawEvents, Skips)> {
    super::ensure_non_empty(path)?;
    let file = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut users = Interner::text();
    let mut items = match item_key {
        ItemKey::ArtistTrack => Interner::pairs(),
        ItemKey::TrackMbid => Interner::text(),
    };
    let mut timestamps = Vec::new();
    let mut skips = Skips::default();
    let mut buf = Vec::new();
    let mut scratch = String::new();
    let mut line_no = 0usize;
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|e| DataError::io(path, e))?;
        if n == 0 {
            break;
        }
        line_no += 1;
        match parse_line(&buf) {
            Ok(None) => {}
            Ok(Some(play)) => {
                let key = match item_key {
                    ItemKey::ArtistTrack => None,
                    ItemKey::TrackMbid if play.track_mbid.is_empty() => {
                        skips.without_track_mbid += 1;
                        continue;
                    }
                    ItemKey::TrackMbid => Some(play.track_mbid),
                };
                users.push(play.user);
                match key {
                    Some(mbid) => items.push(mbid),
                    None => items.push_pair(play.artist, play.track, &mut scratch),
                }
                timestamps.push(play.timestamp);
            }
            Err(reason) => {
                skips.malformed += 1;
                if skips.examples.len() < EXAMPLES {
                    skips.examples.push(SkippedLine {
                        line: line_no,
                        reason,
                    });
                }
            }
        }
    }
    if timestamps.is_empty() {
        let first = skips
            .examples
            .first()
            .map(|e| format!("; line {}: {}", e.line, e.reason))
            .unwrap_or_default();
        return Err(DataError::Table {
            path: path.into(),
            message: format!(
                "no valid LastFM 1K record in {line_no} lines ({} malformed{first})",
                skips.malformed
            ),
        });
    }
    if skips.malformed > 0 {
        tracing::warn!(
            file = %path.display(),
            malformed = skips.malformed,
            "skipped malformed LastFM lines; first: {:?}",
            skips.examples.first()
        );
    }
    debug_assert_eq!(users.len(), timestamps.len());
    Ok((
        RawEvents {
            users: Keys::Interned(users),
            items: Keys::Interned(items),
            timestamps,
        },
        skips,
    ))
}

struct Play<'a> {
    user: &'a str,
    timestamp: i64,
    artist: &'a str,
    track_mbid: &'a str,
    track: &'a str,
}

/// `Ok(None)` for a blank line, `Err(reason)` for a malformed one.
fn parse_line(raw: &[u8]) -> Result<Option<Play<'_>>, String> {
    let line = std::str::from_utf8(raw).map_err(|_| "not valid UTF-8".to_string())?;
    let line = line.trim_end_matches(['\n', '\r']);
    if line.is_empty() {
        return Ok(None);
    }
    if line.contains(PAIR_SEPARATOR) {
        return Err("contains a NUL character".into());
    }
    let fields: Vec<&str> = line.split('\t').collect();
    let [user, time, _artist_mbid, artist, track_mbid, track] = fields[..] else {
        return Err(format!(
            "expected 6 tab-separated fields, found {}",
            fields.len()
        ));
    };
    if user.is_empty() {
        return Err("empty user id".into());
    }
    let timestamp = iso8601_seconds(time)
        .ok_or_else(|| format!("timestamp `{time}` is not ISO-8601 `YYYY-MM-DDTHH:MM:SSZ`"))?;
    if artist.is_empty() || track.is_empty() {
        return Err("empty artist or track name".into());
    }
    Ok(Some(Play {
        user,
        timestamp,
        artist,
        track_mbid,
        track,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_real_format_line() {
        let line = b"user_000001\t2009-05-04T23:08:57Z\tf1b1cf71-bd35-4e99-8624-24a6e15f133a\tDeep Dish\t\tFuck Me Im Famous (Pacha Ibiza)-09-28-2007\n";
        let play = parse_line(line).unwrap().unwrap();
        assert_eq!(play.user, "user_000001");
        assert_eq!(play.timestamp, 1_241_478_537);
        assert_eq!(play.artist, "Deep Dish");
        assert_eq!(play.track_mbid, "");
    }

    #[test]
    fn malformed_lines_have_reasons() {
        assert!(parse_line(b"user_1\t2009-05-04T23:08:57Z\ta\tb\tc\n").is_err());
        assert!(parse_line(b"user_1\tyesterday\ta\tb\tc\td\n").is_err());
        assert!(parse_line(b"user_1\t2009-05-04T23:08:57Z\ta\t\tc\td\n").is_err());
        assert!(parse_line(b"user_1\t2009-05-04T23:08:57Z\ta\tb\xff\tc\td\n").is_err());
        assert!(parse_line(b"\n").unwrap().is_none());
    }
}
