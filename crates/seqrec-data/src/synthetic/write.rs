//! Writes generated data in the real file formats, so loaders, benchmarks
//! and other tools can be run on data of any size.

use super::SyntheticData;
use crate::time::format_iso8601;
use crate::{DataError, Result};
use polars::prelude::*;
use serde::{Deserialize, Serialize};
use std::io::{BufWriter, Write};
use std::path::Path;

/// The formats the generator writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileFormat {
    /// ML-10M `ratings.dat`: `UserID::MovieID::Rating::Timestamp`.
    MovielensDat,
    /// `ratings.csv` of ml-latest-small / ml-25m.
    MovielensCsv,
    /// ML-100K `u.data`.
    Ml100k,
    /// LastFM 1K TSV, each user's plays newest first.
    Lastfm1k,
    /// Generic CSV with `user,item,timestamp`.
    TableCsv,
    /// Generic Parquet with `user`, `item`, `timestamp`.
    TableParquet,
}

impl FileFormat {
    /// All formats, for listings.
    pub const ALL: [FileFormat; 6] = [
        FileFormat::MovielensDat,
        FileFormat::MovielensCsv,
        FileFormat::Ml100k,
        FileFormat::Lastfm1k,
        FileFormat::TableCsv,
        FileFormat::TableParquet,
    ];

    /// The kebab-case name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            FileFormat::MovielensDat => "movielens-dat",
            FileFormat::MovielensCsv => "movielens-csv",
            FileFormat::Ml100k => "ml-100k",
            FileFormat::Lastfm1k => "lastfm-1k",
            FileFormat::TableCsv => "table-csv",
            FileFormat::TableParquet => "table-parquet",
        }
    }

    /// Parses a name from [`FileFormat::name`].
    pub fn from_name(name: &str) -> Option<Self> {
        FileFormat::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// A stable per-event mix of user and item, for ratings and ids that must
/// look varied but depend on nothing else.
fn mix(a: u64, b: u64) -> u64 {
    let mut z = a.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ b.wrapping_add(0xD1B5_4A32_D192_ED03);
    z = (z ^ (z >> 31)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z ^ (z >> 29)
}

fn uuid_like(seed: u64) -> String {
    let a = mix(seed, 1);
    let b = mix(seed, 2);
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}

/// Writes `data` to `path` in `format`.
pub fn write(data: &SyntheticData, format: FileFormat, path: &Path) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| DataError::io(dir, e))?;
    }
    if format == FileFormat::TableParquet {
        return write_parquet(data, path);
    }
    let file = std::fs::File::create(path).map_err(|e| DataError::io(path, e))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    write_text(data, format, &mut out)
        .and_then(|()| out.flush())
        .map_err(|e| DataError::io(path, e))
}

fn write_text(
    data: &SyntheticData,
    format: FileFormat,
    out: &mut impl Write,
) -> std::io::Result<()> {
    let mut a = itoa::Buffer::new();
    let mut b = itoa::Buffer::new();
    let mut c = itoa::Buffer::new();
    match format {
        FileFormat::MovielensCsv => out.write_all(b"userId,movieId,rating,timestamp\n")?,
        FileFormat::TableCsv => out.write_all(b"user,item,timestamp\n")?,
        _ => {}
    }
    for (u, (seq, times)) in data.sequences.iter().zip(&data.timestamps).enumerate() {
        let user = u as i64 + 1;
        if format == FileFormat::Lastfm1k {
            let name = format!("user_{user:06}");
            // The real file lists each user's plays newest first.
            for (&item, &t) in seq.iter().zip(times).rev() {
                let id = data.item_ids[item as usize];
                let group = data.item_group[item as usize] as u64;
                let artist = group / 3;
                let track_mbid = if mix(id as u64, 7).is_multiple_of(10) {
                    String::new()
                } else {
                    uuid_like(id as u64)
                };
                writeln!(
                    out,
                    "{name}\t{}\t{}\tArtist {artist}\t{track_mbid}\tTrack {id}",
                    format_iso8601(t),
                    uuid_like(1 << 40 | artist),
                )?;
            }
            continue;
        }
        let user = a.format(user);
        for (&item, &t) in seq.iter().zip(times) {
            let id = data.item_ids[item as usize];
            let half_stars = 1 + mix(u as u64, id as u64) % 10; // 0.5 ..= 5.0
            let (sep, rating): (&str, String) = match format {
                FileFormat::MovielensDat => ("::", format!("{}", half_stars as f64 / 2.0)),
                FileFormat::MovielensCsv => (",", format!("{:.1}", half_stars as f64 / 2.0)),
                FileFormat::Ml100k => ("\t", format!("{}", half_stars.div_ceil(2))),
                _ => (",", String::new()),
            };
            out.write_all(user.as_bytes())?;
            out.write_all(sep.as_bytes())?;
            out.write_all(b.format(id).as_bytes())?;
            out.write_all(sep.as_bytes())?;
            if !rating.is_empty() {
                out.write_all(rating.as_bytes())?;
                out.write_all(sep.as_bytes())?;
            }
            out.write_all(c.format(t).as_bytes())?;
            out.write_all(b"\n")?;
        }
    }
    Ok(())
}

fn write_parquet(data: &SyntheticData, path: &Path) -> Result<()> {
    let mut users = Vec::with_capacity(data.events());
    let mut items = Vec::with_capacity(data.events());
    let mut times = Vec::with_capacity(data.events());
    for (u, (seq, t)) in data.sequences.iter().zip(&data.timestamps).enumerate() {
        users.extend(std::iter::repeat_n(u as i64 + 1, seq.len()));
        items.extend(seq.iter().map(|&i| data.item_ids[i as usize]));
        times.extend_from_slice(t);
    }
    let err = |source| DataError::Polars {
        path: path.into(),
        source,
    };
    let mut frame = DataFrame::new_infer_height(vec![
        Column::new("user".into(), users),
        Column::new("item".into(), items),
        Column::new("timestamp".into(), times),
    ])
    .map_err(err)?;
    let file = std::fs::File::create(path).map_err(|e| DataError::io(path, e))?;
    ParquetWriter::new(file).finish(&mut frame).map_err(err)?;
    Ok(())
}
